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
import pyarrow as pa
import pyarrow.compute as pc

from outcomes.validation.rules import KNOCK_ON_RULES, Rule

MALFORMED_ROW = "FIL-002"


def _links(f: pd.DataFrame, catalogue: Mapping[str, Rule]) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """(knock-on positions, cause positions, their link keys) in ``f`` for each knock-on
    rule: a knock-on's causes are the causes with its key (the participant_id)."""
    code, rules = pd.factorize(f["rule_id"])
    quarantining = np.isin(code, [i for i, r in enumerate(rules) if catalogue[r].action == "quarantine"])
    for rule_id, cause_table in KNOCK_ON_RULES.items():
        if rule_id not in rules:
            continue
        knock = np.flatnonzero(code == list(rules).index(rule_id))
        cause = np.flatnonzero((f["table"] == cause_table).to_numpy() & quarantining)
        pid = f["participant_id"]
        kkey = pid.iloc[knock].astype(str).to_numpy(dtype=object)
        ckey = pid.iloc[cause].astype(str).to_numpy(dtype=object)
        malformed = (f["rule_id"].iloc[cause] == MALFORMED_ROW).to_numpy()
        keep = (ckey != "") & ~(malformed & _isin(ckey, ckey[~malformed])) & _isin(ckey, kkey)
        yield knock, cause[keep], kkey, ckey[keep]


def _isin(values: np.ndarray, value_set: np.ndarray) -> np.ndarray:
    return pc.is_in(pa.array(values, pa.string()), value_set=pa.array(value_set, pa.string())).to_numpy(
        zero_copy_only=False)


def _join(values: pd.Series, keys: pd.Series) -> pd.Series:
    """``; ``-join of ``values`` per key (in order), indexed by key; one value per key is
    the usual case and costs no Python loop."""
    many = keys.duplicated(keep=False).to_numpy()
    out = pd.Series(values.to_numpy(dtype=object)[~many], index=keys.to_numpy(dtype=object)[~many], dtype=object)
    if many.any():
        out = pd.concat([out, values[many].groupby(keys[many].to_numpy(), sort=False).agg("; ".join)])
    return out


def link_causes(f: pd.DataFrame, catalogue: Mapping[str, Rule]) -> pd.DataFrame:
    """Fill in ``caused_by`` and ``knock_ons`` of ``f`` (explanations applied; changed in
    place and returned) and explain the knock-ons of fully explained causes."""
    caused_by = np.full(len(f), "", dtype=object)
    knock_ons = np.zeros(len(f), dtype=np.int64)
    order = {k: i for i, k in enumerate(catalogue)}
    for knock, cause, kkey, ckey in _links(f, catalogue):
        c = f.iloc[cause][["rule_id", "record_key", "explained", "reason", "explained_by", "explained_on"]]
        c = c.astype(object).assign(_key=ckey, _o=c["rule_id"].map(order).to_numpy())
        c["_ref"] = c["rule_id"] + " " + c["record_key"].astype(str)
        c = c.sort_values(["_key", "_o", "record_key"], kind="stable").drop_duplicates(["_key", "_ref"])
        kk = pd.Series(kkey, dtype=object)
        caused_by[knock] = kk.map(_join(c["_ref"], c["_key"])).fillna("").to_numpy(dtype=object)
        knock_ons[cause] = pd.Series(ckey, dtype=object).map(kk.value_counts()).to_numpy(dtype=np.int64)
        # a knock-on is explained when every cause is
        done = (c["explained"] == "yes").groupby(c["_key"].to_numpy()).all()
        e = c[_isin(c["_key"].to_numpy(dtype=object), done.index[done.to_numpy()].to_numpy(dtype=object))]
        todo = (f["explained"].iloc[knock] == "no").to_numpy() & _isin(kkey, e["_key"].to_numpy(dtype=object))
        if todo.any():
            names = e[e["explained_by"] != ""].drop_duplicates(["_key", "explained_by"])
            inherited = {
                "reason": _join(e["_ref"] + ": " + e["reason"], e["_key"]),
                "explained_by": _join(names["explained_by"], names["_key"]),
                "explained_on": e.groupby("_key")["explained_on"].max(),
            }
            at = f.index[knock[todo]]
            f.loc[at, "explained"] = "yes"
            for col, values in inherited.items():
                f.loc[at, col] = kk[todo].map(values).fillna("").to_numpy(dtype=object)
    f["caused_by"] = caused_by
    f["knock_ons"] = knock_ons
    return f


def knock_on_groups(f: pd.DataFrame, catalogue: Mapping[str, Rule]) -> list[tuple[int, list[int]]]:
    """(position of a cause, positions of its knock-ons) in ``f``, for the causes with
    knock-ons in ``f`` (a knock-on of several causes is under each)."""
    out = []
    for knock, cause, kkey, ckey in _links(f, catalogue):
        kids = pd.Series(knock).groupby(kkey, sort=False).indices
        for p, k in zip(cause, ckey, strict=True):
            out.append((int(p), knock[kids[k]].tolist()))
    return sorted(out)


__all__ = ["knock_on_groups", "link_causes"]
