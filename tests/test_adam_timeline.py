"""The vectorised time lines (outcomes.adam.timeline) equal a per-participant transcription
of the rules of docs/adam.md ("Admissions") on an awkward extract: admissions before,
across and on the index discharge, open admissions, overlapping, back-to-back and
same-day admissions, ties broken by admission_id, deaths, withdrawals, a data cut, and
admissions of participants not in ADSL.

The reference below is the per-participant code the derivation used before issue 17
(loops over each participant's sorted admissions), kept here as the oracle.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from outcomes.adam import derive_adsl
from outcomes.adam._inputs import admissions_table
from outcomes.adam.timeline import counting_process, participant_timelines
from outcomes.plan import AnalysisPlan

INF = math.inf


# --- the reference: one participant at a time ----------------------------------------------


@dataclass(frozen=True)
class Admission:
    start: int
    end: float
    detained: bool
    admission_id: str


@dataclass
class Spell:
    start: int
    end: float
    detained: bool
    admission_ids: list[str] = field(default_factory=list)


def build_timeline(admissions: list[Admission], fu_end: int) -> tuple[float, list[Spell]]:
    adms = sorted(admissions, key=lambda a: (a.start, a.end, a.admission_id))
    adms = [a for a in adms if a.end >= 0]
    pre = [a for a in adms if a.start < 0]
    rest = [a for a in adms if a.start >= 0]
    at_risk_from = 0.0
    if pre:
        at_risk_from = max(a.end for a in pre)
        if at_risk_from > 0:
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
    return at_risk_from, [s for s in spells if s.start <= fu_end]


def reference_counting_process(at_risk_from: float, spells: list[Spell], fu_end: int):
    fu = float(max(fu_end, 0))
    cursor = min(at_risk_from, fu)
    rows = []
    for spell in spells:
        t_event = float(spell.start) if spell.start > cursor else cursor + 0.5
        rows.append((cursor, t_event, 1, spell.admission_ids[0]))
        cursor = max(min(spell.end, fu), t_event)
    if cursor < fu:
        rows.append((cursor, fu, 0, ""))
    fu_days = max(fu, cursor)
    if not rows:
        rows.append((cursor, cursor, 0, ""))
    at_risk = sum(r[1] - r[0] for r in rows)
    return rows, (len(spells), at_risk, fu_days - at_risk, fu_days)


# --- the awkward extract -------------------------------------------------------------------

INDEX = dt.date(2024, 3, 1)
PLAN = AnalysisPlan(followup_days=365, data_cut=dt.date(2025, 1, 31))


def _day(d: int) -> str:
    return (INDEX + dt.timedelta(days=int(d))).isoformat()


def awkward_extract(n: int = 1000, seed: int = 20261130):
    rng = np.random.default_rng(seed)
    people, adm = [], []
    for i in range(n):
        pid = f"P{i:05d}"
        index = int(rng.choice([0, 0, 0, 200]))  # some discharged later: the data cut bites
        people.append({
            "participant_id": pid, "site": "S1", "arm": "peer_support",
            "randomisation_date": _day(index - 10), "index_discharge_date": _day(index),
            "age": 30, "sex": "female", "diagnosis_group": "psychosis",
            "prior_admissions": 0, "detained_at_index": "false",
            "withdrawal_date": _day(index + rng.integers(-3, 400)) if rng.random() < .15 else "",
            "death_date": _day(index + rng.integers(-3, 400)) if rng.random() < .15 else "",
        })
        for k in range(int(rng.integers(0, 7))):
            start = index + int(rng.choice([-30, -5, -1, 0, 0, 0, 1, 2, 10, 11, 30, 200, 364,
                                             365, 366]))
            length = None if rng.random() < 0.1 else int(rng.choice([0, 0, 1, 1, 2, 5, 9, 30]))
            # ids whose order differs from the order of k: ties are broken by admission_id
            adm.append((pid, f"{pid}-{'ba'[k % 2]}{9 - k}", _day(start),
                        "" if length is None else _day(start + length),
                        "detained" if rng.random() < 0.3 else "informal"))
    adm.append(("NOT-IN-ADSL", "X1", _day(3), _day(5), "informal"))
    participants = pd.DataFrame(people)
    admissions = pd.DataFrame(adm, columns=["participant_id", "admission_id", "admission_date",
                                            "discharge_date", "legal_status"])
    return participants, admissions


def test_vectorised_time_lines_equal_the_per_participant_reference():
    participants, raw = awkward_extract()
    adsl = derive_adsl(participants, None, PLAN)
    adm = admissions_table(raw)
    tl = participant_timelines(adsl, adm)
    cp = counting_process(tl)
    assert list(tl.ids) == list(adsl["USUBJID"])
    index = dict(zip(adsl["USUBJID"], adsl["INDEXDT"], strict=True))
    by_pid: dict[str, list[Admission]] = {pid: [] for pid in index}
    for pid, s, e, legal, aid in adm[["participant_id", "admission_date", "discharge_date",
                                      "legal_status", "admission_id"]].itertuples(index=False):
        if pid in index:
            by_pid[pid].append(Admission((s - index[pid]).days,
                                         INF if pd.isna(e) else float((e - index[pid]).days),
                                         legal == "detained", aid))
    first, first_det = tl.first_start(), tl.first_start(detained=True)
    seen = {"pre": 0, "day0": 0, "merged": 0, "open": 0, "half": 0, "tail": 0, "empty": 0}
    for r, pid in enumerate(tl.ids):
        fu_end = int(tl.fu_end[r])
        arf, spells = build_timeline(by_pid[pid], fu_end)
        assert tl.at_risk_from[r] == arf, pid
        mine = np.flatnonzero(tl.row == r)
        assert [(s.start, s.end, s.detained, s.admission_ids[0]) for s in spells] == [
            (int(tl.start[k]), float(tl.end[k]), bool(tl.detained[k]), tl.admission_id[k])
            for k in mine], pid
        assert first[r] == (spells[0].start if spells else -1)
        det = [s for s in spells if s.detained]
        assert first_det[r] == (det[0].start if det else -1)
        rows, totals = reference_counting_process(arf, spells, fu_end)
        ivs = np.flatnonzero(cp.row == r)
        assert rows == [(float(cp.tstart[k]), float(cp.tstop[k]), int(cp.event[k]),
                         cp.admission_id[k]) for k in ivs], pid
        assert list(cp.intnum[ivs]) == list(range(1, len(ivs) + 1))
        assert totals == (cp.nreadm[r], cp.days_at_risk[r], cp.bed_days[r], cp.fu_days[r])
        seen["pre"] += any(a.start < 0 <= a.end for a in by_pid[pid])
        seen["day0"] += any(s.start == 0 for s in spells)
        seen["merged"] += any(len(s.admission_ids) > 1 for s in spells)
        seen["open"] += any(s.end == INF for s in spells)
        seen["half"] += any(b - a == 0.5 for a, b, *_ in rows)
        seen["tail"] += rows[-1][2] == 0 and rows[-1][1] > rows[-1][0]
        seen["empty"] += rows[-1][0] == rows[-1][1]
    # the extract exercises every branch of the rules
    assert min(seen.values()) >= 10, seen
