"""The questionnaire ANCOVA under the partially nested design (docs/clustering.md).

The same fixed effects as :func:`outcomes.questionnaires.fit_ancova` (score at the visit ~
arm + baseline score + the randomisation stratifiers), fitted by the partially nested linear mixed model of
:mod:`outcomes.clustering.pnlmm` (a random peer-worker effect in the treated arm, a
residual variance per arm, REML); the treatment effect's CI and p-value on its
Satterthwaite df. The adjusted means average the model's predictions as the OLS ones do
(:mod:`outcomes.ancova_effects`), each on its own Satterthwaite df; Hedges' g divides the
model's difference by the same raw pooled SD as the naive row. Roberts & Roberts (2005);
Candlish et al. (2018).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from outcomes.ancova_effects import adjusted_means, arm_mean_vectors, arm_sds, standardised
from outcomes.clustering import PEER_WORKER
from outcomes.clustering.pnlmm import fit_pnlmm
from outcomes.errors import NotEstimable
from outcomes.plan import STRATIFIERS
from outcomes.questionnaires import AncovaDesign, AncovaResult, ancova_design


def fit_nested_ancova(
    data: pd.DataFrame | AncovaDesign,
    *,
    treated_arm: str,
    control_arm: str,
    paramcd: str = "",
    param: str = "",
    avisit: str = "",
    alpha: float = 0.05,
    icc_ci: bool = True,
    stratifiers: Sequence[str] = STRATIFIERS,
) -> AncovaResult:
    """The partially nested ANCOVA on one score: ``data`` as for
    :func:`outcomes.questionnaires.fit_ancova` plus ``CLUSTER`` (labels of
    :func:`outcomes.clustering.cluster_ids`), or the design
    :func:`~outcomes.questionnaires.ancova_design` made of such data. The row has ``clustering = peer_worker``, the
    treated arm's ICC with its profile-likelihood CI (``icc_ci``) and ``n_clusters``, the
    peer-worker clusters with at least one participant analysed.

    Raises :class:`NotEstimable` as ``fit_ancova`` does and when the mixed model cannot be
    estimated (:func:`outcomes.clustering.pnlmm.fit_pnlmm`: no peer worker with 2 or more
    participants analysed, non-convergence).
    """
    design = data if isinstance(data, AncovaDesign) else ancova_design(
        data, treated_arm=treated_arm, control_arm=control_arm,
        what=f"{paramcd} {avisit}".strip() or "the score", stratifiers=stratifiers)
    if design.clusters is None:
        raise ValueError("fit_nested_ancova: the data have no CLUSTER column")
    try:
        fit = fit_pnlmm(design.y, design.exog, design.treated == 1, design.clusters, design.names,
                        contrast=1, icc_ci=icc_ci, alpha=alpha,
                        combinations=np.vstack(arm_mean_vectors(design.exog)))
    except np.linalg.LinAlgError as exc:  # a last resort: a row with the reason, no crash
        raise NotEstimable(f"the mixed model's linear algebra failed ({exc})") from None
    lo, hi = fit.conf_int(alpha)
    y, treated = design.y, design.treated
    ns = (int(treated.sum()), int(len(y) - treated.sum()))
    sds = arm_sds(y, treated)
    return AncovaResult(
        paramcd=paramcd, param=param, avisit=avisit, treated_arm=treated_arm,
        control_arm=control_arm, estimate=fit.estimate, std_error=fit.std_error,
        ci_low=lo, ci_high=hi, p_value=fit.p_value, n=int(len(y)),
        n_treated=int(treated.sum()), n_control=int(len(y) - treated.sum()),
        n_excluded=design.n_excluded,
        mean_treated=float(y[treated == 1].mean()),
        mean_control=float(y[treated == 0].mean()),
        df=fit.df, clustering=PEER_WORKER, icc=fit.icc,
        icc_ci_low=fit.icc_ci_low if icc_ci else None,
        icc_ci_high=fit.icc_ci_high if icc_ci else None,
        n_clusters=fit.n_clusters,
        sd_treated=sds[0], sd_control=sds[1],
        adjusted=adjusted_means(fit.beta, fit.cov_beta, design.exog, (treated_arm, control_arm),
                                ns, fit.combination_df, alpha=alpha),
        hedges=standardised(fit.estimate, fit.std_error, fit.df, sds, ns, alpha),
    )
