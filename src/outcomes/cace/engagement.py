"""The distribution of engagement with peer support by arm (docs/engagement.md).

A descriptive table of ADSL's contact variables over the ITT population (``ITTFL = Y``),
per randomised arm: participants, receipt of peer support as the plan defines it
(``ENGFL``: n and percent), and the contacts and minutes within the receipt window
(``NCONTWIN``, ``CONTMWIN``) and up to the data cut (``NCONTACT``, ``CONTMIN``): mean,
standard deviation (n − 1 denominator), median, quartiles and range. Quartiles are
``numpy.quantile``'s default (linear interpolation, R ``quantile`` type 7).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: The contact variables summarised, with their description in the table.
CONTACT_VARIABLES: dict[str, str] = {
    "NCONTWIN": "contacts in the receipt window",
    "NCONTACT": "contacts up to the data cut",
    "CONTMWIN": "minutes of contact in the receipt window",
    "CONTMIN": "minutes of contact up to the data cut",
}
#: The statistics of each contact variable, in table order.
STATISTICS: tuple[str, ...] = ("mean", "sd", "median", "q1", "q3", "min", "max")
#: Columns of engagement.tsv.
COLUMNS: tuple[str, ...] = ("arm", "variable", "description", "statistic", "value")


def _summary(x: np.ndarray) -> dict[str, float]:
    if x.size == 0:
        return dict.fromkeys(STATISTICS, np.nan)
    q1, med, q3 = np.quantile(x, [0.25, 0.5, 0.75])
    return {"mean": float(x.mean()), "sd": float(x.std(ddof=1)) if x.size > 1 else np.nan,
            "median": float(med), "q1": float(q1), "q3": float(q3),
            "min": float(x.min()), "max": float(x.max())}


@dataclass(frozen=True)
class EngagementByArm:
    """Engagement per arm: one row per arm × variable × statistic (long format)."""

    table: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def value(self, arm: str, variable: str, statistic: str) -> float:
        t = self.table
        hit = t.loc[(t["arm"] == arm) & (t["variable"] == variable)
                    & (t["statistic"] == statistic), "value"]
        if len(hit) != 1:
            raise KeyError((arm, variable, statistic))
        return float(hit.iloc[0])


def engagement_by_arm(adsl: pd.DataFrame, arms: tuple[str, str]) -> EngagementByArm:
    """The distribution of engagement in each of ``arms`` (treated first) among the ITT
    participants of ADSL; an arm without participants has n 0 and NA statistics."""
    itt = adsl.loc[adsl["ITTFL"].astype(str) == "Y"]
    rows = []
    for arm in arms:
        d = itt.loc[itt["ARM"].astype(str) == arm]
        n = len(d)
        got = int((d["ENGFL"].astype(str) == "Y").sum())
        rows += [(arm, "participants", "participants randomised (ITT)", "n", float(n)),
                 (arm, "ENGFL", "received peer support (the plan's receipt definition)",
                  "n", float(got)),
                 (arm, "ENGFL", "received peer support (the plan's receipt definition)",
                  "percent", 100.0 * got / n if n else np.nan)]
        for var, desc in CONTACT_VARIABLES.items():
            stats = _summary(d[var].to_numpy(dtype=float))
            rows += [(arm, var, desc, s, stats[s]) for s in STATISTICS]
    return EngagementByArm(pd.DataFrame(rows, columns=list(COLUMNS)))
