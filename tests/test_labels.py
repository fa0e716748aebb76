"""Words for codes (outcomes.labels): arms from the plan's codes, scores from the
instrument registry, survival outcomes and ADSL variables in running text."""

from __future__ import annotations

from outcomes.instruments import load_registry
from outcomes.labels import arm_label, param_label, variable_words, words


def test_arm_and_variable_words():
    assert arm_label("peer_support") == "Peer support"
    assert arm_label("usual_care") == "Usual care"
    assert variable_words(["SITEID", "DIAGGR"]) == "site and diagnosis group"
    assert variable_words(["AGE", "SITEID", "PRIORADM"]) == "age, site and prior admissions"
    assert variable_words([]) == "nothing"
    assert variable_words([], "no covariate") == "no covariate"


def test_scores_come_from_the_registry():
    for inst in load_registry().values():
        for s in inst.scores:
            assert param_label(s.paramcd) == s.param
    assert param_label("NOTASCORE") == "NOTASCORE"


def test_words_replace_codes_in_outcome_strings():
    assert words("READMIT at day 180") == "readmission at day 180"
    assert words("death before READMIT (cause-specific)") == "death before readmission (cause-specific)"
    assert words("NREADM") == "number of readmissions"
    assert words("PH test: DETINDFL") == "PH test: detention during the index admission"
    assert words("WAISRMN") == "WAI-SR total item mean"
    assert words("no codes here") == "no codes here"
