"""Fixed-size inputs from variable-length feature sequences, and feature standardisation.

- :func:`stack`: (N, max_frames, bins) for fixed-length models (TRNet: 500 frames, repeat-padded).
- :func:`segment` / :func:`segment_stack`: fixed-length segments of one / many sequences
  (paper 5: 256-frame segments, utterance prediction = mean posterior of its segments).
- :class:`Standardizer`: z-scoring fitted on training data only, with paper 2's robust
  variant (statistics within the 0.5-99.5 percentiles, then clipping to +-10).
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
import pandas as pd

Pad = Literal["repeat", "zero"]


def _as_seq(seq, i: int | None = None) -> np.ndarray:
    a = np.asarray(seq, dtype=np.float32)
    where = "" if i is None else f" (sequence {i})"
    if a.ndim != 2 or a.shape[0] == 0:
        raise ValueError(f"expected a (frames, bins) array with at least one frame{where}, got shape {a.shape}")
    return a


def _fit_length(a: np.ndarray, length: int, pad: Pad) -> np.ndarray:
    """Truncate ``a`` to ``length`` frames, or pad it: ``repeat`` tiles it, ``zero`` appends zeros."""
    if pad not in ("repeat", "zero"):
        raise ValueError(f"pad must be 'repeat' or 'zero', got {pad!r}")
    t = a.shape[0]
    if t >= length:
        return a[:length]
    if pad == "repeat":
        return np.tile(a, (-(-length // t), 1))[:length]
    out = np.zeros((length, a.shape[1]), dtype=np.float32)
    out[:t] = a
    return out


def stack(seqs: Sequence[np.ndarray], max_frames: int, pad: Pad = "repeat") -> np.ndarray:
    """Stack sequences into a float32 (N, max_frames, bins) array.

    Longer sequences keep their first ``max_frames`` frames; shorter ones are padded by
    repeating themselves from the start (``"repeat"``, TRNet's choice) or with zeros (``"zero"``).
    Use ``torch.from_numpy`` on the result for a tensor.
    """
    if max_frames < 1:
        raise ValueError(f"max_frames must be >= 1, got {max_frames}")
    arrays = [_as_seq(s, i) for i, s in enumerate(seqs)]
    if not arrays:
        raise ValueError("stack() got no sequences")
    bins = {a.shape[1] for a in arrays}
    if len(bins) > 1:
        raise ValueError(f"sequences have different numbers of bins {sorted(bins)}; they cannot be stacked")
    return np.stack([_fit_length(a, max_frames, pad) for a in arrays])


def segment(seq: np.ndarray, length: int = 256, hop: int | None = None, pad: Pad = "repeat") -> list[np.ndarray]:
    """Cut one (frames, bins) sequence into (length, bins) segments starting every ``hop`` frames.

    ``hop`` defaults to ``length`` (no overlap). Segments start at 0, hop, 2*hop, ... until one
    reaches the last frame; that last segment, if it runs past the end, is padded (``pad`` as
    in :func:`stack`: ``repeat`` tiles the segment's own frames). So every frame is covered,
    no segment is only padding, and a sequence shorter than ``length`` gives one padded segment.
    """
    if length < 1:
        raise ValueError(f"length must be >= 1, got {length}")
    hop = length if hop is None else hop
    if hop < 1:
        raise ValueError(f"hop must be >= 1, got {hop}")
    a = _as_seq(seq)
    out = []
    for start in range(0, a.shape[0], hop):
        out.append(_fit_length(a[start : start + length], length, pad))
        if start + length >= a.shape[0]:
            break
    return out


def segment_stack(
    seqs: Sequence[np.ndarray], length: int = 256, hop: int | None = None, pad: Pad = "repeat"
) -> tuple[np.ndarray, np.ndarray]:
    """Segment every sequence: a float32 (M, length, bins) array and ``owner`` (M,) = index of its sequence.

    Utterance-level scores are then e.g. ``pd.DataFrame(probs).groupby(owner).mean()``.
    """
    segs, owner = [], []
    for i, s in enumerate(seqs):
        parts = segment(s, length, hop, pad)
        segs.extend(parts)
        owner.extend([i] * len(parts))
    if not segs:
        raise ValueError("segment_stack() got no sequences")
    return np.stack(segs), np.asarray(owner, dtype=np.int64)


def _matrix(x) -> np.ndarray:
    """2-D float64 view of a table, an array, or a list of (frames, bins) sequences (frames pooled)."""
    if isinstance(x, pd.DataFrame):
        m = x.to_numpy(dtype=np.float64)
    elif isinstance(x, np.ndarray):
        m = x.astype(np.float64, copy=False)
    else:
        m = np.concatenate([np.asarray(s, dtype=np.float64) for s in x], axis=0)
    if m.ndim == 3:  # stacked (N, frames, bins): pool frames
        m = m.reshape(-1, m.shape[-1])
    if m.ndim != 2 or m.shape[0] == 0:
        raise ValueError(f"expected (rows, features) data with at least one row, got shape {m.shape}")
    return m


class Standardizer:
    """Per-feature z-scoring ``(x - mean) / std``, fitted on the training set only.

    Args:
        robust: compute mean and std per feature from the values within its
            ``percentiles`` (paper 2: 0.5-99.5), so outliers do not inflate them.
        percentiles: the (low, high) percentiles of the robust variant.
        clip: after scaling, clip to +-``clip`` (paper 2: 10); ``None`` = no clipping.

    Works on a DataFrame (returns one with the same index/columns), a 2-D or 3-D array, or a
    list of (frames, bins) sequences (frames are pooled for fitting; returns a list).
    Features with zero spread get std 1 (they become 0 after centring). NaN/inf in the data
    raise a ``ValueError``: they must be handled before they reach a model.
    """

    def __init__(self, robust: bool = False, percentiles: tuple[float, float] = (0.5, 99.5), clip: float | None = None):
        lo, hi = percentiles
        if not 0 <= lo < hi <= 100:
            raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles}")
        if clip is not None and clip <= 0:
            raise ValueError(f"clip must be positive or None, got {clip}")
        self.robust, self.percentiles, self.clip = robust, (float(lo), float(hi)), clip
        self.mean_: np.ndarray | None = None
        self.std_: np.ndarray | None = None

    def fit(self, x) -> "Standardizer":
        m = _matrix(x)
        if not np.isfinite(m).all():
            raise ValueError(f"Standardizer.fit: data holds {int((~np.isfinite(m)).sum())} NaN/inf values; clean them first")
        if self.robust:
            lo, hi = np.percentile(m, self.percentiles, axis=0)
            inside = (m >= lo) & (m <= hi)  # never empty: the values at the percentiles' ranks lie inside
            count = inside.sum(axis=0)
            mean = np.where(inside, m, 0.0).sum(axis=0) / count
            var = np.where(inside, (m - mean) ** 2, 0.0).sum(axis=0) / count
            std = np.sqrt(var)
        else:
            mean, std = m.mean(axis=0), m.std(axis=0)
        self.mean_ = mean
        self.std_ = np.where(std > 1e-12, std, 1.0)
        return self

    def transform(self, x):
        if self.mean_ is None:
            raise RuntimeError("Standardizer is not fitted: call fit() on the training set first")

        def scale(a: np.ndarray) -> np.ndarray:
            a = np.asarray(a, dtype=np.float64)
            if a.shape[-1] != self.mean_.shape[0]:
                raise ValueError(f"data has {a.shape[-1]} features, the Standardizer was fitted on {self.mean_.shape[0]}")
            z = (a - self.mean_) / self.std_
            if self.clip is not None:
                z = np.clip(z, -self.clip, self.clip)
            return z.astype(np.float32)

        if isinstance(x, pd.DataFrame):
            return pd.DataFrame(scale(x.to_numpy()), index=x.index, columns=x.columns)
        if isinstance(x, np.ndarray):
            return scale(x)
        return [scale(s) for s in x]

    def fit_transform(self, x):
        return self.fit(x).transform(x)
