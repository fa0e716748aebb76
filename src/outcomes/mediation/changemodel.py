"""The trial's change model (docs/change-model.md) as mediation analyses (docs/mediation.md).

Exposure: randomised arm (treated = 1). Mediators: the process scores at the mediator
visit (month 4), grouped into the three mechanisms of Gillard et al. (2015). Outcomes:

* ``wemwbs_m12`` — WEMWBS at month 12 (linear), adjusted for baseline WEMWBS;
* ``readmit_12m`` — readmission within ``followup_days`` (logistic, risk-difference scale):
  death before readmission counts as not readmitted (the primary ``while_alive`` estimand);
  participants censored earlier for another reason (withdrawal, data cut) have no outcome
  and are counted as missing;
* ``readmit_time`` — time to first readmission (Weibull, censoring handled by the model),
  effects on the risk by ``followup_days`` and on the median time.

Every model adjusts for the plan's covariates (site, prior admissions) and each mediator
model, and every outcome model containing the mediator, for the mediator's baseline value.
This module assembles the analysis data set once (``admed``) from ADSL, ADQS and ADTTE,
runs one (mediator set × outcome) job, and gathers the jobs into the result tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from outcomes.errors import NotEstimable, OutcomesError
from outcomes.plan import AnalysisPlan

from .data import Roles, count_missing
from .engine import fit_mediation
from .result import STATUS_COLUMNS, not_estimable_rows
from .sensitivity import SENSITIVITY_COLUMNS

OUTCOMES: dict[str, dict[str, str]] = {
    "wemwbs_m12": {"type": "linear", "label": "WEMWBS at month 12"},
    "readmit_12m": {"type": "logistic", "label": "Readmission within 12 months"},
    "readmit_time": {"type": "weibull", "label": "Time to first readmission"},
}
ALL_MEDIATORS = "ALL"
EXPOSURE = "TRTA01"


class ChangeModelError(OutcomesError):
    """The plan asks for a mediator or outcome the data do not have."""


def mediation_data(adsl: pd.DataFrame, adqs: pd.DataFrame, adtte: pd.DataFrame, plan: AnalysisPlan) -> pd.DataFrame:
    """One row per randomised participant with exposure, mediators, outcomes and covariates.

    Columns: ``USUBJID``, ``TRTA01`` (1 treated, 0 control), the ADSL covariates, for every
    score ``<PARAMCD>_M`` (mediator visit) and ``<PARAMCD>_BL`` (baseline), ``WEMWBS_M12``,
    ``READM12`` (1/0, missing when the 12-month status is unknown), ``TTE_READMIT`` and
    ``EVT_READMIT`` (time in days and 1 = readmitted).
    """
    med = plan.mediation
    out = adsl.loc[adsl["ARM"].isin(plan.arms)].copy()
    out[EXPOSURE] = (out["ARM"] == plan.treated_arm).astype(int)
    keep = ["USUBJID", EXPOSURE, "ARM", *sorted({c for c in med["covariates"] if c in out.columns})]
    missing_cov = [c for c in med["covariates"] if c not in out.columns]
    if missing_cov:
        raise ChangeModelError(f"config key 'mediation.covariates': not in ADSL: {', '.join(missing_cov)}")
    out = out[keep]

    def wide(visit: str, suffix: str) -> pd.DataFrame:
        rows = adqs.loc[adqs["AVISIT"] == visit, ["USUBJID", "PARAMCD", "AVAL"]]
        w = rows.pivot_table(index="USUBJID", columns="PARAMCD", values="AVAL", aggfunc="first")
        w.columns = [f"{c}_{suffix}" for c in w.columns]
        return w.reset_index()

    out = out.merge(wide(med["mediator_visit"], "M"), on="USUBJID", how="left")
    out = out.merge(wide("baseline", "BL"), on="USUBJID", how="left")
    m12 = wide("month_12", "M12")
    out = out.merge(m12[["USUBJID", "WEMWBS_M12"]] if "WEMWBS_M12" in m12 else m12[["USUBJID"]], on="USUBJID", how="left")

    tte = adtte.loc[adtte["PARAMCD"] == "READMIT", ["USUBJID", "AVAL", "CNSR", "CMPEVFL"]]
    tte = tte.rename(columns={"AVAL": "TTE_READMIT"})
    tte["EVT_READMIT"] = (tte["CNSR"] == 0).astype(int)
    horizon = plan.followup_days
    event_by = (tte["CNSR"] == 0) & (tte["TTE_READMIT"] <= horizon)
    known_no = (tte["CNSR"] == 1) & ((tte["TTE_READMIT"] >= horizon) | (tte["CMPEVFL"] == "Y"))
    tte["READM12"] = np.where(event_by, 1.0, np.where(known_no, 0.0, np.nan))
    out = out.merge(tte[["USUBJID", "TTE_READMIT", "EVT_READMIT", "READM12"]], on="USUBJID", how="left")
    for col in out.columns:
        if str(out[col].dtype) in ("Int64", "Float64"):
            out[col] = out[col].astype(float)
    return out.sort_values("USUBJID").reset_index(drop=True)


def mediator_sets(plan: AnalysisPlan) -> dict[str, tuple[str, ...]]:
    """Job name -> mediators: every score alone, every mechanism with several scores, and all."""
    mech = plan.mediation["mechanisms"]
    sets: dict[str, tuple[str, ...]] = {}
    for spec in mech.values():
        for m in spec["mediators"]:
            sets[m] = (m,)
    for name, spec in mech.items():
        if len(spec["mediators"]) > 1:
            sets[name] = tuple(spec["mediators"])
    every = tuple(m for spec in mech.values() for m in spec["mediators"])
    if len(every) > 1:
        sets[ALL_MEDIATORS] = every
    return sets


def mechanism_of(plan: AnalysisPlan, name: str) -> str:
    """The mechanism a job belongs to (its own name for a mechanism; ``ALL`` for all)."""
    mech = plan.mediation["mechanisms"]
    if name in mech or name == ALL_MEDIATORS:
        return name
    for key, spec in mech.items():
        if name in spec["mediators"]:
            return key
    raise ChangeModelError(f"'{name}' is not a mediator of the plan (config key 'mediation.mechanisms')")


@dataclass(frozen=True)
class ChangeModelJob:
    """One mediation job's result, ready to be written."""

    estimates: pd.DataFrame
    sensitivity: pd.DataFrame
    report: dict[str, Any]


def run_job(data: pd.DataFrame, plan: AnalysisPlan, mediator: str, outcome: str) -> ChangeModelJob:
    """Fit one (mediator set × outcome) analysis with its own random stream."""
    sets = mediator_sets(plan)
    if mediator not in sets:
        raise ChangeModelError(f"unknown mediator set '{mediator}'; the plan has {', '.join(sets)}")
    if outcome not in plan.mediation["outcomes"]:
        raise ChangeModelError(f"unknown outcome '{outcome}'; the plan has {', '.join(plan.mediation['outcomes'])}")
    mediators = sets[mediator]
    columns = {m: f"{m}_M" for m in mediators}
    stream = f"mediation/{mediator}/{outcome}"
    otype = OUTCOMES[outcome]["type"]
    ident: dict[str, Any] = dict(
        analysis="mediation", outcome=outcome, contrast=f"{plan.treated_arm} vs {plan.control_arm}",
        mediator=mediator, mechanism=mechanism_of(plan, mediator), mediators="+".join(mediators),
        n_boot=int(plan.mediation["n_boot"]), seed=plan.seed, rng_stream=stream)
    visit = plan.mediation["mediator_visit"]
    missing = [c for c in columns.values() if c not in data.columns]
    if missing and not any(str(c).endswith("_M") for c in data.columns):
        return _not_estimable_job(f"no questionnaires at the mediator visit ({visit}) in the extract",
                                  data, ident, otype, outcome, mediators)
    if missing:
        raise ChangeModelError(
            f"config key 'mediation.mechanisms': no {visit} scores in ADQS for "
            f"{', '.join(c[:-2] for c in missing)} (is the instrument in the extract and in 'instruments'?)"
        )
    covariates = list(plan.mediation["covariates"])
    mediator_cov = {columns[m]: [f"{m}_BL"] for m in mediators if f"{m}_BL" in data.columns}
    kwargs: dict[str, Any] = {}
    if outcome == "wemwbs_m12":
        kwargs["outcome"] = "WEMWBS_M12"
        covariates = [*covariates, "WEMWBS_BL"]
        absent = [c for c in ("WEMWBS_M12", "WEMWBS_BL") if c not in data.columns]
        if absent:
            visits = " and ".join("month 12" if c.endswith("M12") else "baseline" for c in absent)
            return _not_estimable_job(f"no WEMWBS scores at {visits} in the extract",
                                      data, ident, otype, outcome, mediators)
    elif outcome == "readmit_12m":
        kwargs["outcome"] = "READM12"
    else:
        kwargs.update(time="TTE_READMIT", event="EVT_READMIT")
    try:
        res = fit_mediation(
            data,
            exposure=EXPOSURE,
            mediators=list(columns.values()),
            outcome_type=otype,
            covariates=covariates,
            mediator_covariates=mediator_cov,
            categorical=[c for c in covariates if c in ("SITEID", "DIAGGR", "SEX")],
            interaction=bool(plan.mediation["interaction"]),
            horizon=float(plan.followup_days),
            n_boot=int(plan.mediation["n_boot"]),
            rng=plan.rng(stream),
            joint=len(mediators) > 1,
            singles=len(mediators) == 1,  # a set's single scores have their own jobs
            **kwargs,
        )
    except NotEstimable as e:
        roles = Roles(EXPOSURE, tuple(columns.values()),
                      tuple(kwargs.get(k) for k in ("outcome", "time", "event") if k in kwargs),
                      tuple(covariates), {k: tuple(v) for k, v in mediator_cov.items()})
        return _not_estimable_job(e.reason, data, ident, otype, outcome, mediators, roles)
    est = res.to_frame()
    if len(mediators) > 1:  # a set's job reports the set jointly; single scores have their own jobs
        est = est.loc[est["mediator_set"] != "single"]
    label = {v: k for k, v in columns.items()}
    est = est.assign(**{**ident, "mediator": mediator if len(mediators) > 1
                        else label.get(mediators[0] + "_M", mediators[0])})
    est = est[[c for c in est.columns if c not in STATUS_COLUMNS] + STATUS_COLUMNS]
    sens = res.sensitivity_frame()
    if len(mediators) > 1:  # a set's sensitivity grids are its single scores', reported by their own jobs
        sens = sens.iloc[0:0]
    if not sens.empty:
        sens = sens.assign(outcome=outcome, mediator=sens["mediator"].map(lambda c: label.get(c, c)),
                           mechanism=mechanism_of(plan, mediator), rng_stream=stream)
    report = res.report()
    report.update(job=stream, mediator_set=list(mediators), outcome_name=outcome,
                  outcome_label=OUTCOMES[outcome]["label"], seed=plan.seed, rng_stream=stream,
                  status=sorted(set(est["status"])), reason=sorted(set(est["reason"]) - {""}))
    return ChangeModelJob(est.reset_index(drop=True), sens.reset_index(drop=True), report)


def _not_estimable_job(reason: str, data: pd.DataFrame, ident: dict[str, Any], otype: str,
                       outcome: str, mediators: tuple[str, ...], roles: Roles | None = None
                       ) -> ChangeModelJob:
    """The job's rows with ``status = not estimable`` and the reason; n (and events) are the
    complete cases of the analysis when its variables exist."""
    n = events = None
    if roles is not None:
        _, complete = count_missing(data, roles)
        n = int(complete.sum())
        flag = {"logistic": "READM12", "weibull": "EVT_READMIT"}.get(otype)
        if flag is not None:
            events = int(pd.to_numeric(data.loc[complete, flag], errors="coerce").fillna(0).sum())
    est = not_estimable_rows(reason, outcome_type=otype, **ident, n=n, events=events,
                             mediator_set="joint" if len(mediators) > 1 else "single")
    report = {"job": ident["rng_stream"], "analysis": "mediation", "mediator_set": list(mediators),
              "outcome_name": outcome, "outcome_label": OUTCOMES[outcome]["label"],
              "outcome_type": otype, "n": n, "events": events, "seed": ident["seed"],
              "rng_stream": ident["rng_stream"], "status": ["not estimable"], "reason": [reason]}
    return ChangeModelJob(est, pd.DataFrame(columns=[*SENSITIVITY_COLUMNS, "mechanism", "rng_stream"]),
                          report)


def write_job(job: ChangeModelJob, out_prefix: str | Path) -> list[Path]:
    """Write ``<prefix>.tsv``, ``<prefix>.sensitivity.tsv`` and ``<prefix>.json``."""
    from outcomes.atomic import write_text
    from outcomes.tables import write_tsv

    prefix = Path(out_prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    paths = [prefix.with_suffix(".tsv"), prefix.with_suffix(".sensitivity.tsv"), prefix.with_suffix(".json")]
    write_tsv(job.estimates, paths[0])
    write_tsv(job.sensitivity, paths[1])
    write_text(paths[2], json.dumps(job.report, indent=2, sort_keys=True, default=str) + "\n")
    return paths


FIRST_COLUMNS = ("analysis", "outcome", "contrast", "estimate_type", "estimate", "ci_low", "ci_high",
                 "p_value", "n", "events", "mediator", "mechanism", "effect", "n_boot", "seed")


def gather(job_files: list[str | Path]) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Stack the jobs' tables (in a fixed order) into mediation.tsv and its sensitivity table."""
    est, sens, reports = [], [], []
    for f in sorted(map(Path, job_files)):
        est.append(pd.read_csv(f, sep="\t", na_values=["NA"], keep_default_na=False))
        s = f.with_suffix(".sensitivity.tsv")
        if s.is_file() and s.stat().st_size > 1:
            frame = pd.read_csv(s, sep="\t", na_values=["NA"], keep_default_na=False)
            if not frame.empty:
                sens.append(frame)
        reports.append(json.loads(f.with_suffix(".json").read_text(encoding="utf-8")))
    table = pd.concat(est, ignore_index=True)
    first = [c for c in FIRST_COLUMNS if c in table.columns]
    last = [c for c in STATUS_COLUMNS if c in table.columns]
    table = table[first + [c for c in table.columns if c not in first and c not in last] + last]
    if "reason" in table.columns:
        table["reason"] = table["reason"].fillna("")
    return table, (pd.concat(sens, ignore_index=True) if sens else pd.DataFrame()), reports
