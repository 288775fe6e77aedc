"""The same numbers on every x86 CPU: pin the instruction set that torch, MKL and oneDNN compute with.

torch picks its CPU kernels by the machine's instruction set (AVX2 or AVX-512), and so do MKL and
oneDNN; each path rounds differently, and training amplifies the difference. Measured on this
repository's 2-core AVX-512 machine: three epochs of the TRNet SER module from the same seed end
with different weights under the native AVX-512 kernels and under the AVX2 ones (a sum of |weights|
of 9207.7 against 9208.4), so a reference run made on one kind of CPU could not be rerun on the
other. Importing :mod:`serlib` therefore sets, before torch is loaded and unless already set:

- ``ATEN_CPU_CAPABILITY=avx2`` (torch's own vectorised kernels),
- ``MKL_CBWR=AVX2`` (MKL's conditional numerical reproducibility: the AVX2 code path everywhere),
- ``ONEDNN_MAX_CPU_ISA=AVX2`` (oneDNN's convolutions),

which every x86-64 CPU of the last decade runs, at a few per cent of speed on AVX-512 machines (one
SER epoch: 2.0 s native, 2.1 s pinned, same machine). The variables reach the Jupyter kernels and the
Dask workers through the environment. ``SERLIB_CPU_ISA=native`` keeps each machine's fastest kernels
(and its own rounding). GPUs are not affected; other CPU architectures (ARM) are left alone.
"""

from __future__ import annotations

import os
import platform
import sys
import warnings

ISA_ENV = "SERLIB_CPU_ISA"
"""``avx2`` (default) or ``native``."""
PINS = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
"""The variables set for ``avx2``."""

__all__ = ["ISA_ENV", "PINS", "capability", "pin"]


def pin() -> dict[str, str]:
    """Set :data:`PINS` in ``os.environ`` (where not already set) unless ``SERLIB_CPU_ISA=native`` or the
    CPU is not x86-64; returns what is in force. Warns when torch was imported before serlib, since torch
    then already chose its kernels."""
    choice = os.environ.get(ISA_ENV, "avx2").strip().lower()
    if choice not in ("avx2", "native"):
        raise ValueError(f"{ISA_ENV}={choice!r}: use 'avx2' (the same numbers on every x86 CPU) or 'native'")
    if choice == "native" or platform.machine().lower() not in ("x86_64", "amd64"):
        return {}
    missing = {k: v for k, v in PINS.items() if k not in os.environ}
    if missing and "torch" in sys.modules:
        warnings.warn("torch was imported before serlib, so its CPU kernels may not be pinned to AVX2 "
                      "(serlib.cpu): results can differ from a run on another kind of CPU; import serlib first",
                      RuntimeWarning, stacklevel=3)
    for k, v in missing.items():
        os.environ[k] = v
    return {k: os.environ[k] for k in PINS}


def capability() -> str | None:
    """The instruction set torch's CPU kernels use (``AVX2``, ``AVX512``, ...), None without torch."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        return None
    return str(torch.backends.cpu.get_cpu_capability())
