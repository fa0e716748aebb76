"""Per-protocol and as-treated comparisons: biased comparisons shown beside the CACE
(docs/engagement.md).

Both compare groups formed by engagement (ADSL ``ENGFL``), which randomisation did not
form, so any difference between those who engage and those who do not (severity,
motivation, social support) is confounded with the effect of peer support:

- **per-protocol**: the treated participants who received peer support against every
  control participant;
- **as-treated**: everyone who received peer support (contaminated usual-care participants
  included) against everyone who did not, whatever the arm.

Each uses the estimator of the corresponding intention-to-treat analysis on the selected
groups: the primary binary outcome by :func:`outcomes.survival.binary.readmission_within`
(standardised risk difference, the plan's primary covariates and intercurrent-event
strategy), every questionnaire score at every visit by the ANCOVA of
:func:`outcomes.questionnaires.questionnaire_ancova` (complete cases). Rows of both designs
(docs/clustering.md): cluster-robust by peer worker for the risk difference, the partially
nested model for the ANCOVA. In the as-treated comparison the nested group is the
received one: a received participant with a main peer worker is in that worker's cluster
(contamination included), everyone else is alone (:func:`outcomes.clustering.cluster_ids`
with the received group as the treated arm). Hernán & Hernández-Díaz, Clin Trials 2012
(beyond the intention-to-treat comparison); Dunn, Maracy & Tomenson, Stat Methods Med Res
2005 (per-protocol and as-treated estimates against the CACE).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from outcomes.clustering import NONE, PEER_WORKER, cluster_ids
from outcomes.clustering.ancova import fit_nested_ancova
from outcomes.errors import NotEstimable
from outcomes.estimands.rows import CACE, with_estimands
from outcomes.plan import AnalysisPlan
from outcomes.questionnaires import DIFFERENCE, fit_ancova, questionnaire_ancova
from outcomes.survival._common import Arms
from outcomes.survival.binary import readmission_within
from outcomes.survival.run import CLUSTER, attempt, by_arm_rows
from outcomes.survival.tables import results_table
from outcomes.tables import write_tsv

from .engagement import EngagementByArm, engagement_by_arm

PER_PROTOCOL, AS_TREATED = "per_protocol", "as_treated"
#: The groups of the as-treated comparison.
RECEIVED, NOT_RECEIVED = "received", "not_received"
#: ``comparison_bias`` of the per-protocol and as-treated rows.
BIASED = "biased: groups formed by engagement, not by randomisation"
#: The estimate types of the binary outcome kept from the primary analysis's rows.
BINARY_TYPES = ("risk", "risk_difference")


def comparison_population(adsl: pd.DataFrame, arms: Arms, analysis: str
                          ) -> tuple[pd.DataFrame, Arms]:
    """The ITT participants a comparison uses, ``ARM`` set to its groups, and the groups.

    ``per_protocol``: treated participants with ``ENGFL = Y`` and every control, arms as
    randomised; ``as_treated``: every ITT participant, ``ARM`` = ``received`` when
    ``ENGFL = Y`` else ``not_received`` (the randomised arm kept in ``RANDARM``)."""
    itt = adsl.loc[adsl["ITTFL"].astype(str) == "Y"]
    got = itt["ENGFL"].astype(str) == "Y"
    arm = itt["ARM"].astype(str)
    if analysis == PER_PROTOCOL:
        return itt.loc[((arm == arms.treated) & got) | (arm == arms.control)].copy(), arms
    if analysis == AS_TREATED:
        return (itt.assign(RANDARM=arm, ARM=np.where(got, RECEIVED, NOT_RECEIVED)),
                Arms(RECEIVED, NOT_RECEIVED))
    raise ValueError(f"analysis must be {PER_PROTOCOL} or {AS_TREATED}, not {analysis!r}")


def check_groups(pop: pd.DataFrame, groups: Arms, analysis: str) -> None:
    """Raise :class:`NotEstimable` when a group of the comparison has no participant (e.g.
    no one received peer support under the plan's receipt definition)."""
    arm = pop["ARM"].astype(str)
    for group in (groups.treated, groups.control):
        if not (arm == group).any():
            raise NotEstimable(f"the {analysis.replace('_', '-')} group {group} has no "
                               "participant (ENGFL, the plan's engagement.receipt)")


def readmission_comparison(pop: pd.DataFrame, groups: Arms, adtte: pd.DataFrame,
                           plan: AnalysisPlan, analysis: str) -> list[pd.DataFrame]:
    """The risk of each group and the risk difference of readmission within the plan's
    horizon in ``pop`` (:func:`comparison_population`), naive and cluster-robust."""
    s = plan.survival
    horizon = float(plan.followup_days)
    outcome = f"READMIT within {int(horizon)} days"
    pop = pop.assign(**{CLUSTER: cluster_ids(pop, groups.treated)})
    tte = adtte.loc[adtte["USUBJID"].isin(pop["USUBJID"])].drop(columns=["ARM"], errors="ignore")
    arm = pop["ARM"].astype(str)
    ns = (int((arm == groups.treated).sum()), int((arm == groups.control).sum()))
    def fit(cl: str):
        check_groups(pop, groups, analysis)
        return readmission_within(
            tte, pop, horizon=horizon, covariates=tuple(s["primary_covariates"]),
            strategy=s["primary_strategy"], arms=groups, analysis=analysis,
            censor_groups=("ARM",), cluster=CLUSTER if cl == PEER_WORKER else None)

    frames = []
    for cl in (NONE, PEER_WORKER):
        ex = dict(clustering=cl, strategy=s["primary_strategy"], horizon=horizon)
        res = attempt(
            partial(fit, cl),
            by_arm_rows(analysis, outcome, "risk", groups, ns, (np.nan, np.nan), **ex)
            + [dict(analysis=analysis, outcome=outcome, contrast=groups.contrast,
                    estimate_type="risk_difference", n=sum(ns), events=np.nan, **ex)],
            f"the {analysis} risk difference ({cl})")
        f = res.to_frame()
        frames.append(f.loc[f["estimate_type"].isin(BINARY_TYPES)])
    return frames


def questionnaire_comparison(pop: pd.DataFrame, groups: Arms, adqs: pd.DataFrame,
                             plan: AnalysisPlan, analysis: str) -> list[pd.DataFrame]:
    """The complete-case ANCOVA of every score at every visit of the plan in ``pop``,
    each naive row followed by its partially nested twin (the ICC without its profile CI,
    not needed beside a biased comparison)."""
    def checked(fit):
        def run(data, **kw):
            check_groups(pop, groups, analysis)
            return fit(data, **kw)
        return run

    fits = {NONE: dict(fit=checked(fit_ancova)),
            PEER_WORKER: dict(fit=checked(partial(fit_nested_ancova, icc_ci=False)),
                              clustering=PEER_WORKER)}
    frames = [questionnaire_ancova(adqs, pop, treated_arm=groups.treated,
                                   control_arm=groups.control, visits=plan.visits,
                                   stratifiers=plan.stratifiers, **kw)
              for kw in fits.values()]
    frames = [f.loc[f["estimate_type"] == DIFFERENCE] if not f.empty else f for f in frames]
    if frames[0].empty:
        return []
    both = pd.concat(frames).sort_index(kind="stable").reset_index(drop=True)
    return [both.assign(analysis=analysis, events=pd.NA)]


def cace_table(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """``cace.tsv`` from result frames (the columns of docs/results.md's estimates
    tables): the rows in the order given, ``clustering`` after ``analysis``,
    ``design_effect`` and ``n_clusters`` before the status. The per-protocol and
    as-treated rows carry ``comparison_bias`` (:data:`BIASED`); rows of other frames (the
    CACE) leave it empty."""
    table = results_table(list(frames))
    if "comparison_bias" not in table.columns:
        table.insert(table.columns.get_loc("estimate_type") + 1, "comparison_bias", "")
    biased = table["analysis"].isin([PER_PROTOCOL, AS_TREATED])
    col = table.pop("comparison_bias").astype(object)
    col = col.where(col.notna(), "").mask(biased, BIASED)
    table.insert(table.columns.get_loc("estimate_type") + 1, "comparison_bias", col)
    return table


def biased_comparisons(adsl: pd.DataFrame, adtte: pd.DataFrame, adqs: pd.DataFrame,
                       plan: AnalysisPlan) -> list[pd.DataFrame]:
    """The per-protocol, then the as-treated rows: readmission, then the scores."""
    arms = Arms(plan.treated_arm, plan.control_arm)
    frames = []
    for analysis in (PER_PROTOCOL, AS_TREATED):
        pop, groups = comparison_population(adsl, arms, analysis)
        frames += readmission_comparison(pop, groups, adtte, plan, analysis)
        frames += questionnaire_comparison(pop, groups, adqs, plan, analysis)
    return frames


@dataclass(frozen=True)
class EngagementResults:
    """The engagement stage's results: the distribution by arm and the estimates."""

    engagement: EngagementByArm
    estimates: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.estimates


def run_engagement(adsl: pd.DataFrame, adtte: pd.DataFrame, adqs: pd.DataFrame,
                   plan: AnalysisPlan, extra: Sequence[pd.DataFrame] = (),
                   comparisons: Sequence[pd.DataFrame] | None = None) -> EngagementResults:
    """Engagement by arm and ``cace.tsv``: ``extra`` frames (the CACE rows) first, then
    the biased comparisons (``comparisons``: those of :func:`biased_comparisons` made
    before, else made here)."""
    if comparisons is None:
        comparisons = biased_comparisons(adsl, adtte, adqs, plan)
    frames = [*extra, *comparisons]
    return EngagementResults(engagement_by_arm(adsl, plan.arms),
                             with_estimands(cace_table(frames), CACE, plan.estimands))


def write_engagement(res: EngagementResults, tables_dir: str | Path) -> list[Path]:
    """Write ``engagement.tsv`` and ``cace.tsv`` into ``tables_dir``; returns the paths."""
    tables_dir = Path(tables_dir)
    tables_dir.mkdir(parents=True, exist_ok=True)
    paths = [tables_dir / "engagement.tsv", tables_dir / "cace.tsv"]
    write_tsv(res.engagement.to_frame(), paths[0])
    write_tsv(res.estimates, paths[1])
    return paths
