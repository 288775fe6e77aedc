"""serlib.cpu: importing serlib pins the CPU kernels of torch, MKL and oneDNN to AVX2 (the same numbers on
AVX2 and AVX-512 machines), unless SERLIB_CPU_ISA=native."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from serlib import cpu

X86 = platform.machine().lower() in ("x86_64", "amd64")
PROBE = ("import serlib, torch, os; print(torch.backends.cpu.get_cpu_capability(), os.environ.get('MKL_CBWR'), "
         "os.environ.get('ONEDNN_MAX_CPU_ISA'))")


def _probe(**env) -> list[str]:
    clean = {k: v for k, v in os.environ.items() if k not in (*cpu.PINS, cpu.ISA_ENV)}
    out = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True,
                         check=True)
    return out.stdout.split()


@pytest.mark.skipif(not X86, reason="the AVX2 pin applies to x86-64 CPUs only")
def test_importing_serlib_pins_avx2_kernels_and_native_opts_out():
    assert _probe() == ["AVX2", "AVX2", "AVX2"]                          # any x86-64 machine, AVX-512 or not
    native = _probe(SERLIB_CPU_ISA="native")
    assert native[1:] == ["None", "None"]                                # nothing pinned
    assert native[0] in ("DEFAULT", "AVX2", "AVX512", "ZVECTOR", "NO AVX")


@pytest.mark.skipif(not X86, reason="the AVX2 pin applies to x86-64 CPUs only")
def test_training_gives_the_same_weights_whatever_the_machine_offers():
    """The pinned run equals a run that forces every library to AVX2 by hand: what an AVX2-only CPU runs."""
    code = ("import serlib, torch; torch.manual_seed(0); m = torch.nn.Sequential(torch.nn.Conv1d(4, 8, 5), "
            "torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 60, 3)); o = torch.optim.Adam(m.parameters()); "
            "x = torch.randn(32, 4, 64); y = torch.randint(0, 3, (32,))\n"
            "for _ in range(20): o.zero_grad(); torch.nn.functional.cross_entropy(m(x), y).backward(); o.step()\n"
            "print(repr(float(sum(p.double().abs().sum() for p in m.parameters()))))")
    clean = {k: v for k, v in os.environ.items() if k not in (*cpu.PINS, cpu.ISA_ENV)}
    run = lambda env: subprocess.run([sys.executable, "-c", code], env={**clean, **env}, capture_output=True,  # noqa: E731
                                     text=True, check=True).stdout.strip()
    assert run({}) == run(dict(cpu.PINS))


def test_a_bad_choice_is_refused(monkeypatch):
    monkeypatch.setenv(cpu.ISA_ENV, "avx9")
    with pytest.raises(ValueError, match="avx2.*native"):
        cpu.pin()
