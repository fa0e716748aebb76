"""Which derived datasets a command still holds when it reads the completed data sets
(issue 17: the questionnaire and tipping-point commands free what they no longer need
before that read, decisions PN6). Used by tests/test_imputation_mice.py and
tests/test_imputation_tipping.py."""

from __future__ import annotations

import weakref


def watch_derived_at_reading(monkeypatch, reader_modules: tuple[str, ...]) -> list[list[str]]:
    """Record, at each call of ``read_completed`` (looked up in each of ``reader_modules``),
    the names of the derived datasets read by ``outcomes.adam.read_adam`` that are still
    alive (no garbage collection forced: what reference counting has freed)."""
    import outcomes.adam
    from outcomes.imputation import run

    alive: list[tuple[str, weakref.ref]] = []
    seen: list[list[str]] = []
    read_adam, read_completed = outcomes.adam.read_adam, run.read_completed

    def reading(*args, **kwargs):
        out = read_adam(*args, **kwargs)
        alive.extend((name, weakref.ref(frame)) for name, frame in out.items())
        return out

    def completed(*args, **kwargs):
        seen.append(sorted(name for name, ref in alive if ref() is not None))
        return read_completed(*args, **kwargs)

    monkeypatch.setattr(outcomes.adam, "read_adam", reading)
    for module in reader_modules:
        monkeypatch.setattr(f"{module}.read_completed", completed)
    return seen
