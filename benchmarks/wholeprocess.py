"""Paired whole-process timing of two Python snippets, for the benchmarks' side-by-side ratios.

Each snippet runs as its own ``python -c`` process (interpreter start-up and imports
included), the two in turn (A, B, A, B, ...) so that a change of machine load affects
both alike; the ratio A/B is taken pair by pair and the median quoted. Wall time is a
monotonic clock around start and exit; CPU time (user + system) is the kernel's account
of the reaped child (``RUSAGE_CHILDREN``, one child at a time); peak memory is the child's own ``VmHWM`` (Linux carries
``ru_maxrss`` over from the forking parent across ``exec``), which the snippet prints last.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass

# the yardstick of issue 17's ratios: read each CSV file named on the command line
READ_TO_PANDAS = """
import sys
import pyarrow.csv as pv
frames = [pv.read_csv(path).to_pandas() for path in sys.argv[1:]]
"""

# appended to every snippet: its peak resident memory, printed as the last line
_PEAK = """
import json as _json
_hwm = [_l for _l in open("/proc/self/status") if _l.startswith("VmHWM")]
print(_json.dumps({"peak_mb": int(_hwm[0].split()[1]) / 1024 if _hwm else float("nan")}))
"""


@dataclass(frozen=True)
class Run:
    wall: float
    cpu: float
    peak_mb: float


def run_once(code: str, *args: str) -> Run:
    """One whole process ``python -c code args...``; fails when the snippet fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code + _PEAK, *args], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # one child at a time: the delta is it
    if proc.returncode != 0:
        raise RuntimeError(f"snippet failed ({proc.returncode}):\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak = json.loads(proc.stdout.strip().splitlines()[-1])["peak_mb"]
    return Run(wall, cpu, peak)


@dataclass(frozen=True)
class Paired:
    a: list[Run]
    b: list[Run]

    def median(self, side: str, field: str) -> float:
        return statistics.median(getattr(r, field) for r in getattr(self, side))

    def ratio(self, field: str) -> float:
        """Median over pairs of A/B."""
        return statistics.median(getattr(x, field) / getattr(y, field)
                                 for x, y in zip(self.a, self.b, strict=True))

    def lines(self, name_a: str, name_b: str) -> list[str]:
        out = []
        for side, name in (("a", name_a), ("b", name_b)):
            runs = getattr(self, side)
            walls = ", ".join(f"{r.wall:.2f}" for r in runs)
            out.append(f"  {name}: wall {self.median(side, 'wall'):.2f} s (runs {walls}), "
                       f"CPU {self.median(side, 'cpu'):.2f} s, peak {self.median(side, 'peak_mb'):.0f} MB")
        out.append(f"  ratio {name_a}/{name_b} (median of {len(self.a)} pairs): "
                   f"wall {self.ratio('wall'):.2f}, CPU {self.ratio('cpu'):.2f}")
        return out


def paired(code_a: str, code_b: str, args: tuple[str, ...], repeat: int, warmup: int = 1,
           b_args: tuple[str, ...] | None = None) -> Paired:
    """``repeat`` pairs of whole-process runs, A then B, after ``warmup`` uncounted pairs;
    B gets ``b_args`` when given, else ``args``."""
    b_args = args if b_args is None else b_args
    for _ in range(warmup):
        run_once(code_a, *args)
        run_once(code_b, *b_args)
    a, b = [], []
    for _ in range(repeat):
        a.append(run_once(code_a, *args))
        b.append(run_once(code_b, *b_args))
    return Paired(a, b)
