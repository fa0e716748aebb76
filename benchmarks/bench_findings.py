"""Peak memory and time of the whole ``outcomes validate`` stage (validate + write outputs).

Two cases, each generated with the seeded, vectorised generator of ``bench_validate.py``:

``valid``
    the validator benchmark's extract at its documented scale (200,000 participants,
    1,000,000 admissions, 400,000 questionnaire rows with every item column, 500,000 peer
    contacts): no findings.
``duplicated``
    750,000 participants, every participants.csv row written twice, and 1,000,000
    questionnaire rows, 600,000 admissions and 400,000 peer contacts: every participant
    row is a duplicate (``PAR-002``, 1.5 million findings) and every other row follows its
    participant into quarantine (``XTB-002``, 2 million findings): 3.5 million findings.

Each case runs ``outcomes validate DIR --out OUT --data-cut 2100-12-31`` in a fresh child
process and reports its peak resident memory (VmHWM), wall and CPU time, the time spent
validating and writing, the number of findings, the size of ``validation.html`` and how
many findings it embeds. Run::

    .venv/bin/python benchmarks/bench_findings.py                       # both cases
    .venv/bin/python benchmarks/bench_findings.py --case duplicated --keep /tmp/dup
    .venv/bin/python benchmarks/bench_findings.py --scale 0.1           # quick look
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_validate import generate

from outcomes.contract import TABLE_FILES

CASES = {
    "valid": {"n_part": 200_000, "n_adm": 1_000_000, "n_q": 400_000, "n_pct": 500_000},
    "duplicated": {"n_part": 750_000, "n_adm": 600_000, "n_q": 1_000_000, "n_pct": 400_000},
}

_CHILD = """
import json, re, resource, sys, time
from pathlib import Path
from outcomes.validation import validate_extract
from outcomes.validation.report import HTML_FILE
d, out = Path(sys.argv[1]), Path(sys.argv[2])
def cpu():
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime
def hwm_mb():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forking parent across exec
    line = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
    return int(line.split()[1]) / 1024
c0, t0 = cpu(), time.perf_counter()
r = validate_extract(d, data_cut="2100-12-31")
t1 = time.perf_counter()
peak_validate = hwm_mb()
r.write(out)
t2 = time.perf_counter()
html = (out / HTML_FILE).read_text(encoding="utf-8")
m = re.search(r'<script id="findings-data" type="application/json">(.*?)</script>', html, re.S)
embedded = len(json.loads(m.group(1))["rows"])
print(json.dumps({
    "findings": len(r.findings), "exit_code": r.exit_code,
    "validate_s": t1 - t0, "write_s": t2 - t1, "cpu_s": cpu() - c0,
    "peak_after_validate_mb": peak_validate, "peak_mb": hwm_mb(),
    "html_mb": (out / HTML_FILE).stat().st_size / 2**20, "html_embedded": embedded,
    "detail_mb": (out / "issues_detail.tsv").stat().st_size / 2**20,
}))
"""


def duplicate_participants(data_dir: Path) -> None:
    """Write every data row of participants.csv a second time (after all of them)."""
    path = data_dir / TABLE_FILES["participants"]
    text = path.read_bytes()
    head, _, body = text.partition(b"\n")
    if not body.endswith(b"\n"):
        body += b"\n"
    path.write_bytes(head + b"\n" + body + body)


def run_case(name: str, data_dir: Path, scale: float, reuse: bool) -> dict:
    sizes = {k: max(4, int(v * scale)) for k, v in CASES[name].items()}
    if not (reuse and (data_dir / TABLE_FILES["participants"]).exists()):
        generate(data_dir, **sizes)
        if name == "duplicated":
            duplicate_participants(data_dir)
    csv_mb = sum((data_dir / f).stat().st_size for f in TABLE_FILES.values()) / 2**20
    with tempfile.TemporaryDirectory(prefix="bench_findings_out_") as out:
        res = subprocess.run(
            [sys.executable, "-c", _CHILD, str(data_dir), out], capture_output=True, text=True, check=False
        )
    if res.returncode != 0:
        raise SystemExit(f"{name}: the validation failed:\n{res.stderr[-3000:]}")
    stats = json.loads(res.stdout.strip().splitlines()[-1])
    return {"case": name, "sizes": sizes, "csv_mb": csv_mb, **stats}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--case", choices=[*CASES, "both"], default="both")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every table size (default 1)")
    ap.add_argument("--keep", metavar="DIR", help="generate into DIR/<case> and keep it")
    ap.add_argument("--reuse", action="store_true", help="with --keep: reuse an extract already there")
    args = ap.parse_args(argv)
    names = list(CASES) if args.case == "both" else [args.case]
    with tempfile.TemporaryDirectory(prefix="bench_findings_") as tmp:
        root = Path(args.keep) if args.keep else Path(tmp)
        for name in names:
            s = run_case(name, root / name, args.scale, args.reuse)
            print(
                f"{s['case']}: {s['csv_mb']:.0f} MB of CSV, {s['findings']:,} findings (exit {s['exit_code']}); "
                f"peak memory {s['peak_mb']:.0f} MB ({s['peak_after_validate_mb']:.0f} MB after validating); "
                f"validate {s['validate_s']:.1f} s, write {s['write_s']:.1f} s, CPU {s['cpu_s']:.1f} s; "
                f"validation.html {s['html_mb']:.1f} MB embedding {s['html_embedded']:,} findings; "
                f"issues_detail.tsv {s['detail_mb']:.0f} MB"
            )
            print(json.dumps(s))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
