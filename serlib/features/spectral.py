"""Spectral sequence features (``lmfb``, ``spectrogram``) in torch, batched, on GPU when present.

Both kinds share the framing in :mod:`serlib.features.kinds`: 400-sample (25 ms) symmetric
Hamming frames every 160 samples (10 ms), no centring, zero-padded to a 512-point real FFT.
Utterances are padded into batches, and each result is cut back to its own frame count, so a
batched result equals the one-at-a-time result (frames never reach into the padding).
torch is imported lazily so that openSMILE worker processes start without it.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .kinds import FeatureKind, frame_count, get_kind

MAX_BATCH_FRAMES = 32_768
"""Upper bound on (utterances x padded frames) per batch: ~120 MB of working memory."""


def resolve_device(device: str | None = None) -> str:
    """``None`` -> ``"cuda"`` when available, else ``"cpu"``; other values pass through."""
    import torch

    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    device = str(device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but torch sees no CUDA GPU; use device=None or 'cpu'")
    return device


@lru_cache(maxsize=8)
def _tables(kind_name: str, device: str):
    """Window and (for lmfb) mel filterbank for a kind on a device."""
    import torch
    import torchaudio.functional as AF

    p = get_kind(kind_name).params
    window = torch.hamming_window(p["win_length"], periodic=False, dtype=torch.float32, device=device)
    fb = None
    if "n_mels" in p:
        fb = AF.melscale_fbanks(
            n_freqs=p["n_fft"] // 2 + 1, f_min=p["f_min"], f_max=p["f_max"], n_mels=p["n_mels"],
            sample_rate=p["sample_rate"], norm=None, mel_scale=p["mel_scale"],
        ).to(device=device, dtype=torch.float32)
    return window, fb


def _batch_features(x, kind: FeatureKind, device: str):
    """Features of a zero-padded batch ``x`` (B, samples) -> (B, frames, dim) tensor."""
    import torch

    p = kind.params
    window, fb = _tables(kind.name, device)
    frames = x.unfold(-1, p["win_length"], p["hop_length"]) * window  # (B, F, win)
    spec = torch.fft.rfft(frames, n=p["n_fft"])  # (B, F, n_fft // 2 + 1)
    if kind.name == "lmfb":
        power = spec.real.square() + spec.imag.square()
        return torch.log(torch.clamp(power @ fb, min=p["floor"]))
    if kind.name == "spectrogram":
        mag = spec[..., : p["n_bins"]].abs()
        return torch.log(torch.clamp(mag, min=p["floor"]))
    raise ValueError(f"feature kind {kind.name!r} is not a spectral kind")


def compute(wavs: list[np.ndarray], kind: str | FeatureKind, device: str | None = None) -> list[np.ndarray]:
    """Features of each signal: a list of float32 (frames, dim) arrays in input order.

    Every signal must hold at least one frame (400 samples); the caller checks this so it can
    name the utterance.
    """
    import torch

    spec = get_kind(kind)
    if spec.backend != "torch":
        raise ValueError(f"feature kind {spec.name!r} is not a spectral kind")
    device = resolve_device(device)
    n_frames = [frame_count(len(w), spec) for w in wavs]
    if any(n == 0 for n in n_frames):
        raise ValueError(f"signal shorter than one frame ({spec.params['win_length']} samples)")
    out: list[np.ndarray | None] = [None] * len(wavs)
    order = sorted(range(len(wavs)), key=lambda i: n_frames[i])
    batch: list[int] = []

    def flush() -> None:
        longest = max(len(wavs[i]) for i in batch)
        x = np.zeros((len(batch), longest), dtype=np.float32)
        for row, i in enumerate(batch):
            x[row, : len(wavs[i])] = wavs[i]
        with torch.no_grad():
            feats = _batch_features(torch.from_numpy(x).to(device), spec, device).float().cpu().numpy()
        for row, i in enumerate(batch):
            out[i] = np.ascontiguousarray(feats[row, : n_frames[i]])
        batch.clear()

    for i in order:  # ascending length: a batch's padding stays small
        if batch and (len(batch) + 1) * n_frames[i] > MAX_BATCH_FRAMES:
            flush()
        batch.append(i)
    if batch:
        flush()
    return out  # type: ignore[return-value]
