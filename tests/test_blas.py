"""outcomes.blas: the OpenBLAS kernels are chosen by instruction set (decisions L82)."""

from __future__ import annotations

from outcomes.blas import cpu_flags, openblas_coretype, pin_openblas_kernels


def test_every_avx2_cpu_gets_the_haswell_kernels_and_others_keep_openblas_choice():
    avx512 = {"fma", "avx2", "avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}
    assert openblas_coretype(frozenset(avx512), "x86_64") == "Haswell"  # Intel or AMD alike
    assert openblas_coretype(frozenset({"fma", "avx2", "sse4_2"}), "x86_64") == "Haswell"
    assert openblas_coretype(frozenset({"sse4_2", "avx"}), "x86_64") is None
    assert openblas_coretype(frozenset(avx512), "aarch64") is None


def test_a_value_the_user_set_is_kept(tmp_path):
    env = {"OPENBLAS_CORETYPE": "Zen"}
    assert pin_openblas_kernels(env) == "Zen" and env == {"OPENBLAS_CORETYPE": "Zen"}
    assert cpu_flags(tmp_path / "missing") == frozenset()
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu avx2 fma\n\nprocessor\t: 1\nflags\t\t: fpu\n")
    assert cpu_flags(info) == frozenset({"fpu", "avx2", "fma"})
