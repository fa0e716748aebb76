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


def test_figure_notes_use_the_tables_formatter():
    import pandas as pd

    from outcomes.survival.plots import effect_text
    from outcomes.survival.run import hazard_ratio_note

    assert effect_text("hazard_ratio", 0.7312, 0.571, 0.9366, 0.0149) == \
        "0.73 (0.57 to 0.94)  p = 0.015"
    assert effect_text("risk_difference", -0.0991, -0.178, -0.002, 0.0004) == \
        "\u22129.9 (\u221217.8 to \u22120.2)  p < 0.001"
    t = pd.DataFrame({"analysis": ["community_tenure"], "outcome": ["READMIT"],
                      "estimate_type": ["hazard_ratio"],
                      "contrast": ["peer_support vs usual_care"], "estimate": [0.73],
                      "ci_low": [0.57], "ci_high": [0.94], "p_value": [0.015],
                      "status": ["estimated"]})
    note = hazard_ratio_note(t, "community_tenure", "READMIT")
    assert note == "Hazard ratio (Cox), peer support vs usual care: 0.73 (0.57 to 0.94)  p = 0.015"
    assert hazard_ratio_note(t, "community_tenure", "READMDET") is None
    t.loc[0, "status"] = "not estimable"
    assert hazard_ratio_note(t, "community_tenure", "READMIT").endswith(": not estimable")


def test_strategy_and_arm_codes_in_words():
    from outcomes.labels import arm_words

    assert words("READMIT within 365 days (composite)") == \
        "readmission within 365 days (composite (readmission or death))"
    assert words("x (not_a_strategy)") == "x (not_a_strategy)"
    arms = ("peer_support", "usual_care")
    assert arm_words("Offer of peer support (peer_support) in addition to usual care, against "
                     "usual care alone (usual_care).", arms) == \
        "Offer of peer support in addition to usual care, against usual care alone."
    assert arm_words("Difference in risks (peer_support minus usual_care)", arms) == \
        "Difference in risks (peer support minus usual care)"


def test_mediator_words():
    from outcomes.labels import mediator_words

    assert mediator_words("HHI+GSE+ISMI10") == "HHI + GSE + ISMI-10"
    assert mediator_words("WAISR") == "WAI-SR"
    assert mediator_words("M2") == "M2"
    assert words("ARM + ARM:BASE".replace(":", " \u00d7 ")) == "arm + arm \u00d7 baseline score"
