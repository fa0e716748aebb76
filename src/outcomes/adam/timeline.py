"""The participants' admissions on the follow-up time scale: the single source of ADTTE
readmission events and of ADRE's counting-process intervals (docs/adam.md, "Admissions").

Built once for all participants, with array operations over the admissions sorted by
participant (no per-participant Python loop: issue 17); tests/test_adam_timeline.py checks
it against a per-participant transcription of the rules below.

Time is whole days since INDEXDT (day 0 = index discharge). The rules:

1. Admissions discharged before day 0 are history and ignored.
2. An admission starting before day 0 and still running on day 0 (discharged on or after
   day 0, or open) is the *index admission* (or overlaps it): never a readmission. Its
   days after day 0 are days in hospital, so time at risk starts at its discharge.
   Admissions starting on or before that discharge (back to back or overlapping) continue
   the index spell, except that when the index discharge is exactly day 0 an admission
   starting on day 0 is a readmission on the index discharge day (day 0 is by definition
   a discharge to the community).
3. If no admission starts before day 0, the first admission (by admission_id) admitted
   and discharged on day 0 is the listed index admission itself.
4. The remaining admissions are merged into *inpatient spells*: an admission starting on
   or before the current spell's discharge (back to back: same day; or overlapping) joins
   the spell. Each spell is one readmission, dated by its first admission; it is detained
   if any of its admissions is. An open admission (no discharge date) runs to the end of
   follow-up.
5. A readmission counts when its spell starts on or before the end of follow-up (so a
   readmission on the day of death, withdrawal, the data cut or the last follow-up day
   counts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

HALF_DAY = 0.5


@dataclass(frozen=True)
class Timelines:
    """Every ADSL participant's time line; spells are sorted by participant, then start.

    ``row`` indexes ``ids`` (ADSL's order); days are since INDEXDT; an open spell ends at
    ``inf``.
    """

    ids: np.ndarray
    """USUBJID of each participant."""
    fu_end: np.ndarray
    """EOSDT - INDEXDT in days (may be negative)."""
    at_risk_from: np.ndarray
    """Day each participant is first out of hospital (index discharge; inf if never)."""
    row: np.ndarray
    start: np.ndarray
    end: np.ndarray
    detained: np.ndarray
    admission_id: np.ndarray
    """The readmission spells starting on or before the end of follow-up: participant,
    first day, last day, detained (any admission), id of the first admission."""

    def first_start(self, detained: bool = False) -> np.ndarray:
        """Start day of each participant's first (detained) readmission, -1 if none."""
        keep = self.detained if detained else np.ones(len(self.row), dtype=bool)
        out = np.full(len(self.ids), -1, dtype=np.int64)
        rows, first = np.unique(self.row[keep], return_index=True)
        out[rows] = self.start[keep][first]
        return out


def _group_starts(row: np.ndarray) -> np.ndarray:
    """True at the first element of each run of equal ``row`` (sorted)."""
    first = np.ones(len(row), dtype=bool)
    first[1:] = row[1:] != row[:-1]
    return first


def participant_timelines(adsl: pd.DataFrame, admissions: pd.DataFrame) -> Timelines:
    """Apply the module's rules to every ADSL participant at once.

    ``adsl`` is a derived ADSL; ``admissions`` the normalised admissions table. Admissions
    of participants not in ADSL are ignored.
    """
    ids = adsl["USUBJID"].to_numpy()
    index = adsl["INDEXDT"].to_numpy(dtype="datetime64[D]")
    fu_end = (adsl["EOSDT"].to_numpy(dtype="datetime64[D]") - index).astype(np.int64)
    n = len(ids)
    row = pd.Index(ids).get_indexer(admissions["participant_id"])
    known = row >= 0
    row = row[known]
    t0 = index[row]
    start = (admissions["admission_date"].to_numpy(dtype="datetime64[D]")[known] - t0)
    start = start.astype(np.int64)
    discharge = admissions["discharge_date"].to_numpy(dtype="datetime64[D]")[known]
    end = np.where(np.isnat(discharge), np.inf, (discharge - t0).astype(np.int64))
    detained = (admissions["legal_status"].to_numpy() == "detained")[known]
    aid = admissions["admission_id"].to_numpy()[known]
    # rule 1: history before day 0 is ignored
    keep = end >= 0
    row, start, end, detained, aid = row[keep], start[keep], end[keep], detained[keep], aid[keep]
    aid_rank = pd.factorize(pd.Series(aid, dtype="str"), sort=True)[0]
    order = np.lexsort((aid_rank, end, start, row))
    row, start, end, detained, aid = (row[order], start[order], end[order], detained[order],
                                      aid[order])
    first_of_row = _group_starts(row)
    pre = start < 0
    has_pre = np.zeros(n, dtype=bool)
    has_pre[row[pre]] = True
    # rule 3: without an earlier admission, the first admission admitted and discharged
    # on day 0 (the smallest admission_id of those; they sort first) is the index itself
    listed_index = first_of_row & ~has_pre[row] & (start == 0) & (end == 0)
    keep = ~listed_index
    row, start, end, detained, aid = row[keep], start[keep], end[keep], detained[keep], aid[keep]
    first_of_row = _group_starts(row)
    # rules 2 and 4: an admission starting on or before the discharge of everything
    # before it (in its participant's order) joins the current spell ...
    latest_end = pd.Series(end).groupby(row, sort=False).cummax().to_numpy()
    before = np.empty(len(end))
    before[1:] = latest_end[:-1]
    new = first_of_row | (start > before)
    # ... except that an index stay discharged exactly on day 0 never absorbs a day-0
    # admission: day 0 is a discharge to the community
    pre_end0 = np.zeros(n, dtype=bool)
    if pre.any():
        pre_max = pd.Series(end[start < 0]).groupby(row[start < 0]).max()
        pre_end0[pre_max.index.to_numpy()] = pre_max.to_numpy() == 0
    first_rest = (start >= 0) & (first_of_row | (np.r_[-1, start[:-1]] < 0))
    new |= first_rest & pre_end0[row]
    at = np.flatnonzero(new)
    s_row = row[at]
    s_start = start[at]
    s_end = np.maximum.reduceat(end, at) if len(at) else end[:0]
    s_det = np.logical_or.reduceat(detained, at) if len(at) else detained[:0]
    s_aid = aid[at]
    # the spell holding the admissions before day 0 is the index stay: time at risk starts
    # at its discharge; the other spells are readmissions
    index_spell = s_start < 0
    at_risk_from = np.zeros(n)
    at_risk_from[s_row[index_spell]] = s_end[index_spell]
    # rule 5: counted when starting on or before the end of follow-up
    counted = ~index_spell & (s_start <= fu_end[s_row])
    return Timelines(ids=ids, fu_end=fu_end, at_risk_from=at_risk_from, row=s_row[counted],
                     start=s_start[counted], end=s_end[counted], detained=s_det[counted],
                     admission_id=s_aid[counted])


@dataclass(frozen=True)
class CountingProcess:
    """ADRE's intervals (``row`` indexes the participants of the time lines, ``intnum``
    numbers a participant's intervals from 1) and each participant's totals."""

    row: np.ndarray
    intnum: np.ndarray
    tstart: np.ndarray
    tstop: np.ndarray
    event: np.ndarray
    admission_id: np.ndarray
    nreadm: np.ndarray
    days_at_risk: np.ndarray
    bed_days: np.ndarray
    fu_days: np.ndarray


def counting_process(tl: Timelines) -> CountingProcess:
    """At-risk intervals ``(TSTART, TSTOP]`` of Andersen–Gill form on days since INDEXDT.

    Days in hospital are gaps. A readmission on the day the participant became at risk
    (only possible on day 0, because back-to-back admissions are merged) would be a
    zero-length interval ending in an event, which a partial likelihood cannot use: it is
    placed half a day later, ``(0, 0.5]``, and the half day is taken from the stay that
    follows. Without any time at risk the participant gets one zero-length ``EVENT = 0``
    row so that every participant is present.
    """
    n = len(tl.ids)
    fu = np.maximum(tl.fu_end, 0).astype(float)
    cursor0 = np.minimum(tl.at_risk_from, fu)
    row = tl.row
    first = _group_starts(row)
    # Spells are disjoint and the later ones start after the earlier ones' discharge, so
    # only a participant's first spell can start on the day they became at risk.
    t_event = np.where(first & (tl.start <= cursor0[row]), cursor0[row] + HALF_DAY,
                       tl.start.astype(float))
    cursor = np.maximum(np.minimum(tl.end, fu[row]), t_event)
    tstart = np.where(first, cursor0[row], np.r_[0.0, cursor[:-1]])
    if (t_event <= tstart).any():
        raise AssertionError("readmission spells overlap the time at risk before them")
    last = cursor0.copy()
    if len(row):
        ends_row = np.r_[row[1:] != row[:-1], True]
        last[row[ends_row]] = cursor[ends_row]
    nreadm = np.bincount(row, minlength=n).astype(np.int64)
    tail = last < fu  # at risk after the last readmission to the end of follow-up
    empty = ~tail & (nreadm == 0)  # no time at risk at all: one zero-length row
    extra = np.flatnonzero(tail | empty)
    rows = np.r_[row, extra]
    tstarts = np.r_[tstart, last[extra]]
    tstops = np.r_[t_event, np.where(tail[extra], fu[extra], last[extra])]
    events = np.r_[np.ones(len(row), dtype=np.int64), np.zeros(len(extra), dtype=np.int64)]
    aids = np.r_[tl.admission_id.astype(object), np.full(len(extra), "", dtype=object)]
    order = np.argsort(rows, kind="stable")  # a participant's readmissions, then the tail
    rows, tstarts, tstops, events, aids = (rows[order], tstarts[order], tstops[order],
                                           events[order], aids[order])
    starts = _group_starts(rows)
    intnum = np.arange(len(rows)) - np.maximum.accumulate(np.where(starts, np.arange(len(rows)),
                                                                    0)) + 1
    at_risk = np.bincount(rows, weights=tstops - tstarts, minlength=n)
    fu_days = np.maximum(fu, last)
    return CountingProcess(row=rows, intnum=intnum.astype(np.int64), tstart=tstarts,
                           tstop=tstops, event=events, admission_id=aids, nreadm=nreadm,
                           days_at_risk=at_risk, bed_days=fu_days - at_risk, fu_days=fu_days)
