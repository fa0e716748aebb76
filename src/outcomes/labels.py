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
}

#: The outcomes of survival.tsv (ADTTE and ADRE parameters) in running text.
OUTCOME_WORDS = {
    "READMIT": "readmission", "READMDET": "detained readmission", "DEATH": "death",
    "NREADM": "number of readmissions", "BEDDAYS": "days in hospital",
}

_CODE = re.compile(r"\b[A-Z][A-Z0-9]{2,}\b")


def arm_label(code: str) -> str:
    """The label of an arm code of the plan: ``peer_support`` -> "Peer support"."""
    return str(code).replace("_", " ").capitalize()


def arm_labels(codes: Iterable[str]) -> dict[str, str]:
    return {c: arm_label(c) for c in codes}


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


def words(text: str) -> str:
    """``text`` with every survival outcome, ADSL variable and score code in words:
    "READMIT at day 180" -> "readmission at day 180"."""
    params = _score_params()

    def one(m: re.Match) -> str:
        c = m.group(0)
        return OUTCOME_WORDS.get(c) or VARIABLE_WORDS.get(c) or params.get(c) or c

    return _CODE.sub(one, str(text))
