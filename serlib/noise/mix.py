"""Additive noise at a target SNR, batched in torch (CPU or GPU), with one documented SNR definition.

SNR definition (the one used everywhere in this repository)
------------------------------------------------------------
``SNR = 10 * log10(P_speech / P_noise)`` where ``P`` is a mean square (power):

- ``snr_mode="utterance"`` (default): ``P_speech`` is the mean square of the clean speech over the
  **whole utterance** (leading/trailing pauses included) and ``P_noise`` the mean square of the noise
  segment actually added (same length). This is the convention of most SER noise studies, e.g.
  TRNet's ``noise * 10**(-snr/20) * rms(speech) / rms(noise)``.
- ``snr_mode="active"``: ``P_speech`` is the mean square over **active speech frames** only, found by
  a simple energy VAD on the clean speech (see :func:`active_frames`): non-overlapping 20 ms frames
  whose energy lies within ``ACTIVE_THRESHOLD_DB`` = 30 dB of the loud (99th-percentile) frame
  energy. ``P_noise`` is still the mean square of the whole noise segment. Pauses therefore do not
  lower the speech level; for an utterance with 30 % silence the active SNR is about 1.5 dB higher than
  the utterance SNR of the same mixture.

Level handling
--------------
The **speech keeps its level** and only the noise is scaled (gain ``sqrt(P_speech / (P_noise *
10**(snr/10)))``), so a clean utterance and its noisy versions are directly comparable. If the sum
would clip (peak above ``peak_limit`` = 0.99 full scale), the whole mixture (speech part *and* noise
part) is scaled down by ``peak_limit / peak``; because both parts get the same factor their power
ratio, hence the SNR, is unchanged. This is the only case in which the speech level changes, and
``return_parts=True`` gives the exact speech and noise parts that were summed.

Noise length
------------
Noise longer than the speech is read at an offset (random by default, drawn from ``rng``, or given by
``offset``). Shorter noise is looped: the loop period is ``len(noise) - xfade`` samples and the seam is
an equal-power (sine/cosine) cross-fade of ``xfade_ms`` = 20 ms (at most a quarter of the clip), so a
looped noise has no click and keeps its power; the read then starts at a random point of the loop.

Bad input raises :class:`serlib.audio.AudioError` naming the row or clip: NaN/inf samples, silent
speech or a silent noise segment (the SNR is undefined for either).

Backends
--------
Tensors are processed in torch on their own device (batched: one call mixes a whole (batch, time)
tensor, on the GPU when the tensor is there). Numpy input is processed with numpy and returned as
float32 numpy: one formula, two array libraries, checked against each other by the tests. Powers
are accumulated by BLAS-style reductions and returned in float64 (relative error ~1e-6).
The numpy path exists because a per-utterance call on a busy CPU is dominated by
torch's thread-pool overhead (tens of ms per call on an oversubscribed machine vs ~1 ms in numpy),
which matters in :class:`serlib.noise.Condition`, called once per utterance inside worker processes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from serlib.audio import SILENCE_RMS, SR, AudioError

__all__ = [
    "ACTIVE_THRESHOLD_DB",
    "FRAME_MS",
    "PEAK_LIMIT",
    "XFADE_MS",
    "SNR_MODES",
    "mix",
    "measure_snr",
    "active_frames",
    "signal_power",
    "noise_segment",
]

SNR_MODES = ("utterance", "active")
"""Accepted values of ``snr_mode``."""

ACTIVE_THRESHOLD_DB = 30.0
"""A frame is active speech when its energy is within this many dB of the 99th-percentile frame energy."""

FRAME_MS = 20.0
"""Frame length of the energy VAD (non-overlapping frames)."""

PEAK_LIMIT = 0.99
"""Mixtures whose peak would exceed this (full scale = 1) are scaled down as a whole."""

XFADE_MS = 20.0
"""Cross-fade at the seam when a short noise clip is looped."""

_SILENT_POWER = SILENCE_RMS**2


class _Ops:
    """The handful of array operations :func:`mix` needs, for numpy or torch arrays."""

    def __init__(self, use_torch: bool, device=None) -> None:
        self.torch = use_torch
        self.device = device

    def asarray(self, x: Any, name: str):
        if self.torch:
            t = x if isinstance(x, torch.Tensor) else torch.as_tensor(_writable(np.asarray(x, dtype=np.float32)))
            t = t.to(dtype=torch.float32, device=self.device if self.device is not None else t.device)
        else:
            if isinstance(x, torch.Tensor):
                x = x.detach().cpu().numpy()
            try:
                t = np.asarray(x, dtype=np.float32)
            except (TypeError, ValueError) as exc:
                raise AudioError(f"{name}: cannot convert to an audio array ({exc})") from exc
        if t.ndim not in (1, 2):
            raise AudioError(f"{name}: expected a 1-D signal or a (batch, time) array, got shape {tuple(t.shape)}")
        if t.shape[-1] == 0 or t.shape[0] == 0:
            raise AudioError(f"{name}: audio is empty (0 samples)")
        return t

    def row_power(self, x):
        """Mean square per row as float64; computed with float32 BLAS-style reductions (vector norm /
        batched dot), which are fast and accurate to ~1e-6 relative (1e-5 dB)."""
        if self.torch:
            return torch.linalg.vector_norm(x, dim=1).double() ** 2 / x.shape[1]
        x = np.ascontiguousarray(x)
        return (x[:, None, :] @ x[:, :, None])[:, 0, 0].astype(np.float64) / x.shape[1]

    def nonfinite_rows(self, x) -> np.ndarray:
        return (~torch.isfinite(x).all(dim=1)).cpu().numpy() if self.torch else ~np.isfinite(x).all(axis=1)

    def quantile99(self, x):
        if self.torch:
            return torch.quantile(x.double(), 0.99, dim=1, keepdim=True)
        return np.quantile(x.astype(np.float64), 0.99, axis=1, keepdims=True)

    def gather(self, x, offsets: np.ndarray, length: int, modulo: int | None):
        """Rows ``x[r, o:o + length]`` (row 0 for every offset when ``x`` has one row), via strided views.

        With ``modulo`` (a loop period) the row is first tiled so that any offset in the period fits.
        """
        if modulo is not None:
            reps = -(-(modulo + length) // x.shape[1])
            x = x.repeat(1, reps) if self.torch else np.tile(x, (1, reps))
        rows = np.zeros(len(offsets), dtype=np.int64) if x.shape[0] == 1 else np.arange(len(offsets))
        if self.torch:
            win = x.unfold(1, length, 1)  # (rows, positions, length) view, no copy
            return win[torch.as_tensor(rows, device=x.device), torch.as_tensor(offsets, device=x.device)]
        win = np.lib.stride_tricks.sliding_window_view(x, length, axis=1)
        return np.ascontiguousarray(win[rows, offsets])

    def fades(self, n: int, like):
        t = (np.arange(n) + 0.5) / n
        fin, fout = np.sin(0.5 * math.pi * t), np.cos(0.5 * math.pi * t)
        if self.torch:
            return (torch.as_tensor(fin, dtype=like.dtype, device=like.device),
                    torch.as_tensor(fout, dtype=like.dtype, device=like.device))
        return fin.astype(like.dtype), fout.astype(like.dtype)

    def vector(self, v, like):  # per-row float64 values (SNRs, gains) as an array of the backend
        arr = np.asarray(v, dtype=np.float64).reshape(-1)
        return torch.as_tensor(arr, device=like.device) if self.torch else arr

    def peak(self, x):
        if self.torch:
            return torch.linalg.vector_norm(x, ord=float("inf"), dim=1)
        return np.abs(x).max(axis=1)

    def to_float(self, x, like):
        return x.to(like.dtype) if self.torch else x.astype(like.dtype)

    def numpy(self, x) -> np.ndarray:
        return x.detach().cpu().numpy() if self.torch else x


def _writable(a: np.ndarray) -> np.ndarray:
    return a if a.flags.writeable else a.copy()


def _ops_for(x, device=None) -> _Ops:
    return _Ops(isinstance(x, torch.Tensor), device)


def _row_names(names: str | Sequence[str] | None, batch: int, default: str) -> list[str]:
    if names is None:
        return [default if batch == 1 else f"{default} row {i}" for i in range(batch)]
    if isinstance(names, str):
        return [names if batch == 1 else f"{names} row {i}" for i in range(batch)]
    names = [str(n) for n in names]
    if len(names) != batch:
        raise ValueError(f"mix: got {len(names)} names for a batch of {batch}")
    return names


def _check_finite(ops: _Ops, x, names: list[str], what: str, power=None) -> None:
    """Raise naming the rows with NaN/inf samples. With ``power`` (the row mean squares, already
    computed) the full scan only runs when some power is not finite, which NaN/inf always cause."""
    if power is not None and bool(np.isfinite(ops.numpy(power)).all()):
        return
    bad = ops.nonfinite_rows(x)
    if bad.any():
        rows = np.flatnonzero(bad).tolist()
        listed = ", ".join(names[i] for i in rows[:5]) + (" ..." if len(rows) > 5 else "")
        raise AudioError(f"{what} has NaN/inf samples in {listed}; re-export or remove this clip")
    if power is not None:
        i = int(np.flatnonzero(~np.isfinite(ops.numpy(power)))[0])
        raise AudioError(f"{names[i]}: {what} values are too large for a float32 power (overflow); "
                         "audio should be in [-1, 1]")


def active_frames(x, sr: int = SR, *, frame_ms: float = FRAME_MS, threshold_db: float = ACTIVE_THRESHOLD_DB):
    """Energy VAD: per-frame mean squares and the active-frame mask of a (batch, time) array or tensor.

    Frames are non-overlapping, ``frame_ms`` long; a trailing partial frame is ignored (a signal
    shorter than one frame is one frame). A frame is active when its energy is above both the
    silence floor (``SILENCE_RMS``) and ``threshold_db`` below the 99th-percentile frame energy of
    its row. Returns ``(energy, mask)`` (float64 and bool), both of shape (batch, frames).
    """
    ops = _ops_for(x)
    x2 = x if x.ndim == 2 else x[None, :]
    flen = max(1, int(round(sr * frame_ms / 1000.0)))
    n_frames = max(1, x2.shape[1] // flen)
    flen = min(flen, x2.shape[1])
    frames = x2[:, : n_frames * flen].reshape(x2.shape[0] * n_frames, flen)
    energy = ops.row_power(frames).reshape(x2.shape[0], n_frames)
    ref = ops.quantile99(energy)
    mask = (energy > ref * 10.0 ** (-threshold_db / 10.0)) & (energy > _SILENT_POWER)
    return energy, mask


def _speech_power(ops: _Ops, x2, snr_mode: str, sr: int):
    if snr_mode == "utterance":
        return ops.row_power(x2)
    if snr_mode == "active":
        energy, mask = active_frames(x2, sr)
        n_active = mask.sum(1)
        total = (energy * mask).sum(1)
        if ops.torch:
            return torch.where(n_active > 0, total / n_active.clamp(min=1), torch.zeros_like(total))
        return np.where(n_active > 0, total / np.maximum(n_active, 1), 0.0)
    raise ValueError(f"snr_mode={snr_mode!r} is not one of {SNR_MODES}")


def signal_power(x, snr_mode: str = "utterance", sr: int = SR):
    """Speech power as the SNR definition uses it (whole-utterance or active-frame mean square), per row."""
    ops = _ops_for(x)
    t = ops.asarray(x, "signal")
    p = _speech_power(ops, t if t.ndim == 2 else t[None, :], snr_mode, sr)
    return p if t.ndim == 2 else p[0]


def measure_snr(speech_part, noise_part, snr_mode: str = "utterance", sr: int = SR):
    """SNR in dB between the speech part and the noise part of a mixture (per row for batches).

    Uses exactly the definition documented in this module: ``snr_mode`` selects the speech power,
    the noise power is always the whole-segment mean square.
    """
    ps = signal_power(speech_part, snr_mode, sr)
    pn = signal_power(noise_part, "utterance", sr)
    snr = 10.0 * (torch.log10(ps / pn) if isinstance(ps, torch.Tensor) else np.log10(ps / pn))
    return float(snr) if snr.ndim == 0 else snr


def _xfade_samples(noise_len: int, sr: int, xfade_ms: float) -> int:
    return int(min(round(sr * xfade_ms / 1000.0), noise_len // 4))


def _loop_period(ops: _Ops, noise, xfade: int):
    """One seamless loop period (length ``len - xfade``) with an equal-power cross-fade at the seam."""
    period = noise.shape[1] - xfade
    seg = noise[:, :period].clone() if ops.torch else noise[:, :period].copy()
    if xfade > 0:
        fade_in, fade_out = ops.fades(xfade, noise)
        seg[:, :xfade] = noise[:, :xfade] * fade_in + noise[:, period:] * fade_out
    return seg


def noise_segment(noise, length: int, *, offset=None, rng: np.random.Generator | int | None = None,
                  sr: int = SR, xfade_ms: float = XFADE_MS, batch: int | None = None):
    """Cut (or loop) ``noise`` to ``length`` samples, per row: the noise that :func:`mix` adds, unscaled.

    ``noise`` is 1-D (shared by every row) or (batch, time). ``offset`` (int or one per row) picks
    the start; otherwise it is drawn uniformly from ``rng`` (a Generator or a seed; None = seed 0):
    in ``[0, len - length]`` for long noise, anywhere in the loop period for short noise.
    Returns the segment(s) (1-D for 1-D noise without ``batch``, else (batch, length); same array
    library and device as ``noise``) and the offsets used (an int64 array, one per row).
    """
    ops = _ops_for(noise)
    n = ops.asarray(noise, "noise")
    n2 = n if n.ndim == 2 else n[None, :]
    n_len = n2.shape[1]
    b = batch if (batch is not None and n2.shape[0] == 1) else n2.shape[0]
    modulo = None
    if n_len >= length:
        span = n_len - length + 1
    else:
        n2 = _loop_period(ops, n2, _xfade_samples(n_len, sr, xfade_ms))
        span = modulo = n2.shape[1]
    if offset is None:
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(0 if rng is None else rng)
        offs = gen.integers(0, span, size=b)
    else:
        offs = np.broadcast_to(np.asarray(offset, dtype=np.int64), (b,)).copy()
        if n_len >= length and (offs.min() < 0 or offs.max() >= span):
            raise ValueError(f"noise_segment: offset {offs.tolist()} out of range 0..{span - 1} for a noise of "
                             f"{n_len} samples and a target of {length}")
    seg = ops.gather(n2, offs.astype(np.int64), length, modulo)
    if n.ndim == 1 and batch is None:
        seg = seg[0]
    return seg, offs


def mix(speech, noise, snr_db, *, snr_mode: str = "utterance", offset=None,
        rng: np.random.Generator | int | None = None, sr: int = SR, xfade_ms: float = XFADE_MS,
        peak_limit: float = PEAK_LIMIT, return_parts: bool = False,
        names: str | Sequence[str] | None = None, noise_names: str | Sequence[str] | None = None):
    """Add ``noise`` to ``speech`` at ``snr_db`` (see the module docstring for the definition).

    Args:
        speech: 1-D signal or (batch, time) array/tensor at ``sr`` Hz. A tensor is processed in torch
            on its device; numpy input is processed in numpy and returned as float32 numpy, same shape.
        noise: 1-D (shared by all rows) or (batch, noise_time); any length (cut or looped). Moved to
            the speech's device / array library.
        snr_db: scalar or one value per row (dB).
        snr_mode: ``"utterance"`` (whole-utterance power, default) or ``"active"`` (active-speech frames).
        offset: start sample(s) in the noise; default random from ``rng`` (Generator or seed; None = 0).
        sr: sample rate, used by the VAD frames and the loop cross-fade.
        xfade_ms: cross-fade when a short noise is looped.
        peak_limit: the mixture is scaled down as a whole if its peak would exceed this.
        return_parts: also return the speech part and the noise part actually summed
            (``mixture == speech_part + noise_part`` up to float rounding).
        names / noise_names: clip names used in error messages (one per row or a single name).

    Raises:
        AudioError: NaN/inf input, silent speech, or a silent noise segment (SNR undefined).
    """
    if snr_mode not in SNR_MODES:
        raise ValueError(f"snr_mode={snr_mode!r} is not one of {SNR_MODES}")
    ops = _ops_for(speech)
    s = ops.asarray(speech, "speech")
    one_d = s.ndim == 1
    s2 = s[None, :] if one_d else s
    b, length = s2.shape
    s_names = _row_names(names, b, "speech")
    p_whole = ops.row_power(s2)
    _check_finite(ops, s2, s_names, "speech", p_whole)

    ops_n = _Ops(ops.torch, s2.device if ops.torch else None)
    n = ops_n.asarray(noise, "noise")
    n2 = n[None, :] if n.ndim == 1 else n
    if n2.shape[0] not in (1, b):
        raise ValueError(f"mix: noise batch {n2.shape[0]} does not match speech batch {b} (use 1-D noise to share it)")
    n_names = _row_names(noise_names, n2.shape[0], "noise")
    _check_finite(ops, n2, n_names, "noise", ops.row_power(n2))
    if n2.shape[0] == 1 and b > 1:
        n_names = n_names * b
    seg, _ = noise_segment(n2, length, offset=offset, rng=rng, sr=sr, xfade_ms=xfade_ms, batch=b)

    snr = np.asarray(snr_db, dtype=np.float64).reshape(-1)
    if snr.size not in (1, b):
        raise ValueError(f"mix: got {snr.size} SNR values for a batch of {b}")
    if not np.all(np.isfinite(snr)):
        raise ValueError(f"mix: snr_db must be finite, got {snr_db!r}")

    p_s = p_whole if snr_mode == "utterance" else _speech_power(ops, s2, snr_mode, sr)
    p_n = ops.row_power(seg)
    for p, nm, what in ((p_s, s_names, "speech"), (p_n, n_names, "noise segment")):
        silent = ops.numpy(p < _SILENT_POWER)
        if bool(silent.any()):
            i = int(np.flatnonzero(silent)[0])
            extra = " (no active speech frames)" if what == "speech" and snr_mode == "active" else ""
            raise AudioError(f"{nm[i]}: {what} is silent{extra} (RMS < {SILENCE_RMS:g}), so the SNR is undefined; "
                             "remove the clip or pick another noise segment")
    gain = ops.to_float((p_s / (p_n * ops.vector(10.0 ** (snr / 10.0), s2))) ** 0.5, s2)
    noise_part = seg * gain[:, None]
    mixture = s2 + noise_part
    peak = ops.peak(mixture)
    if ops.torch:  # 1 where the mixture does not clip, else peak_limit / peak (both parts alike)
        factor = (peak_limit / peak.clamp(min=peak_limit))[:, None]
    else:
        factor = (peak_limit / np.maximum(peak, peak_limit)).astype(s2.dtype)[:, None]
    clipped = bool(ops.numpy(peak > peak_limit).any())
    if clipped:  # only then is a pass over the data needed
        mixture = mixture * factor
    outs = [mixture]
    if return_parts:
        outs += [s2 * factor if clipped else s2, noise_part * factor if clipped else noise_part]
    if one_d:
        outs = [o[0] for o in outs]
    return tuple(outs) if return_parts else outs[0]
