"""One simulated trial: design, outcomes under the randomised arm, follow-up and delivery.

The structural outcomes come from :class:`outcomes.simulate.model.Model` evaluated at the
randomised arm. This module adds what only the trial has: calendar dates, permuted-block
randomisation, the recurrent admission history until the data cut, deaths, withdrawals,
questionnaire visits with dropout and item non-response, and peer-support contacts. It
returns the four tables of docs/data-contract.md as rows of already formatted strings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np

from outcomes import contract
from outcomes.instruments import Instrument
from outcomes.simulate.engagement import contact_days, draw_engagement, exposure, trial_record
from outcomes.simulate.missingness import (
    MNAR_INSTRUMENT,
    VISIT_KEYS,
    delta_by_person,
    missed_logit,
    mnar_scores,
    month4_z,
    readmitted_before,
)
from outcomes.simulate.model import DIAGNOSIS_PSYCHOSIS, Model, Units, draw_confounder, draw_units
from outcomes.simulate.parameters import (
    CONTROL,
    DATA_CUT,
    MISSINGNESS,
    RECRUITMENT_END,
    RECRUITMENT_START,
    TREATED,
    ConfounderSpec,
    EngagementSpec,
    MissingnessSpec,
    Parameters,
)
from outcomes.simulate.peer_workers import PeerWorkers, assign_workers

_EPOCH = dt.date(1970, 1, 1)
NO_DAY = np.iinfo(np.int64).max  # "never" for death / withdrawal day numbers


def day_number(d: dt.date) -> int:
    """Days since 1970-01-01 (the integer behind numpy's datetime64[D])."""
    return (d - _EPOCH).days


def iso(days: np.ndarray) -> np.ndarray:
    """ISO 8601 strings of day numbers."""
    return np.datetime_as_string(np.asarray(days, dtype=np.int64).astype("datetime64[D]"), unit="D")


@dataclass
class Table:
    """A table of the extract: contract column order and rows of formatted strings."""

    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]  # the formatted cells of each row

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.rows, columns=list(self.columns), dtype=object)


def _weekdays(start: int, end: int) -> np.ndarray:
    days = np.arange(start, end + 1)
    return days[(days + 3) % 7 < 5]  # 1970-01-01 was a Thursday (weekday 3)


def permuted_blocks(rng: np.random.Generator, n: int) -> np.ndarray:
    """Allocation sequence (1 = peer support) of n people: blocks of 2 and 4 in random order."""
    seq: list[int] = []
    while len(seq) < n:
        size = int(rng.choice([2, 4]))
        block = np.array([1] * (size // 2) + [0] * (size // 2))
        rng.shuffle(block)
        seq.extend(int(x) for x in block)
    return np.asarray(seq[:n], dtype=np.int64)


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def simulate_trial(
    n: int, rng: np.random.Generator, params: Parameters, registry: dict[str, Instrument],
    spec: MissingnessSpec | None = None, workers: PeerWorkers | None = None,
    r_assign: np.random.Generator | None = None,
    engagement: tuple[EngagementSpec, np.random.Generator] | None = None,
    confounder: tuple[ConfounderSpec, np.random.Generator] | None = None,
) -> tuple[dict[str, Table], dict]:
    """Simulate a trial of ``n`` randomised participants under missingness scenario ``spec``
    (default: ``MISSINGNESS["default"]``); returns the four tables of docs/data-contract.md
    and the scenario's realised record (missing rates by visit and arm; with ``workers``,
    ``main_worker``: each participant's main worker index, -1 if none).

    With ``workers`` (``icc > 0``) engagement and the main worker are drawn from
    ``r_assign`` before the outcomes, the participant carries that worker's effects and
    the contacts show that worker; without, both come from the contacts stream after the
    outcomes, as they always have (no worker effect).

    With ``engagement`` (selective engagement, §10b: its spec and stream) everyone's
    compliance type and dose are drawn before the outcomes; treated compliers' contact days
    are planned then, and the dose the outcomes use is the number of them before death,
    withdrawal and the cut (the contacts written). The record gets ``engagement``."""
    spec = MISSINGNESS["default"] if spec is None else spec
    r_design, r_units, r_events, r_follow, r_contacts = rng.spawn(5)
    model = Model(params, registry)
    u = draw_units(r_units, n, params, model.keys)
    cov = params.covariates
    cut = day_number(DATA_CUT)

    # --- design: recruitment dates, randomisation, index admission --------------------
    rand_day = np.sort(
        r_design.choice(_weekdays(day_number(RECRUITMENT_START), day_number(RECRUITMENT_END)), size=n)
    )
    arm = np.zeros(n, dtype=np.int64)
    for s in range(len(params.sites)):
        idx = np.flatnonzero(u.site == s)
        arm[idx] = permuted_blocks(r_design, idx.size)
    pre = np.clip(
        np.rint(r_design.lognormal(np.log(cov.pre_randomisation_median_days), 0.7, size=n)), 0, 180
    ).astype(np.int64)
    post = np.rint(60 * r_design.beta(*cov.discharge_beta, size=n)).astype(np.int64)
    index_adm = rand_day - pre
    discharge = rand_day + post

    # --- death and withdrawals (no outcome needed: drawn here so that the dose of §10b
    # can stop at them; the same draws as ever) ------------------------------------------------
    death_day = discharge + np.ceil(model.death_days(u)).astype(np.int64)
    death_day = np.where(death_day <= cut, death_day, NO_DAY)
    fu = params.followup
    wd_day = rand_day + 1 + np.floor(r_follow.random(n) * fu.withdrawal_max_days).astype(np.int64)
    withdrawn = (r_follow.random(n) < fu.withdrawal_prob) & (wd_day <= cut) & (wd_day < death_day)
    wd_day = np.where(withdrawn, wd_day, NO_DAY)
    keep_after_wd = r_follow.random(n) < fu.keep_admissions_after_withdrawal
    index_listed = r_follow.random(n) < fu.index_admission_listed

    # --- selective engagement: compliance type, dose and contact days, before any outcome ----
    eng = planned_days = received = None
    if engagement is not None:
        e_spec, r_eng = engagement
        eng = draw_engagement(r_eng, e_spec, params, u)
        planned_days = contact_days(r_eng, e_spec, rand_day, discharge, eng.dose,
                                    np.flatnonzero(eng.complier & (arm == 1)))
        received = np.zeros(n, dtype=np.int64)
        for i, days in planned_days.items():
            received[i] = int(((days < death_day[i]) & (days < wd_day[i]) & (days <= cut)).sum())
        u.exposure = exposure(e_spec, np.where(arm == 1, received, eng.dose))

    # --- engagement as an exposure-induced confounder (§10c), before any outcome ------------
    if confounder is not None:
        draw_confounder(u, *confounder)

    # --- peer workers (partially nested design), before any outcome -------------------
    assigned = None
    if workers is not None:
        assert r_assign is not None  # given with workers
        engaged, main = assign_workers(r_assign, workers, u.site, arm, params.contacts.no_contact_prob,
                                       complier=None if eng is None else eng.complier)
        u.worker_effect = workers.person_effects(main)
        first_of_site = np.concatenate([[0], np.cumsum(params.peer_workers)[:-1]])
        assigned = (engaged, np.where(main >= 0, main - first_of_site[u.site], -1))

    # --- structural outcomes under the randomised arm -----------------------------------
    t = arm.astype(float)
    base = model.baseline(u, keep_items=True)
    m4 = model.month4(u, base, t, keep_items=True)
    m12 = model.month12(u, base, m4, t, keep_items=True)
    lp = model.readmission_lp(u, t, model.mediator_scores(m4))
    scale = model.hazard_scale(u, lp)
    first_gap = model.gap_days(scale, u.u_readmit)

    # --- admissions -------------------------------------------------------------------------
    admissions, first_readmission = _admissions(
        model, u, r_events, scale, first_gap, index_adm, discharge, death_day, wd_day,
        keep_after_wd, index_listed, cut,
    )

    # --- questionnaires ---------------------------------------------------------------------
    questionnaires, missing_record = _questionnaires(
        model, u, r_follow, arm, rand_day, pre, discharge, death_day, wd_day, first_readmission,
        base, m4, m12, cut, spec,
    )

    # --- peer contacts ----------------------------------------------------------------------
    contacts = _contacts(params, u, r_contacts, arm, rand_day, discharge, death_day, wd_day, cut, assigned,
                         planned_days)
    if workers is not None:
        missing_record["main_worker"] = main

    # --- participants -----------------------------------------------------------------------
    width = max(4, len(str(n)))
    pid = [f"P{i + 1:0{width}d}" for i in range(n)]
    if eng is not None:
        assert received is not None  # set with eng
        missing_record["engagement"] = trial_record(eng, arm, received, pid)
    rand_s, dis_s = iso(rand_day), iso(discharge)
    wd_s = np.where(withdrawn, iso(np.where(withdrawn, wd_day, 0)), "")
    dead = death_day != NO_DAY
    death_s = np.where(dead, iso(np.where(dead, death_day, 0)), "")
    participants = [
        (
            pid[i], params.sites[u.site[i]], contract.ARMS[0] if arm[i] == 1 else contract.ARMS[1],
            str(rand_s[i]), str(dis_s[i]), str(int(u.age[i])), contract.SEX_CODES[u.sex[i]],
            contract.DIAGNOSIS_GROUPS[u.diagnosis[i]], str(int(u.prior[i])),
            "true" if u.detained[i] else "false", str(wd_s[i]), str(death_s[i]),
        )
        for i in range(n)
    ]

    adm_width = max(6, len(str(len(admissions))))
    adm_rows = [
        (pid[i], f"A{k + 1:0{adm_width}d}", a, d, legal)
        for k, (i, a, d, legal) in enumerate(admissions)
    ]
    q_rows = [(pid[i], *rest) for i, *rest in questionnaires]
    c_rows = [(pid[i], *rest) for i, *rest in contacts]
    return {
        "participants": Table(contract.PARTICIPANT_COLUMNS, participants),
        "questionnaires": Table(_questionnaire_columns(model, registry), q_rows),
        "admissions": Table(contract.ADMISSION_COLUMNS, adm_rows),
        "peer_contacts": Table(contract.PEER_CONTACT_COLUMNS, c_rows),
    }, missing_record


def _questionnaire_columns(model: Model, registry: dict[str, Instrument]) -> tuple[str, ...]:
    cols = list(contract.QUESTIONNAIRE_KEY_COLUMNS)
    for key in model.keys:
        cols.extend(registry[key].item_columns())
    return tuple(cols)


def _admissions(model, u: Units, rng, scale, first_gap, index_adm, discharge, death_day, wd_day,
                keep_after_wd, index_listed, cut):
    """Index admission plus recurrent readmissions until death or the data cut.

    Returns rows ``(participant index, admission_date, discharge_date or "", legal_status)``
    sorted by participant and date, and the day number of each participant's first
    readmission in the routine data (``NO_DAY`` if none).
    """
    spec = model.params.readmission
    n = u.n
    b0, b_det, b_psy = spec.detained_logit
    p_det = _logistic(b0 + b_det * u.detained + b_psy * (u.diagnosis == DIAGNOSIS_PSYCHOSIS))
    rows: list[tuple[int, int, int | None, str]] = []
    first = np.full(n, NO_DAY, dtype=np.int64)
    for i in range(n):
        if index_listed[i]:
            rows.append((i, int(index_adm[i]), int(discharge[i]), "detained" if u.detained[i] else "informal"))
        end = min(int(death_day[i]), cut)
        prev = int(discharge[i])
        gap = float(first_gap[i])
        while True:
            start = prev + int(np.ceil(gap))
            if start > end:
                break
            detained = bool(rng.random() < p_det[i])
            median = spec.los_median_days * (spec.los_detained_ratio if detained else 1.0)
            los = max(1, round(float(np.exp(np.log(median) + spec.los_sigma * rng.normal()))))
            stop = start + los
            died = death_day[i] <= stop
            if died:
                stop = int(death_day[i])
            if first[i] == NO_DAY:
                first[i] = start
            if start <= wd_day[i] or keep_after_wd[i]:
                rows.append((i, start, stop if stop <= cut else None, "detained" if detained else "informal"))
            if died or stop > cut:
                break
            prev = stop
            gap = float(model.gap_days(scale[i], rng.random()))
    if not rows:
        return [], first
    adm_s = iso(np.array([r[1] for r in rows]))
    dis_s = iso(np.array([r[1] if r[2] is None else r[2] for r in rows]))
    out = [
        (i, str(adm_s[k]), "" if d is None else str(dis_s[k]), legal)
        for k, (i, _a, d, legal) in enumerate(rows)
    ]
    return out, first


def _questionnaires(model: Model, u: Units, rng, arm, rand_day, pre, discharge, death_day, wd_day,
                    first_readmission, base, m4, m12, cut, spec: MissingnessSpec):
    """Questionnaire rows (participant index, visit, date, items...) and the scenario's
    record (realised missing rates; for MNAR the shifted month-12 WEMWBS)."""
    fu = model.params.followup
    n = u.n
    baseline_day = rand_day - rng.integers(0, np.minimum(pre, 3) + 1)
    planned = []
    for k in range(2):
        lo, hi = fu.visit_window[k]
        shift = np.clip(np.rint(rng.normal(0.0, fu.visit_sd_days[k], size=n)), lo, hi).astype(np.int64)
        planned.append(discharge + fu.visit_target_days[k] + shift)
    # the dropout draws, in their historical order; every scenario uses the same uniforms
    u_missed, u_empty = [], []
    for _k in range(2):
        u_missed.append(rng.random(n))
        u_empty.append(rng.random(n))
    days = [baseline_day, *planned]
    visits = [base, m4, m12]
    keys = model.keys
    # item matrices with NaN for items left blank (patchy instruments)
    mats: list[dict[str, np.ndarray]] = []
    for v in range(3):
        mats.append({})
        for key in keys:
            items = visits[v].items[key].astype(float)
            p = items.shape[1]
            prob = fu.patchy_prob.get(key, fu.patchy_prob_default)
            patchy = rng.random(n) < prob
            blank = (rng.random((n, p)) < fu.patchy_item_prob) & patchy[:, None]
            forced = rng.integers(0, p, size=n)
            none = patchy & ~blank.any(axis=1)
            blank[np.flatnonzero(none), forced[none]] = True
            items[blank] = np.nan
            mats[v][key] = items
    blocks = [np.concatenate([mats[v][key] for key in keys], axis=1) for v in range(3)]

    def wemwbs(v: int, source: str) -> np.ndarray:
        if MNAR_INSTRUMENT not in keys:
            return np.full(n, 38.0)
        if source == "complete":
            return visits[v].scores[model.primary[MNAR_INSTRUMENT]]
        return model.primary_score(MNAR_INSTRUMENT, mats[v][MNAR_INSTRUMENT])

    w0 = wemwbs(0, spec.scores)
    completed = [np.ones(n, dtype=bool)]
    empty_row = [np.zeros(n, dtype=bool)]
    w_obs = [wemwbs(0, "observed")]
    for k in range(2):
        day = planned[k]
        in_study = (day < death_day) & (day < wd_day) & (day <= cut)
        readm = readmitted_before(spec, first_readmission, day, discharge + fu.visit_target_days[k])
        m4_missing = z4 = None
        if k == 1:
            m4_missing = ~completed[1] if spec.scores == "complete" else np.isnan(w_obs[1])
            observed4 = {model.primary[key]: model.primary_score(key, mats[1][key]) for key in spec.month4_z}
            z4 = month4_z(model, spec, observed4, completed[1])
        logit = missed_logit(spec, k, age=u.age, prior=u.prior, arm=arm, w0=w0, readmitted=readm,
                             m4_missing=m4_missing, z4=z4)
        missed = u_missed[k] < _logistic(logit)
        completed.append(in_study & ~missed)
        empty_row.append(in_study & missed & (u_empty[k] < fu.empty_row_prob))
        w_obs.append(np.where(completed[-1], wemwbs(k + 1, "observed"), np.nan))
    record = _realised(spec, arm, planned, death_day, wd_day, completed, w_obs)
    if any(spec.mnar_delta) and MNAR_INSTRUMENT in keys:
        # the shifted values are never written (the questionnaire is missing): they are the
        # full data the truth of this scenario refers to, recorded as realised shifts
        who = (planned[1] < death_day) & ~completed[2]
        shifted = mnar_scores(model, u, m12.latent[MNAR_INSTRUMENT], who, delta_by_person(spec, arm))
        paramcd = model.primary[MNAR_INSTRUMENT]
        diff = shifted[paramcd] - m12.scores[paramcd]
        record["mnar_trial"] = {
            label: {"shifted": int((who & (arm == a)).sum()),
                    "mean_score_shift": float(diff[who & (arm == a)].mean()) if (who & (arm == a)).any() else 0.0}
            for label, a in ((TREATED, 1), (CONTROL, 0))
        }
    rows = []
    visit_codes = contract.VISITS
    date_str = [iso(d) for d in days]
    for i in range(n):
        for v in range(3):
            if completed[v][i]:
                vals = blocks[v][i]
                cells = ["" if np.isnan(x) else str(int(x)) for x in vals]
                rows.append((i, visit_codes[v], str(date_str[v][i]), *cells))
            elif empty_row[v][i]:
                rows.append((i, visit_codes[v], "", *([""] * blocks[v].shape[1])))
    return rows, record


def _realised(spec, arm, planned, death_day, wd_day, completed, w_obs) -> dict:
    """Realised non-response by visit and arm, as shares of the randomised participants."""
    out = {}
    for k, visit in enumerate(VISIT_KEYS):
        day = planned[k]
        died = day >= death_day
        withdrawn = ~died & (day >= wd_day)
        by_arm = {}
        for label, a in ((TREATED, 1), (CONTROL, 0)):
            sel = arm == a
            m = max(int(sel.sum()), 1)
            by_arm[label] = {
                "n": int(sel.sum()),
                "died_before_visit": float(died[sel].sum() / m),
                "withdrawn_before_visit": float(withdrawn[sel].sum() / m),
                "missed": float((~died & ~withdrawn & ~completed[k + 1])[sel].sum() / m),
                "no_questionnaire": float((~completed[k + 1])[sel].sum() / m),
                "wemwbs_missing": float(np.isnan(w_obs[k + 1])[sel].sum() / m),
            }
        out[visit] = by_arm
    return {"realised": out}


def _contacts(params: Parameters, u: Units, rng, arm, rand_day, discharge, death_day, wd_day, cut,
              assigned: tuple[np.ndarray, np.ndarray] | None = None,
              planned_days: dict[int, np.ndarray] | None = None):
    """Contact rows; ``assigned`` = (engaged, main worker index within the site) drawn
    before the outcomes replaces the two draws of this stream that decide them (which are
    still made, so the remaining draws are those of the unclustered trial).
    ``planned_days`` (selective engagement, §10b): the contact days of each treated
    complier, all distinct (ward mode on days up to discharge, else community modes);
    nobody else has contacts."""
    spec = params.contacts
    n = u.n
    modes = contract.CONTACT_MODES
    ward_modes = np.array([modes.index("face_to_face"), modes.index("group")])
    link = np.exp(spec.alliance_link * u.latent_noise.get("month_4:wai_sr", np.zeros(n)))
    rows = []
    for i in range(n):
        if arm[i] != 1:
            continue
        engaged = rng.random() >= spec.no_contact_prob
        n_site = params.peer_workers[u.site[i]]
        main = int(rng.integers(0, n_site))
        if assigned is not None:
            engaged, main = bool(assigned[0][i]), int(assigned[1][i])
        if planned_days is not None:
            engaged = i in planned_days
        if u.engaged_if_offered is not None:  # §10c: engagement drawn before the outcomes
            engaged = bool(u.engaged_if_offered[i])
        if not engaged:
            continue
        if planned_days is None:
            k_ward = int(rng.poisson(spec.ward_mean))
            mean = spec.community_mean * link[i]
            k_comm = int(rng.negative_binomial(spec.community_size, spec.community_size / (spec.community_size + mean)))
            ward_days = rand_day[i] + rng.integers(0, discharge[i] - rand_day[i] + 1, size=k_ward)
            comm_days = discharge[i] + 1 + np.floor(spec.community_days * rng.beta(1.0, 1.8, size=k_comm)).astype(np.int64)
            ward_mode = ward_modes[(rng.random(k_ward) < 0.1).astype(int)]
            comm_mode = rng.choice(len(modes), size=k_comm, p=np.asarray(spec.mode_probs))
            if u.engaged_if_offered is not None and k_ward + k_comm == 0:  # engaged: a contact
                comm_days = discharge[i:i + 1] + 1
                comm_mode = rng.choice(len(modes), size=1, p=np.asarray(spec.mode_probs))
            c_days = np.concatenate([ward_days, comm_days])
            c_modes = np.concatenate([ward_mode, comm_mode]).astype(np.int64)
        else:
            c_days = planned_days[i]
            ward_mode = ward_modes[(rng.random(c_days.size) < 0.1).astype(int)]
            comm_mode = rng.choice(len(modes), size=c_days.size, p=np.asarray(spec.mode_probs))
            c_modes = np.where(c_days <= discharge[i], ward_mode, comm_mode).astype(np.int64)
        k = c_days.size
        other = rng.integers(0, max(n_site - 1, 1), size=k)
        other = np.where(other >= main, other + 1, other) if n_site > 1 else np.full(k, main)
        worker = np.where(rng.random(k) < spec.main_worker_prob, main, other)
        med = np.array([spec.duration[m][0] for m in c_modes])
        sig = np.array([spec.duration[m][1] for m in c_modes])
        minutes = np.clip(np.rint(med * np.exp(sig * rng.normal(size=k))), *contract.DURATION_MINUTES_RANGE)
        ok = (c_days < death_day[i]) & (c_days < wd_day[i]) & (c_days <= cut)
        # at most one contact a day: the first drawn for that date (np.unique sorts by date)
        _, first_of_day = np.unique(c_days, return_index=True)
        keep = first_of_day[ok[first_of_day]]
        site = params.sites[u.site[i]]
        dates = iso(c_days[keep])
        for j, date in zip(keep, dates, strict=True):
            rows.append((
                i, str(date), f"PW-{site}-{int(worker[j]) + 1:02d}",
                str(int(minutes[j])), modes[int(c_modes[j])],
            ))
    return rows
