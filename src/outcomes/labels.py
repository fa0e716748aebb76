"""Words for the codes that the result tables and derived datasets carry, in one place,
for the report's prose, legends, axis labels and forest-plot rows and for the figures of
the survival stage (docs/report.md, "Words, not codes").

- arms: from the plan's arm codes (``peer_support`` -> "Peer support");
- questionnaire scores: the ``param`` of the score in the instrument registry
  (src/outcomes/instruments/*.yaml), e.g. ``WAISRMN`` -> "WAI-SR total item mean";
- survival outcomes (ADTTE/ADRE parameters) and ADSL covariates: the short words below,
  which name the same things as their ADaM labels (docs/adam.md) in running text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

#: ADSL variables used as covariates, stratifiers or predictors, in running text.
VARIABLE_WORDS = {
    "SITEID": "site", "DIAGGR": "diagnosis group", "AGE": "age", "SEX": "sex",
    "PRIORADM": "prior admissions", "DETINDFL": "detention during the index admission",
    "ARM": "arm", "NCONTACT": "number of peer contacts", "GLOBAL": "global test",
    "BASE": "baseline score",
}

#: The outcomes of survival.tsv (ADTTE and ADRE parameters) in running text.
OUTCOME_WORDS = {
    "READMIT": "readmission", "READMDET": "detained readmission", "DEATH": "death",
    "NREADM": "number of readmissions", "BEDDAYS": "days in hospital",
}

_CODE = re.compile(r"\b[A-Z][A-Z0-9]{2,}\b")
_STRATEGY = re.compile(r"\(([a-z]+(?:_[a-z]+)*)\)")


#: Words that keep their capital inside a sentence (names of people and methods).
PROPER_NAMES = ("Aalen", "Andersen", "Cox", "Fine", "Gray", "Hedges", "Holm", "Kaplan",
                "Nelson", "Peto", "Rubin", "Lawless")


def en_dashes(text: str) -> str:
    """Two people's names joined by an en dash, as in print ("Kaplan-Meier" ->
    "Kaplan–Meier"), where a results table writes a hyphen."""
    for pair in ("Kaplan-Meier", "Andersen-Gill", "Aalen-Johansen", "Nelson-Aalen",
                 "Fine-Gray", "Lawless-Nadeau"):
        text = text.replace(pair, pair.replace("-", "\u2013"))
    return text


def upper_first(text: str) -> str:
    """``text`` with its first letter upper case, the rest as it is (unlike
    ``str.capitalize``, which lowers "Andersen–Gill")."""
    return text[:1].upper() + text[1:]


def lower_first(text: str) -> str:
    """``text`` with its first letter lower case for use inside a sentence, unless it
    starts with a name (``PROPER_NAMES``: "Gray's test") or an acronym ("RMST")."""
    if text.startswith(PROPER_NAMES) or text[1:2].isupper():
        return text
    return text[:1].lower() + text[1:]


def arm_label(code: str) -> str:
    """The label of an arm code of the plan: ``peer_support`` -> "Peer support"."""
    return str(code).replace("_", " ").capitalize()


def arm_labels(codes: Iterable[str]) -> dict[str, str]:
    return {c: arm_label(c) for c in codes}


def arm_words(text: str, codes: Iterable[str]) -> str:
    """``text`` with the arm codes in words: a code in brackets after its own words is
    dropped ("peer support (peer_support)" -> "peer support"), any other becomes its label
    in lower case ("peer_support minus usual_care" -> "peer support minus usual care")."""
    for code in codes:
        text = re.sub(rf"\s*\({re.escape(code)}\)", "", text)
        text = re.sub(rf"\b{re.escape(code)}\b", arm_label(code).lower(), text)
    return text


def variable_word(name: str) -> str:
    return VARIABLE_WORDS.get(name, name)


def variable_words(names: Iterable[str], none: str = "nothing") -> str:
    """ADSL variables in words, joined as prose: ``[SITEID, DIAGGR]`` -> "site and
    diagnosis group"."""
    words = [variable_word(n) for n in names]
    if not words:
        return none
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


@cache
def _score_params() -> dict[str, str]:
    from outcomes.instruments import load_registry

    return {s.paramcd: s.param for inst in load_registry().values() for s in inst.scores}


def param_label(paramcd: str) -> str:
    """A questionnaire score's label from the instrument registry (the code when unknown)."""
    return _score_params().get(str(paramcd), str(paramcd))


@cache
def _abbreviations() -> dict[str, str]:
    """The first score of each instrument -> its abbreviation (the first word of its label:
    ``ISMI10`` -> "ISMI-10"); the other scores keep their full label."""
    from outcomes.instruments import load_registry

    return {inst.scores[0].paramcd: inst.scores[0].param.split(" ")[0]
            for inst in load_registry().values() if inst.scores}


def score_abbrev(paramcd: str) -> str:
    """A short name of a score for lists (mediators): the instrument's abbreviation for its
    main score, else the score's label."""
    return _abbreviations().get(str(paramcd)) or param_label(paramcd)


def mediator_words(mediators: str) -> str:
    """A mediator or a set of them (``HHI+GSE+ISMI10``) as abbreviations of the scores
    ("HHI + GSE + ISMI-10"); a mechanism's key (``M2``) as it is."""
    return " + ".join(score_abbrev(m.strip()) for m in str(mediators).split("+"))


def words(text: str) -> str:
    """``text`` with every survival outcome, ADSL variable and score code, and a strategy
    for intercurrent events in brackets, in words: "READMIT at day 180" -> "readmission at
    day 180", "(hypothetical_km)" -> "(hypothetical, no death or withdrawal (Kaplan-Meier))"."""
    params = _score_params()

    def one(m: re.Match) -> str:
        c = m.group(0)
        return OUTCOME_WORDS.get(c) or VARIABLE_WORDS.get(c) or params.get(c) or c

    from outcomes.survival.binary import STRATEGY_LABELS

    def strategy(m: re.Match) -> str:
        label = STRATEGY_LABELS.get(m.group(1))
        return f"({label[:1].lower()}{label[1:]})" if label else m.group(0)

    return en_dashes(_STRATEGY.sub(strategy, _CODE.sub(one, str(text))))
