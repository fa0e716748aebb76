"""ADQS: questionnaire scores, one row per participant x visit x score (docs/adam.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from outcomes.adam._inputs import DerivationError, as_int, questionnaires_table
from outcomes.adam.models import check
from outcomes.contract import VISITS
from outcomes.errors import ConfigError
from outcomes.instruments import Instrument, load_registry
from outcomes.plan import AnalysisPlan
from outcomes.scoring import score_items

AVISITN: dict[str, int] = {"baseline": 0, "month_4": 4, "month_12": 12}
assert set(AVISITN) == set(VISITS)


def _check_overrides(plan: AnalysisPlan, registry: dict[str, Instrument]) -> None:
    for option in ("missing_items", "reversed_items"):
        unknown = sorted(set(getattr(plan, option)) - set(registry))
        if unknown:
            raise ConfigError(
                f"config key '{option}.{unknown[0]}': no such instrument "
                f"(known: {', '.join(sorted(registry))})"
            )
    for key, items in plan.reversed_items.items():
        n = registry[key].n_items
        bad = [i for i in items if not 1 <= int(i) <= n]
        if bad:
            raise ConfigError(f"config key 'reversed_items.{key}': items {bad} outside 1..{n}")


def _items(q: pd.DataFrame, inst: Instrument) -> np.ndarray | None:
    """The instrument's item matrix, None when its columns are absent from the extract."""
    cols = inst.item_columns()
    present = [c for c in cols if c in q.columns]
    if not present:
        return None
    if len(present) < len(cols):
        missing = [c for c in cols if c not in q.columns]
        raise DerivationError(
            f"questionnaires: instrument {inst.key} has only some item columns; "
            f"missing {', '.join(missing)}"
        )
    frame = pd.DataFrame({c: as_int(q[c], "questionnaires", c) for c in cols})
    x = frame.to_numpy(dtype=float, na_value=np.nan)
    answered = ~np.isnan(x)
    bad = answered & ((x < inst.code_min) | (x > inst.code_max))
    if bad.any():
        r, c = np.argwhere(bad)[0]
        raise DerivationError(
            f"questionnaires.{cols[c]}: value {x[r, c]:g} outside the code range "
            f"{inst.code_min}..{inst.code_max} (participant {q['participant_id'].iloc[r]}, "
            f"visit {q['visit'].iloc[r]}); validate the extract first"
        )
    return x


def derive_adqs(
    questionnaires: pd.DataFrame,
    adsl: pd.DataFrame,
    plan: AnalysisPlan,
    *,
    registry: dict[str, Instrument] | None = None,
) -> pd.DataFrame:
    """Score every registered instrument (or the plan's ``instruments``) whose item columns
    are in the extract.

    A participant x visit x instrument with no item answered gives no rows (the
    instrument was not completed); with some items answered it gives one row per score,
    AVAL missing when the missing-item rule is not met.
    """
    registry = load_registry() if registry is None else registry
    if plan.instruments:
        unknown_inst = sorted(set(plan.instruments) - set(registry))
        if unknown_inst:
            raise DerivationError(f"config key 'instruments': unknown instrument '{unknown_inst[0]}'")
        registry = {k: v for k, v in registry.items() if k in plan.instruments}
    _check_overrides(plan, registry)
    q = questionnaires_table(questionnaires)
    q = q.loc[q["participant_id"].isin(set(adsl["USUBJID"]))].reset_index(drop=True)
    unknown = sorted(set(q["visit"]) - set(AVISITN))
    if unknown:
        raise DerivationError(f"questionnaires.visit: unknown visit '{unknown[0]}'")
    dup = q.duplicated(["participant_id", "visit"])
    if dup.any():
        r = q.loc[dup].iloc[0]
        raise DerivationError(
            f"questionnaires: two rows for participant {r['participant_id']} visit {r['visit']}"
        )
    frames = []
    for key in sorted(registry):
        inst = registry[key]
        x = _items(q, inst)
        if x is None:
            continue
        keep = (~np.isnan(x)).any(axis=1)
        if not keep.any():
            continue
        sub = q.loc[keep, ["participant_id", "visit", "completion_date"]]
        scored = score_items(
            x[keep],
            inst,
            max_missing=plan.missing_items.get(key),
            reversed_items=plan.reversed_items.get(key),
        )
        for score, values in zip(inst.scores, scored, strict=True):
            frames.append(
                pd.DataFrame(
                    {
                        "USUBJID": sub["participant_id"].to_numpy(),
                        "AVISIT": sub["visit"].to_numpy(),
                        "ADT": sub["completion_date"].to_numpy(),
                        "PARCAT1": key,
                        "PARAMCD": values.paramcd,
                        "PARAM": score.param,
                        "AVAL": values.value.astype(float),
                        "NITEMS": values.n_items.astype("int64"),
                        "NMISS": values.n_missing.astype("int64"),
                        "DTYPE": np.where(values.prorated, "PRORATED", ""),
                    }
                )
            )
    columns = [
        "USUBJID",
        "AVISIT",
        "ADT",
        "PARCAT1",
        "PARAMCD",
        "PARAM",
        "AVAL",
        "NITEMS",
        "NMISS",
        "DTYPE",
    ]
    if frames:
        out = pd.concat(frames, ignore_index=True)
    else:
        out = pd.DataFrame({c: pd.Series(dtype="str") for c in columns})
        out["ADT"] = out["ADT"].astype(q["completion_date"].dtype)
        out["AVAL"] = out["AVAL"].astype(float)
        out["NITEMS"] = out["NITEMS"].astype("int64")
        out["NMISS"] = out["NMISS"].astype("int64")
    params = out[["PARAMCD", "PARAM"]].drop_duplicates()
    if not (params["PARAMCD"].is_unique and params["PARAM"].is_unique):
        raise DerivationError("instrument registry: PARAMCD and PARAM are not 1:1")
    out["AVISITN"] = out["AVISIT"].map(AVISITN).astype("int64")
    is_base = (out["AVISITN"] == 0) & out["AVAL"].notna()
    base = out.loc[is_base].set_index(["USUBJID", "PARAMCD"])["AVAL"]
    out["BASE"] = pd.Series(
        base.reindex(pd.MultiIndex.from_frame(out[["USUBJID", "PARAMCD"]])).to_numpy(),
        index=out.index,
        dtype=float,
    )
    out["CHG"] = (out["AVAL"] - out["BASE"]).where(out["AVISITN"] > 0)
    out["ABLFL"] = np.where(is_base, "Y", "")
    out["ANL01FL"] = np.where(out["AVAL"].notna(), "Y", "")
    site = dict(zip(adsl["USUBJID"], adsl["SITEID"], strict=True))
    arm = dict(zip(adsl["USUBJID"], adsl["ARM"], strict=True))
    out["SITEID"] = out["USUBJID"].map(site)
    out["ARM"] = out["USUBJID"].map(arm)
    for col in (
        "USUBJID",
        "SITEID",
        "ARM",
        "AVISIT",
        "PARCAT1",
        "PARAMCD",
        "PARAM",
        "ABLFL",
        "DTYPE",
        "ANL01FL",
    ):
        out[col] = out[col].astype("str")
    out = out[
        [
            "USUBJID",
            "SITEID",
            "ARM",
            "AVISIT",
            "AVISITN",
            "ADT",
            "PARCAT1",
            "PARAMCD",
            "PARAM",
            "AVAL",
            "ABLFL",
            "BASE",
            "CHG",
            "NITEMS",
            "NMISS",
            "DTYPE",
            "ANL01FL",
        ]
    ]
    out = out.sort_values(["USUBJID", "PARAMCD", "AVISITN"], kind="mergesort")
    return check("adqs", out.reset_index(drop=True))
