"""Questionnaire outcomes: ANCOVA of each score at each follow-up visit (DESIGN §8).

Each score at a follow-up visit is regressed on arm, its own baseline value and site
(fixed effects), by ordinary least squares (statsmodels). The arm coefficient is the
adjusted mean difference (treated − control); complete cases for outcome and baseline, the
excluded participants counted. Reference: Vickers & Altman, BMJ 2001;323:1123 (analysing
controlled trials with baseline and follow-up measurements).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm


@dataclass(frozen=True)
class AncovaResult:
    """Adjusted mean difference of one score at one visit."""

    paramcd: str
    param: str
    avisit: str
    treated_arm: str
    control_arm: str
    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    n_treated: int
    n_control: int
    n_excluded: int
    mean_treated: float
    mean_control: float

    def to_frame(self) -> pd.DataFrame:
        row = asdict(self)
        out = {
            "analysis": "questionnaire_ancova",
            "outcome": f"{self.paramcd} {self.avisit}",
            "contrast": f"{self.treated_arm} vs {self.control_arm}",
            "estimate_type": "adjusted_mean_difference",
            **{k: row[k] for k in ("estimate", "ci_low", "ci_high", "p_value", "n")},
            "std_error": self.std_error,
            "paramcd": self.paramcd,
            "param": self.param,
            "avisit": self.avisit,
            "n_treated": self.n_treated,
            "n_control": self.n_control,
            "n_excluded": self.n_excluded,
            "mean_treated": self.mean_treated,
            "mean_control": self.mean_control,
        }
        return pd.DataFrame([out])


def fit_ancova(
    data: pd.DataFrame,
    *,
    treated_arm: str,
    control_arm: str,
    paramcd: str = "",
    param: str = "",
    avisit: str = "",
    alpha: float = 0.05,
) -> AncovaResult:
    """ANCOVA on one score: ``AVAL ~ arm + BASE + C(SITEID)``.

    ``data`` has one row per randomised participant with ``ARM``, ``SITEID``, ``AVAL``
    (follow-up value, NaN when missing) and ``BASE`` (baseline value, NaN when missing).
    """
    arm = data["ARM"].astype(str)
    use = arm.isin([treated_arm, control_arm]) & data["AVAL"].notna() & data["BASE"].notna()
    d = data.loc[use]
    y = d["AVAL"].to_numpy(dtype=float)
    treated = (d["ARM"].astype(str) == treated_arm).to_numpy(dtype=float)
    sites = pd.get_dummies(d["SITEID"].astype(str), drop_first=True, dtype=float)
    exog = np.column_stack(
        [np.ones(len(d)), treated, d["BASE"].to_numpy(dtype=float), sites.to_numpy()]
    )
    fit = sm.OLS(y, exog).fit()
    lo, hi = fit.conf_int(alpha)[1]
    return AncovaResult(
        paramcd=paramcd,
        param=param,
        avisit=avisit,
        treated_arm=treated_arm,
        control_arm=control_arm,
        estimate=float(fit.params[1]),
        std_error=float(fit.bse[1]),
        ci_low=float(lo),
        ci_high=float(hi),
        p_value=float(fit.pvalues[1]),
        n=int(len(d)),
        n_treated=int(treated.sum()),
        n_control=int(len(d) - treated.sum()),
        n_excluded=int((arm.isin([treated_arm, control_arm]) & ~use).sum()),
        mean_treated=float(y[treated == 1].mean()) if treated.any() else float("nan"),
        mean_control=float(y[treated == 0].mean()) if (treated == 0).any() else float("nan"),
    )


def questionnaire_ancova(
    adqs: pd.DataFrame,
    adsl: pd.DataFrame,
    *,
    treated_arm: str,
    control_arm: str,
    visits: tuple[str, ...] = ("month_4", "month_12"),
) -> pd.DataFrame:
    """ANCOVA for every PARAMCD at every follow-up visit; one row per effect.

    The denominator is every randomised participant in ADSL (ITT population): those
    without the follow-up or baseline value are counted in ``n_excluded``.
    """
    frames = []
    base = adsl[["USUBJID", "ARM", "SITEID"]]
    params = adqs[["PARAMCD", "PARAM"]].drop_duplicates().sort_values("PARAMCD")
    for paramcd, param in params.itertuples(index=False):
        rows = adqs[adqs["PARAMCD"] == paramcd]
        baseline = rows.loc[rows["ABLFL"] == "Y", ["USUBJID", "AVAL"]].rename(
            columns={"AVAL": "BASE"}
        )
        for visit in visits:
            follow = rows.loc[rows["AVISIT"] == visit, ["USUBJID", "AVAL"]]
            if follow["AVAL"].notna().sum() < 3:
                continue
            data = base.merge(follow, on="USUBJID", how="left").merge(
                baseline, on="USUBJID", how="left"
            )
            res = fit_ancova(
                data,
                treated_arm=treated_arm,
                control_arm=control_arm,
                paramcd=paramcd,
                param=param,
                avisit=visit,
            )
            frames.append(res.to_frame())
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True)
