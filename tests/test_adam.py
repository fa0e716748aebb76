"""ADSL, ADTTE and ADRE on hand-built participants with hand-computed expected values.

Every participant has INDEXDT 2024-03-01 unless stated; day numbers (days since INDEXDT)
are written next to each date: 2024-03-11 = day 10, 2024-04-01 = 31, 2024-04-10 = 40,
2024-04-11 = 41, 2024-04-21 = 51, 2024-04-30 = 60, 2024-05-01 = 61, 2024-05-02 = 62,
2024-05-11 = 71, 2024-06-01 = 92, 2024-06-05 = 96, 2024-06-09 = 100, 2024-06-10 = 101,
2024-07-01 = 122, 2024-09-30 = 213, 2025-03-01 = 365 (2025 has no 29 February).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outcomes.adam import DerivationError, derive_adre, derive_adsl, derive_adtte, derive_all
from outcomes.plan import AnalysisPlan

INDEX = "2024-03-01"
PLAN = AnalysisPlan(followup_days=365, data_cut=dt.date(2025, 12, 31))


def participants(*people: dict) -> pd.DataFrame:
    base = {
        "participant_id": "P1",
        "site": "S1",
        "arm": "peer_support",
        "randomisation_date": "2024-02-01",
        "index_discharge_date": INDEX,
        "age": 35,
        "sex": "female",
        "diagnosis_group": "psychosis",
        "prior_admissions": 1,
        "detained_at_index": "false",
        "withdrawal_date": "",
        "death_date": "",
    }
    return pd.DataFrame([{**base, **p} for p in people])


def admissions(*rows: tuple) -> pd.DataFrame:
    """Rows of (participant_id, admission_id, admission_date, discharge_date, legal_status)."""
    cols = ["participant_id", "admission_id", "admission_date", "discharge_date", "legal_status"]
    return pd.DataFrame(list(rows), columns=cols)


def derive(people, adm_rows, plan=PLAN, contacts=None):
    adsl = derive_adsl(participants(*people), contacts, plan)
    adm = admissions(*adm_rows)
    return adsl, derive_adtte(adsl, adm, plan), derive_adre(adsl, adm, plan)


def tte(adtte: pd.DataFrame, paramcd: str, pid: str = "P1") -> dict:
    rows = adtte[(adtte["USUBJID"] == pid) & (adtte["PARAMCD"] == paramcd)]
    assert len(rows) == 1
    r = rows.iloc[0]
    return {
        "ADT": r["ADT"].date().isoformat(),
        "AVAL": int(r["AVAL"]),
        "CNSR": int(r["CNSR"]),
        "EVNTDESC": r["EVNTDESC"],
        "CNSDTDSC": r["CNSDTDSC"],
        "CMPEVFL": r["CMPEVFL"],
    }


def event(adt, aval, desc="READMISSION"):
    return {"ADT": adt, "AVAL": aval, "CNSR": 0, "EVNTDESC": desc, "CNSDTDSC": "", "CMPEVFL": ""}


def censored(adt, aval, why, competing=""):
    return {
        "ADT": adt,
        "AVAL": aval,
        "CNSR": 1,
        "EVNTDESC": why,
        "CNSDTDSC": why,
        "CMPEVFL": competing,
    }


def intervals(adre: pd.DataFrame, pid: str = "P1") -> list[tuple]:
    r = adre[adre["USUBJID"] == pid]
    return list(zip(r["TSTART"], r["TSTOP"], r["EVENT"], r["ADMID"], strict=True))


def totals(adre: pd.DataFrame, pid: str = "P1") -> tuple:
    r = adre[adre["USUBJID"] == pid].iloc[0]
    return (int(r["NREADM"]), float(r["BEDDAYS"]), float(r["RISKDAYS"]), float(r["FUDAYS"]))


END365 = "END OF FOLLOW-UP (365 DAYS)"


# --- the edge cases of the brief, one test each --------------------------------------------


def test_readmission_on_the_day_of_index_discharge_is_an_event_at_day_0():
    adsl, adtte, adre = derive(
        [{}],
        [
            ("P1", "A0", "2024-02-10", "2024-03-01", "detained"),  # the index admission (listed)
            ("P1", "A1", "2024-03-01", "2024-03-11", "informal"),  # readmitted the same day
        ],
    )
    assert tte(adtte, "READMIT") == event("2024-03-01", 0)
    assert tte(adtte, "READMDET") == censored("2025-03-01", 365, END365)
    # ADRE: the zero-length at-risk interval becomes (0, 0.5]; the half day comes out of
    # the stay that follows (day 0..10 -> 9.5 bed days); at risk again from day 10.
    assert intervals(adre) == [(0.0, 0.5, 1, "A1"), (10.0, 365.0, 0, "")]
    assert totals(adre) == (1, 9.5, 355.5, 365.0)


def test_readmission_on_index_day_without_the_index_admission_listed():
    _, adtte, adre = derive([{}], [("P1", "A1", "2024-03-01", "2024-03-11", "informal")])
    assert tte(adtte, "READMIT") == event("2024-03-01", 0)
    assert intervals(adre) == [(0.0, 0.5, 1, "A1"), (10.0, 365.0, 0, "")]


def test_same_day_admission_and_discharge_on_index_day():
    # Listed index A0 ends on day 0; A1 is admitted and discharged on day 0: a readmission
    # with no nights in hospital, so at risk again from day 0.5.
    _, adtte, adre = derive(
        [{}],
        [
            ("P1", "A0", "2024-02-10", "2024-03-01", "informal"),
            ("P1", "A1", "2024-03-01", "2024-03-01", "informal"),
            ("P1", "A2", "2024-04-01", "2024-04-11", "informal"),
        ],
    )
    assert tte(adtte, "READMIT") == event("2024-03-01", 0)
    assert intervals(adre) == [(0.0, 0.5, 1, "A1"), (0.5, 31.0, 1, "A2"), (41.0, 365.0, 0, "")]
    assert totals(adre) == (2, 10.0, 355.0, 365.0)


def test_zero_day_index_admission_is_the_index_not_a_readmission():
    # Nothing starts before day 0: the admission in and out on day 0 is the index itself.
    _, adtte, adre = derive([{}], [("P1", "A0", "2024-03-01", "2024-03-01", "informal")])
    assert tte(adtte, "READMIT") == censored("2025-03-01", 365, END365)
    assert intervals(adre) == [(0.0, 365.0, 0, "")]


def test_admission_still_open_at_the_data_cut():
    plan = AnalysisPlan(data_cut=dt.date(2024, 9, 30))  # day 213
    adsl, adtte, adre = derive(
        [{}],
        [("P1", "A1", "2024-06-01", "", "detained")],
        plan=plan,  # day 92, never discharged
    )
    assert adsl.loc[0, "EOSDT"] == pd.Timestamp("2024-09-30")
    assert tte(adtte, "READMIT") == event("2024-06-01", 92)
    assert tte(adtte, "READMDET") == event("2024-06-01", 92, "DETAINED READMISSION")
    assert tte(adtte, "DEATH") == censored("2024-09-30", 213, "DATA CUT")
    # In hospital from day 92 to the end of follow-up (day 213).
    assert intervals(adre) == [(0.0, 92.0, 1, "A1")]
    assert totals(adre) == (1, 121.0, 92.0, 213.0)


def test_readmission_after_withdrawal_is_not_counted_but_on_the_day_is():
    _, adtte, adre = derive(
        [
            {"participant_id": "P1", "withdrawal_date": "2024-05-01"},  # day 61
            {"participant_id": "P2", "withdrawal_date": "2024-05-01"},
        ],
        [
            ("P1", "A1", "2024-05-02", "2024-05-11", "informal"),  # day 62: after withdrawal
            ("P2", "A2", "2024-05-01", "2024-05-11", "informal"),  # day 61: on the day
        ],
    )
    assert tte(adtte, "READMIT", "P1") == censored("2024-05-01", 61, "WITHDRAWAL")
    assert intervals(adre, "P1") == [(0.0, 61.0, 0, "")]
    assert totals(adre, "P1") == (0, 0.0, 61.0, 61.0)
    assert tte(adtte, "READMIT", "P2") == event("2024-05-01", 61)
    assert intervals(adre, "P2") == [(0.0, 61.0, 1, "A2")]
    assert totals(adre, "P2") == (1, 0.0, 61.0, 61.0)


def test_death_on_the_day_of_a_readmission():
    _, adtte, adre = derive(
        [{"death_date": "2024-04-10"}],  # day 40
        [("P1", "A1", "2024-04-10", "", "detained")],
    )
    assert tte(adtte, "READMIT") == event("2024-04-10", 40)  # the readmission counts
    assert tte(adtte, "READMDET") == event("2024-04-10", 40, "DETAINED READMISSION")
    assert tte(adtte, "DEATH") == event("2024-04-10", 40, "DEATH")
    assert intervals(adre) == [(0.0, 40.0, 1, "A1")]
    assert totals(adre) == (1, 0.0, 40.0, 40.0)


def test_two_admissions_back_to_back_are_one_readmission():
    _, adtte, adre = derive(
        [{}],
        [
            ("P1", "A1", "2024-04-01", "2024-04-11", "informal"),  # day 31..41
            ("P1", "A2", "2024-04-11", "2024-04-21", "detained"),  # day 41..51, same-day transfer
            ("P1", "A3", "2024-06-01", "2024-06-05", "informal"),  # day 92..96
        ],
    )
    assert tte(adtte, "READMIT") == event("2024-04-01", 31)
    # The spell A1+A2 was detained: the detained readmission is dated by its start.
    assert tte(adtte, "READMDET") == event("2024-04-01", 31, "DETAINED READMISSION")
    assert intervals(adre) == [(0.0, 31.0, 1, "A1"), (51.0, 92.0, 1, "A3"), (96.0, 365.0, 0, "")]
    assert totals(adre) == (2, 24.0, 341.0, 365.0)


def test_overlapping_admissions_are_merged_for_bed_days():
    _, adtte, adre = derive(
        [{}],
        [
            ("P1", "A1", "2024-04-01", "2024-04-21", "informal"),  # day 31..51
            ("P1", "A2", "2024-04-11", "2024-04-15", "informal"),  # inside A1
        ],
    )
    assert tte(adtte, "READMIT") == event("2024-04-01", 31)
    assert intervals(adre) == [(0.0, 31.0, 1, "A1"), (51.0, 365.0, 0, "")]
    assert totals(adre) == (1, 20.0, 345.0, 365.0)


def test_admission_spanning_the_index_discharge_is_the_index_admission():
    _, adtte, adre = derive(
        [{}],
        [
            ("P1", "A0", "2024-02-01", "2024-03-11", "detained"),  # day -29..10
            ("P1", "A2", "2024-05-01", "2024-05-11", "informal"),  # day 61..71
        ],
    )
    # A0 is not a readmission; its 10 days after INDEXDT are days in hospital.
    assert tte(adtte, "READMIT") == event("2024-05-01", 61)
    assert tte(adtte, "READMDET") == censored("2025-03-01", 365, END365)
    assert intervals(adre) == [(10.0, 61.0, 1, "A2"), (71.0, 365.0, 0, "")]
    assert totals(adre) == (1, 20.0, 345.0, 365.0)


def test_back_to_back_with_a_spanning_index_admission_continues_it():
    _, adtte, adre = derive(
        [{}],
        [
            ("P1", "A0", "2024-02-01", "2024-03-11", "informal"),  # day -29..10
            ("P1", "A1", "2024-03-11", "2024-03-15", "detained"),  # day 10..14: transfer
        ],
    )
    assert tte(adtte, "READMIT") == censored("2025-03-01", 365, END365)
    assert intervals(adre) == [(14.0, 365.0, 0, "")]
    assert totals(adre) == (0, 14.0, 351.0, 365.0)


def test_history_before_index_is_ignored():
    _, adtte, adre = derive([{}], [("P1", "H1", "2023-01-01", "2023-02-01", "detained")])
    assert tte(adtte, "READMIT") == censored("2025-03-01", 365, END365)
    assert totals(adre) == (0, 0.0, 365.0, 365.0)


def test_participant_without_questionnaires_is_in_adsl_and_adtte_not_adqs():
    q = pd.DataFrame(
        {
            "participant_id": ["P1"],
            "visit": ["baseline"],
            "completion_date": ["2024-02-05"],
            **{f"gse_{i:02d}": [3] for i in range(1, 11)},
        }
    )
    ds = derive_all(
        {
            "participants": participants({"participant_id": "P1"}, {"participant_id": "P2"}),
            "questionnaires": q,
            "admissions": admissions(),
            "peer_contacts": None,
        },
        PLAN,
    )
    assert list(ds["adsl"]["USUBJID"]) == ["P1", "P2"]
    assert set(ds["adqs"]["USUBJID"]) == {"P1"}
    assert sorted(ds["adtte"].loc[ds["adtte"]["USUBJID"] == "P2", "PARAMCD"]) == [
        "DEATH",
        "READMDET",
        "READMIT",
    ]
    assert set(ds["adre"]["USUBJID"]) == {"P1", "P2"}


# --- follow-up truncation, competing death, censoring reasons --------------------------------


def test_truncation_at_followup_days():
    plan = AnalysisPlan(followup_days=100, data_cut=dt.date(2025, 12, 31))
    _, adtte, adre = derive(
        [{"participant_id": "P1"}, {"participant_id": "P2"}, {"participant_id": "P3"}],
        [
            ("P1", "A1", "2024-06-09", "2024-06-20", "informal"),  # day 100: last day, counts
            ("P2", "A2", "2024-06-10", "2024-06-20", "informal"),  # day 101: after the end
            ("P3", "A3", "2024-05-01", "2024-07-01", "informal"),  # day 61..122, cut at 100
        ],
        plan=plan,
    )
    end100 = "END OF FOLLOW-UP (100 DAYS)"
    assert tte(adtte, "READMIT", "P1") == event("2024-06-09", 100)
    assert intervals(adre, "P1") == [(0.0, 100.0, 1, "A1")]
    assert tte(adtte, "READMIT", "P2") == censored("2024-06-09", 100, end100)
    assert intervals(adre, "P2") == [(0.0, 100.0, 0, "")]
    assert tte(adtte, "DEATH", "P2") == censored("2024-06-09", 100, end100)
    assert totals(adre, "P3") == (1, 39.0, 61.0, 100.0)


def test_truncation_at_the_data_cut():
    plan = AnalysisPlan(data_cut=dt.date(2024, 4, 30))  # day 60
    adsl, adtte, adre = derive([{}], [("P1", "A1", "2024-05-01", "", "detained")], plan=plan)
    assert adsl.loc[0, "EOSDT"] == pd.Timestamp("2024-04-30")
    assert tte(adtte, "READMIT") == censored("2024-04-30", 60, "DATA CUT")
    assert intervals(adre) == [(0.0, 60.0, 0, "")]


def test_default_data_cut_is_the_latest_date_in_the_extract():
    contacts = pd.DataFrame(
        {
            "participant_id": ["P1"],
            "contact_date": ["2024-09-30"],  # the latest date anywhere: day 213
            "peer_worker_id": ["W1"],
            "duration_minutes": [30],
            "mode": ["telephone"],
        }
    )
    ds = derive_all(
        {
            "participants": participants({}),
            "admissions": admissions(("P1", "A1", "2024-05-01", "2024-05-11", "informal")),
            "peer_contacts": contacts,
            "questionnaires": None,
        },
        AnalysisPlan(),
    )
    assert ds["adsl"].loc[0, "DCUTDT"] == pd.Timestamp("2024-09-30")
    assert tte(ds["adtte"], "DEATH") == censored("2024-09-30", 213, "DATA CUT")


def test_competing_death():
    _, adtte, adre = derive(
        [
            {"participant_id": "P1", "death_date": "2024-06-01"},  # day 92, never readmitted
            {"participant_id": "P2", "death_date": "2024-06-01"},
        ],
        [("P2", "A2", "2024-04-21", "2024-05-01", "informal")],  # informal, day 51..61
    )
    assert tte(adtte, "READMIT", "P1") == censored(
        "2024-06-01", 92, "DEATH BEFORE READMISSION", "Y"
    )
    assert tte(adtte, "DEATH", "P1") == event("2024-06-01", 92, "DEATH")
    assert tte(adtte, "READMIT", "P2") == event("2024-04-21", 51)
    assert tte(adtte, "READMDET", "P2") == censored(
        "2024-06-01", 92, "DEATH BEFORE DETAINED READMISSION", "Y"
    )
    assert totals(adre, "P2") == (1, 10.0, 82.0, 92.0)


def test_identifiers_treatment_and_sources_of_adt():
    plan = AnalysisPlan(followup_days=365, data_cut=dt.date(2025, 12, 31), study_id="PS-7")
    adsl, adtte, adre = derive(
        [{"participant_id": "P1", "death_date": "2024-06-01"},             # dies on day 92
         {"participant_id": "P2", "arm": "usual_care"},                    # readmitted
         {"participant_id": "P3", "withdrawal_date": "2024-02-15"}],       # before INDEXDT
        [("P2", "A2", "2024-04-21", "2024-05-01", "detained")], plan)
    assert adsl.columns[0] == "STUDYID" and (adsl["STUDYID"] == "PS-7").all()
    assert adsl["TRT01P"].tolist() == ["Peer support", "Usual care", "Peer support"]
    assert adsl["TRT01A"].tolist() == adsl["TRT01P"].tolist()
    assert adsl["TRT01AN"].tolist() == adsl["TRT01PN"].tolist() == [1, 0, 1]
    for bds in (adtte, adre):
        assert list(bds.columns[:5]) == ["STUDYID", "USUBJID", "SITEID", "ARM", "TRTP"]
        assert (bds["STUDYID"] == "PS-7").all()
        assert (bds["TRTP"] == bds["USUBJID"].map(adsl.set_index("USUBJID")["TRT01P"])).all()
    # ADTTE (a BDS dataset with a transport file) carries the actual treatment too; ADRE not
    assert adtte.columns[5] == "TRTA" and "TRTA" not in adre.columns
    assert (adtte["TRTA"] == adtte["USUBJID"].map(adsl.set_index("USUBJID")["TRT01A"])).all()
    # an actual treatment other than the planned one reaches TRTA, not TRTP
    swapped = adsl.assign(TRT01A=adsl["TRT01A"].where(adsl["USUBJID"] != "P2", "Peer support"))
    adtte_sw = derive_adtte(swapped, None, plan)
    assert set(adtte_sw.loc[adtte_sw["USUBJID"] == "P2", "TRTA"]) == {"Peer support"}
    assert set(adtte_sw.loc[adtte_sw["USUBJID"] == "P2", "TRTP"]) == {"Usual care"}
    src = adtte.set_index(["USUBJID", "PARAMCD"])[["CNSR", "SRCDOM", "SRCVAR"]]
    assert src.loc[("P1", "DEATH")].tolist() == [0, "ADSL", "DTHDT"]
    assert src.loc[("P1", "READMIT")].tolist() == [1, "ADSL", "DTHDT"]  # competing death
    assert src.loc[("P2", "READMDET")].tolist() == [0, "admissions", "admission_date"]
    assert src.loc[("P2", "DEATH")].tolist() == [1, "ADSL", "EOSDT"]
    assert src.loc[("P3", "READMIT")].tolist() == [1, "ADSL", "INDEXDT"]
    # an ADSL made without the identifiers (older files): from the plan and ARM
    adtte_old = derive_adtte(adsl.drop(columns=["STUDYID", "TRT01P", "TRT01A"]), None, plan)
    assert (adtte_old["STUDYID"] == "PS-7").all()
    assert adtte_old["TRTP"].tolist() == adtte["TRTP"].tolist()
    assert adtte_old["TRTA"].tolist() == adtte["TRTA"].tolist()


def test_death_after_withdrawal_is_not_an_event():
    _, adtte, _ = derive([{"withdrawal_date": "2024-04-30", "death_date": "2024-06-01"}], [])
    assert tte(adtte, "DEATH") == censored("2024-04-30", 60, "WITHDRAWAL")
    assert tte(adtte, "READMIT") == censored("2024-04-30", 60, "WITHDRAWAL")


def test_withdrawal_before_index_discharge_gives_zero_follow_up():
    adsl, adtte, adre = derive(
        [{"withdrawal_date": "2024-02-15"}], [("P1", "A1", "2024-03-05", "", "informal")]
    )
    assert adsl.loc[0, "EOSDT"] == pd.Timestamp("2024-02-15")
    assert adsl.loc[0, "FUDAYS"] == 0
    assert tte(adtte, "READMIT") == censored(INDEX, 0, "WITHDRAWAL BEFORE INDEX DISCHARGE")
    assert intervals(adre) == [(0.0, 0.0, 0, "")]  # the one zero-length placeholder row
    assert totals(adre) == (0, 0.0, 0.0, 0.0)


def test_open_index_admission_means_no_time_at_risk():
    _, adtte, adre = derive([{}], [("P1", "A0", "2024-02-01", "", "detained")])
    assert tte(adtte, "READMIT") == censored("2025-03-01", 365, END365)
    assert intervals(adre) == [(365.0, 365.0, 0, "")]
    assert totals(adre) == (0, 365.0, 0.0, 365.0)


def test_day_0_readmission_with_zero_follow_up():
    # Death on the index discharge day, readmitted that day: the event is kept at (0, 0.5]
    # and ADRE's FUDAYS becomes 0.5 so that BEDDAYS + RISKDAYS = FUDAYS still holds.
    adsl, adtte, adre = derive([{"death_date": INDEX}], [("P1", "A1", INDEX, "", "detained")])
    assert adsl.loc[0, "FUDAYS"] == 0
    assert tte(adtte, "READMIT") == event(INDEX, 0)
    assert tte(adtte, "DEATH") == event(INDEX, 0, "DEATH")
    assert intervals(adre) == [(0.0, 0.5, 1, "A1")]
    assert totals(adre) == (1, 0.0, 0.5, 0.5)


# --- ADSL -----------------------------------------------------------------------------------


def test_adsl_variables_and_main_peer_worker():
    contacts = pd.DataFrame(
        {
            "participant_id": ["P1"] * 5 + ["P3"] * 2,
            "contact_date": pd.to_datetime(["2024-02-10"] * 7),  # datetime64 input
            "peer_worker_id": ["W2", "W1", "W2", "W1", "W3", "W9", "W8"],
            "duration_minutes": pd.array([30, 60, 30, 20, 200, 45, 45], dtype="Int64"),
            "mode": ["face_to_face"] * 7,
        }
    )
    people = [
        {"participant_id": "P1", "detained_at_index": True, "withdrawal_date": "2024-10-01"},
        {"participant_id": "P2", "arm": "usual_care", "death_date": "2024-06-01", "age": "40"},
        {"participant_id": "P3", "arm": "usual_care"},
    ]
    adsl = derive_adsl(participants(*people), contacts, AnalysisPlan(data_cut=dt.date(2025, 1, 31)))
    r = adsl.set_index("USUBJID")
    # P1: W1 and W2 both 2 contacts; W1 has 80 minutes, W2 60 -> W1. W3 has 200 minutes
    # but only one contact. P3: a tie on contacts and minutes -> the smallest id, W8.
    assert r.loc["P1", ["NCONTACT", "CONTMIN", "PEERWID"]].tolist() == [5, 340, "W1"]
    assert r.loc["P2", ["NCONTACT", "CONTMIN", "PEERWID"]].tolist() == [0, 0, ""]
    assert r.loc["P3", ["NCONTACT", "CONTMIN", "PEERWID"]].tolist() == [2, 90, "W8"]
    assert r["DETINDFL"].tolist() == ["Y", "N", "N"]
    assert r["ITTFL"].tolist() == ["Y", "Y", "Y"]
    assert r["TRT01PN"].tolist() == [1, 0, 0]
    assert r.loc["P2", "AGE"] == 40
    # EOSDT: withdrawal (P1), death (P2), data cut (P3, before day 365 = 2025-03-01).
    assert r["EOSDT"].dt.strftime("%Y-%m-%d").tolist() == ["2024-10-01", "2024-06-01", "2025-01-31"]
    assert r["FUDAYS"].tolist() == [214, 92, 336]
    assert (r["DCUTDT"] == pd.Timestamp("2025-01-31")).all()


def test_contacts_after_the_data_cut_are_not_counted():
    contacts = pd.DataFrame(
        {
            "participant_id": ["P1", "P1"],
            "contact_date": ["2024-03-10", "2024-05-10"],
            "peer_worker_id": ["W1", "W2"],
            "duration_minutes": [10, 20],
            "mode": ["video", "video"],
        }
    )
    adsl = derive_adsl(participants({}), contacts, AnalysisPlan(data_cut=dt.date(2024, 4, 1)))
    assert adsl.loc[0, ["NCONTACT", "CONTMIN", "PEERWID"]].tolist() == [1, 10, "W1"]


def test_input_dates_as_arrow_date32_and_python_dates():
    frame = participants({})
    frame["index_discharge_date"] = pd.Series(
        [dt.date(2024, 3, 1)], dtype=pd.ArrowDtype(__import__("pyarrow").date32())
    )
    frame["randomisation_date"] = [dt.date(2024, 2, 1)]
    adm = admissions(("P1", "A1", dt.date(2024, 4, 1), None, "informal"))
    adsl = derive_adsl(frame, None, PLAN)
    assert adsl.loc[0, "INDEXDT"] == pd.Timestamp(INDEX)
    assert tte(derive_adtte(adsl, adm, PLAN), "READMIT") == event("2024-04-01", 31)


def test_bad_input_is_a_one_line_derivation_error():
    with pytest.raises(DerivationError, match="participants.index_discharge_date"):
        derive_adsl(participants({"index_discharge_date": "01/03/2024"}), None, PLAN)
    with pytest.raises(DerivationError, match="missing column"):
        derive_adsl(participants({}).drop(columns="site"), None, PLAN)
    with pytest.raises(DerivationError, match="before admission_date"):
        derive([{}], [("P1", "A1", "2024-04-01", "2024-03-20", "informal")])


# --- invariants on random admission histories ------------------------------------------------


@st.composite
def histories(draw):
    """Up to 5 admissions between day -40 and day 400 (some open), plus optional death /
    withdrawal, with INDEXDT 2024-03-01 and follow-up 365 days."""
    n = draw(st.integers(0, 5))
    rows = []
    for k in range(n):
        start = draw(st.integers(-40, 400))
        length = draw(st.one_of(st.none(), st.integers(0, 60)))
        rows.append((k, start, length, draw(st.booleans())))
    death = draw(st.one_of(st.none(), st.integers(0, 400)))
    withdrawal = draw(st.one_of(st.none(), st.integers(0, 400)))
    return rows, death, withdrawal


def _day(d: int) -> str:
    return (dt.date(2024, 3, 1) + dt.timedelta(days=d)).isoformat()


def _check_invariants(pid, rows, adsl, adtte, adre):
    nreadm, bed, at_risk, fu = totals(adre, pid)
    ivs = intervals(adre, pid)
    fudays = int(adsl.loc[adsl["USUBJID"] == pid, "FUDAYS"].iloc[0])
    # BEDDAYS + RISKDAYS = follow-up days; NREADM = ADRE events.
    assert bed + at_risk == pytest.approx(fu)
    assert fu == fudays or (fudays == 0 and fu == 0.5)
    assert nreadm == sum(e for *_, e, _ in ivs)
    assert at_risk == pytest.approx(sum(b - a for a, b, *_ in ivs))
    # Intervals are ordered and do not overlap.
    for (a1, b1, *_), (a2, b2, *_) in zip(ivs, ivs[1:], strict=False):
        assert b1 <= a2 and a1 < b1 and a2 < b2
    # ADTTE READMIT agrees with ADRE's first event.
    readmit = tte(adtte, "READMIT", pid)
    assert (readmit["CNSR"] == 0) == (nreadm > 0)
    if nreadm:
        first_stop = next(b for a, b, e, _ in ivs if e == 1)
        assert first_stop == (readmit["AVAL"] if readmit["AVAL"] > 0 else 0.5)
    else:
        assert readmit["AVAL"] == fudays
    # Without day-0 readmissions, BEDDAYS is the length of the union of stays in follow-up.
    if not (nreadm and readmit["AVAL"] == 0):
        covered = np.zeros(fudays, dtype=bool)  # day d covers (d, d + 1)
        for _, s, n, _ in rows:
            end = fudays if n is None else s + n
            if n is not None and s + n < 0:
                continue
            covered[max(s, 0) : max(min(end, fudays), 0)] = True
        assert bed == pytest.approx(covered.sum())


def _derive_histories(histories_):
    people, adm = [], []
    for i, (rows, death, withdrawal) in enumerate(histories_):
        pid = f"P{i:03d}"
        people.append(
            {
                "participant_id": pid,
                "death_date": "" if death is None else _day(death),
                "withdrawal_date": "" if withdrawal is None else _day(withdrawal),
            }
        )
        adm += [
            (
                pid,
                f"{pid}A{k}",
                _day(s),
                "" if n is None else _day(s + n),
                "detained" if det else "informal",
            )
            for k, s, n, det in rows
        ]
    adsl, adtte, adre = derive(people, adm)
    for i, (rows, _, _) in enumerate(histories_):
        _check_invariants(f"P{i:03d}", rows, adsl, adtte, adre)


@settings(max_examples=25, deadline=None)
@given(st.lists(histories(), min_size=1, max_size=12))
def test_invariants_on_random_histories(batch):
    _derive_histories(batch)


def test_invariants_on_a_seeded_batch_with_many_same_day_events():
    rng = np.random.default_rng(20261122)
    batch = []
    for _ in range(300):
        rows = []
        for k in range(int(rng.integers(0, 6))):
            start = int(rng.choice([-5, 0, 0, 1, 10, 30, 200, 364, 365, 366]))
            length = None if rng.random() < 0.15 else int(rng.choice([0, 0, 1, 5, 30]))
            rows.append((k, start, length, bool(rng.random() < 0.3)))
        death = None if rng.random() < 0.7 else int(rng.integers(0, 400))
        withdrawal = None if rng.random() < 0.8 else int(rng.integers(0, 400))
        batch.append((rows, death, withdrawal))
    _derive_histories(batch)
