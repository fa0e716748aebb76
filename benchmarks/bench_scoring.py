"""Benchmark: score 1,000,000 questionnaire rows (every instrument, every item).

Scoring = reading ``questionnaires.csv`` with ``pyarrow.csv``, the item matrices of every
instrument from the Arrow table, and ``outcomes.scoring.score_items`` for every score (the
function ADQS scores with). Two figures on the same seeded file:

- whole process (issue 17 target: at most 1.5x): a ``python -c`` process that reads and
  scores against one that runs ``pyarrow.csv.read_csv(...).to_pandas()``, start-up and
  imports included, in turn (A, B, A, B, ...; ``wholeprocess.py``);
- in process (issue 3 target: at most 2x): scoring the table already read against
  ``pyarrow.csv.read_csv`` alone, best of ``--repeat``.

    .venv/bin/python benchmarks/bench_scoring.py [--rows 1000000] [--repeat 3] [--pairs 5]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from outcomes.contract import VISITS
from outcomes.instruments import load_registry
from outcomes.scoring import score_items

BENCHMARKS = str(Path(__file__).resolve().parent)
sys.path.insert(0, BENCHMARKS)
from wholeprocess import READ_TO_PANDAS, paired  # noqa: E402

# the whole process that reads and scores (the yardstick: READ_TO_PANDAS)
SCORE_PROCESS = f"""
import sys
sys.path.insert(0, {BENCHMARKS!r})
from bench_scoring import read, score_table
from outcomes.instruments import load_registry
assert score_table(read(sys.argv[1]), load_registry()) > 0
"""


def make_csv(path: Path, rows: int, rng: np.random.Generator) -> None:
    """A questionnaires.csv in the docs/data-contract.md format with ~1% missing items."""
    reg = load_registry()
    cols: dict[str, pa.Array] = {
        "participant_id": pa.array([f"P{i // 3:07d}" for i in range(rows)]),
        "visit": pa.array(np.array(VISITS)[np.arange(rows) % 3]),
        "completion_date": pa.array(np.full(rows, "2024-05-01")),
    }
    for inst in reg.values():
        if not inst.has_own_columns:
            continue
        for col in inst.item_columns():
            codes = rng.integers(inst.code_min, inst.code_max + 1, size=rows)
            mask = rng.random(rows) < 0.01
            cols[col] = pa.array(codes, mask=mask, type=pa.int64())
    pacsv.write_csv(pa.table(cols), path)


def read(path: Path) -> pa.Table:
    return pacsv.read_csv(path)


def score_table(table: pa.Table, registry) -> int:
    """Score every instrument; returns the number of score values computed."""
    n_values = 0
    for inst in registry.values():
        cols = inst.item_columns()
        matrix = np.empty((table.num_rows, len(cols)), order="F")  # score_items sums columns
        for j, c in enumerate(cols):
            matrix[:, j] = table.column(c).to_numpy(zero_copy_only=False)  # NaN for a null
        for scored in score_items(matrix, inst):
            n_values += scored.value.size
    return n_values


def best_of(repeat: int, fn) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pairs", type=int, default=5, help="whole-process pairs (0: skip)")
    args = parser.parse_args()
    registry = load_registry()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "questionnaires.csv"
        make_csv(path, args.rows, np.random.default_rng(args.seed))
        size_mb = path.stat().st_size / 1e6
        t_read = best_of(args.repeat, lambda: read(path))
        table = read(path)
        n_values = score_table(table, registry)
        t_score = best_of(args.repeat, lambda: score_table(table, registry))
        table = None  # freed before the child processes run
        print(f"rows: {args.rows:,}  csv: {size_mb:.0f} MB  score values: {n_values:,}")
        if args.pairs:
            runs = paired(SCORE_PROCESS, READ_TO_PANDAS, (str(path),), args.pairs)
            print("whole process, in turn (start-up and imports included):")
            print("\n".join(runs.lines("read + score", "read_csv().to_pandas()")) + "  (target <= 1.5)")
    print("in process (the table already read):")
    print(f"  pyarrow.csv.read_csv: {t_read:.3f} s (best of {args.repeat})")
    print(f"  scoring:              {t_score:.3f} s (best of {args.repeat})")
    print(f"  ratio scoring / read: {t_score / t_read:.2f}  (target <= 2)")


if __name__ == "__main__":
    main()
