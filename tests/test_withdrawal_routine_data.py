"""The plan key ``survival.withdrawal_ends_routine_data`` (docs/adam.md, docs/estimands.md)
on a hand-built extract whose numbers are computed by hand.

INDEXDT 2024-03-01 for everyone; day numbers since it: 2024-05-01 = 61, 2024-05-02 = 62,
2024-05-11 = 71, 2024-06-09 = 100, 2024-06-19 = 110, 2025-03-01 = 365. The data cut
(2025-12-31) is after every horizon.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from outcomes.adam import derive_adre, derive_adsl, derive_adtte
from outcomes.plan import AnalysisPlan
from outcomes.survival import readmission_within

CUT = "2025-12-31"


def _plan(ends: bool) -> AnalysisPlan:
    return AnalysisPlan.from_config({"data_cut": CUT, "survival": {
        "withdrawal_ends_routine_data": ends}})


def _people() -> pd.DataFrame:
    """Four per arm. Treated: P1 and P5 withdrew on day 61 and were readmitted after it
    (days 62 and 71); P3 readmitted on day 100; P7 never readmitted. Control: P2 and P4
    readmitted on days 62 and 100; P6 withdrew on day 61 and died unreadmitted on day
    110; P8 never readmitted."""
    base = dict(site="S1", randomisation_date="2024-02-01", index_discharge_date="2024-03-01",
                age=35, sex="female", diagnosis_group="psychosis", prior_admissions=1,
                detained_at_index="false", withdrawal_date="", death_date="")
    rows = []
    for i in range(1, 9):
        rows.append({**base, "participant_id": f"P{i}",
                     "arm": "peer_support" if i % 2 else "usual_care"})
    for i in (0, 4):
        rows[i]["withdrawal_date"] = "2024-05-01"
    rows[5].update(withdrawal_date="2024-05-01", death_date="2024-06-19")
    return pd.DataFrame(rows)


ADMISSIONS = pd.DataFrame(
    [("P1", "A1", "2024-05-02", "2024-05-11", "informal"),   # day 62, after withdrawal
     ("P5", "A5", "2024-05-11", "2024-06-09", "informal"),   # day 71, after withdrawal
     ("P3", "A3", "2024-06-09", "2024-06-19", "detained"),   # day 100
     ("P2", "A2", "2024-05-02", "2024-05-11", "informal"),
     ("P4", "A4", "2024-06-09", "2024-06-19", "informal")],
    columns=["participant_id", "admission_id", "admission_date", "discharge_date",
             "legal_status"])


def _derive(ends: bool):
    plan = _plan(ends)
    adsl = derive_adsl(_people(), None, plan, data_cut=dt.date.fromisoformat(CUT))
    return plan, adsl, derive_adtte(adsl, ADMISSIONS, plan), derive_adre(adsl, ADMISSIONS, plan)


def _tte(adtte, pid, paramcd="READMIT"):
    r = adtte.loc[(adtte.USUBJID == pid) & (adtte.PARAMCD == paramcd)].iloc[0]
    return int(r.AVAL), int(r.CNSR), r.EVNTDESC


def test_withdrawal_ends_the_routine_data_by_default():
    plan, adsl, adtte, adre = _derive(True)
    assert plan.withdrawal_ends_routine_data and AnalysisPlan().withdrawal_ends_routine_data
    p1 = adsl.set_index("USUBJID").loc["P1"]
    assert p1.EOSDT == pd.Timestamp("2024-05-01") and p1.FUDAYS == 61
    assert _tte(adtte, "P1") == (61, 1, "WITHDRAWAL")  # the day-62 admission is not used
    assert _tte(adtte, "P6", "DEATH") == (61, 1, "WITHDRAWAL")  # death after it is not seen
    nreadm = adre.drop_duplicates("USUBJID").set_index("USUBJID")["NREADM"]
    assert nreadm["P1"] == 0


def test_with_false_admissions_and_death_after_withdrawal_are_used_to_the_data_cut():
    plan, adsl, adtte, adre = _derive(False)
    by_id = adsl.set_index("USUBJID")
    assert by_id.loc["P1", "WDDT"] == pd.Timestamp("2024-05-01")  # still recorded
    assert by_id.loc["P1", "EOSDT"] == pd.Timestamp("2025-03-01")  # day 365
    assert by_id.loc["P6", "EOSDT"] == pd.Timestamp("2024-06-19")  # death, day 110
    assert _tte(adtte, "P1") == (62, 0, "READMISSION")
    assert _tte(adtte, "P5") == (71, 0, "READMISSION")
    assert _tte(adtte, "P6", "DEATH") == (110, 0, "DEATH")
    assert _tte(adtte, "P6") == (110, 1, "DEATH BEFORE READMISSION")
    per = adre.drop_duplicates("USUBJID").set_index("USUBJID")
    # P1: in hospital from day 62 to day 71, at risk 62 + (365 - 71) = 356 days
    assert (per.loc["P1", "NREADM"], per.loc["P1", "BEDDAYS"], per.loc["P1", "RISKDAYS"]) \
        == (1, 9.0, 356.0)
    # nobody else changes
    same = _derive(True)[2]
    changed = ["P1", "P5", "P6"]
    pd.testing.assert_frame_equal(adtte.loc[~adtte.USUBJID.isin(changed)].reset_index(drop=True),
                                  same.loc[~same.USUBJID.isin(changed)].reset_index(drop=True))


@pytest.mark.parametrize("strategy", ["while_alive", "hypothetical_km"])
def test_the_risks_move_as_computed_by_hand(strategy):
    # Key true: withdrawal censors on day 61. Treated: P1 and P5 censored (2 of 4), the
    # status at the horizon known for P3 (readmitted) and P7; the IPCW weights are equal
    # (1/G, G = 2/4 after day 61) and 1 - KM = 1 - 1/2 (2 at risk on day 100): 1/2.
    # Control: P6 censored, P2 and P4 readmitted, P8 not: 2/3 (1 - KM: 1 - 2/3 x 1/2).
    # Key false: treated P1 and P5 readmitted after withdrawing: 3/4 (1 - KM: 1 - 3/4 x
    # 2/3 x 1/2). Control P6 died unreadmitted on day 110: while alive 2/4 not readmitted;
    # 1 - KM with death censored after both events: 1 - 3/4 x 2/3 = 1/2.
    want = {True: (1 / 2, 2 / 3), False: (3 / 4, 1 / 2)}
    for ends, (treated, control) in want.items():
        plan, adsl, adtte, _ = _derive(ends)
        res = readmission_within(adtte, adsl, covariates=(), strategy=strategy)
        t = res.to_frame().set_index(["contrast", "estimate_type"])
        assert t.loc[("peer_support", "risk"), "estimate"] == pytest.approx(treated, abs=1e-9)
        assert t.loc[("usual_care", "risk"), "estimate"] == pytest.approx(control, abs=1e-9)
        assert t.loc[("peer_support vs usual_care", "risk_difference"), "estimate"] \
            == pytest.approx(treated - control, abs=1e-9)


def test_the_withdrawal_strategy_of_the_estimands_follows_the_key():
    ends, continues = _plan(True).estimands, _plan(False).estimands
    for eid in ("readmit_while_alive", "readmit_cause_specific_hr", "readmission_rate_while_alive"):
        assert ends[eid].strategy("withdrawal") == "hypothetical"
        assert continues[eid].strategy("withdrawal") == "treatment policy"
    assert ends["readmit_complete_followup"].strategy("withdrawal") == "excluded"
    # the questionnaires stop at withdrawal whatever the key
    for reg in (ends, continues):
        assert reg["score_while_alive"].strategy("withdrawal or a missed visit") == "hypothetical"


def test_the_simulator_can_record_every_admission_after_withdrawal():
    from outcomes.simulate import simulate

    base, truth = simulate(300, 7, truth_n=1000)
    full, truth_full = simulate(300, 7, truth_n=1000, routine_data_after_withdrawal=True)
    for name in ("participants", "questionnaires", "peer_contacts"):
        assert full[name].rows == base[name].rows, name  # the same trial, draw for draw
    par = pd.DataFrame(base["participants"].rows, columns=base["participants"].columns)
    wd = dict(zip(par.participant_id, par.withdrawal_date, strict=True))

    def after(table):
        adm = pd.DataFrame(table.rows, columns=table.columns)
        late = [(p, d) for p, d in zip(adm.participant_id, adm.admission_date, strict=True)
                if wd[p] and d > wd[p]]
        return adm, late

    adm, late = after(base["admissions"])
    adm_full, late_full = after(full["admissions"])
    # only admissions after a withdrawal are added, and more of them (ids are renumbered)
    cols = ["participant_id", "admission_date", "discharge_date", "legal_status"]
    assert set(map(tuple, adm[cols].to_numpy())) < set(map(tuple, adm_full[cols].to_numpy()))
    assert len(adm_full) - len(adm) == len(late_full) - len(late) > 0
    truth.pop("parameters"), truth_full.pop("parameters")
    assert truth_full == truth
