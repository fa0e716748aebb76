"""The data of the instrumental-variable analyses of each outcome (docs/cace.md, "In the
pipeline"): the outcome, randomisation, receipt (ADSL ``ENGFL``), dose (``NCONTWIN``),
the covariates of the outcome's intention-to-treat analysis, the dose modifiers of the
plan (``engagement.dose_modifiers``), the peer-worker clusters and, for readmission, the
inverse probability of censoring weights.

- **Readmission within the horizon** (the primary outcome): the participants and the
  binary outcome of the primary analysis (:func:`outcomes.survival.binary.
  strategy_outcome`: the plan's ``survival.primary_strategy``), adjusted for
  ``survival.primary_covariates``. A participant whose status at the horizon is not
  known under the strategy (censored before it without the event) is left out and the
  others weighted by 1/G, G the Kaplan–Meier probability of remaining uncensored within
  arm, as the primary analysis does (Robins & Finkelstein 2000); ``hypothetical_km`` (1 −
  Kaplan–Meier by arm, unadjusted) is the IPCW outcome of ``hypothetical_ipcw`` without
  covariates, which gives the same risks (Satten & Datta 2001).
- **Every questionnaire score at every visit**: ``AVAL ~ BASE + stratifiers`` as the
  ANCOVA of docs/questionnaires.md, complete cases, or one completed data set of the impute rule
  (wide: ``<PARAMCD>_<visit>``) at a time.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from outcomes.clustering import cluster_ids
from outcomes.imputation.ancova import BASELINE
from outcomes.plan import AnalysisPlan
from outcomes.questionnaires import stratifier_levels
from outcomes.survival._common import Arms, arm_indicator, design, merge_adsl, param
from outcomes.survival.binary import outcome_status, strategy_outcome

#: The endogenous variables: receipt of peer support (CACE) and the dose (effect per contact).
RECEIPT, DOSE = "ENGFL", "NCONTWIN"
#: The dose modifier that is the questionnaire's own baseline score.
BASE = "BASE"
#: ADSL columns every analysis needs.
ADSL_COLUMNS = ("USUBJID", "ARM", RECEIPT, DOSE)
PRIMARY_PARAMCD = "READMIT"


@dataclass(frozen=True)
class IVData:
    """One outcome's complete rows for the IV fits.

    ``covariates``: the design columns of the outcome's ITT analysis (no intercept);
    ``modifiers``: the plan's dose modifiers that apply (columns of ``modifier_values``,
    NaN where unknown); ``weights``: IPCW weights or None; ``labels`` the identification
    columns of its rows (``outcome``, ``estimate_type``, ``strategy``/``horizon`` or
    ``paramcd``/``param``/``avisit``)."""

    y: np.ndarray
    arm: np.ndarray
    receipt: np.ndarray
    dose: np.ndarray
    covariates: pd.DataFrame
    modifiers: tuple[str, ...]
    modifier_values: pd.DataFrame
    clusters: np.ndarray
    weights: np.ndarray | None
    labels: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return int(self.y.size)

    @property
    def events(self) -> float:
        """Participants with the event (0/1 outcome), else NA."""
        return float(self.y.sum()) if self.labels.get("estimate_type") == "risk_difference" \
            else np.nan

    def dose_design(self) -> tuple[pd.DataFrame, np.ndarray]:
        """The dose model's covariates (the ITT covariates and the modifiers' main effects)
        and the rows with every modifier known."""
        extra = [m for m in self.modifiers if m not in self.covariates.columns]
        cov = pd.concat([self.covariates.reset_index(drop=True),
                         self.modifier_values[extra].reset_index(drop=True)], axis=1)
        keep = cov.notna().all(axis=1).to_numpy()
        return cov.loc[keep].reset_index(drop=True), keep


def engagement_columns(adsl: pd.DataFrame, plan: AnalysisPlan) -> pd.DataFrame:
    """ADSL's ITT participants with the columns the IV analyses take from it and their
    peer-worker cluster (``CLUSTER``, :func:`outcomes.clustering.cluster_ids`): the
    ``base`` of :func:`readmission_data` and :func:`score_data`."""
    need = [*ADSL_COLUMNS, "SITEID", *(m for m in plan.engagement.dose_modifiers if m != BASE)]
    absent = [c for c in need if c not in adsl.columns]
    if absent:
        raise ValueError(f"ADSL has no column {', '.join(absent)} (derive it again: the "
                         "engagement analyses need ENGFL and NCONTWIN)")
    itt = adsl.loc[adsl["ITTFL"].astype(str) == "Y"] if "ITTFL" in adsl else adsl
    cols = list(dict.fromkeys([*need, *plan.stratifiers,
                               *(c for c in plan.survival.get("primary_covariates", ())
                                 if c in adsl.columns)]))
    return itt[cols].assign(CLUSTER=cluster_ids(itt, plan.treated_arm).to_numpy())


def _receipt(d: pd.DataFrame) -> np.ndarray:
    return (d[RECEIPT].astype(str) == "Y").to_numpy(dtype=float)


def readmission_data(adtte: pd.DataFrame, base: pd.DataFrame, plan: AnalysisPlan) -> IVData:
    """The primary outcome (readmission within ``followup_days``) as the primary analysis
    defines it, for the ITT participants of both arms (``base``:
    :func:`engagement_columns`)."""
    s = plan.survival
    arms = Arms(plan.treated_arm, plan.control_arm)
    horizon = float(plan.followup_days)
    strategy = s["primary_strategy"]
    km = strategy == "hypothetical_km"
    covariates = () if km else tuple(s["primary_covariates"])
    mods = tuple(m for m in plan.engagement.dose_modifiers if m != BASE)
    d = merge_adsl(param(adtte, PRIMARY_PARAMCD).drop(columns=["ARM"], errors="ignore"),
                   base, [*ADSL_COLUMNS[1:], *covariates, "CLUSTER", *mods])
    d = d.loc[d["ARM"].astype(str).isin((arms.treated, arms.control))].reset_index(drop=True)
    st = outcome_status(d, horizon)
    y, used, w = strategy_outcome(d, st, horizon, "hypothetical_ipcw" if km else strategy)
    u = d.loc[used].reset_index(drop=True)
    return IVData(
        y=y[used].astype(float), arm=arm_indicator(u["ARM"], arms), receipt=_receipt(u),
        dose=u[DOSE].to_numpy(dtype=float), covariates=design(u, covariates),
        modifiers=mods, modifier_values=u[list(mods)].astype(float),
        clusters=u["CLUSTER"].astype(str).to_numpy(),
        weights=None if w is None else w[used],
        labels=dict(outcome=f"{PRIMARY_PARAMCD} within {int(horizon)} days",
                    estimate_type="risk_difference", strategy=strategy, horizon=horizon))


def score_data(values: pd.DataFrame, base: pd.DataFrame, plan: AnalysisPlan, *,
               paramcd: str, param_label: str, visit: str) -> IVData:
    """One score at one visit from ``values`` (``USUBJID``, ``AVAL``, ``BASE``: one row per
    participant, NaN where missing): the complete cases of the ITT participants in either
    arm (``base``: :func:`engagement_columns`), with the ANCOVA's covariates (``BASE`` and
    the stratifiers' indicators, as :func:`outcomes.questionnaires.ancova_design`)."""
    arms = Arms(plan.treated_arm, plan.control_arm)
    if values["USUBJID"].duplicated().any():
        raise ValueError(f"{paramcd} {visit}: a participant has two values")
    v = values.set_index("USUBJID")[["AVAL", BASE]].reindex(base["USUBJID"].to_numpy())
    y, baseline = v["AVAL"].to_numpy(dtype=float), v[BASE].to_numpy(dtype=float)
    use = (base["ARM"].astype(str).isin((arms.treated, arms.control)).to_numpy()
           & ~np.isnan(y) & ~np.isnan(baseline))
    u = base.loc[use].assign(**{BASE: baseline[use]}).reset_index(drop=True)
    mods = tuple(plan.engagement.dose_modifiers)
    return IVData(
        y=y[use], arm=arm_indicator(u["ARM"], arms),
        receipt=_receipt(u), dose=u[DOSE].to_numpy(dtype=float),
        covariates=pd.concat([u[[BASE]], design(stratifier_levels(u, plan.stratifiers),
                                                plan.stratifiers)], axis=1),
        modifiers=mods, modifier_values=u[list(mods)].astype(float),
        clusters=u["CLUSTER"].to_numpy(dtype=str), weights=None,
        labels=dict(outcome=f"{paramcd} {visit}", estimate_type="adjusted_mean_difference",
                    paramcd=paramcd, param=param_label, avisit=visit))


def observed_scores(adqs: pd.DataFrame, paramcd: str, visit: str) -> pd.DataFrame:
    """``USUBJID``, ``AVAL`` (the score at ``visit``) and ``BASE`` (at baseline) from ADQS."""
    rows = adqs.loc[adqs["PARAMCD"] == paramcd]
    base = rows.loc[rows["ABLFL"] == "Y", ["USUBJID", "AVAL"]].rename(columns={"AVAL": BASE})
    follow = rows.loc[rows["AVISIT"] == visit, ["USUBJID", "AVAL"]]
    return follow.merge(base, on="USUBJID", how="outer")


def completed_scores(completed: pd.DataFrame, paramcd: str, visit: str) -> pd.DataFrame:
    """The same from one wide completed data set of the impute rule."""
    return pd.DataFrame({"USUBJID": completed["USUBJID"].astype(str).to_numpy(),
                         "AVAL": completed[f"{paramcd}_{visit}"].to_numpy(dtype=float),
                         BASE: completed[f"{paramcd}_{BASELINE}"].to_numpy(dtype=float)})


def completed_score_data(completed: Sequence[pd.DataFrame], base: pd.DataFrame,
                         plan: AnalysisPlan, *, paramcd: str, param_label: str,
                         visit: str) -> list[IVData]:
    """:func:`score_data` of every completed data set (wide, as
    :func:`completed_scores` reads them): the list of :func:`iter_completed_score_data`."""
    return list(iter_completed_score_data(completed, base, plan, paramcd=paramcd,
                                          param_label=param_label, visit=visit))


def iter_completed_score_data(completed: Sequence[pd.DataFrame], base: pd.DataFrame,
                              plan: AnalysisPlan, *, paramcd: str, param_label: str,
                              visit: str) -> Iterator[IVData]:
    """:func:`score_data` of each completed data set in turn (one built at a time). The
    design is built once: a data set that has the
    same participants in the same order and the same rows used as the first (as the
    completed data sets of one imputation run have: only the imputed values differ) gets
    the first one's data with its own score and baseline values, the same numbers
    :func:`score_data` gives (tested), at a fraction of the time when m is large
    (decisions CT3); any other goes through :func:`score_data`."""
    ids = dict(paramcd=paramcd, param_label=param_label, visit=visit)
    c0 = completed[0]
    first = score_data(completed_scores(c0, paramcd, visit), base, plan, **ids)
    yield first
    if len(completed) == 1:
        return
    ids0 = c0["USUBJID"]
    order = ids0.astype(str).to_numpy()
    at = pd.Index(order).get_indexer(base["USUBJID"].to_numpy())
    in_arms = base["ARM"].astype(str).isin((plan.treated_arm, plan.control_arm)).to_numpy()

    def aligned(c: pd.DataFrame, column: str) -> np.ndarray:
        v = c[column].to_numpy(dtype=float)
        return np.where(at >= 0, v[np.maximum(at, 0)], np.nan)

    use = in_arms & ~np.isnan(aligned(c0, f"{paramcd}_{visit}")) \
        & ~np.isnan(aligned(c0, f"{paramcd}_{BASELINE}"))
    del c0
    for i in range(1, len(completed)):
        c = completed[i]
        y, baseline = aligned(c, f"{paramcd}_{visit}"), aligned(c, f"{paramcd}_{BASELINE}")
        # the same identifiers (Series.equals, no text copy per data set) or the same text
        same = ((c["USUBJID"].equals(ids0)
                 or np.array_equal(c["USUBJID"].astype(str).to_numpy(), order))
                and np.array_equal(in_arms & ~np.isnan(y) & ~np.isnan(baseline), use))
        if not same:
            yield score_data(completed_scores(c, paramcd, visit), base, plan, **ids)
            continue
        covariates = first.covariates.copy()
        covariates[BASE] = baseline[use]
        modifiers = first.modifier_values
        if BASE in modifiers.columns:
            modifiers = modifiers.copy()
            modifiers[BASE] = baseline[use]
        yield replace(first, y=y[use], covariates=covariates, modifier_values=modifiers,
                      labels=dict(first.labels))
