"""The change model's analysis data set, ``admed`` (docs/change-model.md, docs/mediation.md).

One row per randomised participant with exposure, the process scores at the mediator visit
and at baseline, the outcomes (WEMWBS at month 12; the landmark readmission outcomes of
:mod:`outcomes.mediation.landmark`) and the exposure-induced confounders, built once from
ADSL, ADQS and ADTTE; under multiple imputation also its m completed versions. The jobs
that analyse it are in :mod:`outcomes.mediation.changemodel`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from outcomes.errors import OutcomesError
from outcomes.imputation.frame import VISIT_DAYS
from outcomes.plan import AnalysisPlan

from .landmark import landmark_outcomes

__all__ = ["CONFOUNDERS", "EXPOSURE", "ChangeModelError", "completed_mediation_data",
           "imputed_mediation_data", "mediation_data", "split_completed"]

#: The exposure column: the randomised arm, 1 treated, 0 control.
EXPOSURE = "TRTA01"
#: The exposure-induced confounders the plan can name
#: (``mediation.exposure_induced_confounders``) and their 0/1 columns in admed.
CONFOUNDERS = {"engagement": "ENGAGED", "early_readmission": "READM_PRE_M"}


class ChangeModelError(OutcomesError):
    """The plan asks for a mediator or outcome the data do not have."""


def mediation_data(adsl: pd.DataFrame, adqs: pd.DataFrame, adtte: pd.DataFrame, plan: AnalysisPlan) -> pd.DataFrame:
    """One row per randomised participant with exposure, mediators, outcomes and covariates.

    Columns: ``USUBJID``, ``TRTA01`` (1 treated, 0 control), ``ARM``, ``PEERWID`` (the main
    peer worker, for the cluster bootstrap), the ADSL covariates, for every
    score ``<PARAMCD>_M`` (mediator visit) and ``<PARAMCD>_BL`` (baseline), ``WEMWBS_M12``,
    and the landmark readmission outcomes of :func:`~outcomes.mediation.landmark.
    landmark_outcomes`: ``LMDAY`` (landmark day), ``LMEXCL`` (why not in the landmark risk
    set, "" if in it), ``READM12`` (1/0, missing when censored before the horizon),
    ``READMU``/``READMCNS`` (follow-up in the window, 1 = censored before the horizon: the
    IPCW), ``TTE_READMIT`` and ``EVT_READMIT`` (days from the landmark, 1 = readmitted).
    and the exposure-induced confounders (:data:`CONFOUNDERS`): ``ENGAGED`` (1 = ADSL ENGFL
    is Y) and ``READM_PRE_M`` (1 = first readmission before the mediator visit's nominal
    day).
    """
    from outcomes.imputation.frame import _readmitted_before

    med = plan.mediation
    out = adsl.loc[adsl["ARM"].isin(plan.arms)].copy()
    out[EXPOSURE] = (out["ARM"] == plan.treated_arm).astype(int)
    keep = ["USUBJID", EXPOSURE, "ARM", *(["PEERWID"] if "PEERWID" in out.columns else []),
            *sorted({c for c in med["covariates"] if c in out.columns and c != "PEERWID"})]
    missing_cov = [c for c in med["covariates"] if c not in out.columns]
    if missing_cov:
        raise ChangeModelError(f"config key 'mediation.covariates': not in ADSL: {', '.join(missing_cov)}")
    engaged = (out["ENGFL"] == "Y").astype(float) if "ENGFL" in out.columns else np.nan
    out = out[keep]
    out[CONFOUNDERS["engagement"]] = engaged

    def wide(visit: str, suffix: str) -> pd.DataFrame:
        rows = adqs.loc[adqs["AVISIT"] == visit, ["USUBJID", "PARAMCD", "AVAL"]]
        w = rows.pivot_table(index="USUBJID", columns="PARAMCD", values="AVAL", aggfunc="first")
        w.columns = [f"{c}_{suffix}" for c in w.columns]
        return w.reset_index()

    out = out.merge(wide(med["mediator_visit"], "M"), on="USUBJID", how="left")
    out = out.merge(wide("baseline", "BL"), on="USUBJID", how="left")
    m12 = wide("month_12", "M12")
    out = out.merge(m12[["USUBJID", "WEMWBS_M12"]] if "WEMWBS_M12" in m12 else m12[["USUBJID"]], on="USUBJID", how="left")

    visit = med["mediator_visit"]
    out = pd.concat([out, landmark_outcomes(out["USUBJID"], adqs, adtte, visit=visit,
                                            planned=VISIT_DAYS[visit],
                                            horizon=plan.followup_days)], axis=1)
    early = np.full(len(out), np.nan)
    known = out["USUBJID"].isin(adtte.loc[adtte["PARAMCD"] == "READMIT", "USUBJID"]).to_numpy()
    if known.any():
        early[known] = _readmitted_before(adtte, out.loc[known, "USUBJID"], visit)
    out[CONFOUNDERS["early_readmission"]] = early
    for col in out.columns:
        if str(out[col].dtype) in ("Int64", "Float64"):
            out[col] = out[col].astype(float)
    return out.sort_values("USUBJID").reset_index(drop=True)


def completed_mediation_data(data: pd.DataFrame, imputed_long: pd.DataFrame,
                             plan: AnalysisPlan, not_imputed: pd.DataFrame | None = None
                             ) -> pd.DataFrame:
    """The m completed versions of ``data`` (admed), stacked with ``.imp`` (1..m) first.

    ``imputed_long`` is the imputations in the long format of ``outcomes impute``
    (``imputed_long.parquet``: ``.imp`` 0..m, one row per participant, score columns
    ``<PARAMCD>_<visit>``); its scores at the mediator visit, baseline and month 12 replace
    the ``_M``, ``_BL`` and ``_M12`` columns. Values that stay missing in the imputations
    (after death or the data cut, or that could not be imputed) stay missing. An observed
    value that differs from the imputed data (imputations of another extract) is an error
    naming the column. ``not_imputed`` (:func:`outcomes.imputation.gaps.not_imputed_cells`)
    adds, when some due value could not be imputed, the column ``NOT_IMPUTED`` naming them
    (the MI analyses that need them are not estimable).
    """
    if ".imp" not in imputed_long.columns or "USUBJID" not in imputed_long.columns:
        raise ChangeModelError("imputed data: no '.imp' and 'USUBJID' columns (expected the "
                               "long format written by 'outcomes impute')")
    visit = plan.mediation["mediator_visit"]
    suffixes = {f"_{visit}": "_M", "_baseline": "_BL", "_month_12": "_M12"}
    rename = {}
    for c in imputed_long.columns:
        for old, new in suffixes.items():
            if c.endswith(old) and c[: -len(old)] + new in data.columns:
                rename[c] = c[: -len(old)] + new
    ids = data["USUBJID"].astype(str).to_numpy()
    out = []
    for i, block in imputed_long.loc[imputed_long[".imp"] > 0].groupby(".imp", sort=True):
        scores = (block.assign(USUBJID=block["USUBJID"].astype(str)).set_index("USUBJID")
                  [list(rename)].rename(columns=rename).reindex(ids))
        d = data.copy()
        for col in scores.columns:
            new = scores[col].to_numpy(dtype=float)
            old = d[col].to_numpy(dtype=float)
            clash = ~np.isnan(old) & ~np.isnan(new) & ~np.isclose(old, new, rtol=0, atol=1e-9)
            if clash.any():
                k = int(np.flatnonzero(clash)[0])
                raise ChangeModelError(
                    f"imputed data, imputation {i}: {col} of {ids[k]} is {new[k]:g} but "
                    f"{old[k]:g} in the analysis data set (imputations of another extract?)")
            d[col] = np.where(np.isnan(new), old, new)
        out.append(d.assign(**{".imp": int(i)}))
    if not out:
        raise ChangeModelError("imputed data: no completed data set (.imp >= 1)")
    long = pd.concat(out, ignore_index=True)
    columns = [".imp", *data.columns]
    if not_imputed is not None:
        from outcomes.imputation.gaps import NOT_IMPUTED, encode

        why = (not_imputed.assign(USUBJID=not_imputed["USUBJID"].astype(str))
               .set_index("USUBJID").reindex(ids).fillna(""))
        cells = encode(why, rename)
        if any(cells):  # only then: the usual data sets stay as they were
            long[NOT_IMPUTED] = np.tile(np.array(cells, dtype=object), len(out))
            columns.append(NOT_IMPUTED)
    return long[columns]


def split_completed(long: pd.DataFrame) -> list[pd.DataFrame]:
    """The completed data sets of :func:`completed_mediation_data`, in ``.imp`` order."""
    return [g.drop(columns=".imp").reset_index(drop=True)
            for _, g in long.groupby(".imp", sort=True)]


def imputed_mediation_data(derived: dict[str, pd.DataFrame], data: pd.DataFrame,
                           plan: AnalysisPlan, imputed_long: pd.DataFrame | None = None
                           ) -> pd.DataFrame:
    """:func:`completed_mediation_data` from ``imputed_long``, or, without it, from the
    imputations of the derived data with the plan's settings and seed (the same numbers
    ``outcomes impute`` writes)."""
    from outcomes.imputation.frame import imputation_frame
    from outcomes.imputation.gaps import not_imputed_cells
    from outcomes.imputation.mice import impute
    from outcomes.imputation.settings import ImputationSettings

    frame = imputation_frame(derived["adsl"], derived["adqs"], derived["adtte"], plan)
    settings = ImputationSettings.from_plan(plan)
    if imputed_long is None:
        imputed_long = impute(frame, settings, plan.seed).long()
    return completed_mediation_data(data, imputed_long, plan,
                                    not_imputed_cells(frame, settings))
