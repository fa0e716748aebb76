"""ADTTE (time to event) and ADRE (recurrent readmissions) from ADSL and admissions."""

from __future__ import annotations

import numpy as np
import pandas as pd

from outcomes.adam._inputs import (
    DATE_DTYPE,
    admissions_table,
    as_date,
    as_str,
    latest_date,
    require_columns,
)
from outcomes.adam.adsl import bds_identifiers, derive_adsl
from outcomes.adam.models import check
from outcomes.adam.timeline import Timelines, counting_process, participant_timelines
from outcomes.plan import AnalysisPlan

PARAMS: dict[str, str] = {
    "READMIT": "Time to first psychiatric readmission (community tenure, days)",
    "READMDET": "Time to first detained psychiatric readmission (days)",
    "DEATH": "Time to death (days)",
}
EVENT_DESC: dict[str, str] = {
    "READMIT": "READMISSION",
    "READMDET": "DETAINED READMISSION",
    "DEATH": "DEATH",
}
#: Where the date of an event comes from (SRCDOM, SRCVAR): the extract's admissions table
#: for a readmission (the spell's first admission), ADSL for a death.
EVENT_SOURCE: dict[str, tuple[str, str]] = {
    "READMIT": ("admissions", "admission_date"),
    "READMDET": ("admissions", "admission_date"),
    "DEATH": ("ADSL", "DTHDT"),
}
ADSL_NEEDED = ("USUBJID", "SITEID", "ARM", "INDEXDT", "EOSDT", "WDDT", "DTHDT")
COMPETING_DESC: dict[str, str] = {
    "READMIT": "DEATH BEFORE READMISSION",
    "READMDET": "DEATH BEFORE DETAINED READMISSION",
}


def _as_adsl(frame: pd.DataFrame, admissions: pd.DataFrame | None, plan: AnalysisPlan):
    """Accept a derived ADSL, or a participants table (then ADSL is derived here, with the
    data cut defaulting to the latest date in participants and admissions)."""
    if "USUBJID" in frame.columns:
        require_columns(frame, "ADSL", ADSL_NEEDED)
        frame = frame.copy()
        for col in ("INDEXDT", "EOSDT", "WDDT", "DTHDT"):
            frame[col] = as_date(frame[col], "ADSL", col)
        for col in ("USUBJID", "SITEID", "ARM"):
            frame[col] = as_str(frame[col])
        return frame.reset_index(drop=True)
    cut = plan.data_cut or latest_date({"participants": frame, "admissions": admissions})
    return derive_adsl(frame, None, plan, data_cut=cut)


def end_reasons(adsl: pd.DataFrame, plan: AnalysisPlan) -> pd.Series:
    """Why observation ended at EOSDT: DEATH, END OF FOLLOW-UP (N DAYS), WITHDRAWAL (only
    when the plan's ``survival.withdrawal_ends_routine_data`` is true) or DATA CUT, in that
    order of precedence when several fall on EOSDT."""
    eos = adsl["EOSDT"]
    fu_end = (adsl["INDEXDT"] + pd.to_timedelta(plan.followup_days, unit="D")).astype(DATE_DTYPE)
    reason = pd.Series("DATA CUT", index=adsl.index, dtype="str")
    if plan.withdrawal_ends_routine_data:
        reason = reason.mask(adsl["WDDT"] == eos, "WITHDRAWAL")
    reason = reason.mask(fu_end == eos, f"END OF FOLLOW-UP ({plan.followup_days} DAYS)")
    reason = reason.mask(adsl["DTHDT"] == eos, "DEATH")
    return reason


def derive_adtte(
    adsl: pd.DataFrame,
    admissions: pd.DataFrame | None,
    plan: AnalysisPlan,
    *,
    timelines: Timelines | None = None,
) -> pd.DataFrame:
    """READMIT, READMDET and DEATH for every ADSL participant (docs/adam.md, ADTTE).

    ``timelines``: the participants' time lines when already built from these data
    (:func:`outcomes.adam.derive_all` builds them once for ADTTE and ADRE).
    """
    adsl, tl = _adsl_and_timelines(adsl, admissions, plan, timelines)
    reason = end_reasons(adsl, plan).to_numpy(dtype=object)
    start = adsl["INDEXDT"].to_numpy(dtype=DATE_DTYPE)
    eos = adsl["EOSDT"].to_numpy(dtype=DATE_DTYPE)
    before_index = tl.fu_end < 0
    cens_adt = np.maximum(eos, start)
    cens_desc = np.where(before_index, reason + " BEFORE INDEX DISCHARGE", reason)
    died = (reason == "DEATH") & ~before_index
    blank = np.full(len(adsl), "", dtype=object)
    ids = bds_identifiers(adsl, plan)
    # where ADT comes from (SRCDOM, SRCVAR): the censoring date is ADSL's EOSDT (DTHDT for
    # a death, INDEXDT when observation ended before it)
    cens_var = np.where(before_index, "INDEXDT", np.where(died, "DTHDT", "EOSDT"))
    frames = []
    for paramcd in ("READMIT", "READMDET", "DEATH"):
        if paramcd == "DEATH":
            is_event = died
            event_adt = eos
            desc = cens_desc
            cmpev = blank
        else:
            day = tl.first_start(detained=paramcd == "READMDET")
            is_event = day >= 0
            event_adt = start + np.maximum(day, 0).astype("timedelta64[D]")
            desc = np.where(died, COMPETING_DESC[paramcd], cens_desc)
            cmpev = np.where(died, "Y", "")
        adt = np.where(is_event, event_adt, cens_adt)
        desc = np.where(is_event, EVENT_DESC[paramcd], desc)
        src_dom, src_var = EVENT_SOURCE[paramcd]
        frames.append(pd.DataFrame({
            "STUDYID": ids["STUDYID"].to_numpy(),
            "USUBJID": adsl["USUBJID"].to_numpy(),
            "SITEID": adsl["SITEID"].to_numpy(),
            "ARM": adsl["ARM"].to_numpy(),
            "TRTP": ids["TRTP"].to_numpy(),
            "TRTA": ids["TRTA"].to_numpy(),
            "PARAMCD": paramcd,
            "PARAM": PARAMS[paramcd],
            "STARTDT": start,
            "ADT": adt,
            "AVAL": (adt - start).astype("timedelta64[D]").astype(np.int64),
            "CNSR": np.where(is_event, 0, 1).astype(np.int64),
            "EVNTDESC": desc,
            "CNSDTDSC": np.where(is_event, "", desc),
            "SRCDOM": np.where(is_event, src_dom, "ADSL"),
            "SRCVAR": np.where(is_event, src_var, cens_var),
            "CMPEVFL": np.where(is_event, "", cmpev),
        }))
    out = pd.concat(frames, ignore_index=True)
    for col in ("STARTDT", "ADT"):
        out[col] = out[col].astype(DATE_DTYPE)
    for col in ("STUDYID", "USUBJID", "SITEID", "ARM", "TRTP", "TRTA", "PARAMCD", "PARAM",
                "EVNTDESC", "CNSDTDSC", "SRCDOM", "SRCVAR", "CMPEVFL"):
        out[col] = out[col].astype("str")
    out = out.sort_values(["USUBJID", "PARAMCD"], kind="mergesort").reset_index(drop=True)
    return check("adtte", out)


def derive_adre(
    adsl: pd.DataFrame,
    admissions: pd.DataFrame | None,
    plan: AnalysisPlan,
    *,
    timelines: Timelines | None = None,
) -> pd.DataFrame:
    """Counting-process intervals of time at risk with per-participant totals (ADRE);
    ``timelines`` as in :func:`derive_adtte`."""
    adsl, tl = _adsl_and_timelines(adsl, admissions, plan, timelines)
    cp = counting_process(tl)
    r = cp.row
    ids = bds_identifiers(adsl, plan)
    out = pd.DataFrame({
        "STUDYID": ids["STUDYID"].to_numpy()[r],
        "USUBJID": adsl["USUBJID"].to_numpy()[r],
        "SITEID": adsl["SITEID"].to_numpy()[r],
        "ARM": adsl["ARM"].to_numpy()[r],
        "TRTP": ids["TRTP"].to_numpy()[r],
        "INTNUM": cp.intnum,
        "TSTART": cp.tstart,
        "TSTOP": cp.tstop,
        "EVENT": cp.event,
        "ADMID": cp.admission_id,
        "NREADM": cp.nreadm[r],
        "BEDDAYS": cp.bed_days[r],
        "RISKDAYS": cp.days_at_risk[r],
        "FUDAYS": cp.fu_days[r],
    })
    for col in ("INTNUM", "EVENT", "NREADM"):
        out[col] = out[col].astype("int64")
    for col in ("TSTART", "TSTOP", "BEDDAYS", "RISKDAYS", "FUDAYS"):
        out[col] = out[col].astype("float64")
    for col in ("STUDYID", "USUBJID", "SITEID", "ARM", "TRTP", "ADMID"):
        out[col] = out[col].astype("str")
    out = out.sort_values(["USUBJID", "INTNUM"], kind="mergesort").reset_index(drop=True)
    return check("adre", out)


def _adsl_and_timelines(adsl: pd.DataFrame, admissions: pd.DataFrame | None,
                        plan: AnalysisPlan, timelines: Timelines | None
                        ) -> tuple[pd.DataFrame, Timelines]:
    """ADSL normalised and the time lines (built here unless given)."""
    if timelines is not None and "USUBJID" in adsl.columns:
        adsl = _as_adsl(adsl, None, plan)
        if not np.array_equal(adsl["USUBJID"].to_numpy(), timelines.ids):
            raise ValueError("timelines: not built from this ADSL")
        return adsl, timelines
    adm = admissions_table(admissions)
    adsl = _as_adsl(adsl, adm, plan)
    return adsl, participant_timelines(adsl, adm)
