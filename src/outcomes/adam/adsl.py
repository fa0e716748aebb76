"""ADSL: one row per randomised participant (docs/adam.md)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from outcomes.adam._inputs import (
    DATE_DTYPE,
    DerivationError,
    latest_date,
    participants_table,
    peer_contacts_table,
)
from outcomes.adam.models import check
from outcomes.plan import AnalysisPlan, ReceiptDefinition


def resolve_data_cut(
    plan: AnalysisPlan, tables: dict[str, pd.DataFrame | None], data_cut: dt.date | None = None
) -> dt.date:
    """The data cut: ``data_cut`` if given, else the plan's, else the latest date in ``tables``."""
    cut = data_cut if data_cut is not None else plan.data_cut
    if cut is None:
        cut = latest_date(tables)
    if cut is None:
        raise DerivationError("no data cut in the plan and no date in the extract to default to")
    return cut


def _peer_summary(contacts: pd.DataFrame, cut: pd.Timestamp) -> pd.DataFrame:
    """NCONTACT, CONTMIN and the main peer worker per participant (contacts up to the cut)."""
    c = contacts.loc[contacts["contact_date"].isna() | (contacts["contact_date"] <= cut)]
    c = c.assign(minutes=c["duration_minutes"].fillna(0).astype("int64"))
    per = (
        c.groupby("participant_id", sort=True)
        .agg(NCONTACT=("minutes", "size"), CONTMIN=("minutes", "sum"))
        .astype("int64")
    )
    worker = c.loc[c["peer_worker_id"] != ""]
    by_worker = (
        worker.groupby(["participant_id", "peer_worker_id"], sort=True)
        .agg(n=("minutes", "size"), m=("minutes", "sum"))
        .reset_index()
    )
    # Most contacts, then most minutes, then the smallest id.
    by_worker = by_worker.sort_values(
        ["participant_id", "n", "m", "peer_worker_id"],
        ascending=[True, False, False, True],
        kind="mergesort",
    )
    main = by_worker.drop_duplicates("participant_id").set_index("participant_id")["peer_worker_id"]
    per["PEERWID"] = main.reindex(per.index).fillna("").astype("str")
    return per


def receipt_window(par: pd.DataFrame, receipt: ReceiptDefinition, followup_days: int,
                   cut: pd.Timestamp) -> pd.DataFrame:
    """Day 0 (``start``) and the last day (``end``) of each participant's receipt window
    (docs/engagement.md): from RANDDT or INDEXDT (``receipt.window_start``) to
    ``receipt.window_days`` days after it, or to INDEXDT + ``followup_days`` when that is
    None; never after the data cut. Indexed by participant_id."""
    start_col = {"randomisation": "randomisation_date",
                 "discharge": "index_discharge_date"}[receipt.window_start]
    start = par[start_col]
    end = (start + pd.to_timedelta(receipt.window_days, unit="D")
           if receipt.window_days is not None
           else par["index_discharge_date"] + pd.to_timedelta(followup_days, unit="D"))
    end = end.where(end <= cut, cut)
    return pd.DataFrame({"start": start.to_numpy(), "end": end.to_numpy()},
                        index=par["participant_id"].to_numpy())


def _window_summary(contacts: pd.DataFrame, window: pd.DataFrame) -> pd.DataFrame:
    """NCONTWIN and CONTMWIN per participant: the contacts dated within the window (both
    ends included); an undated contact cannot be placed and is not counted."""
    c = contacts.merge(window, left_on="participant_id", right_index=True, how="inner")
    c = c.loc[c["contact_date"].notna() & (c["contact_date"] >= c["start"])
              & (c["contact_date"] <= c["end"])]
    minutes = c["duration_minutes"].fillna(0).astype("int64")
    return (c.assign(minutes=minutes).groupby("participant_id", sort=True)
            .agg(NCONTWIN=("minutes", "size"), CONTMWIN=("minutes", "sum")).astype("int64"))


def derive_adsl(
    participants: pd.DataFrame,
    peer_contacts: pd.DataFrame | None,
    plan: AnalysisPlan,
    *,
    data_cut: dt.date | None = None,
) -> pd.DataFrame:
    """ADSL from the participants and peer-contact tables.

    ``data_cut`` overrides the plan's data cut; when both are None the cut is the latest
    date in the two tables given (:func:`derive_all` uses all four tables instead).
    """
    par = participants_table(participants)
    con = peer_contacts_table(peer_contacts)
    cut = resolve_data_cut(plan, {"participants": par, "peer_contacts": con}, data_cut)
    cut_ts = pd.Timestamp(cut)

    index = par["index_discharge_date"]
    fu_end = index + pd.to_timedelta(plan.followup_days, unit="D")
    # withdrawal ends the routine admissions data unless the plan says otherwise
    # (survival.withdrawal_ends_routine_data; docs/adam.md, ADSL)
    withdrawal = par["withdrawal_date"] if plan.withdrawal_ends_routine_data \
        else pd.Series(pd.NaT, index=par.index).astype(DATE_DTYPE)
    ends = pd.concat(
        [
            fu_end.rename("fu"),
            withdrawal.rename("wd"),
            par["death_date"].rename("dth"),
            pd.Series(cut_ts, index=par.index, name="cut").astype(DATE_DTYPE),
        ],
        axis=1,
    )
    eos = ends.min(axis=1, skipna=True).astype(DATE_DTYPE)

    treated, control = plan.arms
    trtpn = pd.Series(pd.NA, index=par.index, dtype="Int64")
    trtpn[par["arm"] == treated] = 1
    trtpn[par["arm"] == control] = 0

    peer = _peer_summary(con, cut_ts)
    pid = par["participant_id"]
    # the extract has no actual-treatment column: actual = planned (docs/adam.md, ADSL)
    trtp = par["arm"].map({a: plan.arm_label(a) for a in par["arm"].unique()}).astype("str")
    out = pd.DataFrame(
        {
            "STUDYID": pd.Series(plan.study_id, index=par.index, dtype="str"),
            "USUBJID": pid,
            "SITEID": par["site"],
            "ARM": par["arm"],
            "TRT01P": trtp,
            "TRT01PN": trtpn,
            "TRT01A": trtp,
            "TRT01AN": trtpn.copy(),
            "RANDDT": par["randomisation_date"],
            "INDEXDT": index,
            "AGE": par["age"],
            "SEX": par["sex"],
            "DIAGGR": par["diagnosis_group"],
            "PRIORADM": par["prior_admissions"],
            "DETINDFL": par["detained_at_index"]
            .map({True: "Y", False: "N"})
            .astype("object")
            .fillna("")
            .astype("str"),
            "WDDT": par["withdrawal_date"],
            "DTHDT": par["death_date"],
            "DCUTDT": pd.Series(cut_ts, index=par.index).astype(DATE_DTYPE),
            "EOSDT": eos,
            "FUDAYS": (eos - index).dt.days.clip(lower=0).astype("int64"),
            "ITTFL": np.where(par["arm"].isin(plan.arms), "Y", "N"),
            "NCONTACT": peer["NCONTACT"].reindex(pid).fillna(0).astype("int64").to_numpy(),
            "CONTMIN": peer["CONTMIN"].reindex(pid).fillna(0).astype("int64").to_numpy(),
            "PEERWID": peer["PEERWID"].reindex(pid).fillna("").astype("str").to_numpy(),
        }
    )
    receipt = plan.engagement.receipt
    win = _window_summary(con, receipt_window(par, receipt, plan.followup_days, cut_ts))
    for col in ("NCONTWIN", "CONTMWIN"):
        out[col] = win[col].reindex(pid).fillna(0).astype("int64").to_numpy()
    out["ENGFL"] = np.where((out["NCONTWIN"] >= receipt.min_contacts)
                            & (out["CONTMWIN"] >= receipt.min_minutes), "Y", "N").astype("str")
    out["ITTFL"] = out["ITTFL"].astype("str")
    out = out.sort_values("USUBJID", kind="mergesort").reset_index(drop=True)
    return check("adsl", out)


def bds_identifiers(adsl: pd.DataFrame, plan: AnalysisPlan) -> pd.DataFrame:
    """STUDYID, TRTP and TRTA of each ADSL row, as the BDS datasets carry them: ADSL's
    STUDYID, TRT01P and TRT01A (from the plan and ARM for an ADSL made without them; TRTA
    = TRTP for one without TRT01A, as ADSL's rule is actual = planned)."""
    studyid = (adsl["STUDYID"] if "STUDYID" in adsl.columns
               else pd.Series(plan.study_id, index=adsl.index))
    trtp = (adsl["TRT01P"] if "TRT01P" in adsl.columns
            else adsl["ARM"].map({a: plan.arm_label(a) for a in adsl["ARM"].unique()}))
    trta = adsl["TRT01A"] if "TRT01A" in adsl.columns else trtp
    return pd.DataFrame({"STUDYID": studyid.astype("str").to_numpy(),
                         "TRTP": trtp.astype("str").to_numpy(),
                         "TRTA": trta.astype("str").to_numpy()})
