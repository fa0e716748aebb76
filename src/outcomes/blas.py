"""The OpenBLAS kernels of every process, chosen by instruction set, not by CPU model.

numpy's OpenBLAS (a DYNAMIC_ARCH build) picks its kernels by CPU model: an AMD EPYC gets
the Haswell (AVX2) kernels and an Intel Xeon of the same instruction sets the SkylakeX
(AVX-512) ones, and the two round differently in the last bits. Results then differ
between machines that can run the same code: the bundled run's mediation, CACE,
questionnaire and tipping-point tables did (decisions L82). Setting
``OPENBLAS_CORETYPE=Haswell`` before numpy is imported gives every x86-64 CPU with AVX2
and FMA (Intel since 2013, AMD since 2015) the same kernels; other CPUs keep OpenBLAS's
choice. A value the user sets is kept (and is what this project's machines set).
"""

from __future__ import annotations

import platform
from collections.abc import MutableMapping
from pathlib import Path

HASWELL_FLAGS = frozenset({"avx2", "fma"})


def openblas_coretype(flags: frozenset[str] | set[str], machine: str) -> str | None:
    """The OpenBLAS core type for a CPU with instruction-set ``flags`` (as /proc/cpuinfo
    lists them) on ``machine`` (platform.machine()); None to leave OpenBLAS's choice."""
    if machine.lower() not in ("x86_64", "amd64"):
        return None
    if HASWELL_FLAGS <= flags:
        return "Haswell"
    return None


def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The instruction-set flags of the first CPU in ``cpuinfo`` (empty where there is none)."""
    try:
        with cpuinfo.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def pin_openblas_kernels(environ: MutableMapping[str, str]) -> str | None:
    """Set ``OPENBLAS_CORETYPE`` in ``environ`` (os.environ: inherited by every job the
    process starts) unless it is set; returns the value. Too late for this process's own
    BLAS if numpy is already imported: the jobs it starts still get it."""
    if "OPENBLAS_CORETYPE" in environ:
        return environ["OPENBLAS_CORETYPE"]
    coretype = openblas_coretype(cpu_flags(), platform.machine())
    if coretype is not None:
        environ["OPENBLAS_CORETYPE"] = coretype
    return coretype
