"""Vectorised implementations of the multi-row and cross-table rules.

Rules are declared in :mod:`outcomes.validation.rules`; this module implements the ones
that are not pandera column or dataframe checks. Each function returns :class:`Hits`
(row positions in the table's typed frame) and is registered under its rule id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from outcomes.contract import VISITS
from outcomes.validation.convert import null_mask
from outcomes.validation.keys import duplicated_values
from outcomes.validation.rules import AFTER_DATA_CUT, TABLE_RULES


@dataclass
class Hits:
    """Rows of one table that break one rule, with the column to report."""

    rule_id: str
    table: str
    pos: np.ndarray
    column: str
    detail: pd.Series | None = None  # optional per-hit text appended to the rule message


@dataclass
class TableState:
    """One table while it is being validated."""

    name: str
    df: pd.DataFrame  # typed, RangeIndex = row position
    text: dict[str, pa.Array]  # whitespace-stripped text of each column read
    lines: np.ndarray
    item_columns: list[str] = field(default_factory=list)
    quarantine: np.ndarray = field(init=False)  # rows to quarantine, all False at first
    data_cut: np.datetime64 | None = None  # datetime64[s]; None: not given
    pcode: np.ndarray | None = None
    """Child tables: position of each row's participant_id among participants.csv's rows
    (first occurrence; -1 when empty or not there)."""
    pgroup: np.ndarray | None = None
    """Participant codes for grouping: ``pcode``, or a code above every participant row for
    ids not in participants.csv (-1 when empty)."""

    def __post_init__(self) -> None:
        self.quarantine = np.zeros(len(self.df), dtype=bool)


def _positions(mask) -> np.ndarray:
    return np.flatnonzero(np.asarray(mask, dtype=bool))


def _days(s: pd.Series) -> np.ndarray:
    """datetime64 column as int64 days since 1970-01-01 (NaT: minimum int64)."""
    return s.to_numpy(dtype="datetime64[s]").astype("datetime64[D]").astype(np.int64)


_OPEN = 1 << 20
"""Discharge day of an admission still open at the data cut (after any real date)."""


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------


def codes_of(arr: pa.Array) -> np.ndarray:
    """int64 codes of the distinct values of ``arr`` (-1 for null)."""
    enc = pc.dictionary_encode(arr)
    return enc.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def key_codes(*codes: np.ndarray) -> np.ndarray:
    """One int64 code per row for a key made of several int codes (-1 when a part is < 0)."""
    valid = np.ones(len(codes[0]), dtype=bool)
    for c in codes:
        valid &= c >= 0
    key = codes[0]
    for c in codes[1:]:
        key, _ = pd.factorize(key * (int(c.max(initial=0)) + 2) + c + 1)
        key = key.astype(np.int64)
    return np.where(valid, key, -1)


def duplicated_keys(*codes: np.ndarray) -> np.ndarray:
    """Mask of the rows whose key (tuple of non-negative int codes) occurs more than once."""
    key = key_codes(*codes)
    valid = key >= 0
    out = np.zeros(len(valid), dtype=bool)
    out[valid] = pd.Series(key[valid]).duplicated(keep=False).to_numpy()
    return out


_MAX_PARTNERS = 5


def duplicate_details(s: TableState, pos: np.ndarray, group: np.ndarray, key: tuple[str, ...]) -> pd.Series:
    """What each copy of a duplicated key adds to its message: the lines of the other copies
    and whether the copies are identical or conflict, and on which columns (the text of
    every column read, outside the key). ``group``: equal for the copies of one key."""
    order = np.lexsort((s.lines[pos], group))
    p, g = pos[order], group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    size = np.diff(np.r_[starts, len(g)])
    gid = np.repeat(np.arange(len(starts)), size)
    first = starts[gid]
    cols = [c for c in s.text if c not in key]
    differ = np.zeros((len(starts), len(cols)), dtype=bool)
    for j, c in enumerate(cols):
        code = codes_of(s.text[c])[p]
        differ[:, j] = np.logical_or.reduceat(code != code[first], starts)
    patterns, which = np.unique(differ, axis=0, return_inverse=True)
    texts = np.array(
        ["copies conflict on " + ", ".join(c for c, d in zip(cols, row, strict=True) if d) if row.any()
         else "identical copies" for row in patterns], dtype=object)
    conflict = texts[which.reshape(-1)][gid]
    lines = s.lines[p]
    partner = np.empty(len(p), dtype=object)
    two = size[gid] == 2
    other = np.where(np.arange(len(p)) == first, first + 1, first)
    partner[two] = "also on line " + lines[other[two]].astype(str).astype(object)
    for i in np.flatnonzero(~two):  # three copies or more: rare
        st = starts[gid[i]]
        rest = [str(x) for k, x in enumerate(lines[st:st + size[gid[i]]]) if st + k != i]
        more = f" and {len(rest) - _MAX_PARTNERS} more" if len(rest) > _MAX_PARTNERS else ""
        partner[i] = "also on lines " + ", ".join(rest[:_MAX_PARTNERS]) + more
    out = np.empty(len(p), dtype=object)
    out[order] = partner + "; " + conflict
    return pd.Series(out)


def _duplicate_hits(s: TableState, rule_id: str, column: str, key: tuple[str, ...], dup: np.ndarray,
                    group: np.ndarray) -> Hits:
    pos = _positions(dup)
    detail = duplicate_details(s, pos, group[pos], key) if len(pos) else None
    return Hits(rule_id, s.name, pos, column, detail)


def participant_groups(state: TableState, n_participant_rows: int) -> np.ndarray:
    assert state.pcode is not None  # a child table's, set before its checks
    codes = state.pcode.copy()
    pid = state.text["participant_id"]
    unknown = (codes < 0) & ~pid.is_null().to_numpy(zero_copy_only=False)
    if unknown.any():
        extra = codes_of(pc.filter(pid, pa.array(unknown)))
        codes[unknown] = n_participant_rows + extra
    return codes


# --------------------------------------------------------------------------------------
# table rules
# --------------------------------------------------------------------------------------


def _unique_id(s: TableState, rule_id: str, column: str) -> list[Hits]:
    dup = duplicated_values(s.text[column])
    group = codes_of(s.text[column]) if dup.any() else dup
    return [_duplicate_hits(s, rule_id, column, (column,), dup, group)]


def par_002(s: TableState) -> list[Hits]:
    return _unique_id(s, "PAR-002", "participant_id")


def qst_003(s: TableState) -> list[Hits]:
    visit = pc.index_in(s.text["visit"], value_set=pa.array(list(VISITS)))
    vcode = visit.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    assert s.pgroup is not None
    key = key_codes(s.pgroup, vcode)
    dup = duplicated_keys(key)
    return [_duplicate_hits(s, "QST-003", "visit", ("participant_id", "visit"), dup, key)]


def qst_005(s: TableState) -> list[Hits]:
    answered = np.zeros(len(s.df), dtype=bool)
    for col in s.item_columns:
        arr = s.text[col]
        if arr.null_count < len(arr):
            answered |= ~null_mask(arr)
    missing = answered & s.df["completion_date"].isna().to_numpy()
    return [Hits("QST-005", s.name, _positions(missing), "completion_date")]


def adm_003(s: TableState) -> list[Hits]:
    return _unique_id(s, "ADM-003", "admission_id")


def adm_008(s: TableState) -> list[Hits]:
    """Overlapping admissions of one participant: the later one and the one it overlaps."""
    df = s.df
    assert s.pgroup is not None
    ok = ~s.quarantine & (s.pgroup >= 0) & df["admission_date"].notna().to_numpy()
    sub = np.flatnonzero(ok)
    if len(sub) < 2:
        return []
    codes = s.pgroup[sub]
    start = _days(df["admission_date"])[sub]
    disch = df["discharge_date"]
    end = _days(disch)[sub]
    open_ = disch.isna().to_numpy()[sub]
    end = np.where(open_, _OPEN, end)
    # one int64 sort key (participant, admission day, discharge day); stable sort is fast
    # on the usual, already sorted, extract
    key = (codes << 40) | ((start + (1 << 19)) << 20) | np.minimum(end + (1 << 19), (1 << 20) - 1)
    if (key[1:] >= key[:-1]).all():  # the usual extract is sorted already
        c, a, e, p = codes, start, end, sub
    else:
        order = np.argsort(key, kind="stable")
        c, a, e, p = codes[order], start[order], end[order], sub[order]
    # group-wise running maximum of the discharge day: lift each group above the previous
    # one (days lie in 1900..2100, i.e. well inside +-2**20), accumulate, lower again
    lift = c << 22
    run = np.maximum.accumulate(lift + (e + (1 << 20))) - lift - (1 << 20)
    idx = np.arange(len(c))
    holder = np.maximum.accumulate(np.where(e == run, idx, -1))
    same = np.zeros(len(c), dtype=bool)
    same[1:] = c[1:] == c[:-1]
    prev_run = np.empty_like(run)
    prev_run[1:] = run[:-1]
    prev_run[0] = 0
    later = same & (a < prev_run)
    later_i = np.flatnonzero(later)
    if len(later_i) == 0:
        return []
    earlier_i = holder[later_i - 1]
    aid = df["admission_id"].to_numpy(dtype=object)
    later_pos, earlier_pos = p[later_i], p[earlier_i]
    d_later = pd.Series(
        "overlaps admission " + aid[earlier_pos].astype(str) + " (line "
        + s.lines[earlier_pos].astype(str) + ")"
    )
    d_earlier = pd.Series(
        "overlaps admission " + aid[later_pos].astype(str) + " (line "
        + s.lines[later_pos].astype(str) + ")"
    )
    pos = np.concatenate([later_pos, earlier_pos])
    detail = pd.concat([d_later, d_earlier], ignore_index=True)
    # an admission overlapped by several later ones is listed once per overlap: keep one
    keep = ~pd.Series(pos).duplicated().to_numpy()
    return [Hits("ADM-008", s.name, pos[keep], "admission_date", detail[keep].reset_index(drop=True))]


def pct_006(s: TableState) -> list[Hits]:
    date = s.df["contact_date"]
    day = np.where(date.isna().to_numpy(), -1, _days(date) + (1 << 19))
    assert s.pgroup is not None
    dup = duplicated_keys(s.pgroup, day)  # (participant, date) unique: no duplicate contact
    if not dup.any():
        return [Hits("PCT-006", s.name, _positions(dup), "contact_date")]
    key = key_codes(s.pgroup, day, codes_of(s.text["peer_worker_id"]))
    dup &= duplicated_keys(key)
    return [_duplicate_hits(s, "PCT-006", "contact_date", ("participant_id", "contact_date", "peer_worker_id"),
                            dup, key)]


def after_data_cut(s: TableState, rule_id: str) -> list[Hits]:
    """Dates of the rule's columns that lie after the data cut (one finding per cell)."""
    if s.data_cut is None:
        return []
    cut = str(s.data_cut.astype("datetime64[D]"))
    out = []
    for col in _RULE_COLUMNS[rule_id]:
        if col not in s.df:
            continue
        own = s.df[col].to_numpy(dtype="datetime64[s]")
        pos = _positions(own > s.data_cut)  # NaT compares False
        if len(pos):
            out.append(Hits(rule_id, s.name, pos, col, pd.Series([f"data cut {cut}"] * len(pos))))
    return out


_RULE_COLUMNS = {r.rule_id: r.columns for r in TABLE_RULES}


TABLE_CHECKS: dict[str, Callable[[TableState], list[Hits]]] = {
    "PAR-002": par_002,
    "QST-003": qst_003,
    "QST-005": qst_005,
    "ADM-003": adm_003,
    "ADM-008": adm_008,
    "PCT-006": pct_006,
    **{rid: partial(after_data_cut, rule_id=rid) for rid in AFTER_DATA_CUT},
}
"""Run in this order; quarantine decisions of earlier checks are visible to later ones."""

TABLE_OF_CHECK = {"PAR": "participants", "QST": "questionnaires", "ADM": "admissions", "PCT": "peer_contacts"}


# --------------------------------------------------------------------------------------
# cross-table rules
# --------------------------------------------------------------------------------------


@dataclass
class CrossContext:
    """What cross-table rules look at: the usable participants and the child tables."""

    participants: pd.DataFrame  # usable participant rows (unique participant_id), cells masked
    used_pos: np.ndarray  # participants.csv row -> row of ``participants`` (-1: quarantined)
    malformed_ids: pa.Array  # participant ids recovered from malformed participants rows
    children: dict[str, TableState]
    control_arm: str

    def lookup(self, state: TableState) -> np.ndarray:
        """Row of each child row's participant among usable participants (-1: none)."""
        code = state.pcode
        assert code is not None
        out = np.full(len(code), -1, dtype=np.int64)
        known = code >= 0
        out[known] = self.used_pos[code[known]]
        return out


def xtb_001_002(ctx: CrossContext) -> list[Hits]:
    out = []
    for name, s in ctx.children.items():
        present = ~s.text["participant_id"].is_null().to_numpy(zero_copy_only=False)
        assert s.pcode is not None
        in_file = s.pcode >= 0
        cascaded = in_file & (ctx.lookup(s) < 0)
        unknown = present & ~in_file
        if unknown.any() and len(ctx.malformed_ids):
            again = pc.is_in(s.text["participant_id"], value_set=ctx.malformed_ids)
            again = again.fill_null(False).to_numpy(zero_copy_only=False) & unknown
            cascaded |= again
            unknown &= ~again
        out.append(Hits("XTB-001", name, _positions(unknown), "participant_id"))
        out.append(Hits("XTB-002", name, _positions(cascaded), "participant_id"))
    return out


def _after(ctx: CrossContext, rule_id: str, table: str, column: str, ref: str) -> list[Hits]:
    s = ctx.children.get(table)
    if s is None or len(s.df) == 0:
        return []
    ref_dates = ctx.participants[ref]
    if not ref_dates.notna().any():
        return []
    idx = ctx.lookup(s)
    known = idx >= 0
    ref_v = np.full(len(idx), np.datetime64("NaT"), dtype="datetime64[s]")
    ref_v[known] = ref_dates.to_numpy(dtype="datetime64[s]")[idx[known]]
    own = s.df[column].to_numpy(dtype="datetime64[s]")
    hit = known & (own > ref_v)  # NaT compares False
    pos = _positions(hit)
    detail = pd.Series(f"{ref} " + pd.Series(ref_v[pos]).dt.strftime("%Y-%m-%d").to_numpy(dtype=object))
    return [Hits(rule_id, table, pos, column, detail)]


def xtb_003(ctx: CrossContext) -> list[Hits]:
    return _after(ctx, "XTB-003", "questionnaires", "completion_date", "death_date")


def xtb_004(ctx: CrossContext) -> list[Hits]:
    return _after(ctx, "XTB-004", "questionnaires", "completion_date", "withdrawal_date")


def xtb_005(ctx: CrossContext) -> list[Hits]:
    return _after(ctx, "XTB-005", "admissions", "admission_date", "death_date")


def xtb_006(ctx: CrossContext) -> list[Hits]:
    return _after(ctx, "XTB-006", "peer_contacts", "contact_date", "death_date")


def xtb_007(ctx: CrossContext) -> list[Hits]:
    s = ctx.children.get("peer_contacts")
    if s is None or len(s.df) == 0:
        return []
    idx = ctx.lookup(s)
    arm = ctx.participants["arm"].to_numpy(dtype=object)
    known = idx >= 0
    hit = np.zeros(len(idx), dtype=bool)
    hit[known] = arm[idx[known]] == ctx.control_arm
    hit &= ~s.quarantine
    return [Hits("XTB-007", "peer_contacts", _positions(hit), "participant_id")]


CROSS_TABLE_CHECKS: dict[str, Callable[[CrossContext], list[Hits]]] = {
    "XTB-001": xtb_001_002,
    "XTB-003": xtb_003,
    "XTB-004": xtb_004,
    "XTB-005": xtb_005,
    "XTB-006": xtb_006,
    "XTB-007": xtb_007,
}
"""XTB-001 also reports XTB-002 (one pass over the participant lookup)."""
