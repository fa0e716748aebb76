"""ADQS on hand examples: scores, baseline, change, proration and missing-item overrides."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from outcomes.adam import DerivationError, derive_adqs, derive_adsl
from outcomes.errors import ConfigError
from outcomes.instruments import load_registry
from outcomes.plan import AnalysisPlan

NAN = np.nan
PLAN = AnalysisPlan(data_cut=dt.date(2025, 12, 31))


def adsl(*pids: str) -> pd.DataFrame:
    people = pd.DataFrame(
        {
            "participant_id": list(pids),
            "site": "S1",
            "arm": "peer_support",
            "randomisation_date": "2024-02-01",
            "index_discharge_date": "2024-03-01",
            "age": 30,
            "sex": "male",
            "diagnosis_group": "bipolar",
            "prior_admissions": 0,
            "detained_at_index": "false",
        }
    )
    return derive_adsl(people, None, PLAN)


def questionnaires(rows: list[dict]) -> pd.DataFrame:
    """rows: participant_id, visit, completion_date and {instrument: [items]} lists."""
    out = []
    for r in rows:
        rec = {k: r[k] for k in ("participant_id", "visit", "completion_date")}
        for key, items in r.get("items", {}).items():
            rec |= {f"{key}_{i:02d}": v for i, v in enumerate(items, start=1)}
        out.append(rec)
    frame = pd.DataFrame(out)
    for col in frame.columns:
        if col[-3] == "_" and col[-2:].isdigit():
            frame[col] = pd.array(frame[col], dtype="Int64")  # as the validator writes them
    return frame


GSE_BASE = [4] * 10  # 40
GSE_M4 = [4, 4, 4, NAN, NAN, NAN, 1, 1, 1, 1]  # 3 missing: (12 + 4) / 7 * 10
GSE_M12 = [NAN] * 4 + [2] * 6  # 4 missing: not scored
WEM_BASE = [3] * 14  # WEMWBS 42; SWEMWBS raw 21 -> 19.25
WEM_M12 = [4] * 13 + [NAN]  # item 14 missing; SWEMWBS items all present: raw 28 -> 25.03

ROWS = [
    {"participant_id": "P1", "visit": "baseline", "completion_date": "2024-02-20",
     "items": {"gse": GSE_BASE, "wemwbs": WEM_BASE}},
    {"participant_id": "P1", "visit": "month_4", "completion_date": "2024-07-01",
     "items": {"gse": GSE_M4, "wemwbs": [NAN] * 14}},
    {"participant_id": "P1", "visit": "month_12", "completion_date": "2025-03-01",
     "items": {"gse": GSE_M12, "wemwbs": WEM_M12}},
    # P2: a baseline row with every item empty (not completed) and a month_4 GSE only.
    {"participant_id": "P2", "visit": "baseline", "completion_date": None,
     "items": {"gse": [NAN] * 10, "wemwbs": [NAN] * 14}},
    {"participant_id": "P2", "visit": "month_4", "completion_date": "2024-07-03",
     "items": {"gse": [3] * 10, "wemwbs": [NAN] * 14}},
]  # fmt: skip


def rec(adqs, pid, visit, paramcd) -> dict:
    r = adqs[(adqs["USUBJID"] == pid) & (adqs["AVISIT"] == visit) & (adqs["PARAMCD"] == paramcd)]
    assert len(r) == 1, (pid, visit, paramcd)
    return r.iloc[0].to_dict()


def _same(a, b):
    return (pd.isna(a) and pd.isna(b)) or a == pytest.approx(b)


def check(row, **expected):
    for key, value in expected.items():
        assert _same(row[key], value) if not isinstance(value, str) else row[key] == value, (
            key,
            row[key],
            value,
        )


def test_gse_baseline_change_and_proration():
    adqs = derive_adqs(questionnaires(ROWS), adsl("P1", "P2"), PLAN)
    check(rec(adqs, "P1", "baseline", "GSE"), AVISITN=0, AVAL=40.0, ABLFL="Y", BASE=40.0,
          CHG=NAN, NITEMS=10, NMISS=0, DTYPE="", ANL01FL="Y")  # fmt: skip
    m4 = (12 + 4) / 7 * 10
    check(rec(adqs, "P1", "month_4", "GSE"), AVISITN=4, AVAL=m4, ABLFL="", BASE=40.0,
          CHG=m4 - 40, NITEMS=7, NMISS=3, DTYPE="PRORATED", ANL01FL="Y")  # fmt: skip
    check(rec(adqs, "P1", "month_12", "GSE"), AVISITN=12, AVAL=NAN, ABLFL="", BASE=40.0,
          CHG=NAN, NITEMS=6, NMISS=4, DTYPE="", ANL01FL="")  # fmt: skip
    assert rec(adqs, "P1", "month_4", "GSE")["ADT"] == pd.Timestamp("2024-07-01")
    assert rec(adqs, "P1", "month_4", "GSE")["PARAM"] == "GSE total score (sum metric)"


def test_wemwbs_and_swemwbs_from_wemwbs_items():
    adqs = derive_adqs(questionnaires(ROWS), adsl("P1", "P2"), PLAN)
    check(rec(adqs, "P1", "baseline", "WEMWBS"), AVAL=42.0, ABLFL="Y", NITEMS=14, NMISS=0)
    check(rec(adqs, "P1", "baseline", "SWEMWBS"), AVAL=19.25, ABLFL="Y", NITEMS=7)
    check(rec(adqs, "P1", "baseline", "SWEMRAW"), AVAL=21.0)
    # month_12: WEMWBS complete-case -> missing; SWEMWBS does not use item 14.
    check(rec(adqs, "P1", "month_12", "WEMWBS"), AVAL=NAN, BASE=42.0, CHG=NAN, NITEMS=13,
          NMISS=1, DTYPE="", ANL01FL="")  # fmt: skip
    check(rec(adqs, "P1", "month_12", "SWEMWBS"), AVAL=25.03, BASE=19.25, CHG=25.03 - 19.25,
          NMISS=0, ANL01FL="Y")  # fmt: skip
    # month_4 WEMWBS items all empty: no WEMWBS/SWEMWBS rows at all for that visit.
    assert adqs[(adqs["AVISIT"] == "month_4") & (adqs["PARCAT1"] != "gse")].empty


def test_all_items_empty_gives_no_rows_and_no_baseline():
    adqs = derive_adqs(questionnaires(ROWS), adsl("P1", "P2"), PLAN)
    p2 = adqs[adqs["USUBJID"] == "P2"]
    assert list(zip(p2["AVISIT"], p2["PARAMCD"], strict=True)) == [("month_4", "GSE")]
    check(rec(adqs, "P2", "month_4", "GSE"), AVAL=30.0, BASE=NAN, CHG=NAN, ABLFL="")


def test_missing_items_override_changes_the_result():
    plan = AnalysisPlan(data_cut=PLAN.data_cut, missing_items={"wemwbs": 3, "gse": 0})
    adqs = derive_adqs(questionnaires(ROWS), adsl("P1", "P2"), plan)
    # WEMWBS month_12: 13 answered items of 4, prorated: 4 x 14 = 56.
    check(rec(adqs, "P1", "month_12", "WEMWBS"), AVAL=56.0, CHG=14.0, NMISS=1,
          DTYPE="PRORATED", ANL01FL="Y")  # fmt: skip
    # GSE with no missing item allowed: month_4 is no longer scored.
    check(rec(adqs, "P1", "month_4", "GSE"), AVAL=NAN, DTYPE="", ANL01FL="")
    # The SWEMWBS rule is its own (key swemwbs), unchanged.
    check(rec(adqs, "P1", "month_12", "SWEMWBS"), AVAL=25.03)


def test_reversed_items_override():
    plan = AnalysisPlan(data_cut=PLAN.data_cut, reversed_items={"gse": [1]})
    adqs = derive_adqs(questionnaires(ROWS), adsl("P1", "P2"), plan)
    check(rec(adqs, "P1", "baseline", "GSE"), AVAL=37.0)  # item 1: 4 -> 1


def test_bad_overrides_are_config_errors():
    with pytest.raises(ConfigError, match="missing_items.wembws"):
        derive_adqs(questionnaires(ROWS), adsl("P1"), AnalysisPlan(missing_items={"wembws": 1}))
    with pytest.raises(ConfigError, match="reversed_items.gse"):
        derive_adqs(questionnaires(ROWS), adsl("P1"), AnalysisPlan(reversed_items={"gse": [11]}))
    with pytest.raises(ConfigError, match="swemwbs"):  # table conversion needs all items
        derive_adqs(questionnaires(ROWS), adsl("P1"), AnalysisPlan(missing_items={"swemwbs": 1}))


def test_every_registered_score_paramcd_le_8_and_one_to_one():
    reg = load_registry()
    items = {k: [inst.code_min] * inst.n_items for k, inst in reg.items() if inst.has_own_columns}
    rows = [{"participant_id": "P1", "visit": v, "completion_date": "2024-07-01", "items": items}
            for v in ("baseline", "month_4", "month_12")]  # fmt: skip
    adqs = derive_adqs(questionnaires(rows), adsl("P1"), PLAN)
    expected = {s.paramcd for inst in reg.values() for s in inst.scores}
    assert set(adqs["PARAMCD"]) == expected
    assert adqs["PARAMCD"].str.len().max() <= 8
    pairs = adqs[["PARAMCD", "PARAM"]].drop_duplicates()
    assert pairs["PARAMCD"].is_unique and pairs["PARAM"].is_unique
    assert len(adqs) == 3 * len(expected)
    assert (adqs.loc[adqs["AVISITN"] > 0, "CHG"] == 0).all()


def test_absent_instruments_are_skipped_and_partial_ones_are_errors():
    adqs = derive_adqs(questionnaires(ROWS), adsl("P1", "P2"), PLAN)
    assert set(adqs["PARCAT1"]) == {"gse", "wemwbs", "swemwbs"}
    partial = questionnaires(ROWS).drop(columns="gse_10")
    with pytest.raises(DerivationError, match="gse_10"):
        derive_adqs(partial, adsl("P1", "P2"), PLAN)


def test_out_of_range_code_is_an_error_not_clamped():
    rows = [{"participant_id": "P1", "visit": "baseline", "completion_date": "2024-02-20",
             "items": {"gse": [5] + [4] * 9}}]  # fmt: skip
    with pytest.raises(DerivationError, match="gse_01"):
        derive_adqs(questionnaires(rows), adsl("P1"), PLAN)


def test_string_items_and_dates_are_normalised():
    q = questionnaires(ROWS[:1])
    q = q.astype({c: "str" for c in q.columns if c.startswith("gse_")})
    q["completion_date"] = pd.to_datetime(q["completion_date"]).astype("datetime64[ns]")
    adqs = derive_adqs(q, adsl("P1"), PLAN)
    check(rec(adqs, "P1", "baseline", "GSE"), AVAL=40.0)
    assert rec(adqs, "P1", "baseline", "GSE")["ADT"] == pd.Timestamp("2024-02-20")


def test_participants_not_in_adsl_are_dropped():
    adqs = derive_adqs(questionnaires(ROWS), adsl("P1"), PLAN)
    assert set(adqs["USUBJID"]) == {"P1"}


def test_treatment_planned_and_actual_from_adsl():
    people = adsl("P1", "P2")
    adqs = derive_adqs(questionnaires(ROWS), people, PLAN)
    assert list(adqs.columns[4:6]) == ["TRTP", "TRTA"]
    assert set(adqs["TRTP"]) == set(adqs["TRTA"]) == {"Peer support"}
    # actual = planned (ADSL's TRT01A = TRT01P): TRTA is TRTP's own Arrow array, the rows
    # are held once (at n = 100,000 ADQS has 4 million)
    assert adqs["TRTA"].array._pa_array is adqs["TRTP"].array._pa_array
    # an actual treatment of its own reaches TRTA only, row by row
    other = people.assign(TRT01A=people["TRT01A"].where(people["USUBJID"] != "P2", "Usual care"))
    adqs = derive_adqs(questionnaires(ROWS), other, PLAN)
    assert set(adqs["TRTP"]) == {"Peer support"}
    want = adqs["USUBJID"].map({"P1": "Peer support", "P2": "Usual care"})
    assert (adqs["TRTA"] == want).all() and (adqs["USUBJID"] == "P2").any()
