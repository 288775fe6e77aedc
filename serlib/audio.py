"""Audio I/O: read any wav/flac/ogg to mono float32 at a target rate, validate it, write atomically.

Every reader in the repository goes through :func:`load_audio`, so bad input is
caught in one place with a message that names the file and the fix:

- unreadable file (corrupt, unknown format)      -> :class:`AudioError`
- empty file (no samples)                         -> :class:`AudioError`
- NaN or inf samples                              -> :class:`AudioError`
- digital silence (RMS below ``SILENCE_RMS``)     -> :class:`AudioError` (SNR and openSMILE are undefined)

Resampling uses a polyphase filter (``scipy.signal.resample_poly``), which is
exact for rational ratios such as 22050 -> 16000 (320/441) and 44100 -> 16000.
"""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

SR = 16_000
"""The sample rate used throughout the repository (Hz)."""

SILENCE_RMS = 1e-5
"""RMS (full scale = 1.0) below which a signal counts as silent (about -100 dBFS)."""


class AudioError(ValueError):
    """Raised for audio that cannot be used; the message names the file and the fix."""


def resample(x: np.ndarray, sr_in: int, sr_out: int = SR) -> np.ndarray:
    """Resample ``x`` (last axis = time) from ``sr_in`` to ``sr_out`` with a polyphase filter."""
    if sr_in == sr_out:
        return np.asarray(x, dtype=np.float32)
    frac = Fraction(int(sr_out), int(sr_in))
    y = resample_poly(np.asarray(x, dtype=np.float64), frac.numerator, frac.denominator, axis=-1)
    return y.astype(np.float32)


def check_audio(x: np.ndarray, name: str = "<array>", *, allow_silent: bool = False) -> np.ndarray:
    """Validate a mono signal: non-empty, finite, and (unless ``allow_silent``) not silent.

    Returns ``x`` as float32 so the call can be chained.
    """
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 1:
        raise AudioError(f"{name}: expected a mono 1-D signal, got shape {x.shape}")
    if x.size == 0:
        raise AudioError(f"{name}: audio is empty (0 samples); re-export or remove this file")
    if not np.all(np.isfinite(x)):
        bad = int(np.sum(~np.isfinite(x)))
        raise AudioError(f"{name}: audio has {bad} NaN/inf samples; re-export or remove this file")
    if not allow_silent and float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) < SILENCE_RMS:
        raise AudioError(
            f"{name}: audio is silent (RMS < {SILENCE_RMS:g}); SNR and acoustic features are undefined "
            "for it. Remove it from the corpus or check the recording."
        )
    return x


def load_audio(path: str | os.PathLike, sr: int = SR, *, allow_silent: bool = False) -> np.ndarray:
    """Read ``path`` to a mono float32 signal at ``sr`` Hz (channels are averaged).

    Raises :class:`AudioError` naming the file if it is missing, unreadable, empty,
    non-finite or silent.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: file not found; check the corpus root or the label file that names it")
    try:
        x, file_sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises several types (LibsndfileError, RuntimeError, ...)
        raise AudioError(f"{path}: unreadable audio ({exc}); re-export it as wav/flac/ogg") from exc
    if x.shape[0] == 0:
        raise AudioError(f"{path}: audio is empty (0 samples); re-export or remove this file")
    x = x.mean(axis=1)
    x = resample(x, file_sr, sr)
    return check_audio(x, str(path), allow_silent=allow_silent)


def atomic_write(path: str | os.PathLike, write) -> Path:
    """Call ``write(tmp_path)`` then rename onto ``path``: readers never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp" + path.suffix)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def save_wav(path: str | os.PathLike, x: np.ndarray, sr: int = SR) -> Path:
    """Write a mono float signal as 16-bit PCM wav, atomically."""
    x = np.clip(np.asarray(x, dtype=np.float32), -1.0, 1.0)
    return atomic_write(path, lambda tmp: sf.write(tmp, x, sr, subtype="PCM_16", format="WAV"))


def rms(x: np.ndarray) -> float:
    """Root-mean-square level of a signal (full scale = 1.0)."""
    return float(np.sqrt(np.mean(np.square(np.asarray(x, dtype=np.float64)))))
