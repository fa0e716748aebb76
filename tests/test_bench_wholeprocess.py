"""The whole-process timer behind the benchmarks' side-by-side ratios (benchmarks/wholeprocess.py)."""

import pytest
from benchmark_module import load_benchmark

wholeprocess = load_benchmark("wholeprocess")


def test_a_process_is_measured_whole():
    # 300 MB touched and 0.2 s of CPU in the child: both must show, start-up included
    run = wholeprocess.run_once(
        "import time\nb = bytearray(300 * 2**20)\nt = time.process_time()\n"
        "while time.process_time() - t < 0.2:\n    pass\n"
    )
    assert run.peak_mb > 300
    assert run.cpu >= 0.2
    assert run.wall >= run.cpu / 2  # at most two cores busy


def test_a_failing_snippet_is_an_error_not_a_figure():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        wholeprocess.run_once("1 / 0")


def test_ratios_are_taken_pair_by_pair():
    Run = wholeprocess.Run
    runs = wholeprocess.Paired(a=[Run(2.0, 1.0, 10), Run(9.0, 3.0, 10), Run(3.0, 2.0, 10)],
                               b=[Run(1.0, 1.0, 5), Run(10.0, 1.0, 5), Run(1.0, 1.0, 5)])
    assert runs.ratio("wall") == 2.0  # pairs 2.0, 0.9, 3.0 (the medians' ratio would be 1.5)
    assert runs.ratio("cpu") == 2.0
    assert runs.median("a", "peak_mb") == 10
