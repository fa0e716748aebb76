"""Root causes and their knock-on findings.

A knock-on finding exists only because another finding quarantined a row it depends on:
a row of a child table whose participant's row in participants.csv was quarantined
(``XTB-002``, :data:`outcomes.validation.rules.KNOCK_ON_RULES`). Its causes are the
quarantining findings of that participant's row(s) (every copy of a duplicated id; a
malformed row only when no well-formed row has the id). The listing links them:

``caused_by``
    on a knock-on, its causes as ``<rule_id> <record_key>`` (how an explanation names a
    finding), ``; ``-joined in catalogue order; empty on every other finding;
``knock_ons``
    on a cause, the number of knock-on findings it caused; 0 on every other finding.

A knock-on is explained when each of its causes is (its own explanation line still
wins): it then carries its causes' reasons, who accepted them and the latest date.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd

from outcomes.validation.rules import KNOCK_ON_RULES, Rule

MALFORMED_ROW = "FIL-002"


def _links(f: pd.DataFrame, catalogue: Mapping[str, Rule]) -> Iterator[tuple[np.ndarray, np.ndarray, pd.Series]]:
    """(knock-on mask, cause mask, link key) for each knock-on rule: a knock-on's causes are
    the causes with its key (the participant_id)."""
    quarantining = [k for k, r in catalogue.items() if r.action == "quarantine"]
    key = f["participant_id"].astype(str)
    for rule_id, cause_table in KNOCK_ON_RULES.items():
        knock = (f["rule_id"] == rule_id).to_numpy()
        if not knock.any():
            continue
        cause = ((f["table"] == cause_table) & f["rule_id"].isin(quarantining) & (key != "")).to_numpy()
        malformed = cause & (f["rule_id"] == MALFORMED_ROW).to_numpy()
        cause = cause & ~(malformed & key.isin(key[cause & ~malformed]).to_numpy())
        cause = cause & key.isin(key[knock]).to_numpy()
        yield knock, cause, key


def link_causes(f: pd.DataFrame, catalogue: Mapping[str, Rule]) -> pd.DataFrame:
    """``f`` (explanations applied) with ``caused_by`` and ``knock_ons`` filled in, and the
    knock-ons of fully explained causes explained."""
    f = f.copy()
    caused_by = np.full(len(f), "", dtype=object)
    knock_ons = np.zeros(len(f), dtype=np.int64)
    order = {k: i for i, k in enumerate(catalogue)}
    for knock, cause, key in _links(f, catalogue):
        c = f.loc[cause, ["rule_id", "record_key", "explained", "reason", "explained_by", "explained_on"]]
        c = c.assign(_key=key[cause], _o=c["rule_id"].map(order), _ref=c["rule_id"] + " " + c["record_key"])
        c = c.sort_values(["_key", "_o", "record_key"], kind="stable").drop_duplicates(["_key", "_ref"])
        g = c.groupby("_key", sort=False)
        refs = g["_ref"].agg("; ".join)
        caused_by[knock] = key[knock].map(refs).fillna("").to_numpy(dtype=object)
        knock_ons[cause] = key[cause].map(key[knock].value_counts()).to_numpy(dtype=np.int64)
        # a knock-on is explained when every cause is
        done = g["explained"].agg(lambda s: bool((s == "yes").all()))
        done = done[done].index
        if len(done):
            e = c[c["_key"].isin(done)]
            eg = e.assign(_why=e["_ref"] + ": " + e["reason"]).groupby("_key", sort=False)
            inherited = pd.DataFrame({
                "reason": eg["_why"].agg("; ".join),
                "explained_by": eg["explained_by"].agg(lambda s: "; ".join(dict.fromkeys(v for v in s if v))),
                "explained_on": eg["explained_on"].max(),
            })
            todo = knock & (f["explained"] == "no").to_numpy() & key.isin(done).to_numpy()
            f.loc[todo, "explained"] = "yes"
            for col in inherited.columns:
                f.loc[todo, col] = key[todo].map(inherited[col]).to_numpy(dtype=object)
    f["caused_by"] = caused_by
    f["knock_ons"] = knock_ons
    return f


def knock_on_groups(f: pd.DataFrame, catalogue: Mapping[str, Rule]) -> list[tuple[int, list[int]]]:
    """(position of a cause, positions of its knock-ons) in ``f``, for the causes with
    knock-ons in ``f`` (a knock-on of several causes is under each)."""
    out = []
    pos = np.arange(len(f))
    for knock, cause, key in _links(f, catalogue):
        kids = pd.Series(pos[knock]).groupby(key[knock].to_numpy(), sort=False).agg(list)
        for p, k in zip(pos[cause], key[cause], strict=True):
            if k in kids.index:
                out.append((int(p), [int(x) for x in kids[k]]))
    return sorted(out)


__all__ = ["knock_on_groups", "link_causes"]
