"""ADTTE (time to event) and ADRE (recurrent readmissions) from ADSL and admissions."""

from __future__ import annotations

import pandas as pd

from outcomes.adam._inputs import (
    DATE_DTYPE,
    admissions_table,
    as_date,
    as_str,
    latest_date,
    require_columns,
)
from outcomes.adam.adsl import derive_adsl
from outcomes.adam.models import check
from outcomes.adam.timeline import counting_process, participant_timelines
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
    adsl: pd.DataFrame, admissions: pd.DataFrame | None, plan: AnalysisPlan
) -> pd.DataFrame:
    """READMIT, READMDET and DEATH for every ADSL participant (docs/adam.md, ADTTE)."""
    adm = admissions_table(admissions)
    adsl = _as_adsl(adsl, adm, plan)
    timelines = participant_timelines(adsl, adm)
    reasons = end_reasons(adsl, plan)
    rows = []
    for rec, reason in zip(adsl.itertuples(index=False), reasons, strict=True):
        timeline, fu_end = timelines[rec.USUBJID]
        start = rec.INDEXDT
        before_index = fu_end < 0
        cens_adt = max(rec.EOSDT, start)
        cens_desc = f"{reason} BEFORE INDEX DISCHARGE" if before_index else reason
        first = timeline.readmissions[0] if timeline.readmissions else None
        first_det = next((s for s in timeline.readmissions if s.detained), None)
        for paramcd, spell in (("READMIT", first), ("READMDET", first_det), ("DEATH", None)):
            if paramcd == "DEATH":
                is_event = reason == "DEATH" and not before_index
                adt = rec.EOSDT
            else:
                is_event = spell is not None
                adt = start + pd.Timedelta(days=spell.start) if spell is not None else None
            if is_event:
                desc, cnsdtdsc, cnsr, cmpev = EVENT_DESC[paramcd], "", 0, ""
            else:
                adt = cens_adt
                desc = cens_desc
                cmpev = ""
                if paramcd != "DEATH" and reason == "DEATH" and not before_index:
                    desc = COMPETING_DESC[paramcd]
                    cmpev = "Y"
                cnsdtdsc, cnsr = desc, 1
            rows.append(
                (
                    rec.USUBJID,
                    rec.SITEID,
                    rec.ARM,
                    paramcd,
                    PARAMS[paramcd],
                    start,
                    adt,
                    int((adt - start).days),
                    cnsr,
                    desc,
                    cnsdtdsc,
                    cmpev,
                )
            )
    out = pd.DataFrame.from_records(
        rows,
        columns=[
            "USUBJID",
            "SITEID",
            "ARM",
            "PARAMCD",
            "PARAM",
            "STARTDT",
            "ADT",
            "AVAL",
            "CNSR",
            "EVNTDESC",
            "CNSDTDSC",
            "CMPEVFL",
        ],
    )
    for col in ("STARTDT", "ADT"):
        out[col] = out[col].astype(DATE_DTYPE)
    for col in ("AVAL", "CNSR"):
        out[col] = out[col].astype("int64")
    for col in ("USUBJID", "SITEID", "ARM", "PARAMCD", "PARAM", "EVNTDESC", "CNSDTDSC", "CMPEVFL"):
        out[col] = out[col].astype("str")
    out = out.sort_values(["USUBJID", "PARAMCD"], kind="mergesort").reset_index(drop=True)
    return check("adtte", out)


def derive_adre(
    adsl: pd.DataFrame, admissions: pd.DataFrame | None, plan: AnalysisPlan
) -> pd.DataFrame:
    """Counting-process intervals of time at risk with per-participant totals (ADRE)."""
    adm = admissions_table(admissions)
    adsl = _as_adsl(adsl, adm, plan)
    timelines = participant_timelines(adsl, adm)
    rows = []
    for rec in adsl.itertuples(index=False):
        timeline, fu_end = timelines[rec.USUBJID]
        summary = counting_process(timeline, fu_end)
        for k, iv in enumerate(summary.intervals, start=1):
            rows.append(
                (
                    rec.USUBJID,
                    rec.SITEID,
                    rec.ARM,
                    k,
                    iv.tstart,
                    iv.tstop,
                    iv.event,
                    iv.admission_id,
                    summary.nreadm,
                    summary.bed_days,
                    summary.days_at_risk,
                    summary.fu_days,
                )
            )
    out = pd.DataFrame.from_records(
        rows,
        columns=[
            "USUBJID",
            "SITEID",
            "ARM",
            "INTNUM",
            "TSTART",
            "TSTOP",
            "EVENT",
            "ADMID",
            "NREADM",
            "BEDDAYS",
            "DAYSATRISK",
            "FUDAYS",
        ],
    )
    for col in ("INTNUM", "EVENT", "NREADM"):
        out[col] = out[col].astype("int64")
    for col in ("TSTART", "TSTOP", "BEDDAYS", "DAYSATRISK", "FUDAYS"):
        out[col] = out[col].astype("float64")
    for col in ("USUBJID", "SITEID", "ARM", "ADMID"):
        out[col] = out[col].astype("str")
    out = out.sort_values(["USUBJID", "INTNUM"], kind="mergesort").reset_index(drop=True)
    return check("adre", out)
