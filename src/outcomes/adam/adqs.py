"""ADQS: questionnaire scores, one row per participant x visit x score (docs/adam.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from outcomes.adam._inputs import DerivationError, as_int, questionnaires_table
from outcomes.adam.adsl import bds_identifiers
from outcomes.adam.models import check
from outcomes.contract import VISITS
from outcomes.errors import ConfigError
from outcomes.instruments import Instrument, load_registry
from outcomes.memory import release_memory
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
    # a caller that hands over its only reference (derive_from_dir) frees the raw table
    # with the items once they are scored below
    del questionnaires
    inside = q["participant_id"].isin(adsl["USUBJID"]).to_numpy()
    if not inside.all():
        q = q.loc[inside].reset_index(drop=True)
    unknown = sorted(set(q["visit"].unique()) - set(AVISITN))
    if unknown:
        raise DerivationError(f"questionnaires.visit: unknown visit '{unknown[0]}'")
    dup = q.duplicated(["participant_id", "visit"])
    if dup.any():
        r = q.loc[dup].iloc[0]
        raise DerivationError(
            f"questionnaires: two rows for participant {r['participant_id']} visit {r['visit']}"
        )
    # Rows are collected as integer codes and numbers, sorted once by the keys
    # (USUBJID, PARAMCD, AVISITN) and only then turned into text columns.
    params: list[tuple[str, str, str]] = []  # (PARCAT1, PARAMCD, PARAM) of each score
    parts: dict[str, list[np.ndarray]] = {k: [] for k in
                                          ("qrow", "param", "aval", "nitems", "nmiss", "pro")}
    for key in sorted(registry):
        inst = registry[key]
        x = _items(q, inst)
        if x is None:
            continue
        keep = (~np.isnan(x)).any(axis=1)
        if not keep.any():
            continue
        rows = np.flatnonzero(keep)
        scored = score_items(
            x[keep],
            inst,
            max_missing=plan.missing_items.get(key),
            reversed_items=plan.reversed_items.get(key),
        )
        for score, values in zip(inst.scores, scored, strict=True):
            parts["qrow"].append(rows.astype(np.int32))
            parts["param"].append(np.full(len(rows), len(params), dtype=np.int32))
            params.append((key, values.paramcd, score.param))
            parts["aval"].append(values.value.astype(float))
            parts["nitems"].append(values.n_items.astype(np.int32))
            parts["nmiss"].append(values.n_missing.astype(np.int32))
            parts["pro"].append(np.asarray(values.prorated, dtype=bool))
    q = q[["participant_id", "visit", "completion_date"]]  # the items are scored
    release_memory()
    return check("adqs", _assemble(q, adsl, params, parts, bds_identifiers(adsl, plan)))


def _assemble(q: pd.DataFrame, adsl: pd.DataFrame, params: list[tuple[str, str, str]],
              parts: dict[str, list[np.ndarray]], ids: pd.DataFrame) -> pd.DataFrame:
    """The ADQS frame in key order from the scored rows (``parts``: per score, the rows of
    ``q``, the index into ``params`` and the score values; ``ids``: STUDYID, TRTP and TRTA
    of each ADSL row)."""
    cat = {k: (np.concatenate(v) if v else np.zeros(0, dtype=float if k == "aval" else
                                                    bool if k == "pro" else np.int32))
           for k, v in parts.items()}
    del parts
    param = cat.pop("param")
    present = pd.DataFrame(params, columns=["PARCAT1", "PARAMCD", "PARAM"]).iloc[
        np.unique(param)][["PARAMCD", "PARAM"]].drop_duplicates()
    if not (present["PARAMCD"].is_unique and present["PARAM"].is_unique):
        raise DerivationError("instrument registry: PARAMCD and PARAM are not 1:1")
    qrow = cat.pop("qrow")
    pid_rank = pd.factorize(q["participant_id"], sort=True)[0][qrow]
    paramcds = np.array([p[1] for p in params], dtype=object)
    paramcd_rank = pd.factorize(pd.Series(paramcds, dtype="str"), sort=True)[0]
    avisitn = q["visit"].map(AVISITN).to_numpy(dtype=np.int64)[qrow]
    order = np.lexsort((avisitn, paramcd_rank[param] if len(params) else param, pid_rank))
    del pid_rank
    qrow, param, avisitn = qrow[order], param[order], avisitn[order]
    aval = cat.pop("aval")[order]
    nitems, nmiss, prorated = (cat.pop(k)[order] for k in ("nitems", "nmiss", "pro"))
    del order
    # BASE: the participant's non-missing baseline AVAL of the same PARAMCD
    is_base = (avisitn == 0) & ~np.isnan(aval)
    cell = pd.factorize(q["participant_id"])[0][qrow].astype(np.int64) * max(len(params), 1) + (
        paramcd_rank[param] if len(params) else param)
    base = pd.Series(aval[is_base], index=cell[is_base]).reindex(cell).to_numpy(dtype=float)
    del cell
    adsl_row = pd.Index(adsl["USUBJID"]).get_indexer(q["participant_id"])[qrow]

    def text(values, codes) -> pd.Series:
        return pd.Series(pd.array(list(values), dtype="str").take(codes))

    # column by column, each intermediate dropped after its last use (ADQS is the largest
    # dataset: 4 million rows at n = 100,000)
    out = {"STUDYID": pd.Series(ids["STUDYID"].array.take(adsl_row)).astype("str"),
           "USUBJID": pd.Series(q["participant_id"].array.take(qrow)).astype("str")}
    out["SITEID"] = pd.Series(adsl["SITEID"].array.take(adsl_row)).astype("str")
    out["ARM"] = pd.Series(adsl["ARM"].array.take(adsl_row)).astype("str")
    out["TRTP"] = pd.Series(ids["TRTP"].array.take(adsl_row)).astype("str")
    # TRTA: when every participant's actual treatment is the planned one (always in this
    # design: ADSL's TRT01A = TRT01P), the very array of TRTP, so that its millions of rows
    # cost no memory twice (decisions DX3)
    out["TRTA"] = (out["TRTP"] if ids["TRTA"].equals(ids["TRTP"])
                   else pd.Series(ids["TRTA"].array.take(adsl_row)).astype("str"))
    del adsl_row
    out["AVISIT"] = pd.Series(q["visit"].array.take(qrow)).astype("str")
    out["AVISITN"] = avisitn
    out["ADT"] = pd.Series(q["completion_date"].array.take(qrow))
    del qrow
    for k, col in enumerate(("PARCAT1", "PARAMCD", "PARAM")):
        out[col] = text([p[k] for p in params], param)
    del param
    out["AVAL"] = aval
    out["ABLFL"] = text(["", "Y"], is_base.astype(np.int64))
    del is_base
    out["BASE"] = base
    out["CHG"] = np.where(avisitn > 0, aval - base, np.nan)
    del avisitn, base
    out["NITEMS"] = nitems.astype("int64")
    del nitems
    out["NMISS"] = nmiss.astype("int64")
    del nmiss
    out["DTYPE"] = text(["", "PRORATED"], prorated.astype(np.int64))
    del prorated
    out["ANL01FL"] = text(["", "Y"], (~np.isnan(aval)).astype(np.int64))
    return pd.DataFrame(out, copy=False)  # copy=False: the columns are not copied into blocks
