"""The trial's change model (docs/change-model.md) as mediation analyses (docs/mediation.md).

Exposure: randomised arm (treated = 1). Mediators: the process scores at the mediator
visit (month 4), grouped into the three mechanisms of Gillard et al. (2015). Outcomes:

* ``wemwbs_m12`` — WEMWBS at month 12 (linear), adjusted for baseline WEMWBS;
* ``readmit_12m`` — readmission between the landmark (the mediator visit) and
  ``followup_days`` (logistic, risk-difference scale): death before readmission counts as
  not readmitted (the primary ``while_alive`` estimand); participants censored earlier for
  another reason (withdrawal, data cut) stay in the analysis with outcome-model weight 0,
  the others weighted by the inverse probability of remaining uncensored (IPCW by arm);
* ``readmit_time`` — time from the landmark to first readmission (Weibull, censoring
  handled by the model), effects on the risk by ``followup_days`` minus the visit's nominal
  day after the landmark and on the median time.

Both readmission outcomes are a landmark analysis (:mod:`outcomes.mediation.landmark`):
participants readmitted, dead or censored before the mediator visit are not analysed and
are counted. Every mediator set of an outcome is analysed on the same participants
(:mod:`outcomes.mediation.sample`).

Every model adjusts for the plan's covariates (site, prior admissions) and each mediator
model, and every outcome model containing the mediator, for the mediator's baseline value.
The analysis data set (``admed``) is built once by :mod:`outcomes.mediation.admed`; this
module runs one (mediator set × outcome) job on it and gathers the jobs into the result
tables.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from outcomes.clustering import NONE, PEER_WORKER, cluster_ids, clustering_after_analysis
from outcomes.clustering.bootstrap import ClusterDesignError
from outcomes.errors import NotEstimable
from outcomes.estimands.rows import MEDIATION, MEDIATION_SENSITIVITY, with_estimands
from outcomes.imputation.frame import VISIT_DAYS
from outcomes.imputation.run import map_sets
from outcomes.plan import ALL_MEDIATORS, AnalysisPlan, mediator_sets
from outcomes.tables import ESTIMATE_COLUMNS

from .admed import CONFOUNDERS, EXPOSURE, ChangeModelError
from .data import Roles, count_missing
from .engine import fit_mediation_designs
from .evalue import evalue_columns
from .mi import MI_COLUMNS, fit_mediation_mi_designs
from .result import STATUS_COLUMNS, not_estimable_rows
from .sample import AnalysisSample, exclusions_text, landmark_risk_set, shared_sample, union_roles
from .sensitivity import SENSITIVITY_COLUMNS
from .summaries import EXTRAPOLATED

OUTCOMES: dict[str, dict[str, str]] = {
    "wemwbs_m12": {"type": "linear", "label": "WEMWBS at month 12"},
    "readmit_12m": {"type": "logistic", "label": "Readmission within 12 months"},
    "readmit_time": {"type": "weibull", "label": "Time to first readmission"},
}
#: The column of cluster labels the peer_worker design adds to the analysis data.
CLUSTER = "CLUSTER"
#: The ``missing_data`` column of the complete-case rows.
COMPLETE_CASES = "complete cases"
#: Outcomes that start at the mediator visit (the landmark outcomes): a readmission before
#: it takes a participant out of their risk set, so it is not a confounder of them.
FROM_LANDMARK = frozenset({"readmit_12m", "readmit_time"})


def missing_data_note(plan: AnalysisPlan) -> str:
    """The ``missing_data`` column of the plan's mediation rows."""
    md = plan.missing_data
    if md.method != "mi":
        return COMPLETE_CASES
    return (f"multiple imputation (m = {md.m}, {md.imputation}{' by arm' if md.by_arm else ''}, "
            f"{md.iterations} iterations); MI Boot pooled percentile CI")


def exposure_induced_confounders(plan: AnalysisPlan, outcome: str) -> list[str]:
    """The plan's exposure-induced confounders used for ``outcome`` (early readmission
    not for an outcome that starts at the mediator visit: :data:`FROM_LANDMARK`)."""
    return [c for c in plan.exposure_induced_confounders
            if not (c == "early_readmission" and outcome in FROM_LANDMARK)]


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


def run_job(data: pd.DataFrame, plan: AnalysisPlan, mediator: str, outcome: str,
            completed: Sequence[pd.DataFrame] | None = None) -> ChangeModelJob:
    """Fit one (mediator set × outcome) analysis under both designs: the naive bootstrap
    (``clustering = none``, the job's stream ``mediation/<set>/<outcome>``) and the cluster
    bootstrap of the partially nested design (``clustering = peer_worker``, stream
    ``mediation/<set>/<outcome>/peer_worker``; docs/clustering.md). The full-sample fits
    are shared, so the point estimates are the same; the rows of each design follow each
    other, ``none`` first.

    With the plan's ``missing_data.method`` ``mi`` each design is pooled over the
    ``completed`` data sets (:func:`split_completed`; :mod:`outcomes.mediation.mi`), the
    bootstrap of imputation i seeded by child i of the design's stream; otherwise complete
    cases of ``data``.
    """
    jobs = _design_jobs(data, plan, mediator, outcome, completed)
    naive, nested = jobs[NONE], jobs[PEER_WORKER]
    report = dict(naive.report)
    report["clustering"] = {
        "main": plan.clustering,
        NONE: {"rng_stream": naive.report["rng_stream"],
               "method": "participants resampled independently"},
        PEER_WORKER: {k: nested.report.get(k) for k in ("rng_stream", "status", "reason")}
        | {"method": "cluster bootstrap: peer-worker caseloads resampled whole within the "
                     "treated arm, participants within usual care (docs/clustering.md)",
           "inference": nested.report.get("inference", {}),
           "notes": nested.report.get("notes", [])},
    }
    asked = plan.exposure_induced_confounders
    used = exposure_induced_confounders(plan, outcome)
    report["interventional"] = {
        "exposure_induced_confounders": {c: CONFOUNDERS[c] for c in used},
        "not_used": {c: "not a confounder of an outcome that starts at the mediator visit (a readmission before it takes a participant out of the landmark risk set)" for c in asked
                     if c not in used},
        "method": "interventional effects (VanderWeele, Vansteelandt & Robins 2014) by "
                  "g-computation summed over the 0/1 confounders and integrated over the "
                  "mediators (docs/mediation.md section 4d)" if used else "not asked for"}
    sens = [f for f in (naive.sensitivity, nested.sensitivity) if not f.empty]
    return ChangeModelJob(
        with_estimands(pd.concat([naive.estimates, nested.estimates], ignore_index=True),
                       MEDIATION, plan.estimands),
        with_estimands(pd.concat(sens, ignore_index=True) if sens else naive.sensitivity,
                       MEDIATION_SENSITIVITY, plan.estimands), report)


def _design_jobs(data: pd.DataFrame, plan: AnalysisPlan, mediator: str, outcome: str,
                 completed: Sequence[pd.DataFrame] | None) -> dict[str, ChangeModelJob]:
    """The rows of :func:`run_job` of each design (``none``, ``peer_worker``)."""
    mi = plan.missing_data.method == "mi"
    if mi and not completed:
        raise ChangeModelError("config key 'missing_data.method' is mi: the mediation job needs "
                               "the completed data sets (outcomes mediation --imputed)")
    sets = mediator_sets(plan)
    if mediator not in sets:
        raise ChangeModelError(f"unknown mediator set '{mediator}'; the plan has {', '.join(sets)}")
    if outcome not in plan.mediation["outcomes"]:
        raise ChangeModelError(f"unknown outcome '{outcome}'; the plan has {', '.join(plan.mediation['outcomes'])}")
    mediators = sets[mediator]
    columns = {m: f"{m}_M" for m in mediators}
    declared = plan.mediator_types
    unknown = sorted(set(declared) - {m for ms in sets.values() for m in ms})
    if unknown:
        raise ChangeModelError(f"config key 'mediation.mediator_types': {', '.join(unknown)} "
                               "not a mediator of 'mediation.mechanisms'")
    base = f"mediation/{mediator}/{outcome}"
    streams = {NONE: base, PEER_WORKER: f"{base}/{PEER_WORKER}"}
    otype = OUTCOMES[outcome]["type"]
    idents: dict[str, dict[str, Any]] = {c: dict(
        analysis="mediation", clustering=c, outcome=outcome, contrast=f"{plan.treated_arm} vs {plan.control_arm}",
        mediator=mediator, mechanism=mechanism_of(plan, mediator), mediators="+".join(mediators),
        n_boot=int(plan.mediation["n_boot"]), seed=plan.seed, rng_stream=streams[c],
        missing_data=missing_data_note(plan), **({"m": plan.missing_data.m} if mi else {}),
        n_randomised=len(data), n_before_landmark=0, n_incomplete=None, landmark_exclusions="")
        for c in streams}
    before: dict[str, int] = {}
    if otype != "linear":  # the readmission outcomes: the landmark risk set
        data, before = landmark_risk_set(data)
        if mi:
            assert completed is not None
            completed = map_sets(completed, lambda d: landmark_risk_set(d)[0])
        for c in idents:
            idents[c].update(n_before_landmark=sum(before.values()),
                             landmark_exclusions=exclusions_text(before))
    observed = data
    iv = bool(exposure_induced_confounders(plan, outcome))  # interventional rows too
    clusters: dict[str, str | None] = {NONE: None, PEER_WORKER: CLUSTER}
    out: dict[str, ChangeModelJob] = {}

    def not_estimable(reason: str, designs, roles: Roles | None = None) -> dict[str, ChangeModelJob]:
        return {**out, **{c: _not_estimable_job(reason, data, idents[c], otype, outcome, mediators,
                                                roles, interventional=iv) for c in designs}}

    if "PEERWID" in data.columns:
        data = data.assign(**{CLUSTER: cluster_ids(data, plan.treated_arm)})
        if mi:
            assert completed is not None
            completed = map_sets(
                completed, lambda d: d.assign(**{CLUSTER: cluster_ids(d, plan.treated_arm)}))
    else:
        clusters.pop(PEER_WORKER)
    if mi:
        assert completed is not None
        data = completed[0]  # n of not-estimable rows: participants analysed after imputation
    visit = plan.mediation["mediator_visit"]
    missing = [c for c in columns.values() if c not in data.columns]
    if missing and not any(str(c).endswith("_M") for c in data.columns):
        return not_estimable(f"no questionnaires at the mediator visit ({visit}) in the extract",
                             streams)
    if missing:
        raise ChangeModelError(
            f"config key 'mediation.mechanisms': no {visit} scores in ADQS for "
            f"{', '.join(c[:-2] for c in missing)} (is the instrument in the extract and in 'instruments'?)"
        )
    covariates = list(plan.mediation["covariates"])
    mediator_cov = {columns[m]: [f"{m}_BL"] for m in mediators if f"{m}_BL" in data.columns}
    kwargs: dict[str, Any] = {}
    confounders = exposure_induced_confounders(plan, outcome)
    if confounders:
        kwargs["exposure_induced_confounders"] = [CONFOUNDERS[c] for c in confounders]
    if outcome == "wemwbs_m12":
        kwargs["outcome"] = "WEMWBS_M12"
        covariates = [*covariates, "WEMWBS_BL"]
        absent = [c for c in ("WEMWBS_M12", "WEMWBS_BL") if c not in data.columns]
        if absent:
            visits = " and ".join("month 12" if c.endswith("M12") else "baseline" for c in absent)
            return not_estimable(f"no WEMWBS scores at {visits} in the extract", streams)
    elif outcome == "readmit_12m":
        kwargs.update(outcome="READM12", censoring=("READMU", "READMCNS"))
    else:
        kwargs.update(time="TTE_READMIT", event="EVT_READMIT")
    roles = Roles(EXPOSURE, tuple(columns.values()),
                  tuple(kwargs.get(k) for k in ("outcome", "time", "event") if k in kwargs)
                  + tuple(kwargs.get("censoring", ())),
                  tuple(covariates), {k: tuple(v) for k, v in mediator_cov.items()})
    # one sample for every mediator set of the outcome (complete on all of their variables)
    every = [m for spec in plan.mediation["mechanisms"].values() for m in spec["mediators"]]
    uroles = union_roles(roles, every, data)
    try:
        data, completed, sample = shared_sample(
            data, completed if mi else None, uroles, idents[NONE]["n_randomised"], before,
            "READMCNS" if "censoring" in kwargs else None)
    except NotEstimable as e:
        return not_estimable(e.reason, streams, roles)
    for c in idents:
        idents[c].update(sample.columns())
    if PEER_WORKER not in clusters:
        out[PEER_WORKER] = _not_estimable_job(
            "no PEERWID (main peer worker) in the analysis data set",
            data, idents[PEER_WORKER], otype, outcome, mediators, roles, interventional=iv)
    common: dict[str, Any] = dict(
        exposure=EXPOSURE,
        mediators=list(columns.values()),
        outcome_type=otype,
        covariates=covariates,
        mediator_covariates=mediator_cov,
        categorical=[c for c in covariates if c in ("SITEID", "DIAGGR", "SEX")],
        interaction=bool(plan.mediation["interaction"]),
        mediator_types={columns[m]: declared[m] for m in mediators if m in declared},
        horizon=float(plan.followup_days - (VISIT_DAYS[visit] if otype == "weibull" else 0)),
        n_boot=int(plan.mediation["n_boot"]),
        joint=len(mediators) > 1,
        singles=len(mediators) == 1,  # a set's single scores have their own jobs
        **kwargs,
    )

    def fit(designs: dict[str, str | None]) -> dict[str, Any]:
        if mi:
            assert completed is not None
            return fit_mediation_mi_designs(
                completed, designs={c: (plan.seed_sequence(streams[c]), col)
                                    for c, col in designs.items()}, **common)
        return fit_mediation_designs(
            data, designs={c: (plan.rng(streams[c]), col) for c, col in designs.items()}, **common)

    try:
        try:
            fits = fit(clusters)
        except ClusterDesignError as e:  # only the clustered design is not estimable
            out[PEER_WORKER] = _not_estimable_job(e.reason, data, idents[PEER_WORKER], otype,
                                                  outcome, mediators, roles, interventional=iv)
            fits = fit({NONE: None})
    except NotEstimable as e:
        return not_estimable(e.reason, [c for c in streams if c not in out], roles)
    for c, res in fits.items():
        out[c] = _job_of(res, plan, idents[c], mediator, mediators, columns, outcome,
                         observed, uroles, mi, sample)
    return out


def _job_of(res: Any, plan: AnalysisPlan, ident: dict[str, Any], mediator: str,
            mediators: tuple[str, ...], columns: dict[str, str], outcome: str,
            observed: pd.DataFrame, roles: Roles, mi: bool, sample: AnalysisSample
            ) -> ChangeModelJob:
    """One design's estimates, sensitivity grid and report from its fit."""
    stream = ident["rng_stream"]
    est = res.to_frame()
    if len(mediators) > 1:  # a set's job reports the set jointly; single scores have their own jobs
        est = est.loc[est["mediator_set"] != "single"]
    label = {v: k for k, v in columns.items()}
    over = {k: v for k, v in ident.items() if not (mi and k == "n_boot")}  # MI: draws pooled
    est = est.assign(**{**over, "mediator": mediator if len(mediators) > 1
                        else label.get(mediators[0] + "_M", mediators[0])})
    est = clustering_after_analysis(
        est[[c for c in est.columns if c not in STATUS_COLUMNS] + STATUS_COLUMNS])
    sens = res.sensitivity_frame()
    if len(mediators) > 1:  # a set's sensitivity grids are its single scores', reported by their own jobs
        sens = sens.iloc[0:0]
    if not sens.empty:
        sens = clustering_after_analysis(sens.assign(clustering=ident["clustering"]))
        sens = sens.assign(outcome=outcome, mediator=sens["mediator"].map(lambda c: label.get(c, c)),
                           mechanism=mechanism_of(plan, mediator), rng_stream=stream)
    report = res.report()
    report.update(job=f"mediation/{mediator}/{outcome}", mediator_set=list(mediators),
                  outcome_name=outcome, outcome_label=OUTCOMES[outcome]["label"], seed=plan.seed,
                  rng_stream=stream, status=sorted(set(est["status"])),
                  reason=sorted(set(est["reason"]) - {""}))
    report["missing_data"] = {**report.get("missing_data", {}), **_missing_data_report(plan)}
    report["analysis_sample"] = sample.report()
    if mi:  # what the complete-case analysis would have had
        report["missing_data"]["n_complete_cases"] = int(count_missing(observed, roles)[1].sum())
    return ChangeModelJob(est.reset_index(drop=True), sens.reset_index(drop=True), report)


def _missing_data_report(plan: AnalysisPlan) -> dict[str, Any]:
    md = plan.missing_data
    out: dict[str, Any] = {"method": md.method, "note": missing_data_note(plan)}
    if md.method == "mi":
        out.update(m=md.m, imputation=md.imputation, iterations=md.iterations,
                   donors=md.donors, by_arm=md.by_arm, auxiliaries=list(md.auxiliaries),
                   imputation_stream="imputation")
    return out


def _not_estimable_job(reason: str, data: pd.DataFrame, ident: dict[str, Any], otype: str,
                       outcome: str, mediators: tuple[str, ...], roles: Roles | None = None,
                       *, interventional: bool = False) -> ChangeModelJob:
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
                             mediator_set="joint" if len(mediators) > 1 else "single",
                             interventional=interventional)
    est = clustering_after_analysis(est)
    est = est[[c for c in est.columns if c not in STATUS_COLUMNS]].assign(  # in its place
        **{EXTRAPOLATED: None}, **{c: est[c] for c in STATUS_COLUMNS})
    if "m" in ident:  # the MI rows' columns, in their place
        est = est[[c for c in est.columns if c not in (*MI_COLUMNS, *STATUS_COLUMNS)]].assign(
            riv=np.nan, fmi=np.nan, m=ident["m"], **{c: est[c] for c in STATUS_COLUMNS})
    est = evalue_columns(est, {}, {}, None, None, 0.05)  # NA E-values, in their place
    report = {"job": ident["rng_stream"], "analysis": "mediation", "mediator_set": list(mediators),
              "outcome_name": outcome, "outcome_label": OUTCOMES[outcome]["label"],
              "outcome_type": otype, "n": n, "events": events, "seed": ident["seed"],
              "rng_stream": ident["rng_stream"], "status": ["not estimable"], "reason": [reason],
              "missing_data": {"note": ident["missing_data"]}}
    return ChangeModelJob(est, pd.DataFrame(columns=clustering_after_analysis(
        pd.DataFrame(columns=[*SENSITIVITY_COLUMNS, "clustering", "mechanism", "rng_stream"])
    ).columns), report)


def write_job(job: ChangeModelJob, out_prefix: str | Path) -> list[Path]:
    """Write ``<prefix>.tsv``, ``<prefix>.sensitivity.tsv`` and ``<prefix>.json``."""
    from outcomes.atomic import write_text
    from outcomes.tables import write_tsv

    prefix = Path(out_prefix)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    paths = [prefix.with_suffix(".tsv"), prefix.with_suffix(".sensitivity.tsv"), prefix.with_suffix(".json")]
    write_tsv(job.estimates, paths[0])
    write_tsv(job.sensitivity, paths[1])
    write_text(paths[2], report_json(job))
    return paths


def report_json(job: ChangeModelJob) -> str:
    """The text of ``<prefix>.json``: the job's report, values JSON cannot hold as text."""
    return json.dumps(job.report, indent=2, sort_keys=True, default=str) + "\n"


def job_name(mediator: str, outcome: str) -> str:
    """The name of a job's files (``<name>.tsv`` ...); :func:`gather` stacks the jobs in
    the order of these names."""
    return f"{mediator}__{outcome}"


FIRST_COLUMNS = (ESTIMATE_COLUMNS[0], "clustering", "estimand", *ESTIMATE_COLUMNS[1:], "events",
                 "mediator", "mechanism", "effect", "n_boot", "seed")


def gather(job_files: list[str | Path]) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """Stack the jobs' tables (in a fixed order) into mediation.tsv and its sensitivity table."""
    jobs = []
    for f in sorted(map(Path, job_files)):
        s = f.with_suffix(".sensitivity.tsv")
        jobs.append(ChangeModelJob(
            _read_tsv(f),
            _read_tsv(s) if s.is_file() and s.stat().st_size > 1 else pd.DataFrame(),
            json.loads(f.with_suffix(".json").read_text(encoding="utf-8"))))
    return stack_jobs(jobs)


def _read_tsv(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", na_values=["NA"], keep_default_na=False)


def stack_jobs(jobs: Sequence[ChangeModelJob]
               ) -> tuple[pd.DataFrame, pd.DataFrame, list[dict[str, Any]]]:
    """mediation.tsv, its sensitivity table and the jobs' reports from ``jobs`` in the
    order given (:func:`gather`: job-file order, that is :func:`job_name` order)."""
    est = [j.estimates for j in jobs]
    sens = [j.sensitivity for j in jobs if not j.sensitivity.empty]
    reports = [j.report for j in jobs]
    table = pd.concat(est, ignore_index=True)
    first = [c for c in FIRST_COLUMNS if c in table.columns]
    last = [c for c in STATUS_COLUMNS if c in table.columns]
    table = table[first + [c for c in table.columns if c not in first and c not in last] + last]
    if "reason" in table.columns:
        table["reason"] = table["reason"].fillna("")
    return table, (pd.concat(sens, ignore_index=True) if sens else pd.DataFrame()), reports
