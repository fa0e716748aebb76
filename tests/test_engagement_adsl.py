"""Receipt of peer support (plan key engagement.receipt) derived into ADSL NCONTWIN,
CONTMWIN and ENGFL on hand-made contacts, and the plan key's validation.

Randomisation 2024-02-20, INDEXDT 2024-03-01 (day 0 of discharge): 2024-02-29 = day −1,
2024-03-11 = day 10, 2024-03-12 = day 11, 2025-03-01 = day 365, 2025-03-02 = day 366.
"""

from __future__ import annotations

import pandas as pd
import pytest

from outcomes.adam import derive_adsl
from outcomes.errors import ConfigError
from outcomes.plan import AnalysisPlan, ReceiptDefinition


def _people(*rows: dict) -> pd.DataFrame:
    base = {"participant_id": "P1", "site": "S1", "arm": "peer_support",
            "randomisation_date": "2024-02-20", "index_discharge_date": "2024-03-01",
            "age": 35, "sex": "female", "diagnosis_group": "psychosis", "prior_admissions": 1,
            "detained_at_index": "false", "withdrawal_date": "", "death_date": ""}
    return pd.DataFrame([{**base, **r} for r in rows])


def _contacts(*rows: tuple) -> pd.DataFrame:
    """Rows of (participant_id, contact_date, minutes); one peer worker W1."""
    return pd.DataFrame([{"participant_id": p, "contact_date": d, "peer_worker_id": "W1",
                          "duration_minutes": m, "mode": "face_to_face"} for p, d, m in rows])


def _adsl(people, contacts, cut="2025-12-31", **receipt) -> pd.DataFrame:
    plan = AnalysisPlan.from_config({"data_cut": cut, "engagement": {"receipt": receipt}})
    return derive_adsl(people, contacts, plan).set_index("USUBJID")


def _cols(adsl: pd.DataFrame, pid: str) -> list:
    return adsl.loc[pid, ["NCONTWIN", "CONTMWIN", "ENGFL"]].tolist()


def test_window_edges_are_day_0_and_day_window_days_both_included():
    people = _people({"participant_id": "P1"}, {"participant_id": "P2"},
                     {"participant_id": "P3"})
    contacts = _contacts(("P1", "2024-03-01", 30), ("P1", "2024-03-11", 40),  # days 0, 10
                         ("P2", "2024-03-12", 50),                            # day 11
                         ("P3", "2024-02-29", 60))                            # ward, day -1
    a = _adsl(people, contacts, window_start="discharge", window_days=10)
    assert _cols(a, "P1") == [2, 70, "Y"]
    assert _cols(a, "P2") == [0, 0, "N"]
    assert _cols(a, "P3") == [0, 0, "N"]  # before day 0 of a window from discharge
    # NCONTACT keeps every contact up to the cut, whatever the window
    assert a["NCONTACT"].tolist() == [2, 1, 1]
    # from randomisation (2024-02-20 = day 0, day 10 = 2024-03-01): the ward contact counts
    b = _adsl(people, contacts, window_start="randomisation", window_days=10)
    assert [_cols(b, p) for p in ("P1", "P2", "P3")] == [[1, 30, "Y"], [0, 0, "N"],
                                                         [1, 60, "Y"]]


def test_whole_follow_up_window_ends_at_indexdt_plus_followup_days_and_the_cut():
    people = _people({"participant_id": "P1"}, {"participant_id": "P2"})
    contacts = _contacts(("P1", "2025-03-01", 30),   # day 365: in
                         ("P2", "2025-03-02", 30))   # day 366: after follow-up
    a = _adsl(people, contacts)  # defaults: from randomisation, window_days null
    assert _cols(a, "P1") == [1, 30, "Y"] and _cols(a, "P2") == [0, 0, "N"]
    # a data cut before day 365 closes the window there, as it does NCONTACT
    c = _adsl(people, contacts, cut="2025-02-28")
    assert _cols(c, "P1") == [0, 0, "N"] and c.loc["P1", "NCONTACT"] == 0


def test_minutes_rule_and_contacts_rule_must_both_hold():
    people = _people({"participant_id": "P1"}, {"participant_id": "P2"},
                     {"participant_id": "P3"})
    contacts = _contacts(("P1", "2024-03-05", 30), ("P1", "2024-03-06", 20),   # 2, 50 min
                         ("P2", "2024-03-05", 60),                             # 1, 60 min
                         ("P3", "2024-03-05", 30), ("P3", "2024-03-07", 30))   # 2, 60 min
    a = _adsl(people, contacts, min_minutes=60)
    assert a["ENGFL"].tolist() == ["N", "Y", "Y"]
    b = _adsl(people, contacts, min_contacts=2, min_minutes=60)
    assert b["ENGFL"].tolist() == ["N", "N", "Y"]
    assert b["CONTMWIN"].tolist() == [50, 60, 60]


def test_usual_care_contacts_count_as_receipt_and_no_contact_is_not_receipt():
    people = _people({"participant_id": "P1", "arm": "usual_care"},
                     {"participant_id": "P2", "death_date": "2024-03-03"},
                     {"participant_id": "P3", "arm": "usual_care"})
    contacts = _contacts(("P1", "2024-04-01", 45))
    a = _adsl(people, contacts)
    assert _cols(a, "P1") == [1, 45, "Y"]  # contamination: received
    assert _cols(a, "P2") == [0, 0, "N"]  # died two days after discharge, before any contact
    assert _cols(a, "P3") == [0, 0, "N"]
    assert a.columns[-3:].tolist() == ["NCONTWIN", "CONTMWIN", "ENGFL"]


def test_plan_defaults_and_the_schema_rejects_a_bad_key_by_name():
    assert AnalysisPlan.from_config({}).engagement.receipt == ReceiptDefinition(
        min_contacts=1, min_minutes=0, window_start="randomisation", window_days=None)
    with pytest.raises(ConfigError) as err:
        AnalysisPlan.from_config({"engagement": {"receipt": {"min_contact": 2}}})
    assert str(err.value).startswith(
        "config key 'engagement.receipt.min_contact' is unknown (did you mean 'min_contacts'?)")
    with pytest.raises(ConfigError) as err:
        AnalysisPlan.from_config({"engagement": {"receipt": {"window_days": -1}}})
    assert ("config key 'engagement.receipt.window_days' has the value -1 (integer), which is "
            "not allowed: allowed is an integer of at least 0 or null") in str(err.value)
    with pytest.raises(ConfigError, match="'engagement.receipt.min_contacts' has the value 0"):
        AnalysisPlan.from_config({"engagement": {"receipt": {"min_contacts": 0}}})

