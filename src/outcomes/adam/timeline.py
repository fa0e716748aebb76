"""One participant's admissions on the follow-up time scale: the single source of ADTTE
readmission events and of ADRE's counting-process intervals (docs/adam.md, "Admissions").

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

import math
from dataclasses import dataclass, field

import pandas as pd

INF = math.inf


@dataclass(frozen=True)
class Admission:
    start: int  # days since INDEXDT
    end: float  # days since INDEXDT; inf when still open
    detained: bool
    admission_id: str


@dataclass
class Spell:
    start: int
    end: float
    detained: bool
    admission_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Timeline:
    at_risk_from: float
    """Day the participant is first out of hospital (index discharge; inf if never)."""
    readmissions: tuple[Spell, ...]
    """Readmission spells starting on or before the end of follow-up, in order."""


def build_timeline(admissions: list[Admission], fu_end: int) -> Timeline:
    """Apply the module's rules; ``fu_end`` is EOSDT - INDEXDT (may be negative)."""
    adms = sorted(admissions, key=lambda a: (a.start, a.end, a.admission_id))
    adms = [a for a in adms if a.end >= 0]  # history before day 0 is ignored
    pre = [a for a in adms if a.start < 0]
    rest = [a for a in adms if a.start >= 0]
    at_risk_from = 0.0
    if pre:
        at_risk_from = max(a.end for a in pre)
        if at_risk_from > 0:
            # Back-to-back or overlapping admissions continue an index stay that ran past day 0.
            kept = []
            for a in rest:
                if a.start <= at_risk_from:
                    at_risk_from = max(at_risk_from, a.end)
                else:
                    kept.append(a)
            rest = kept
    else:
        same_day = [a for a in rest if a.start == 0 and a.end == 0]
        if same_day:
            index = min(same_day, key=lambda a: a.admission_id)
            rest = [a for a in rest if a is not index]
    spells: list[Spell] = []
    for a in rest:
        if spells and a.start <= spells[-1].end:
            last = spells[-1]
            last.end = max(last.end, a.end)
            last.detained = last.detained or a.detained
            last.admission_ids.append(a.admission_id)
        else:
            spells.append(Spell(a.start, a.end, a.detained, [a.admission_id]))
    counted = tuple(s for s in spells if s.start <= fu_end)
    return Timeline(at_risk_from=at_risk_from, readmissions=counted)


@dataclass(frozen=True)
class Interval:
    tstart: float
    tstop: float
    event: int
    admission_id: str


@dataclass(frozen=True)
class RecurrentSummary:
    intervals: tuple[Interval, ...]
    nreadm: int
    days_at_risk: float
    bed_days: float
    fu_days: float


HALF_DAY = 0.5


def counting_process(timeline: Timeline, fu_end: int) -> RecurrentSummary:
    """At-risk intervals ``(TSTART, TSTOP]`` of Andersen–Gill form on days since INDEXDT.

    Days in hospital are gaps. A readmission on the day the participant became at risk
    (only possible on day 0, because back-to-back admissions are merged) would be a
    zero-length interval ending in an event, which a partial likelihood cannot use: it is
    placed half a day later, ``(0, 0.5]``, and the half day is taken from the stay that
    follows. Without any time at risk the participant gets one zero-length ``EVENT = 0``
    row so that every participant is present.
    """
    fu = float(max(fu_end, 0))
    cursor = min(timeline.at_risk_from, fu)
    rows: list[Interval] = []
    for spell in timeline.readmissions:
        t_event = float(spell.start) if spell.start > cursor else cursor + HALF_DAY
        rows.append(Interval(cursor, t_event, 1, spell.admission_ids[0]))
        cursor = max(min(spell.end, fu), t_event)
    if cursor < fu:
        rows.append(Interval(cursor, fu, 0, ""))
    fu_days = max(fu, cursor)
    if not rows:
        rows.append(Interval(cursor, cursor, 0, ""))
    at_risk = sum(r.tstop - r.tstart for r in rows)
    return RecurrentSummary(
        intervals=tuple(rows),
        nreadm=len(timeline.readmissions),
        days_at_risk=at_risk,
        bed_days=fu_days - at_risk,
        fu_days=fu_days,
    )


def participant_timelines(
    adsl: pd.DataFrame, admissions: pd.DataFrame
) -> dict[str, tuple[Timeline, int]]:
    """``{USUBJID: (timeline, EOSDT - INDEXDT)}`` for every ADSL participant.

    ``adsl`` is a derived ADSL; ``admissions`` the normalised admissions table. Admissions
    of participants not in ADSL are ignored.
    """
    index = dict(zip(adsl["USUBJID"], adsl["INDEXDT"], strict=True))
    fu_end = dict(
        zip(adsl["USUBJID"], (adsl["EOSDT"] - adsl["INDEXDT"]).dt.days.astype(int), strict=True)
    )
    by_pid: dict[str, list[Admission]] = {pid: [] for pid in index}
    adm = admissions.loc[admissions["participant_id"].isin(index)]
    for pid, start, end, legal, aid in zip(
        adm["participant_id"],
        adm["admission_date"],
        adm["discharge_date"],
        adm["legal_status"],
        adm["admission_id"],
        strict=True,
    ):
        t0 = index[pid]
        s = (start - t0).days
        e = INF if pd.isna(end) else float((end - t0).days)
        by_pid[pid].append(Admission(s, e, legal == "detained", aid))
    return {pid: (build_timeline(a, fu_end[pid]), fu_end[pid]) for pid, a in by_pid.items()}
