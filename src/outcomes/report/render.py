"""Render the trial report (``results/report/index.html``) from the result files.

One self-contained HTML file: inline CSS, inline SVG (figures and diagrams), no script, no
external request. The same result files give the same bytes (no clock is read; the date of
the run is the one recorded in ``provenance.json``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import markupsafe
import pandas as pd

from outcomes import __version__
from outcomes.errors import OutcomesError
from outcomes.estimands.rows import STRATEGY_ESTIMANDS
from outcomes.labels import arm_label, en_dashes, mediator_words, variable_words
from outcomes.survival import ESTIMANDS
from outcomes.survival.binary import STRATEGY_LABELS

from . import (
    checks,
    design,
    engagement,
    estimands,
    evalues,
    figures,
    mediation,
    missing_data,
    multiplicity,
    participants,
    questionnaires,
    readmission,
    sensitivity,
    standardised,
)
from .export import number_captions, write_exports
from .inputs import ReportInputs, load_inputs
from .svg import DIAGRAM_CSS


class PrivacyError(OutcomesError):
    """The rendered report would show a participant identifier or date (never written)."""

    exit_code = 2


def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: resources.files("outcomes.report").joinpath("templates", name)
            .read_text("utf-8")),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _scale(x: float) -> str:
    return f"{x:g}"


def methods(inp: ReportInputs) -> dict[str, Any]:
    plan = inp.plan
    s = plan.survival
    tau = s.get("rmst_tau_days") or plan.followup_days
    fu = plan.followup_days
    strategy = s["primary_strategy"]
    models = [
        ("Primary outcome",
         f"Readmission within {fu} days of the index discharge; logistic regression on arm "
         f"adjusted for {variable_words(s['primary_covariates'])} (Newton–Raphson); marginal risks "
         "by standardisation over all randomised participants; risk difference and marginal "
         "odds ratio with influence-function (delta-method) variance; conditional odds ratio "
         "from the arm coefficient (Wald)."),
        ("Community tenure",
         "Time from index discharge to first readmission (death and withdrawal censor). Kaplan–Meier by arm with log(−log) pointwise 95% CIs and Brookmeyer–Crowley "
         f"medians; log-rank test stratified by {variable_words(s['strata'])}; Cox model stratified "
         f"by {variable_words(s['strata'])}, adjusted for {variable_words(s['cox_covariates'])}, Efron "
         "ties, with Grambsch–Therneau proportional-hazards tests; RMST difference at "
         f"{tau} days. The same for the time to first detained readmission."),
        ("Competing risk",
         f"Aalen–Johansen cumulative incidence of readmission at {fu} days with death as a "
         "competing event (Aalen-type variance as R cmprsk); cause-specific Cox models for "
         "readmission and for death before readmission."),
        ("Recurrent readmission",
         "Negative binomial (NB2) rate ratio of readmissions with offset log(days at risk), "
         f"adjusted for {variable_words(s['primary_covariates'])}; Andersen–Gill Cox model on the "
         "counting-process data with robust variance clustered by participant; days in hospital "
         f"by arm with a bootstrap CI (B = {s['hospital_days_n_boot']}) for the difference in means."),
        ("Questionnaires",
         "ANCOVA of each score at each follow-up visit on arm, adjusted for the baseline value "
         f"of the score and the randomisation stratifiers "
         f"({variable_words(inp.plan.stratifiers)}) (ordinary least squares; in "
         "the partially nested design a linear mixed model with the same fixed effects, see "
         "the design below), with each arm's adjusted mean and Hedges' g; "
         + ("pooled over multiply imputed data sets by Rubin's rules (main analysis), complete "
            "cases of baseline and follow-up beside it (section 7)."
            if inp.plan.missing_data.method == "mi" else
            "complete cases of baseline and follow-up, exclusions counted.")),
    ]
    if inp.cace is not None and (inp.cace.raw.get("analysis", pd.Series(dtype=str))
                                 .isin([engagement.CACE, engagement.DOSE_RESPONSE]).any()):
        models.append((
            "Engagement (complier average causal effect, dose\u2013response)",
            "Two-stage least squares with the randomised arm as the instrument for receipt "
            "of peer support (the plan's engagement.receipt), adjusted for the plan's "
            "covariates; heteroskedasticity-robust (HC1, "
            "t(n\u2212k)) or peer-worker cluster-robust (CR1, t(G\u22121)) variance; the "
            "first-stage compliance difference and F, weak instruments flagged at a robust F "
            "below 10. The effect per contact instruments the number of contacts by the arm "
            "and its interactions with baseline covariates (Dunn & Emsley 2009), with "
            "Hansen's J test of the overidentifying restrictions (docs/cace.md)."))
    if inp.plan.multiplicity is not None:
        models.append(("Multiplicity", multiplicity.rule_text(inp.plan)
                       + " Section 3 lists the hierarchy (docs/multiplicity.md)."))
    if inp.mediation is not None:
        models.append((
            "Mediation of the change model",
            "Natural indirect (ACME) and direct (ADE) effects of arm through each month-4 "
            "process score and each mechanism jointly (Imai, Keele & Tingley 2010), from "
            "potential outcomes of the fitted mediator and outcome models; percentile "
            "bootstrap CIs with one shared resample of participants per replicate; "
            "sensitivity of the ACME to mediator–outcome confounding (ρ; Imai, Keele & "
            "Yamamoto 2010)."))
    seeds = [("Plan seed", str(plan.seed)),
             ("Random streams", "one generator per analysis, spawned from the plan seed and the "
                                "analysis name (survival: the days-in-hospital bootstrap)")]
    if inp.mediation is not None and "seed" in inp.mediation.raw.columns:
        seeds.append(("Mediation bootstrap", "seed " + ", ".join(sorted(set(inp.mediation.raw["seed"])))
                      + "; replicates " + ", ".join(sorted(set(inp.mediation.raw.get("n_boot", []))))))
    return {
        "population": "Intention to treat: every randomised participant with an arm of the plan, "
                      "analysed as randomised.",
        "strategy": strategy,
        "estimands": [{"strategy": k, "label": en_dashes(STRATEGY_LABELS.get(k, k.replace("_", " "))),
                       "text": v, "used": k == strategy,
                       "id": STRATEGY_ESTIMANDS[k]} for k, v in ESTIMANDS.items()],
        "models": models,
        "seeds": seeds,
    }


#: A code in running text: a file name, a dotted plan key or a snake_case name.
_CODE_TOKEN = re.compile(r"\b(?:[\w-]+\.(?:tsv|json|csv|parquet|svg|yaml)\b"
                         r"|[a-z][a-z0-9]*(?:[._][a-z0-9]+)*_[a-z0-9_.]*[a-z0-9]"
                         r"|[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+(?=[:\s),;]|$))")


def code_spans(text: Any) -> markupsafe.Markup:
    """``text`` escaped, with every file name, dotted plan key and snake_case name in
    ``<code>``: the codes a reader may type, set apart from the words (decisions RP2)."""
    out, last = [], 0
    text = str(text)
    for m in _CODE_TOKEN.finditer(text):
        out.append(markupsafe.escape(text[last:m.start()]))
        out.append(markupsafe.Markup("<code>%s</code>") % m.group(0))
        last = m.end()
    out.append(markupsafe.escape(text[last:]))
    return markupsafe.Markup("").join(out)


def provenance(inp: ReportInputs) -> dict[str, Any] | None:
    p = inp.provenance
    if p is None:
        return None
    plan_text = json.dumps(inp.plan.raw, sort_keys=True, separators=(",", ":"))
    plan_sha = hashlib.sha256(plan_text.encode("utf-8")).hexdigest()
    inputs = [{"path": k, "sha256": v.get("sha256", ""), "bytes": v.get("bytes", "")}
              for k, v in sorted((p.get("inputs") or {}).items())]
    git = p.get("git") or {}
    return {
        "timestamp": p.get("timestamp_utc", "not recorded"),
        "git": (f"{git.get('commit', '')}{' (uncommitted changes)' if git.get('dirty') else ''}"
                if git else "not a git checkout"),
        "plan_sha256": p.get("plan_sha256", ""),
        "plan_matches": p.get("plan_sha256") == plan_sha,
        "inputs": inputs,
        "seeds": sorted((p.get("seeds") or {}).items()),
        "python": " ".join(str(v) for k, v in (p.get("python") or {}).items()
                           if k in ("implementation", "version")),
        "platform": p.get("platform", ""),
        "packages": sorted((k, v if v is not None else "not installed")
                           for k, v in (p.get("packages") or {}).items()),
    }


def _plan_sha(inp: ReportInputs) -> str:
    return inp.plan.sha256()


def context(inp: ReportInputs) -> dict[str, Any]:
    plan = inp.plan
    blocks = readmission.survival_blocks(inp)
    qrows, qother = questionnaires.questionnaire_rows(inp)
    missing = missing_data.missing_data_section(inp)
    med = mediation.mediation_section(inp)
    if med is not None:
        med.forest = figures.mediation_forest(inp)
        med.sensitivity_figure = figures.sensitivity_figure(med.sensitivity)
    from .svg import inline_svg

    def fig(text, prefix, label):
        return inline_svg(text, prefix, label=label) if text else None

    if med is not None:
        med.forest = fig(med.forest, "medforest", "Forest plot of indirect and direct effects")
        med.sensitivity_figure = fig(med.sensitivity_figure, "medsens",
                                     "ACME as a function of the sensitivity parameter rho")
    eng = engagement.engagement_section(inp)
    eng.figure = fig(figures.dose_response_figure(eng.panels, eng.dose_words.capitalize()), "dose",
                     "Estimated effect against the number of peer contacts, with the "
                     "distribution of contacts in the treated arm")
    sens = sensitivity.sensitivity_section(inp)
    if sens is not None:
        sens.figure = fig(sensitivity.sensitivity_forest(inp), "sensforest",
                          "Forest plot of the risk difference under each strategy for "
                          "death and withdrawal")
        sens.excluded = sensitivity.excluded(inp)
    des = design.design_section(inp)
    mult = multiplicity.multiplicity_section(inp)
    multiplicity.attach_adjusted(inp, multiplicity.estimates_in(blocks, qrows, qother, eng))
    heads, t1 = participants.baseline_table(inp)
    rules, overrides = checks.scoring_rules(plan.raw)
    n_itt = int((inp.adsl["ITTFL"] == "Y").sum())
    notices = []
    if inp.mediation is None:
        notices.append("Mediation analysis: not run in this plan (no tables/mediation.tsv).")
    if inp.provenance is None:
        notices.append("Provenance: results/provenance.json is absent, so the input checksums, "
                       "seeds and software versions of this run are not recorded here.")
    if inp.validation_summary is None:
        notices.append("Validation outputs (results/validation/) not found.")
    return {
        "title": f"Trial report: {arm_label(plan.treated_arm).lower()} vs "
                 f"{arm_label(plan.control_arm).lower()}",
        "version": __version__,
        "plan": plan,
        "plan_sha": _plan_sha(inp),
        "data_cut": plan.data_cut.isoformat() if plan.data_cut else None,
        "n_itt": n_itt,
        "arms": [arm_label(a) for a in plan.arms],
        "arm_codes": list(plan.arms),
        "notices": notices,
        "design": des,
        "designs": des.designs,
        "flow": participants.build_flow(inp),
        "t1_heads": heads,
        "t1": t1,
        "blocks": blocks,
        "sensitivity": sens,
        "qrows": qrows,
        "outcome_means": questionnaires.outcome_means(inp),
        "qother": qother,
        "hedges_forest": fig(standardised.hedges_forest(inp), "hedges",
                             "Forest plot of Hedges' g of every questionnaire score"),
        "stratifiers": variable_words(plan.stratifiers),
        "missing": missing,
        "mediation": med,
        "mediation_evalues": evalues.evalue_rows(inp) if med is not None else [],
        "engagement": eng,
        "multiplicity": mult,
        "forest_all": inline_svg(figures.forest_all(inp), "forestall",
                                 label="Forest plot of all between-arm effects"),
        "forest_excluded": figures.forest_excluded(inp),
        "validation": checks.validation_section(inp),
        "rules": rules,
        "overrides": overrides,
        "methods": methods(inp),
        "estimands": dict(zip(("entries", "unknown"), estimands.estimand_entries(inp),
                              strict=True)),
        "provenance": provenance(inp),
        "files": sorted(inp.files.items()),
        "css": resources.files("outcomes.report").joinpath("templates", "report.css")
        .read_text("utf-8") + DIAGRAM_CSS,
    }


def render_report(inp: ReportInputs) -> str:
    env = _env()
    env.filters["scale"] = _scale
    env.filters["codes"] = code_spans
    env.filters["mediator"] = mediator_words
    html = number_captions(env.get_template("report.html.j2").render(**context(inp)))
    check_privacy(html, inp)
    return html


# ----------------------------------------------------------------------------- privacy

_DATE = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2})(?!\d)")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]*")


@dataclass(frozen=True)
class Leak:
    kind: str
    value: str


def _dates(series: pd.Series) -> set[str]:
    s = series.dropna()
    if s.empty:
        return set()
    return set(pd.to_datetime(s.astype(str), errors="coerce").dropna().dt.strftime("%Y-%m-%d"))


def participant_strings(inp: ReportInputs) -> tuple[set[str], set[str]]:
    """Identifiers and dates of individual participants found in the derived datasets."""
    ids = set(inp.adsl["USUBJID"].astype(str)) | set(inp.adqs["USUBJID"].astype(str))
    if "PEERWID" in inp.adsl.columns:
        ids |= {x for x in inp.adsl["PEERWID"].astype(str) if x.strip()}
    dates: set[str] = set()
    for col in ("RANDDT", "INDEXDT", "WDDT", "DTHDT", "EOSDT", "DCUTDT"):
        if col in inp.adsl.columns:
            dates |= _dates(inp.adsl[col])
    if "ADT" in inp.adqs.columns:
        dates |= _dates(inp.adqs["ADT"])
    return ids, dates


def find_leaks(html: str, ids: set[str], dates: set[str],
               allowed: set[str] | frozenset[str] = frozenset()) -> list[Leak]:
    """Participant identifiers (whole tokens) and dates that occur in ``html``."""
    leaks = [Leak("date", d) for d in sorted(set(_DATE.findall(html)) & (dates - allowed))]
    tokens = set(_TOKEN.findall(html))
    leaks += [Leak("identifier", t) for t in sorted(tokens & ids)]
    return leaks


def check_privacy(html: str, inp: ReportInputs) -> None:
    ids, dates = participant_strings(inp)
    allowed = set()
    if inp.plan.data_cut:  # a date of the plan, not of a participant
        allowed.add(inp.plan.data_cut.isoformat())
    if inp.provenance and inp.provenance.get("timestamp_utc"):
        allowed.add(str(inp.provenance["timestamp_utc"])[:10])
    # dates in file names of the plan or provenance (e.g. an extract directory named by
    # its delivery date) are not participants' dates
    allowed |= set(_DATE.findall(json.dumps(inp.plan.raw)))
    if inp.provenance:
        allowed |= set(_DATE.findall(" ".join(inp.provenance.get("inputs") or {})))
    if inp.validation_explained is not None:  # when a finding was explained, not a participant's date
        allowed |= set(inp.validation_explained["explained_on"])
    leaks = find_leaks(html, ids, dates, allowed)
    if leaks:
        shown = ", ".join(f"{x.kind} {x.value}" for x in leaks[:5])
        raise PrivacyError(f"the report would show participant-level data ({shown}"
                           f"{', ...' if len(leaks) > 5 else ''}); not written")


def write_report(results_dir: str | Path, out: str | Path | None = None, *,
                 plan: str | Path | None = None, provenance: str | Path | None = None,
                 export: bool = False) -> Path:
    """Render ``results_dir`` into ``out`` (default ``<results_dir>/report/index.html``) and,
    with ``export``, its tables and figures as files beside it (:mod:`.export`)."""
    inp = load_inputs(results_dir, plan=plan, provenance=provenance)
    html = render_report(inp)
    out = Path(out) if out is not None else Path(results_dir) / "report" / "index.html"
    from outcomes.atomic import write_text

    if export:
        write_exports(html, out.parent, when=_run_time(inp))
    return write_text(out, html)


def _run_time(inp: ReportInputs) -> dt.datetime | None:
    """When the run happened (provenance.json), to date the Word file; None if unrecorded."""
    stamp = (inp.provenance or {}).get("timestamp_utc")
    try:
        return dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00")) if stamp else None
    except ValueError:
        return None
