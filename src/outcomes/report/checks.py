"""The scoring rules still to verify and the data validation section."""

from __future__ import annotations

from typing import Any

from outcomes.instruments import load_registry

from .inputs import ReportInputs

# ----------------------------------------------------------------------------- scoring rules


def scoring_rules(plan_raw: dict) -> tuple[list[dict[str, str]], list[str]]:
    rows = []
    for key, inst in load_registry().items():
        for rule, v in inst.rules_to_sign_off().items():
            rows.append({"instrument": inst.name, "key": key, "rule": rule,
                         "status": str(v.get("status", "")), "source": str(v.get("source", ""))})
    overrides = []
    for k, v in sorted((plan_raw.get("missing_items") or {}).items()):
        overrides.append(f"missing_items.{k} = {v}: scored when at most {v} items are missing "
                         "(prorated), replacing the instrument's default")
    for k, v in sorted((plan_raw.get("reversed_items") or {}).items()):
        overrides.append(f"reversed_items.{k} = {list(v)}: reverse-scored items replacing the "
                         "instrument's default")
    return rows, overrides


# ----------------------------------------------------------------------------- validation


def validation_section(inp: ReportInputs) -> dict[str, Any] | None:
    s, acc = inp.validation_summary, inp.row_accounting
    if s is None and acc is None:
        return None
    counts = {"error": 0, "warning": 0, "notice": 0}
    explained = 0
    rules = []
    if s is not None:
        for _, r in s.iterrows():
            c = int(r["count"]) if str(r.get("count", "")).isdigit() else 0
            counts[r["severity"]] = counts.get(r["severity"], 0) + c
            ex = str(r.get("explained", "0"))
            explained += int(ex) if ex.isdigit() else 0
            rules.append(dict(r))
    accounting = []
    if acc is not None:
        for _, r in acc.iterrows():
            rin, used, q = int(r["rows_in"]), int(r["rows_used"]), int(r["rows_quarantined"])
            accounting.append({"table": r["table"], "in": rin, "used": used, "quarantined": q,
                               "balanced": rin == used + q})
    # who accepted which explained findings, and when (issues_explained.tsv; absent in
    # outputs of an earlier version: the counts per rule above still say how many)
    audit = [] if inp.validation_explained is None else inp.validation_explained.to_dict("records")
    return {"status": inp.validation_status, "counts": counts, "explained": explained,
            "rules": rules, "accounting": accounting, "have_summary": s is not None,
            "audit": audit, "have_audit": inp.validation_explained is not None}
