"""The partially nested design in the report (docs/clustering.md): which design is the main
analysis, the other design's twin of every row shown, the clusters and caseloads of the
trial, the ICCs and the design effects.

Every results table with design-respecting rows has a ``clustering`` column: ``peer_worker``
(the partially nested design) and ``none`` (every participant independent). The plan key
``clustering`` names the main one; the report shows its rows first (and in the figures) and
the other design's twin beside them. A table without the column (a run from before it) is
all ``none``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from outcomes.clustering import NONE, PEER_WORKER, WORKER_PREFIX, cluster_ids
from outcomes.labels import arm_label, param_label, words

from . import fmt
from .estimates import VISITS, Estimate, count, estimate
from .fmt import Num
from .inputs import ReportInputs, Table

#: How the report names each design, wherever an estimate is shown.
DESIGN_LABELS = {PEER_WORKER: "partially nested", NONE: "naive (independent)"}


@dataclass(frozen=True)
class Designs:
    """The plan's main design (``plan``), the design of the rows shown first (``shown``:
    the plan's, unless no table has rows of it) and the other one (``other``)."""

    plan: str
    shown: str
    other: str
    has_other: bool  # the tables have rows of the other design

    @property
    def shown_label(self) -> str:
        return DESIGN_LABELS.get(self.shown, self.shown)

    @property
    def other_label(self) -> str:
        return DESIGN_LABELS.get(self.other, self.other)


def row_design(raw: pd.DataFrame) -> pd.Series:
    """The ``clustering`` of every row (``none`` for a table without the column)."""
    if "clustering" in raw.columns:
        return raw["clustering"].astype(str)
    return pd.Series(NONE, index=raw.index, dtype=object)


def designs(inp: ReportInputs) -> Designs:
    plan = inp.plan.clustering
    present: set[str] = set()
    for t in (inp.survival, inp.questionnaires, inp.mediation, inp.mediation_all):
        if t is not None and not t.raw.empty:
            present |= set(row_design(t.raw))
    shown = plan if plan in present else NONE
    other = PEER_WORKER if shown == NONE else NONE
    return Designs(plan, shown, other, other in present)


def twins(raw: pd.DataFrame, shown: str, key: Sequence[str]) -> tuple[list[int], dict[int, int]]:
    """The rows shown first (those of design ``shown``, and the rows of the other design
    that have no twin of it: a quantity written once, or a table without the design) and,
    for each of them that has one, its twin of the other design (same ``key``)."""
    design = row_design(raw)
    key = [c for c in key if c in raw.columns]
    ids = [tuple(x) for x in raw[key].to_numpy()]
    by_key: dict[tuple, dict[str, int]] = {}
    for i, d, k in zip(raw.index, design, ids, strict=True):
        by_key.setdefault(k, {}).setdefault(d, int(i))
    first, other = [], {}
    for i, d, k in zip(raw.index, design, ids, strict=True):
        if d == shown:
            first.append(int(i))
            twin = next((j for d2, j in by_key[k].items() if d2 != shown), None)
            if twin is not None:
                other[int(i)] = twin
        elif shown not in by_key[k]:
            first.append(int(i))
    return first, other


def twin_index(raw: pd.DataFrame, shown: str, key: Sequence[str]) -> dict[int, int]:
    """Row of the design shown -> its twin of the other design (see :func:`twins`)."""
    return twins(raw, shown, key)[1]


# ----------------------------------------------------------------------------- the design


@dataclass
class Caseloads:
    """The clusters of the trial, counted from ADSL (intention to treat)."""

    n_workers: int
    min: int | None
    median: str
    max: int | None
    n_nested: int      # treated participants in a peer worker's caseload
    n_unengaged: int   # treated participants who never met a peer worker
    n_control: int     # usual-care participants (and any other arm)
    n_clusters: int    # G: peer workers plus unclustered participants


def caseloads(inp: ReportInputs) -> Caseloads:
    """Peer workers and their caseloads: the treated participants whose main peer worker
    (``PEERWID``) each is (``outcomes.clustering.cluster_ids``); counts only, no id."""
    adsl = inp.adsl
    if "ITTFL" in adsl.columns:
        adsl = adsl.loc[adsl["ITTFL"] == "Y"]
    treated = inp.plan.treated_arm
    labels = cluster_ids(adsl, treated)
    nested = labels.str.startswith(WORKER_PREFIX)
    sizes = labels[nested].value_counts().to_numpy()
    in_treated = (adsl["ARM"].astype(str) == treated).to_numpy()
    med = float(np.median(sizes)) if len(sizes) else float("nan")
    return Caseloads(
        n_workers=len(sizes), min=int(sizes.min()) if len(sizes) else None,
        median=fmt.number(med, 0 if med == int(med) else 1) if len(sizes) else "\u2014",
        max=int(sizes.max()) if len(sizes) else None,
        n_nested=int(nested.sum()), n_unengaged=int((in_treated & ~nested.to_numpy()).sum()),
        n_control=int((~in_treated).sum()), n_clusters=int(labels.nunique()))


#: Each kind of outcome: (outcome, the analysis respecting the partially nested design,
#: the naive analysis); docs/clustering.md.
ANALYSES = (
    ("Questionnaire scores (ANCOVA at each visit)",
     "partially nested linear mixed model: a random peer-worker effect in the treated arm "
     "only and a residual variance for each arm (REML, Satterthwaite df; Roberts & Roberts "
     "2005); under multiple imputation fitted to every imputed data set and pooled by "
     "Rubin's rules",
     "ANCOVA by ordinary least squares"),
    ("Primary outcome (readmission, binary)",
     "the same logistic model and standardisation with a cluster-robust (sandwich) variance "
     "by peer worker, G/(G\u22121) as R sandwich::vcovCL (Liang & Zeger 1986)",
     "model-based (influence-function) variance"),
    ("Cox models (community tenure, detained readmission, cause-specific hazards)",
     "robust variance clustered by peer worker (Lin & Wei 1989)",
     "model-based variance"),
    ("Log-rank test, restricted mean survival time (RMST) and cumulative incidence",
     "the robust score test clustered by peer worker (Lin & Wei 1989) for the log-rank test; "
     "the infinitesimal-jackknife variance summed by peer worker for the RMST and the "
     "cumulative incidence (the same estimates)",
     "log-rank variance; Greenwood-type variance (RMST); Aalen variance (cumulative "
     "incidence)"),
    ("Recurrent readmissions (negative binomial rate ratio, Andersen\u2013Gill)",
     "cluster-robust variance by peer worker",
     "model-based variance (negative binomial); robust variance clustered by participant "
     "(Andersen\u2013Gill)"),
    ("Days in hospital",
     "cluster bootstrap: peer workers' caseloads resampled whole, within arm (Davison & "
     "Hinkley 1997, \u00a73.8)",
     "bootstrap of participants"),
    ("Mediation of the change model",
     "cluster bootstrap: peer workers' caseloads resampled whole, within arm",
     "bootstrap of participants"),
    ("Engagement: complier average causal effect and effect per contact (two-stage least "
     "squares)",
     "cluster-robust (CR1) variance by peer worker, t(G\u22121) (docs/cace.md)",
     "heteroskedasticity-robust (HC1) variance, t(n\u2212k)"),
)


@dataclass
class IccRow:
    outcome: str
    visit: str
    icc: Estimate | None       # with its CI (profile likelihood, or Searle's for the primary)
    icc_mi: Num | None         # the mean ICC over the imputations (no CI)
    n_clusters: Num | None


@dataclass
class DesignEffect:
    label: str
    value: Num
    n_clusters: Num | None


@dataclass
class DesignSection:
    designs: Designs
    key: str                   # the plan key's value
    caseloads: Caseloads
    treated: str
    control: str
    analyses: tuple[tuple[str, str, str], ...]
    iccs: list[IccRow] = field(default_factory=list)
    design_effects: list[DesignEffect] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def _icc_num(t: Table, src: str, i: int, col: str) -> Num:
    return fmt.cell(t.raw.at[i, col], estimate_type="icc", src=src, row=i, col=col)


def icc_rows(inp: ReportInputs) -> list[IccRow]:
    """The ICC of every outcome that has one: the primary outcome's ``icc`` row of
    survival.tsv, and each questionnaire score and visit from its partially nested rows
    (complete cases: the ICC with its profile CI; multiple imputation: the mean ICC)."""
    from outcomes.imputation.ancova import ANALYSIS as MI_ANALYSIS
    from outcomes.questionnaires import ANALYSIS as CC_ANALYSIS

    from .questionnaires import is_effect, registry_info, score_order

    out = []
    s = inp.survival.raw
    for i in s.index[(s["estimate_type"] == "icc") & (row_design(s) == PEER_WORKER)]:
        out.append(IccRow(f"Primary outcome: {words(s.at[i, 'outcome'])}", "",
                          estimate(inp.survival, "survival", int(i), "ICC", estimate_type="icc"),
                          None, count(inp.survival, "survival", int(i), "n_clusters")))
    q = inp.questionnaires
    r = q.raw
    if r.empty or "icc" not in r.columns or "paramcd" not in r.columns:
        return out
    pn = r.loc[row_design(r) == PEER_WORKER]
    info = registry_info()
    keys = sorted(set(zip(pn["paramcd"], pn["avisit"], strict=True)),
                  key=lambda k: score_order(k[0], k[1], info))
    for pc, visit in keys:
        at = pn.loc[(pn["paramcd"] == pc) & (pn["avisit"] == visit)]
        effect = is_effect(at)
        cc = at.index[(at["analysis"] == CC_ANALYSIS) & effect]
        mi = at.index[(at["analysis"] == MI_ANALYSIS) & effect]
        e = None
        if len(cc):
            i = int(cc[0])
            e = Estimate("ICC", _icc_num(q, "questionnaires", i, "icc"),
                         _icc_num(q, "questionnaires", i, "icc_ci_low"),
                         _icc_num(q, "questionnaires", i, "icc_ci_high"), None, None, None)
            e.has_ci = not (fmt.is_missing(r.at[i, "icc_ci_low"])
                            and fmt.is_missing(r.at[i, "icc_ci_high"]))
            if r.at[i, "status"] == "not estimable" if "status" in r.columns else False:
                e.est = Num("not estimable", e.est.raw, "questionnaires", i, "icc", 1.0, None)
                e.has_ci, e.reason = False, str(r.at[i, "reason"]) or "not estimable"
        mi_num = _icc_num(q, "questionnaires", int(mi[0]), "icc") if len(mi) else None
        first = int(cc[0]) if len(cc) else int(mi[0])
        label = param_label(pc)
        out.append(IccRow(label, VISITS.get(visit, visit), e, mi_num,
                          count(q, "questionnaires", first, "n_clusters")))
    return out


def design_effects(inp: ReportInputs) -> list[DesignEffect]:
    """The ``design_effect`` of every peer-worker row of survival.tsv that has one."""
    from .estimates import ANALYSIS_TITLES, TYPE_LABELS

    s = inp.survival.raw
    if "design_effect" not in s.columns:
        return []
    out = []
    for i in s.index[(row_design(s) == PEER_WORKER) & ~s["design_effect"].map(fmt.is_missing)]:
        et = s.at[i, "estimate_type"]
        title = ANALYSIS_TITLES.get(s.at[i, "analysis"], s.at[i, "analysis"]).split(":")[0]
        what = TYPE_LABELS.get(et, et.replace("_", " "))
        contrast = s.at[i, "contrast"]
        who = f", {arm_label(contrast).lower()}" if " vs " not in contrast else ""
        out.append(DesignEffect(
            f"{title}: {what}{who} ({words(s.at[i, 'outcome'])})",
            fmt.cell(s.at[i, "design_effect"], estimate_type="design_effect", src="survival",
                     row=int(i), col="design_effect"),
            count(inp.survival, "survival", int(i), "n_clusters")))
    return out


def design_section(inp: ReportInputs) -> DesignSection:
    d = designs(inp)
    notices = []
    if d.shown != d.plan:
        notices.append(
            f"The plan's main analysis is the {DESIGN_LABELS.get(d.plan, d.plan)} design "
            f"(clustering: {d.plan}), but the results tables have no rows of it (a run from "
            "before the clustering column, or one that did not write them): every estimate "
            f"shown is {d.shown_label}.")
    return DesignSection(d, d.plan, caseloads(inp), arm_label(inp.plan.treated_arm),
                         arm_label(inp.plan.control_arm), ANALYSES, icc_rows(inp),
                         design_effects(inp), notices)
