"""Data augmentation of paper 5 (Latif et al., Interspeech 2020, Sec. 4.3): mixup and speed perturbation.

**mixup** (Zhang et al., ICLR 2018; paper Eq. 3-4) trains on convex combinations of two
examples and of their labels: ``x~ = lam * x_i + (1 - lam) * x_j``, ``y~ = lam * y_i + (1 - lam) * y_j``.
The paper applies it to spectrograms and gives no distribution for lam; we draw
``lam ~ Beta(alpha, alpha)`` with **alpha = 0.2** (:data:`MIXUP_ALPHA`), the value Zhang et al.
used for ImageNet (they report that alpha in [0.1, 0.4] helps and larger values underfit).
Choices where the paper is vague:

- one lam per batch, and the partner j of example i is ``perm[i]`` for a random permutation
  of the batch (Zhang et al.'s reference implementation): "two randomly selected examples
  from training data" realised without a second data loader;
- labels stay class indices: with cross-entropy, the loss on soft targets ``y~`` equals
  ``lam * CE(out, y_i) + (1 - lam) * CE(out, y_j)`` (CE is linear in the target), which is
  what :func:`mixup_loss` computes; :meth:`Mixed.soft_targets` gives ``y~`` itself;
- mixup is applied to the model's input, i.e. standardized spectrogram segments; every
  training batch is mixed (no clean/mixed alternation).

**speed perturbation** (Ko et al., Interspeech 2015; the Kaldi recipe the paper follows): the
waveform is resampled by ``factor`` and played back at the original rate, so it becomes
``1 / factor`` times as long and **tempo and pitch change together** (factor 1.1: 10% faster,
~1.65 semitones higher), like sox's ``speed`` effect. The paper adds copies at 0.9 and 1.1
(:data:`SPEED_FACTORS`) to the original training set, tripling it; test data is never
perturbed. :class:`SpeedPerturbation` exposes the same ``.key`` / ``.apply(wav, utt_id, sr)``
interface as a noise condition, so ``serlib.features.extract(manifest, "spectrogram",
SpeedPerturbation(0.9))`` computes (and caches) spectrograms of the perturbed audio.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio.functional as AF
from torch import nn

__all__ = [
    "MIXUP_ALPHA",
    "SPEED_FACTORS",
    "Mixed",
    "MixupStep",
    "SpeedPerturbation",
    "mixup",
    "mixup_loss",
    "mixup_train_step",
    "speed_perturb",
    "with_speed_perturbation",
]

MIXUP_ALPHA = 0.2
"""Default Beta(alpha, alpha) parameter of mixup (Zhang et al., 2018; the paper gives none)."""

SPEED_FACTORS = (0.9, 1.1)
"""The paper's speed-perturbation factors (Sec. 4.3)."""


# --------------------------------------------------------------------------- mixup
class Mixed(NamedTuple):
    """A mixed batch: inputs ``x = lam * x_a + (1 - lam) * x_b`` with their two label sets."""

    x: torch.Tensor
    y_a: torch.Tensor
    y_b: torch.Tensor
    lam: float

    def soft_targets(self, n_classes: int) -> torch.Tensor:
        """``lam * onehot(y_a) + (1 - lam) * onehot(y_b)``, shape (batch, n_classes), float."""
        return _as_probs(self.y_a, n_classes) * self.lam + _as_probs(self.y_b, n_classes) * (1.0 - self.lam)


def _as_probs(y: torch.Tensor, n_classes: int) -> torch.Tensor:
    if y.is_floating_point():
        if y.ndim != 2 or y.shape[1] != n_classes:
            raise ValueError(f"soft labels must be (batch, {n_classes}), got {tuple(y.shape)}")
        return y
    return F.one_hot(y.long(), n_classes).float()


def _rng_from(generator: torch.Generator | np.random.Generator | None) -> np.random.Generator:
    """A NumPy generator for lam and the permutation.

    ``None`` draws its seed from torch's global RNG, so ``serlib.training.fit(seed=...)`` (which
    seeds torch) makes mixup reproducible; a ``torch.Generator`` seeds it the same way from that
    generator; a NumPy generator is used as is.
    """
    if isinstance(generator, np.random.Generator):
        return generator
    if generator is not None and not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, a numpy Generator or None, got {type(generator).__name__}")
    seed = int(torch.randint(0, 2**62, (1,), generator=generator).item())
    return np.random.default_rng(seed)


def mixup(x: torch.Tensor, y: torch.Tensor, alpha: float = MIXUP_ALPHA,
          generator: torch.Generator | np.random.Generator | None = None) -> Mixed:
    """Mix a batch with a random permutation of itself (paper Eq. 3-4).

    Args:
        x: inputs (batch, ...), e.g. spectrogram segments (batch, 1, 256, 128).
        y: class indices (batch,) or soft labels (batch, n_classes).
        alpha: lam ~ Beta(alpha, alpha); must be > 0.
        generator: source of randomness (see :func:`_rng_from`); ``None`` uses torch's global RNG.

    Returns:
        :class:`Mixed` ``(x_mixed, y_a, y_b, lam)`` with ``y_a = y`` and ``y_b = y[perm]``.
    """
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"mixup expects torch tensors, got x: {type(x).__name__}, y: {type(y).__name__}")
    if not (isinstance(alpha, (int, float)) and alpha > 0):
        raise ValueError(f"mixup alpha must be a positive number (lam ~ Beta(alpha, alpha)), got {alpha!r}")
    if len(x) != len(y):
        raise ValueError(f"mixup: x has {len(x)} examples but y has {len(y)}")
    if len(x) == 0:
        raise ValueError("mixup got an empty batch")
    if not x.is_floating_point():
        raise TypeError(f"mixup: x must be floating point to be interpolated, got {x.dtype}")
    rng = _rng_from(generator)
    lam = float(rng.beta(alpha, alpha))
    perm = torch.from_numpy(rng.permutation(len(x))).to(x.device)
    x_mixed = lam * x + (1.0 - lam) * x[perm]
    return Mixed(x_mixed, y, y[perm.to(y.device)], lam)


def mixup_loss(logits: torch.Tensor, mixed: Mixed,
               loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy) -> torch.Tensor:
    """``lam * loss_fn(logits, y_a) + (1 - lam) * loss_fn(logits, y_b)`` (= CE on the soft targets)."""
    return mixed.lam * loss_fn(logits, mixed.y_a) + (1.0 - mixed.lam) * loss_fn(logits, mixed.y_b)


@dataclass
class MixupStep:
    """A ``train_step(model, batch, device) -> loss`` for :func:`serlib.training.fit` that mixes
    every training batch ``(x, y)`` before the forward pass.

    ``MixupStep(alpha=0.2)``; ``seed=None`` (default) draws from torch's global RNG, which ``fit``
    seeds, so runs are reproducible from ``fit(seed=...)``. An integer ``seed`` gives the step its
    own generator instead (a fresh ``MixupStep`` per run then repeats exactly).
    """

    alpha: float = MIXUP_ALPHA
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy
    seed: int | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.alpha, (int, float)) and self.alpha > 0):
            raise ValueError(f"MixupStep alpha must be a positive number, got {self.alpha!r}")
        self._rng = None if self.seed is None else np.random.default_rng(self.seed)

    def __call__(self, model: nn.Module, batch: Any, device: torch.device | str | None = None) -> torch.Tensor:
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise TypeError(
                "mixup_train_step expects batches (x, y); got "
                f"{type(batch).__name__}{f' of length {len(batch)}' if isinstance(batch, (tuple, list)) else ''}"
            )
        x, y = batch
        mixed = mixup(x, y, self.alpha, self._rng)
        return mixup_loss(model(mixed.x), mixed, self.loss_fn)


def mixup_train_step(model: nn.Module, batch: Any, device: torch.device | str | None = None) -> torch.Tensor:
    """The default mixup training step (alpha = :data:`MIXUP_ALPHA`, cross-entropy, torch's global RNG):
    ``fit(model, train, val, train_step=mixup_train_step, ...)``. Use :class:`MixupStep` for another alpha."""
    return MixupStep()(model, batch, device)


# --------------------------------------------------------------------------- speed perturbation
def _check_factor(factor: float) -> float:
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not 0.5 <= factor <= 2.0:
        raise ValueError(f"speed factor must be a number in [0.5, 2.0] (the paper uses 0.9 and 1.1), got {factor!r}")
    return float(factor)


def speed_perturb(wav: np.ndarray, factor: float, sr: int = 16000) -> np.ndarray:
    """Kaldi/sox-style speed perturbation: tempo and pitch both scale by ``factor``.

    The signal is treated as if sampled at ``sr * factor`` and resampled to ``sr``
    (``torchaudio.functional.resample``, windowed sinc), so the output has about
    ``len(wav) / factor`` samples. ``factor`` 1.0 returns a float32 copy.
    """
    factor = _check_factor(factor)
    x = np.asarray(wav, dtype=np.float32)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"speed_perturb expects a non-empty mono 1-D waveform, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("speed_perturb: the waveform holds NaN/inf samples")
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise ValueError(f"sr must be a positive integer sample rate, got {sr!r}")
    if factor == 1.0:
        return x.copy()
    # rational orig/new rates: factor is rounded to 1/1000 (exactly 0.9 and 1.1 for the paper's factors)
    orig = int(round(factor * 1000))
    y = AF.resample(torch.from_numpy(x), orig_freq=orig, new_freq=1000)
    return y.numpy().astype(np.float32, copy=False)


@dataclass(frozen=True)
class SpeedPerturbation:
    """Speed perturbation as an audio condition: ``.key`` and ``.apply(wav, utt_id, sr)``.

    Deterministic (no randomness), picklable; ``key`` is e.g. ``"speed0.9"``. Usable wherever a
    noise condition is accepted, e.g. ``serlib.features.extract(manifest, "spectrogram", cond)``.
    """

    factor: float

    def __post_init__(self) -> None:
        _check_factor(self.factor)

    @property
    def key(self) -> str:
        return f"speed{self.factor:g}"

    def apply(self, wav: np.ndarray, utt_id: str = "", sr: int = 16000) -> np.ndarray:
        return speed_perturb(wav, self.factor, sr)


def with_speed_perturbation(items: Iterable[tuple[np.ndarray, Any]], factors: Iterable[float] = SPEED_FACTORS,
                            sr: int = 16000, keep_original: bool = True) -> list[tuple[np.ndarray, Any]]:
    """Expand ``[(wav, label), ...]`` with speed-perturbed copies (same label).

    Order: for each item, the original (if ``keep_original``) then one copy per factor, so the
    paper's setting (0.9, 1.1, originals kept) triples the training set.
    """
    factors = [_check_factor(f) for f in factors]
    out: list[tuple[np.ndarray, Any]] = []
    for i, item in enumerate(items):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise TypeError(f"item {i} must be a (wav, label) pair, got {type(item).__name__}")
        wav, label = item
        if keep_original:
            out.append((np.asarray(wav, dtype=np.float32), label))
        out.extend((speed_perturb(wav, f, sr), label) for f in factors)
    return out
