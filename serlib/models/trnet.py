"""TRNet: two-level refinement network on top of a frozen speech-enhancement front end (paper 3).

Chen & Zhang, "TRNet: Two-level Refinement Network leveraging Speech Enhancement for Noise
Robust Speech Emotion Recognition" (``../shared/papers/3_trnet_chen_zhang.txt``). The speech
enhancement (SE) front end itself lives in :mod:`serlib.enhance`; TRNet receives spectrograms:

- ``noisy`` X, ``enhanced`` X_e = LMFB(SE(noisy)) and, during training only, ``clean`` X_s,
  each a float tensor ``(batch, frames, 80)`` of log-mel filterbanks (25 ms / 10 ms, 500 frames).

What this module builds (paper section in brackets):

- :class:`SNRAwareModule` [3.2, eqs. 1-5]: ``d_i = cos(X[:, i], X_e[:, i])`` over time for each mel
  bin i (a vector of 80), ``c = Hardtanh_{0,1}(Linear(80 -> 1)(d))``, ``X~ = c*X + (1-c)*X_e``.
- :class:`SERNet` [3.3, 4.2]: the SER module. Residual conv blocks with 32, 64, 128, 256 filters,
  5x5 kernels, stride 2; average pooling over frequency; attention pooling over time -> h (256-d);
  a classifier -> logits. Used alone it is Baseline-c (trained on clean), Baseline-n (clean + noisy)
  and Baseline-e (input = enhanced spectrogram) [4.4]; a pre-trained, frozen copy is the teacher
  that gives ``h_s`` from the clean spectrogram.
- :class:`FiLMBridge` [3.4, eq. 6]: ``h~ = FC1(c) * h + FC2(c)``.
- :class:`TRNet` [3.5, eq. 8]: ``L = L_task + alpha * L_low + beta * L_high`` with
  ``L_low = MSE(X~, X_s)``, ``L_high = MSE(h~, h_s)``, alpha = beta = 0.5. The ablations of Table 1
  are flags: :func:`make_trnet` with ``"wo_low"`` / ``"wo_high"`` (see :data:`VARIANTS`).
- For the shared loop :func:`serlib.training.fit`: :func:`train_step` (the three-term loss; batch =
  ``dict(noisy, enhanced, clean, y)``), :func:`predict_fn` (validation on such batches) and
  :class:`TripletDataset` (in-memory spectrograms -> fixed-length dict items).
- Analyses: :meth:`TRNet.predict_c` (Figure 2: c vs SNR), :meth:`TRNet.embed` /
  :meth:`SERNet.embed` (Figure 3: t-SNE of representations).

Typical use::

    teacher = SERNet()                       # train as Baseline-c with fit(teacher, (X_clean, y), ...)
    model = make_trnet("trnet", teacher)     # teacher deep-copied and frozen
    res = fit(model, TripletDataset(noisy, enhanced, clean, y), TripletDataset(vn, ve, None, vy),
              train_step=train_step, predict_fn=predict_fn, val_metric="uar",
              lr=1e-3, batch_size=32, epochs=80, grad_clip=10.0)

Choices where the paper is vague (the official code is GitHub ``zxpoqas123/TRNet``, read for this
module; ``NOTES.md`` summarises it). Each one is a constructor argument where that is cheap.

1. **Deltas** (``SERNet(deltas=True)``, default). The paper says "80-dimensional LMFB"; the
   official code stacks the LMFB with its deltas and delta-deltas (3 channels) *inside* the model,
   after compensation. We do the same (``torchaudio.functional.compute_deltas``, window 5), so the
   inputs, the cosine similarity and L_low stay on the 80 static bins exactly as the paper writes
   them; ``deltas=False`` gives the literal single-channel reading.
2. **Fixed length.** 500 frames (= the official 5 s): shorter clips are *tiled* (repeated) and
   longer ones truncated (:func:`fix_length`), as the official code repeats the waveform; no
   padding masks are needed. Cutting is done from the start (deterministic).
3. **Input normalisation**: a BatchNorm over every (channel, mel bin) before the first conv. The
   official ``bn0`` normalises per mel bin only (pooling static and delta channels); log-mel
   values have a large offset, so some per-bin normalisation is needed either way.
4. **Residual block** (the paper gives filters, kernel and stride only; the official code has a
   plain CNN6 with 64..512 filters and 2x2 max pooling, not what the paper describes, so we follow
   the paper): ``conv5x5/stride2 -> BN -> ReLU -> conv5x5/stride1 -> BN``, plus a projection
   shortcut ``conv1x1/stride2 -> BN``, summed, then ReLU (the ResNet basic block with the stride on
   the first conv), followed by dropout 0.2 (as after every official block). Padding 2 keeps
   ``ceil(n/2)`` per stride: 500 x 80 -> 250x40 -> 125x20 -> 63x10 -> 32x5.
5. **Attention pooling** over time: the official ``AttBlock`` (PANNs style): two 1x1 convs give
   attention logits and values of size ``h_dim`` = 256; the logits are clamped to [-10, 10] and
   soft-maxed over time *per dimension*; h = sum over time of weights x values. (The paper cites
   Mirsamadi et al. 2017, whose weights are one scalar per frame; we follow the code the authors
   ran.)
6. **Classifier**: ``Linear(256, 128) -> ReLU -> Dropout(0.3) -> Linear(128, n_classes)`` (the
   official head, minus its BatchNorm1d, which fails on a final training batch of one example: the
   shared loop keeps partial batches). It outputs logits; ``L_task`` = cross-entropy.
7. **Where the bridge sits**: the classifier reads the calibrated ``h~`` (official code), so the
   bridge also acts at inference (the red arrows of the paper's Figure 1).
8. **Norms in the losses**: ``||.||_2^2`` in eqs. 5 and 7 is implemented as the *mean* squared
   error over all elements (the official ``MSE`` = sum / numel); with a sum the weights 0.5 would
   depend on the batch and spectrogram size.
9. **Teacher**: ``h_s`` is the frozen teacher's attention-pooled representation of X_s, computed in
   eval mode (BatchNorm running statistics, no dropout) without gradients; ``TRNet.train()`` never
   switches the teacher to training mode. The teacher is deep-copied, so freezing it does not
   touch the caller's Baseline-c. The student SER module starts from random weights as in the
   official code (``init_from_teacher=True`` starts it from the teacher's weights instead).
10. **Initialisation**: conv and linear weights Xavier-uniform, biases 0 (official). Two
    exceptions, so that training starts from the plain model and no gradient is lost: the SNR
    layer starts at weight 0, bias 0.5 (c = 0.5 for every input, the middle of the Hardtanh's
    linear range; a random start can saturate at 0 or 1 where Hardtanh passes no gradient), and
    the FiLM layers start at the identity (FC1 -> 1, FC2 -> 0, i.e. h~ = h). The official code uses
    PyTorch's default initialisation for both.
11. **Ablations** (official scripts): "w/o L_low" = alpha 0, the SNR-aware module kept (c is then
    trained through the task and L_high only); "w/o L_high" = beta 0 *and* no bridge (the official
    ``TRNet_wo_high`` removes the FiLM module; the classifier reads h) and no teacher needed.

Training recipe facts from the paper/official code, for the notebook: Adam 1e-3, batch 32, at most
80 epochs (official scripts: 100), gradient-norm clipping at 10 (official), CE loss. Each training
item is drawn at one SNR from {clean, 20, 15, 10, 5, 0 dB} (official ``data.py``); a clean item
enters as ``noisy = clean``, ``enhanced = LMFB(SE(clean))``. Select the epoch on the validation
speaker (the official script reports the best *test* epoch; we do not).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset
from torchaudio.functional import compute_deltas

from .baselines import n_parameters as count_parameters  # the one parameter counter, under this module's name

__all__ = [
    "N_FRAMES",
    "N_MELS",
    "VARIANTS",
    "AttentionPooling",
    "FiLMBridge",
    "ResidualBlock",
    "SERNet",
    "SNRAwareModule",
    "TRNet",
    "TRNetOutput",
    "TripletDataset",
    "count_parameters",
    "fix_length",
    "make_trnet",
    "predict_fn",
    "train_step",
    "SYSTEMS",
    "check_system",
    "fit_system",
    "predict_system",
    "embed_system",
    "spectrograms",
    "training_levels",
    "training_items",
    "training_set",
    "select",
    "first_copies",
    "centre_spread",
    "FAMILIES",
    "EMBED_SYSTEMS",
    "TEACHER_SYSTEMS",
    "train_condition",
    "test_conditions",
    "prepare",
    "DRY_PARTS",
    "dry_splits",
    "grid",
    "run_task",
    "predictions",
    "table1_rows",
    "c_values",
    "c_rows",
    "embeddings",
    "alignment_rows",
    "tsne_inputs",
    "fit_summary",
]

N_MELS = 80
"""Mel bins of the input (paper 4.2)."""
N_FRAMES = 500
"""Frames per clip after tiling/truncation (paper 4.2; 5 s at a 10 ms shift)."""

VARIANTS: dict[str, dict[str, Any]] = {
    "trnet": dict(alpha=0.5, beta=0.5, bridge=True),
    "wo_low": dict(alpha=0.0, beta=0.5, bridge=True),
    "wo_high": dict(alpha=0.5, beta=0.0, bridge=False),
}
"""The three TRNet systems of Table 1: loss weights and whether the FiLM bridge exists."""


# --------------------------------------------------------------------------- helpers
def fix_length(spec: np.ndarray | torch.Tensor, n_frames: int = N_FRAMES) -> np.ndarray | torch.Tensor:
    """Tile (repeat) or truncate a ``(frames, bins)`` spectrogram to exactly ``n_frames`` frames.

    Repetition instead of zero padding follows the official code (it repeats the waveform) and
    avoids fake "silence" frames, whose log-mel value would be arbitrary. Returns the same type.
    """
    if n_frames < 1:
        raise ValueError(f"n_frames must be >= 1, got {n_frames}")
    if spec.ndim != 2 or spec.shape[0] == 0:
        raise ValueError(f"fix_length expects a non-empty (frames, bins) spectrogram, got shape {tuple(spec.shape)}")
    t = spec.shape[0]
    if t < n_frames:
        reps = -(-n_frames // t)
        spec = torch.cat([spec] * reps) if isinstance(spec, torch.Tensor) else np.concatenate([spec] * reps)
    return spec[:n_frames]


def _init_layer(layer: nn.Module) -> None:
    nn.init.xavier_uniform_(layer.weight)
    if getattr(layer, "bias", None) is not None:
        nn.init.zeros_(layer.bias)


def _check_spec(x: torch.Tensor, name: str, n_mels: int) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor (batch, frames, {n_mels}), got {type(x).__name__}")
    if x.ndim != 3 or x.shape[-1] != n_mels or x.shape[1] < 1:
        hint = " (frames and mel bins swapped? pass (batch, frames, mels))" if x.ndim == 3 and x.shape[1] == n_mels else ""
        raise ValueError(f"{name} must have shape (batch, frames, {n_mels}), got {tuple(x.shape)}{hint}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")


# --------------------------------------------------------------------------- SER module
class ResidualBlock(nn.Module):
    """``conv(k, stride) -> BN -> ReLU -> conv(k, 1) -> BN`` + projection shortcut, then ReLU.

    The shortcut is ``conv1x1(stride) -> BN`` when the stride or the width changes, else identity.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 2) -> None:
        super().__init__()
        pad = kernel_size // 2
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size, stride, pad, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size, 1, pad, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
            )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                _init_layer(m)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C_in, T, F) -> (B, C_out, ceil(T/stride), ceil(F/stride))``."""
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class AttentionPooling(nn.Module):
    """Attention pooling over time (official ``AttBlock``): per-dimension softmax weights.

    ``x (B, C, T) -> h (B, h_dim)``; ``h = sum_t softmax_t(clamp(W_a x, -10, 10)) * (W_v x)``.
    """

    def __init__(self, in_channels: int, h_dim: int = 256) -> None:
        super().__init__()
        self.att = nn.Conv1d(in_channels, h_dim, 1)
        self.val = nn.Conv1d(in_channels, h_dim, 1)
        _init_layer(self.att)
        _init_layer(self.val)

    def forward(self, x: torch.Tensor, return_weights: bool = False):
        w = torch.softmax(torch.clamp(self.att(x), -10.0, 10.0), dim=-1)
        h = torch.sum(w * self.val(x), dim=-1)
        return (h, w) if return_weights else h


class SERNet(nn.Module):
    """The SER module of TRNet (paper 3.3 / 4.2); alone it is Baseline-c, -n and -e.

    Args:
        n_classes: emotion classes (4: angry, happy, neutral, sad).
        n_mels: mel bins of the input spectrogram.
        channels: filters of the residual blocks (paper: 32, 64, 128, 256). Smaller widths are
            allowed for CPU profiles; say so when reporting.
        kernel_size, stride: of the first conv of each block (paper: 5, 2).
        deltas: stack deltas and delta-deltas as input channels (official code; see choice 1).
        h_dim: size of the utterance representation h (official: 256).
        dropout: after each residual block (official: 0.2). head_dropout: in the classifier (0.3).

    ``forward(x)`` maps ``(batch, frames, n_mels)`` to logits ``(batch, n_classes)``; with
    ``return_h=True`` it returns ``(logits, h)``. ``config`` holds the constructor arguments, so an
    identical copy is ``SERNet(**net.config)``.
    """

    def __init__(
        self,
        n_classes: int = 4,
        n_mels: int = N_MELS,
        channels: Sequence[int] = (32, 64, 128, 256),
        kernel_size: int = 5,
        stride: int = 2,
        deltas: bool = True,
        h_dim: int = 256,
        dropout: float = 0.2,
        head_dropout: float = 0.3,
    ) -> None:
        super().__init__()
        channels = tuple(int(c) for c in channels)
        if n_classes < 2 or n_mels < 1 or h_dim < 2 or not channels or min(channels) < 1:
            raise ValueError(
                f"SERNet: need n_classes >= 2, n_mels >= 1, h_dim >= 2 and positive channels; got "
                f"n_classes={n_classes}, n_mels={n_mels}, h_dim={h_dim}, channels={channels}"
            )
        if kernel_size < 1 or kernel_size % 2 == 0 or stride < 1:
            raise ValueError(f"SERNet: kernel_size must be odd and >= 1, stride >= 1; got {kernel_size}, {stride}")
        self.config = dict(n_classes=n_classes, n_mels=n_mels, channels=channels, kernel_size=kernel_size,
                           stride=stride, deltas=deltas, h_dim=h_dim, dropout=dropout, head_dropout=head_dropout)
        self.n_mels, self.deltas = n_mels, deltas
        in_ch = 3 if deltas else 1
        self.input_bn = nn.BatchNorm1d(in_ch * n_mels)
        blocks, c_prev = [], in_ch
        for c in channels:
            blocks += [ResidualBlock(c_prev, c, kernel_size, stride), nn.Dropout(dropout)]
            c_prev = c
        self.encoder = nn.Sequential(*blocks)
        self.pool = AttentionPooling(c_prev, h_dim)
        self.classifier = nn.Sequential(
            nn.Linear(h_dim, h_dim // 2), nn.ReLU(), nn.Dropout(head_dropout), nn.Linear(h_dim // 2, n_classes)
        )
        for m in self.classifier:
            if isinstance(m, nn.Linear):
                _init_layer(m)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, F)`` log-mel -> normalised ``(B, C, T, F)`` network input (C = 3 with deltas).

        Runs in float32 even under autocast: the deltas are differences of neighbouring raw log-mel
        frames (|values| up to ~23, where bf16 steps by 0.125), a conv1d that autocast would run in
        reduced precision, and the input normalisation follows them.
        """
        _check_spec(x, "SERNet input", self.n_mels)
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self._features(x.float())

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        if self.deltas:
            xt = x.transpose(1, 2)  # (B, F, T): compute_deltas works along the last axis
            d1 = compute_deltas(xt)
            d2 = compute_deltas(d1)
            z = torch.stack([xt, d1, d2], dim=1)  # (B, 3, F, T)
        else:
            z = x.transpose(1, 2).unsqueeze(1)  # (B, 1, F, T)
        b, c, f, t = z.shape
        z = self.input_bn(z.reshape(b, c * f, t)).reshape(b, c, f, t)
        return z.transpose(2, 3)  # (B, C, T, F)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The utterance representation h ``(B, h_dim)`` of a ``(B, T, n_mels)`` spectrogram."""
        z = self.encoder(self.features(x))  # (B, C, T', F')
        return self.pool(z.mean(dim=3))  # average over frequency, attention over time

    def classify(self, h: torch.Tensor) -> torch.Tensor:
        """Logits from a representation ``(B, h_dim)``."""
        return self.classifier(h)

    def forward(self, x: torch.Tensor, return_h: bool = False):
        h = self.embed(x)
        logits = self.classify(h)
        return (logits, h) if return_h else logits


# --------------------------------------------------------------------------- TRNet parts
class SNRAwareModule(nn.Module):
    """Eqs. 1-4: per-bin cosine similarity over time -> ``Linear(n_mels, 1)`` -> Hardtanh(0, 1) = c.

    ``forward(noisy, enhanced)`` returns ``(x_tilde, c, d)`` with ``x_tilde = c*noisy + (1-c)*enhanced``
    ``(B, T, F)``, ``c`` ``(B,)`` in [0, 1] and the similarity vector ``d`` ``(B, F)``.
    """

    def __init__(self, n_mels: int = N_MELS) -> None:
        super().__init__()
        self.n_mels = n_mels
        self.fc = nn.Linear(n_mels, 1)
        nn.init.zeros_(self.fc.weight)  # c = 0.5 everywhere at the start (choice 10)
        nn.init.constant_(self.fc.bias, 0.5)

    def similarity(self, noisy: torch.Tensor, enhanced: torch.Tensor) -> torch.Tensor:
        """d: cosine similarity between the time series of each mel bin, ``(B, F)`` (eq. 1)."""
        return F.cosine_similarity(noisy, enhanced, dim=1, eps=1e-8)

    def forward(self, noisy: torch.Tensor, enhanced: torch.Tensor):
        _check_spec(noisy, "noisy", self.n_mels)
        _check_spec(enhanced, "enhanced", self.n_mels)
        if noisy.shape != enhanced.shape:
            raise ValueError(
                f"noisy {tuple(noisy.shape)} and enhanced {tuple(enhanced.shape)} spectrograms differ in shape; "
                "cut both to the same frames (fix_length / TripletDataset do)"
            )
        d = self.similarity(noisy, enhanced)
        c = F.hardtanh(self.fc(d), 0.0, 1.0)  # (B, 1)
        w = c.unsqueeze(-1)  # (B, 1, 1)
        x_tilde = w * noisy + (1.0 - w) * enhanced
        return x_tilde, c.squeeze(-1), d


class FiLMBridge(nn.Module):
    """Eq. 6: ``h~ = FC1(c) * h + FC2(c)`` with ``FC1, FC2: Linear(1, h_dim)``; starts at the identity."""

    def __init__(self, h_dim: int = 256) -> None:
        super().__init__()
        self.scale = nn.Linear(1, h_dim)  # FC1
        self.shift = nn.Linear(1, h_dim)  # FC2
        nn.init.zeros_(self.scale.weight)
        nn.init.ones_(self.scale.bias)
        nn.init.zeros_(self.shift.weight)
        nn.init.zeros_(self.shift.bias)

    def forward(self, h: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        c = c.reshape(-1, 1).to(h.dtype)
        return self.scale(c) * h + self.shift(c)


class TRNetOutput(NamedTuple):
    """Everything :meth:`TRNet.forward` computes (``return_all=True``)."""

    logits: torch.Tensor
    """(B, n_classes), from the classifier applied to ``h_tilde``."""
    c: torch.Tensor
    """(B,) estimated SNR coefficient in [0, 1] (Figure 2)."""
    x_tilde: torch.Tensor
    """(B, T, F) compensated spectrogram (compared with X_s in L_low)."""
    h: torch.Tensor
    """(B, h_dim) student representation before the bridge."""
    h_tilde: torch.Tensor
    """(B, h_dim) calibrated representation (= h without a bridge); compared with h_s in L_high."""


class TRNet(nn.Module):
    """TRNet (paper 3): SNR-aware compensation -> SER module -> FiLM bridge -> classifier.

    Args:
        teacher: a :class:`SERNet` pre-trained on clean data (Baseline-c). It is deep-copied,
            frozen (``requires_grad=False``) and kept in eval mode; the student SER module is a
            new ``SERNet(**teacher.config)``. May be None only when ``beta == 0``; then the
            student is ``SERNet(**ser_kwargs)``.
        alpha, beta: weights of L_low and L_high in eq. 8 (paper: 0.5, 0.5; 0 switches a term off).
        bridge: build the FiLM bridge (False for "w/o L_high", as in the official code).
        init_from_teacher: start the student from the teacher's weights (default: random, official).
        ser_kwargs: SERNet arguments when there is no teacher.

    ``forward(noisy, enhanced)`` -> logits; ``return_all=True`` -> :class:`TRNetOutput`.
    ``loss_terms(batch)`` -> dict of the loss and its terms; :func:`train_step` wraps it for fit.
    """

    def __init__(
        self,
        teacher: SERNet | None,
        *,
        alpha: float = 0.5,
        beta: float = 0.5,
        bridge: bool = True,
        init_from_teacher: bool = False,
        **ser_kwargs: Any,
    ) -> None:
        super().__init__()
        if alpha < 0 or beta < 0:
            raise ValueError(f"TRNet: loss weights must be >= 0, got alpha={alpha}, beta={beta}")
        if teacher is None:
            if beta > 0:
                raise ValueError(
                    f"TRNet: beta={beta} > 0 needs the teacher (a SERNet pre-trained on clean data, Baseline-c) "
                    "for L_high; pass teacher=... or beta=0 (the 'wo_high' variant)"
                )
            if init_from_teacher:
                raise ValueError("TRNet: init_from_teacher=True needs a teacher")
            self.student = SERNet(**ser_kwargs)
            self.teacher: SERNet | None = None
        else:
            if not isinstance(teacher, SERNet):
                raise TypeError(f"TRNet: teacher must be a SERNet (Baseline-c), got {type(teacher).__name__}")
            if ser_kwargs:
                raise ValueError(
                    f"TRNet: the student copies the teacher's architecture; drop {sorted(ser_kwargs)} "
                    f"(teacher config: {teacher.config})"
                )
            self.teacher = copy.deepcopy(teacher).requires_grad_(False).eval()
            self.student = SERNet(**teacher.config)
            if init_from_teacher:
                self.student.load_state_dict(teacher.state_dict())
        self.alpha, self.beta = float(alpha), float(beta)
        n_mels, h_dim = self.student.config["n_mels"], self.student.config["h_dim"]
        self.snr = SNRAwareModule(n_mels)
        self.bridge: FiLMBridge | None = FiLMBridge(h_dim) if bridge else None

    def train(self, mode: bool = True) -> TRNet:
        """Like ``nn.Module.train``, but the frozen teacher always stays in eval mode."""
        super().train(mode)
        if self.teacher is not None:
            self.teacher.eval()
        return self

    def forward(self, noisy: torch.Tensor, enhanced: torch.Tensor, return_all: bool = False):
        x_tilde, c, _ = self.snr(noisy, enhanced)
        h = self.student.embed(x_tilde)
        h_tilde = self.bridge(h, c) if self.bridge is not None else h
        logits = self.student.classify(h_tilde)
        if return_all:
            return TRNetOutput(logits, c, x_tilde, h, h_tilde)
        return logits

    def embed(self, noisy: torch.Tensor, enhanced: torch.Tensor) -> torch.Tensor:
        """The representation the classifier reads (``h~``; ``h`` without bridge), for Figure 3."""
        return self.forward(noisy, enhanced, return_all=True).h_tilde

    @torch.no_grad()
    def teacher_embedding(self, clean: torch.Tensor) -> torch.Tensor:
        """h_s: the frozen teacher's representation of the clean spectrogram (no gradients)."""
        if self.teacher is None:
            raise RuntimeError("this TRNet has no teacher (beta=0); h_s is not available")
        self.teacher.eval()
        return self.teacher.embed(clean)

    def loss_terms(self, batch: Mapping[str, torch.Tensor] | Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        """Eq. 8 on one batch: ``{"loss", "task", "low", "high"}`` (scalars; ``loss`` carries gradients).

        ``batch``: dict with ``noisy``, ``enhanced``, ``clean`` (B, T, F) and ``y`` (B,) class
        indices, or the tuple ``(noisy, enhanced, clean, y)``. ``low``/``high`` are computed (for
        logging) whenever their inputs exist, but enter ``loss`` only with a weight > 0.
        """
        noisy, enhanced, clean, y = _unpack(batch, need_clean=True)
        out = self.forward(noisy, enhanced, return_all=True)
        task = F.cross_entropy(out.logits, y)
        low = F.mse_loss(out.x_tilde, clean)
        if self.teacher is not None:
            high = F.mse_loss(out.h_tilde, self.teacher_embedding(clean))
        else:
            high = torch.zeros((), device=task.device, dtype=task.dtype)
        loss = task
        if self.alpha > 0:
            loss = loss + self.alpha * low
        if self.beta > 0:
            loss = loss + self.beta * high
        return {"loss": loss, "task": task.detach(), "low": low.detach(), "high": high.detach()}

    @torch.no_grad()
    def predict_c(self, noisy: Any, enhanced: Any, batch_size: int = 64) -> np.ndarray:
        """Estimated SNR coefficient c for each utterance, ``(N,)`` float32 (Figure 2).

        ``noisy``/``enhanced``: tensors or arrays ``(N, T, F)`` or equal-length lists of
        ``(T_i, F)`` arrays (each pair cut to its common length; no tiling needed since c only
        depends on one utterance). Runs on the model's device; the train/eval mode is restored.
        """
        if len(noisy) != len(enhanced):
            raise ValueError(f"predict_c: {len(noisy)} noisy but {len(enhanced)} enhanced spectrograms")
        device = next(self.parameters()).device
        was_training = self.training
        self.eval()
        try:
            out = []
            if isinstance(noisy, (np.ndarray, torch.Tensor)) and isinstance(enhanced, (np.ndarray, torch.Tensor)):
                xn, xe = torch.as_tensor(noisy).float(), torch.as_tensor(enhanced).float()
                for i in range(0, len(xn), batch_size):
                    _, c, _ = self.snr(xn[i:i + batch_size].to(device), xe[i:i + batch_size].to(device))
                    out.append(c.float().cpu().numpy())
            else:
                for a, b in zip(noisy, enhanced):
                    t = min(len(a), len(b))
                    xa = torch.as_tensor(np.asarray(a[:t]), dtype=torch.float32, device=device)[None]
                    xb = torch.as_tensor(np.asarray(b[:t]), dtype=torch.float32, device=device)[None]
                    out.append(self.snr(xa, xb)[1].float().cpu().numpy())
            return np.concatenate(out) if out else np.zeros(0, np.float32)
        finally:
            self.train(was_training)


def make_trnet(variant: str = "trnet", teacher: SERNet | None = None, **overrides: Any) -> TRNet:
    """Build one of Table 1's TRNet systems: ``"trnet"``, ``"wo_low"`` or ``"wo_high"`` (:data:`VARIANTS`).

    ``overrides`` go to :class:`TRNet` (e.g. ``init_from_teacher=True``, or SERNet arguments for a
    teacher-less ``"wo_high"``). Spellings such as ``"w/o L_low"`` are accepted. Without L_high
    (``"wo_high"``) a given teacher only lends its architecture (``teacher.config``) to the student
    and is not kept, since nothing uses it.
    """
    key = variant.lower().replace("-", "_").replace("/", "").replace(" ", "_")
    key = {"w_o_l_low": "wo_low", "wo_l_low": "wo_low", "w_o_l_high": "wo_high", "wo_l_high": "wo_high"}.get(key, key)
    if key not in VARIANTS:
        raise ValueError(f"unknown TRNet variant {variant!r}; choose one of {sorted(VARIANTS)}")
    kwargs = {**VARIANTS[key], **overrides}
    if teacher is not None and kwargs["beta"] == 0 and not kwargs.get("init_from_teacher", False):
        # no L_high: the teacher is not used; keep its architecture, drop the frozen copy
        kwargs = {**teacher.config, **kwargs}
        teacher = None
    return TRNet(teacher, **kwargs)


# --------------------------------------------------------------------------- fit hooks
def _unpack(batch: Any, need_clean: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]:
    if isinstance(batch, Mapping):
        missing = [k for k in ("noisy", "enhanced", "y") + (("clean",) if need_clean else ()) if k not in batch]
        if missing:
            raise KeyError(f"TRNet batch lacks {missing}; expected keys noisy, enhanced, clean (training), y")
        return batch["noisy"], batch["enhanced"], batch.get("clean"), batch["y"]
    if isinstance(batch, (tuple, list)):
        if len(batch) == 4:
            return batch[0], batch[1], batch[2], batch[3]
        if len(batch) == 3 and not need_clean:
            return batch[0], batch[1], None, batch[2]
    raise TypeError(
        "a TRNet batch is dict(noisy, enhanced, clean, y) or a tuple (noisy, enhanced, clean, y)"
        + ("" if need_clean else " / (noisy, enhanced, y)")
        + f"; got {type(batch).__name__}"
    )


def train_step(model: TRNet, batch: Any, device: torch.device | None = None) -> torch.Tensor:
    """The ``train_step`` hook of :func:`serlib.training.fit`: eq. 8 on one batch (already on device)."""
    if not isinstance(model, TRNet):
        raise TypeError(f"train_step is for TRNet; a {type(model).__name__} trains with fit's default step")
    return model.loss_terms(batch)["loss"]


@torch.no_grad()
def predict_fn(model: TRNet, batch: Any, device: torch.device | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``predict_fn`` hook of :func:`serlib.training.fit`: ``(y_true, y_pred)`` class indices.

    Accepts dict batches (``clean`` optional) or tuples ``(noisy, enhanced[, clean], y)``.
    """
    noisy, enhanced, _, y = _unpack(batch, need_clean=False)
    return y, model(noisy, enhanced).argmax(dim=-1)


class TripletDataset(Dataset):
    """In-memory spectrogram triplets -> dict items for :func:`train_step` / :func:`predict_fn`.

    ``noisy``, ``enhanced`` and (training only, else None) ``clean`` are equal-length sequences
    of ``(T_i, n_mels)`` arrays of the same utterances; ``y`` the class indices. Each item cuts
    its spectrograms to their common length (an enhancer may add or drop a frame), then tiles or
    truncates them to ``n_frames`` (:func:`fix_length`), and returns float32 tensors
    ``{"noisy", "enhanced", ["clean"], "y"}``.
    """

    def __init__(
        self,
        noisy: Sequence[np.ndarray],
        enhanced: Sequence[np.ndarray],
        clean: Sequence[np.ndarray] | None,
        y: Sequence[int] | np.ndarray,
        n_frames: int = N_FRAMES,
    ) -> None:
        lengths = {"noisy": len(noisy), "enhanced": len(enhanced), "y": len(y)}
        if clean is not None:
            lengths["clean"] = len(clean)
        if len(set(lengths.values())) != 1:
            raise ValueError(f"TripletDataset: the inputs differ in length {lengths}; one entry per utterance")
        if lengths["y"] == 0:
            raise ValueError("TripletDataset: no utterances")
        self.noisy, self.enhanced, self.clean = noisy, enhanced, clean
        self.y = torch.as_tensor(np.asarray(y), dtype=torch.long)
        self.n_frames = n_frames

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        specs = {"noisy": self.noisy[i], "enhanced": self.enhanced[i]}
        if self.clean is not None:
            specs["clean"] = self.clean[i]
        specs = {k: np.asarray(v, dtype=np.float32) for k, v in specs.items()}
        widths = {k: v.shape[1] if v.ndim == 2 else None for k, v in specs.items()}
        if len(set(widths.values())) != 1 or None in widths.values():
            raise ValueError(f"TripletDataset item {i}: spectrograms must be (frames, bins) of one width, got "
                             f"{ {k: v.shape for k, v in specs.items()} }")
        t = min(v.shape[0] for v in specs.values())
        item = {k: torch.from_numpy(np.ascontiguousarray(fix_length(v[:t], self.n_frames))) for k, v in specs.items()}
        item["y"] = self.y[i]
        return item


# --------------------------------------------------------------------------- experiment glue
SYSTEMS = ("Baseline-c", "Baseline-n", "Baseline-e", "TRNet", "TRNet w/o L_low", "TRNet w/o L_high")
"""The six compared systems of Table 1 (names as printed in the paper and in ``reference/3_trnet.yaml``)."""

_BASELINE_INPUT = {"Baseline-c": "clean", "Baseline-n": "noisy", "Baseline-e": "enhanced"}
_TRNET_VARIANT = {"TRNet": "trnet", "TRNet w/o L_low": "wo_low", "TRNet w/o L_high": "wo_high"}


def check_system(system: str) -> str:
    """``system`` if it is one of :data:`SYSTEMS`, else a ValueError listing them."""
    if system not in SYSTEMS:
        raise ValueError(f"unknown system {system!r}; choose one of {list(SYSTEMS)}")
    return system


def _stacked(data: Mapping[str, Any], key: str, n_frames: int, where: str) -> np.ndarray:
    if key not in data or data[key] is None:
        raise KeyError(f"{where} lacks {key!r}; expected a dict with 'clean', 'noisy', 'enhanced' spectrograms and 'y'")
    x = data[key]
    if isinstance(x, np.ndarray) and x.ndim == 3 and x.shape[1] == n_frames:
        return x.astype(np.float32, copy=False)
    return np.stack([fix_length(np.asarray(s, dtype=np.float32), n_frames) for s in x])


def fit_system(
    system: str,
    train: Mapping[str, Any],
    val: Mapping[str, Any],
    *,
    teacher: SERNet | None = None,
    epochs: int,
    seed: int = 0,
    device: str | None = None,
    batch_size: int = 32,
    lr: float = 1e-3,
    channels: Sequence[int] = (32, 64, 128, 256),
    h_dim: int = 256,
    patience: int | None = None,
    n_frames: int = N_FRAMES,
    progress: bool = False,
    **fit_kwargs: Any,
):
    """Train one of Table 1's :data:`SYSTEMS`; returns :class:`serlib.training.FitResult` (``.model`` = best val epoch).

    ``train``/``val``: dicts of spectrograms of the same utterances, ``(N, T, 80)`` arrays or lists
    of ``(T_i, 80)`` arrays (tiled/cut to ``n_frames``): ``clean`` X_s, ``noisy`` X (the training
    input: each utterance under its drawn condition, see :func:`training_set`), ``enhanced``
    LMFB(SE(noisy)), and ``y`` class indices. What each system reads:

    - Baseline-c: clean (train and val), each utterance once (:func:`first_copies`: a
      ``training_set`` with ``copies > 1`` holds identical clean copies); Baseline-n: noisy;
      Baseline-e: enhanced. A plain :class:`SERNet` (``channels``, ``h_dim``) with cross-entropy.
    - TRNet / TRNet w/o L_low: noisy + enhanced + clean, and ``teacher`` = the Baseline-c model of
      the same fold and seed (deep-copied, frozen). TRNet w/o L_high: no teacher needed (if one
      is given, only its architecture is used). Validation reads noisy + enhanced (no clean).

    Selection: the epoch with the best validation UAR (never the test set); Adam ``lr``, LR halving
    after 5 epochs without improvement, gradient clipping at 10 (official), early stopping after
    ``patience`` epochs. ``fit_kwargs`` go to :func:`serlib.training.fit`.
    """
    from serlib.training import fit

    check_system(system)
    kw = dict(val_metric="uar", epochs=epochs, lr=lr, batch_size=batch_size, patience=patience, device=device,
              seed=seed, grad_clip=10.0, progress=progress, **fit_kwargs)
    if system in _BASELINE_INPUT:
        key = _BASELINE_INPUT[system]
        if key == "clean":
            train, val = first_copies(train), first_copies(val)
        torch.manual_seed(seed)
        model = SERNet(channels=channels, h_dim=h_dim)
        tr = (torch.from_numpy(_stacked(train, key, n_frames, "train")), torch.as_tensor(np.asarray(train["y"])).long())
        va = (torch.from_numpy(_stacked(val, key, n_frames, "val")), torch.as_tensor(np.asarray(val["y"])).long())
        return fit(model, tr, va, loss_fn=F.cross_entropy, **kw)
    variant = _TRNET_VARIANT[system]
    if VARIANTS[variant]["beta"] > 0 and teacher is None:
        raise ValueError(
            f"{system} needs teacher=<the Baseline-c SERNet of the same fold and seed> for L_high; train it first: "
            "teacher = fit_system('Baseline-c', train, val, ...).model"
        )
    torch.manual_seed(seed)
    model = make_trnet(variant, teacher) if teacher is not None else make_trnet(variant, None, channels=tuple(channels), h_dim=h_dim)
    tr = TripletDataset(_stacked(train, "noisy", n_frames, "train"), _stacked(train, "enhanced", n_frames, "train"),
                        _stacked(train, "clean", n_frames, "train"), np.asarray(train["y"]), n_frames)
    va = TripletDataset(_stacked(val, "noisy", n_frames, "val"), _stacked(val, "enhanced", n_frames, "val"), None,
                        np.asarray(val["y"]), n_frames)
    return fit(model, tr, va, train_step=train_step, predict_fn=predict_fn, **kw)


@torch.no_grad()
def _batched(model: nn.Module, fn, noisy: Any, enhanced: Any, n_frames: int, batch_size: int, device) -> np.ndarray:
    from serlib.training import resolve_device

    xn = _stacked({"noisy": noisy}, "noisy", n_frames, "predict")
    xe = None if enhanced is None else _stacked({"enhanced": enhanced}, "enhanced", n_frames, "predict")
    if xe is not None and xe.shape != xn.shape:
        raise ValueError(f"noisy {xn.shape} and enhanced {xe.shape} spectrograms differ; pass the same utterances")
    dev = resolve_device(device)
    model.to(dev).eval()
    out = []
    for i in range(0, len(xn), batch_size):
        a = torch.from_numpy(xn[i:i + batch_size]).to(dev)
        b = None if xe is None else torch.from_numpy(xe[i:i + batch_size]).to(dev)
        out.append(fn(a, b).float().cpu().numpy())
    return np.concatenate(out)


def _system_input(system: str, enhanced: Any) -> str:
    check_system(system)
    if (system == "Baseline-e" or system in _TRNET_VARIANT) and enhanced is None:
        raise ValueError(f"{system} needs the enhanced spectrograms (enhanced=...)")
    return _BASELINE_INPUT.get(system, "pair")


def predict_system(model: nn.Module, system: str, noisy: Any, enhanced: Any = None, *, batch_size: int = 64,
                   device: str | None = None, n_frames: int = N_FRAMES) -> np.ndarray:
    """Class posteriors ``(N, n_classes)`` of a trained system on test spectrograms.

    ``noisy`` is the test input X (the clean spectrograms for the clean test set), ``enhanced``
    LMFB(SE(X)) of the same utterances. Baseline-c/-n read ``noisy``, Baseline-e ``enhanced``, the
    TRNet systems both.
    """
    what = _system_input(system, enhanced)
    if what == "pair":
        return _batched(model, lambda a, b: torch.softmax(model(a, b), -1), noisy, enhanced, n_frames, batch_size, device)
    x = enhanced if what == "enhanced" else noisy
    return _batched(model, lambda a, _: torch.softmax(model(a), -1), x, None, n_frames, batch_size, device)


def embed_system(model: nn.Module, system: str, noisy: Any, enhanced: Any = None, *, batch_size: int = 64,
                 device: str | None = None, n_frames: int = N_FRAMES) -> np.ndarray:
    """Utterance representations ``(N, h_dim)`` the classifier reads (Figure 3's t-SNE): h for a
    baseline, h~ (after the FiLM bridge) for TRNet. Inputs as in :func:`predict_system`."""
    what = _system_input(system, enhanced)
    if what == "pair":
        return _batched(model, lambda a, b: model.embed(a, b), noisy, enhanced, n_frames, batch_size, device)
    x = enhanced if what == "enhanced" else noisy
    return _batched(model, lambda a, _: model.embed(a), x, None, n_frames, batch_size, device)


def centre_spread(embeddings: np.ndarray, groups: Sequence[Any]) -> float:
    """How far apart the group centres of ``embeddings`` lie, relative to the points' spread (Figure 3, numerically).

    Mean pairwise Euclidean distance between the centroids of ``groups`` divided by the RMS distance
    of all points to their overall mean (scale-free, so different models compare). Grouped by test
    SNR, lower = representations better aligned across SNRs; grouped by emotion, higher = classes
    further apart. Computed in the representation space itself, not on the t-SNE map.
    """
    x = np.asarray(embeddings, dtype=np.float64)
    g = np.asarray(list(groups))
    if x.ndim != 2 or len(x) != len(g):
        raise ValueError(f"centre_spread: need (N, D) embeddings and N group labels, got {x.shape} and {len(g)}")
    labels = list(dict.fromkeys(g.tolist()))
    if len(labels) < 2:
        raise ValueError("centre_spread: need at least two groups")
    cent = np.stack([x[g == k].mean(0) for k in labels])
    pair = [np.linalg.norm(cent[i] - cent[j]) for i in range(len(cent)) for j in range(i + 1, len(cent))]
    spread = np.sqrt(np.mean(np.sum((x - x.mean(0)) ** 2, axis=1)))
    return float(np.mean(pair) / max(spread, 1e-12))


# ---- inputs from a manifest -------------------------------------------------------------
def _inputs(items, enhancer: str, checkpoint: str | None, n_jobs: int | None, n_frames: int,
            progress: bool) -> list[dict[str, np.ndarray]]:
    """``[(manifest, condition), ...]`` -> ``[{"noisy", "enhanced"}, ...]``; all missing enhanced audio
    is rendered first in one pool of ``n_jobs`` processes (:func:`serlib.enhance.render`)."""
    from serlib import enhance, features

    enh = _render_missing(items, enhancer, checkpoint, n_jobs, progress)
    out = []
    for (m, cond), e in zip(items, enh):
        x = features.extract(m, "lmfb", cond, n_jobs=n_jobs, progress=progress)
        xe = features.extract(m, "lmfb", e, n_jobs=n_jobs, progress=progress)
        out.append({"noisy": features.stack(x, n_frames), "enhanced": features.stack(xe, n_frames)})
    return out


def _render_missing(items, enhancer: str, checkpoint: str | None, n_jobs: int | None, progress: bool) -> list:
    """Render the enhanced audio of ``[(manifest, condition), ...]`` that the cache lacks, in one pool of
    ``n_jobs`` processes; returns the ``EnhancedCondition`` of each item."""
    from serlib import enhance

    enh = [enhance.EnhancedCondition(cond, enhancer, checkpoint) for _, cond in items]
    jobs = [(todo, e) for (m, _), e in zip(items, enh) if len(todo := enhance.missing(m, "lmfb", e))]
    if jobs:
        enhance.render(jobs, n_jobs=n_jobs, progress=progress)
    return enh


def spectrograms(manifest, conditions: Mapping[str, Any], enhancer: str = "deepfilternet3", *,
                 checkpoint: str | None = None, n_jobs: int | None = None, n_frames: int = N_FRAMES,
                 progress: bool = False) -> dict[str, dict[str, np.ndarray]]:
    """Test inputs: for each named condition (None = clean) ``{"noisy", "enhanced"}``, the 80-d LMFB
    ``(N, n_frames, 80)`` of ``manifest`` under the condition and of its enhanced version.

    Enhanced audio missing from the cache is rendered for all conditions at once in ``n_jobs``
    processes; audio and features are cached (``data/enhanced``, ``data/features``).
    Example: ``spectrograms(test_m, {"clean": None, "esc/0": RandomCondition(esc_types, (0, 0))})``.
    """
    names = list(conditions)
    got = _inputs([(manifest, conditions[k]) for k in names], enhancer, checkpoint, n_jobs, n_frames, progress)
    return dict(zip(names, got))


def training_levels(utt_ids: Sequence[str], snrs: Sequence[float] = (20, 15, 10, 5, 0), *, seed: int = 0,
                    draw: int = 0) -> list[float | None]:
    """The condition of each training utterance: None (clean) or one of ``snrs``, drawn uniformly
    and deterministically per (utterance, seed, draw) from ``[clean, *snrs]`` (official ``data.py``
    draws per item from clean + 5 SNRs; we fix the draw per utterance so enhanced audio is rendered once;
    ``draw`` numbers the independent draws of :func:`training_set`'s ``copies``)."""
    from serlib.noise import stable_seed

    levels: list[float | None] = [None, *(float(s) for s in snrs)]
    return [levels[stable_seed("trnet-train", seed, draw, u) % len(levels)] for u in map(str, utt_ids)]


def training_items(manifest, *, noise_types: Sequence[str], snrs: Sequence[float] = (20, 15, 10, 5, 0), seed: int = 0,
                   copies: int = 1, bank: str = "synthetic", root: str | None = None) -> tuple[list, list]:
    """The noisy training items of :func:`training_set` as ``(groups, items)``: ``items`` =
    ``[(manifest rows, condition or None), ...]``, one per copy and drawn level; ``groups`` =
    ``[(item order, row positions, level), ...]`` in the same order."""
    from serlib.noise import RandomCondition

    groups, items = [], []
    for k in range(copies):
        levels = training_levels(manifest["utt_id"], snrs, seed=seed, draw=k)
        for level in dict.fromkeys(levels):  # distinct levels, in order of appearance
            idx = np.flatnonzero([lv == level for lv in levels])
            cond = None if level is None else RandomCondition(tuple(noise_types), (level, level), seed=seed + k,
                                                              part="train", bank=bank, root=root)
            groups.append((k * len(manifest) + idx, idx, level))
            items.append((manifest.iloc[idx], cond))
    return groups, items


def training_set(manifest, labels: Sequence[str], *, noise_types: Sequence[str], snrs: Sequence[float] = (20, 15, 10, 5, 0),
                 seed: int = 0, copies: int = 1, bank: str = "synthetic", root: str | None = None,
                 enhancer: str = "deepfilternet3", checkpoint: str | None = None, n_jobs: int | None = None,
                 n_frames: int = N_FRAMES, progress: bool = False) -> dict[str, np.ndarray]:
    """Training/validation inputs of ``manifest``: ``{"clean", "noisy", "enhanced", "y", "snr", "row"}``.

    Each utterance contributes ``copies`` items (in manifest order, copy after copy; ``row`` is the
    utterance's position in ``manifest``, so :func:`select` picks a fold's part); each item's
    condition is drawn by :func:`training_levels` (clean or an SNR of ``snrs``), its noise by
    ``RandomCondition(noise_types, (snr, snr), part="train")`` (the ESC-like training sources, disjoint
    from the test sources). ``y`` indexes ``labels`` (e.g. ``["angry", "happy", "neutral", "sad"]``);
    ``snr`` is NaN for clean items. Arrays are ``(N * copies, n_frames, 80)`` float32.
    """
    from serlib import features

    if copies < 1:
        raise ValueError(f"training_set: copies must be >= 1, got {copies}")
    lab = {c: i for i, c in enumerate(labels)}
    unknown = sorted(set(manifest["emotion"]) - set(lab))
    if unknown:
        raise ValueError(f"training_set: emotions {unknown} are not in labels {list(labels)}; map them first (corpora.to_4class)")
    clean_all = features.stack(features.extract(manifest, "lmfb", n_jobs=n_jobs, progress=progress), n_frames)
    y_all = manifest["emotion"].map(lab).to_numpy()
    groups, items = training_items(manifest, noise_types=noise_types, snrs=snrs, seed=seed, copies=copies, bank=bank,
                                   root=root)
    specs = _inputs(items, enhancer, checkpoint, n_jobs, n_frames, progress)
    parts = [dict(order=order, clean=clean_all[idx], y=y_all[idx], **spec, row=idx,
                  snr=np.full(len(idx), np.nan if level is None else level, np.float32))
             for (order, idx, level), spec in zip(groups, specs)]
    order = np.argsort(np.concatenate([p["order"] for p in parts]))
    return {key: np.concatenate([p[key] for p in parts])[order] for key in ("clean", "noisy", "enhanced", "y", "snr", "row")}


def select(data: Mapping[str, np.ndarray], rows: Sequence[int]) -> dict[str, np.ndarray]:
    """The items of a :func:`training_set` whose utterance (``row``) is in ``rows`` (e.g. ``fold.train``)."""
    keep = np.isin(data["row"], np.asarray(rows))
    return {k: v[keep] for k, v in data.items()}


def first_copies(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The first item of every utterance (``row``) of a :func:`training_set`, in order; ``data`` as is
    when it has no ``row`` or every row occurs once.

    With ``copies > 1`` the clean spectrogram of an utterance is repeated in every copy; a system that
    reads only ``clean`` (Baseline-c) would otherwise see each utterance ``copies`` times per epoch.
    """
    if "row" not in data or data["row"] is None:
        return data
    _, first = np.unique(np.asarray(data["row"]), return_index=True)
    if len(first) == len(data["row"]):
        return data
    keep = np.sort(first)
    return {k: (v[keep] if isinstance(v, np.ndarray) and len(v) == len(data["row"]) else
                [v[i] for i in keep] if isinstance(v, list) and len(v) == len(data["row"]) else v)
            for k, v in data.items()}


# --------------------------------------------------------------------------- the notebook's grid (serlib.experiment)
FAMILIES = ("ESC-like", "MUSAN-like")
"""Test noise families: the matched one (the training noise's bank and types, test sources) and the
unmatched one (another bank or other types); the paper's IEM-ESC and IEM-MUSAN."""
EMBED_SYSTEMS = ("Baseline-c", "Baseline-e", "TRNet")
"""Systems whose test representations a task keeps (Figure 3 of the paper; ``ledger.trnet_alignment``)."""
TEACHER_SYSTEMS = ("TRNet", "TRNet w/o L_low")
"""Systems that need the frozen Baseline-c of the same fold and seed (for L_high)."""
TASK_FN = "serlib.models.trnet:run_task"

_DATA_KEYS = ("labels", "matched_types", "noise", "noise_root", "unmatched_types", "unmatched_noise",
              "unmatched_noise_root", "snrs", "train_snrs", "train_copies", "data_seed", "enhancer",
              "enhancer_checkpoint", "n_frames")
_FIT_KEYS = ("epochs", "patience", "lr", "batch_size", "channels", "h_dim")


def train_condition(system: str) -> str:
    """The training condition of Table 1's rows: ``clean`` for Baseline-c, else ``clean+ESC-like``."""
    return "clean" if check_system(system) == "Baseline-c" else f"clean+{FAMILIES[0]}"


def test_conditions(config: Mapping[str, Any]) -> dict[tuple[str, float | None], Any]:
    """The test conditions of a grid ``config``: ``{("clean", None): None, ("ESC-like", snr):
    RandomCondition, ("MUSAN-like", snr): RandomCondition}`` for every ``snrs``.

    Each noisy utterance gets a random type of its family from the bank's *test* sources (never
    used in training), seeded by the utterance id. ``config`` holds ``snrs``, ``matched_types``,
    ``noise``, ``noise_root``, ``unmatched_types``, ``unmatched_noise``, ``unmatched_noise_root``.
    """
    from serlib.noise import RandomCondition

    banks = {FAMILIES[0]: (config["matched_types"], config.get("noise") or "synthetic", config.get("noise_root")),
             FAMILIES[1]: (config["unmatched_types"], config.get("unmatched_noise") or "synthetic",
                           config.get("unmatched_noise_root"))}
    out: dict[tuple[str, float | None], Any] = {("clean", None): None}
    for family, (types, bank, root) in banks.items():
        for snr in config["snrs"]:
            out[(family, float(snr))] = RandomCondition(tuple(types), (float(snr), float(snr)), seed=0, part="test",
                                                        bank=bank, root=root)
    return out


def _training_inputs(manifest, config: Mapping[str, Any], n_jobs: int | None, progress: bool) -> dict[str, np.ndarray]:
    return training_set(manifest, config["labels"], noise_types=config["matched_types"], snrs=config["train_snrs"],
                        seed=config["data_seed"], copies=config["train_copies"], bank=config.get("noise") or "synthetic",
                        root=config.get("noise_root"), enhancer=config["enhancer"],
                        checkpoint=config.get("enhancer_checkpoint"), n_jobs=n_jobs, n_frames=config["n_frames"],
                        progress=progress)


def _test_inputs(manifest, config: Mapping[str, Any], n_jobs: int | None, progress: bool) -> dict:
    conds = test_conditions(config)
    specs = spectrograms(manifest, {str(i): c for i, c in enumerate(conds.values())}, config["enhancer"],
                         checkpoint=config.get("enhancer_checkpoint"), n_jobs=n_jobs, n_frames=config["n_frames"],
                         progress=progress)
    return dict(zip(conds, specs.values()))


def prepare(manifest, splits: Sequence[Any], config: Mapping[str, Any], *, n_jobs: int | None = None,
            progress: bool = True, timer: Callable[[str], Any] | None = None) -> dict[str, int]:
    """Render (enhance) and extract every input the grid's tasks read, once, before ``Experiment.run``.

    Training inputs (:func:`training_set`) of every utterance in a training or validation part of
    ``splits``, test inputs (:func:`test_conditions`) of every utterance in a test part; enhanced
    audio in ``n_jobs`` processes, everything cached on disk, so the tasks only read. ``timer``
    (e.g. ``Results.timer``) times the two stages, ``"enhancement"`` then ``"features"``. Returns the
    number of utterances of each kind.
    """
    import contextlib

    stage = timer or (lambda _name: contextlib.nullcontext())
    train = np.unique(np.concatenate([np.concatenate([s.train, s.val]) for s in splits]))
    test = np.unique(np.concatenate([s.test for s in splits]))
    tr_m, te_m = manifest.iloc[train], manifest.iloc[test]
    _, items = training_items(tr_m, noise_types=config["matched_types"], snrs=config["train_snrs"],
                              seed=config["data_seed"], copies=config["train_copies"],
                              bank=config.get("noise") or "synthetic", root=config.get("noise_root"))
    items += [(te_m, c) for c in test_conditions(config).values()]
    with stage("enhancement"):
        _render_missing(items, config["enhancer"], config.get("enhancer_checkpoint"), n_jobs, progress)
    with stage("features"):
        _training_inputs(tr_m, config, n_jobs, progress)
        _test_inputs(te_m, config, n_jobs, progress)
    return {"training utterances": int(len(train)), "test utterances": int(len(test)),
            "test conditions": len(test_conditions(config))}


DRY_PARTS = {"train": 6, "val": 2, "test": 3}
"""Dry runs: utterances kept per part of a fold (:func:`dry_splits`). Six training utterances give
``train_copies`` (2) x 6 = 12 items, one batch of the paper-size model; three test utterances still meet
every test condition (clean + 2 families x 5 SNRs: 33 enhanced clips)."""


def dry_splits(splits: Sequence[Any], parts: Mapping[str, int] | None = None) -> list:
    """The splits with each part cut to at most ``parts[name]`` utterances (default :data:`DRY_PARTS`),
    evenly spaced over the part so that its speakers and emotions stay mixed.

    For dry runs: there every utterance is enhanced under the paper's whole condition grid (each of
    ``train_copies`` training draws; every test SNR of both noise families) and passes through
    paper-size models (500 frames, 32-256 filters), which dominated the run's time (about 120
    enhanced clips and 6 paper-size fits for a 64-utterance corpus). Every branch still executes.
    """
    import dataclasses

    parts = dict(DRY_PARTS if parts is None else parts)
    bad = {k: v for k, v in parts.items() if k not in DRY_PARTS or int(v) < 1}
    if bad:
        raise ValueError(f"dry_splits: parts must map train/val/test to >= 1 utterances, got {bad}")

    def cut(idx: np.ndarray, n: int | None) -> np.ndarray:
        idx = np.asarray(idx)
        if n is None or len(idx) <= n:
            return idx
        return idx[np.unique(np.linspace(0, len(idx) - 1, n).round().astype(int))]

    return [dataclasses.replace(s, **{k: cut(getattr(s, k), parts.get(k)) for k in DRY_PARTS}) for s in splits]


def grid(manifest, splits: Sequence[Any], seeds: Sequence[int], config: Mapping[str, Any],
         systems: Sequence[str] = SYSTEMS) -> list:
    """The notebook's grid: one :class:`serlib.experiment.Task` per system x seed x split.

    ``config`` holds the data settings (:func:`test_conditions`, :func:`training_set`: ``labels``,
    ``matched_types``, ``noise``, ``noise_root``, ``unmatched_*``, ``snrs``, ``train_snrs``,
    ``train_copies``, ``data_seed``, ``enhancer``, ``enhancer_checkpoint``, ``n_frames``) and the
    fit settings (``epochs``, ``patience``, ``lr``, ``batch_size``, ``channels``, ``h_dim``). Each
    task's config adds ``system``, ``seed``, ``fold`` (the split's name) and the utterance ids of
    its ``train``, ``val`` and ``test`` parts. TRNet and TRNet w/o L_low depend on the Baseline-c task
    of the same seed and split (``deps={"teacher": ...}``), which is added when ``systems`` lacks it.
    """
    from serlib import profiles
    from serlib.experiment import Task

    missing = [k for k in (*_DATA_KEYS, *_FIT_KEYS) if k not in config]
    if missing:
        raise KeyError(f"trnet.grid: config lacks {missing}")
    for s in systems:
        check_system(s)
    base = {k: config[k] for k in (*_DATA_KEYS, *_FIT_KEYS)} | {"dry": profiles.is_dry()}
    ids = manifest["utt_id"].astype(str).to_numpy()
    tasks = []
    for seed in seeds:
        for split in splits:
            parts = {p: ids[getattr(split, p)].tolist() for p in ("train", "val", "test")}
            cfg = base | {"seed": int(seed), "fold": split.name} | parts
            teacher = Task(TASK_FN, cfg | {"system": "Baseline-c"})
            for system in systems:
                if system == "Baseline-c":
                    tasks.append(teacher)
                else:
                    deps = {"teacher": teacher} if system in TEACHER_SYSTEMS else {}
                    tasks.append(Task(TASK_FN, cfg | {"system": system}, deps=deps))
    return tasks


def run_task(config: Mapping[str, Any], ctx) -> Any:
    """Train one system on one split and seed, evaluate it on every test condition (the engine's task).

    Reads the cached inputs (:func:`prepare`); the teacher of TRNet / w/o L_low is the
    ``ctx.deps["teacher"]`` Baseline-c. Returns a :class:`serlib.experiment.TaskOutput`:
    ``predictions`` one row per test utterance and condition (``utt_id, test_condition, noise_type,
    snr, y_true, y_pred``, posteriors ``p_<class>``, and for the TRNet systems the estimated ``c``);
    ``history`` of the fit; ``meta`` (best epoch, epochs run, sizes); ``extra`` the representations
    of :data:`EMBED_SYSTEMS` under the matched noise at each test SNR (``embeddings`` ``(S, N, D)``,
    ``embed_snrs``, ``embed_utts``); ``weights`` of Baseline-c (the teacher of dependent tasks).
    """
    import pandas as pd

    from serlib.experiment import TaskOutput

    system, labels = check_system(config["system"]), list(config["labels"])
    m = ctx.manifest
    ids = m["utt_id"].astype(str)
    unknown = sorted((set(config["train"]) | set(config["val"]) | set(config["test"])) - set(ids))
    if unknown:
        raise KeyError(f"run_task: {len(unknown)} utterance(s) of the task are not in the manifest, e.g. {unknown[:3]}")
    trval = m[ids.isin(config["train"]) | ids.isin(config["val"])]
    data = _training_inputs(trval, config, 1, False)
    in_train = trval["utt_id"].astype(str).isin(config["train"]).to_numpy()
    tr, va = select(data, np.flatnonzero(in_train)), select(data, np.flatnonzero(~in_train))
    channels, h_dim = tuple(config["channels"]), int(config["h_dim"])
    teacher = None
    if system in TEACHER_SYSTEMS:
        teacher = SERNet(channels=channels, h_dim=h_dim)
        teacher.load_state_dict(ctx.deps["teacher"].load_weights())
    fr = fit_system(system, tr, va, teacher=teacher, epochs=config["epochs"], seed=config["seed"], device=ctx.device,
                    batch_size=config["batch_size"], lr=config["lr"], channels=channels, h_dim=h_dim,
                    patience=config["patience"], n_frames=config["n_frames"])
    test_m = m[ids.isin(config["test"])]
    y_true = test_m["emotion"].to_numpy()
    frames, emb, emb_snrs = [], [], []
    for (family, snr), x in _test_inputs(test_m, config, 1, False).items():
        kw = dict(device=ctx.device, n_frames=config["n_frames"])
        post = predict_system(fr.model, system, x["noisy"], x["enhanced"], **kw)
        frame = pd.DataFrame({"utt_id": test_m["utt_id"].to_numpy(), "test_condition": "clean" if snr is None else "noisy",
                              "noise_type": None if snr is None else family, "snr": np.nan if snr is None else snr,
                              "y_true": y_true, "y_pred": np.asarray(labels)[post.argmax(1)]})
        for i, c in enumerate(labels):
            frame[f"p_{c}"] = post[:, i]
        if isinstance(fr.model, TRNet):
            frame["c"] = fr.model.predict_c(x["noisy"], x["enhanced"])
        frames.append(frame)
        if system in EMBED_SYSTEMS and family == FAMILIES[0]:
            emb.append(embed_system(fr.model, system, x["noisy"], x["enhanced"], **kw))
            emb_snrs.append(snr)
    h = fr.history
    meta = dict(best_epoch=int(fr.best_epoch), epochs_run=int(len(h)), stopped_early=bool(fr.stopped_early),
                best_val_uar=float(fr.best_score), n_train=int(len(tr["y"])), n_val=int(len(va["y"])),
                n_test=int(len(test_m)), parameters=count_parameters(fr.model), dry=bool(fr.dry),
                teacher=ctx.deps["teacher"].key if teacher is not None else None)
    extra = {"embeddings": np.stack(emb).astype(np.float32), "embed_snrs": np.asarray(emb_snrs, float),
             "embed_utts": np.asarray(test_m["utt_id"].astype(str).tolist(), dtype=str)} if emb else {}
    weights = {k: v.detach().cpu().clone() for k, v in fr.model.state_dict().items()} if system == "Baseline-c" else None
    return TaskOutput(predictions=pd.concat(frames, ignore_index=True), history=h, meta=meta, extra=extra,
                      weights=weights)


# --------------------------------------------------------------------------- the grid's outputs as tables
_PRED_KEYS = ("method", "seed", "fold", "test_condition", "noise_type", "snr")


def predictions(outputs: Sequence[Any]) -> Any:
    """Every task's per-utterance predictions in one table, with ``method`` (the system), ``seed``,
    ``fold`` and ``train_condition`` as leading columns (the columns of the result rows, so the table
    can go to ``ledger.decide(..., predictions=)``)."""
    from serlib.experiment import stack

    p = stack(outputs, config=["system", "seed", "fold"]).drop(columns="key").rename(columns={"system": "method"})
    return p.assign(train_condition=p["method"].map(train_condition))


def table1_rows(preds: Any, metrics: Sequence[str] = ("uar", "war")) -> Any:
    """Result rows of Table 1 from :func:`predictions`: one per system x seed x fold x test
    condition x metric, with ``method, seed, fold, test_condition, noise_type, snr, metric, value,
    train_condition`` and ``table="1"``, ready for ``Results.add(**row)``."""
    from serlib.experiment import scores

    rows = scores(preds, by=list(_PRED_KEYS), metrics=metrics).drop(columns="n")
    return rows.assign(train_condition=rows["method"].map(train_condition), table="1")


def c_values(preds: Any) -> Any:
    """The estimated SNR coefficient ``c`` of every test utterance of the TRNet systems:
    ``method, test_condition, noise_type, snr, seed, fold, utt_id, c`` (the input of
    ``ledger.trnet_snr_coefficient``)."""
    if "c" not in preds.columns:
        raise KeyError("c_values: the predictions have no 'c' column (no TRNet system in the grid)")
    d = preds[preds["c"].notna()]
    return d[[*_PRED_KEYS, "utt_id", "c"]].reset_index(drop=True)


def c_rows(cvals: Any) -> Any:
    """Result rows of the paper's Figure 2: mean ``c`` per system x seed x fold x test condition
    (``metric="c"``, ``table="fig2"``), ready for ``Results.add(**row)``."""
    rows = cvals.groupby(list(_PRED_KEYS), dropna=False, sort=False)["c"].mean().reset_index()
    return rows.rename(columns={"c": "value"}).assign(metric="c", table="fig2", train_condition=f"clean+{FAMILIES[0]}")


def embeddings(outputs: Sequence[Any]) -> dict[tuple, np.ndarray]:
    """``{(system, snr, seed, fold): (N, D) array}`` of the representations the tasks kept (the input
    of ``ledger.trnet_alignment``); at every SNR the same test utterances in the same order."""
    out = {}
    for o in outputs:
        if o is None or "embeddings" not in o.extra:
            continue
        c = o.config
        for snr, arr in zip(o.extra["embed_snrs"], o.extra["embeddings"]):
            out[(c["system"], float(snr), c["seed"], c["fold"])] = arr
    return out


def alignment_rows(emb: Mapping[tuple, np.ndarray]) -> Any:
    """Result rows of the paper's Figure 3 measured in the representation space: the SNR-centre spread
    (:func:`centre_spread` over the test SNRs; lower = aligned) per system x seed x fold
    (``metric="snr_centre_spread"``, ``table="fig3"``); empty with fewer than two SNRs."""
    import pandas as pd

    runs: dict[tuple, dict[float, np.ndarray]] = {}
    for (system, snr, seed, fold), arr in emb.items():
        runs.setdefault((system, seed, fold), {})[snr] = arr
    rows = []
    for (system, seed, fold), by_snr in runs.items():
        if len(by_snr) < 2:
            continue
        snrs = sorted(by_snr)
        x = np.concatenate([by_snr[s] for s in snrs])
        rows.append(dict(method=system, seed=seed, fold=fold, test_condition="noisy", noise_type=FAMILIES[0],
                         train_condition=train_condition(system), metric="snr_centre_spread", table="fig3",
                         value=centre_spread(x, np.repeat(snrs, len(by_snr[snrs[0]])))))
    return pd.DataFrame(rows)


def tsne_inputs(outputs: Sequence[Any], manifest, *, seed: int, fold: str, max_utts: int | None = 500) -> dict[str, tuple]:
    """For the t-SNE maps of one run: ``{system: (X, snr_labels, emotions)}`` with the kept
    representations of every test SNR stacked (``X`` ``(S*N, D)``), ``"20 dB"``-style labels and the
    utterances' emotions (from ``manifest``); systems with fewer than two SNRs are left out. At most
    ``max_utts`` test utterances (evenly spaced; the paper maps 500) enter, the same ones in every
    map and at every SNR (None: all)."""
    emo = manifest.set_index(manifest["utt_id"].astype(str))["emotion"]
    out = {}
    for o in outputs:
        if o is None or "embeddings" not in o.extra or (o.config["seed"], o.config["fold"]) != (seed, fold):
            continue
        snrs, x = o.extra["embed_snrs"], o.extra["embeddings"]
        if len(snrs) < 2:
            continue
        keep = np.arange(x.shape[1])
        if max_utts is not None and len(keep) > max_utts:
            keep = np.unique(np.linspace(0, len(keep) - 1, max_utts).round().astype(int))
        x, utts = x[:, keep], np.asarray(o.extra["embed_utts"])[keep]
        labels = np.repeat([f"{s:g} dB" for s in snrs], len(keep))
        out[o.config["system"]] = (x.reshape(-1, x.shape[2]), labels, np.tile(emo.loc[utts].to_numpy(), len(snrs)))
    return {s: out[s] for s in EMBED_SYSTEMS if s in out}


def fit_summary(outputs: Sequence[Any]) -> Any:
    """One row per fit: system, seed, fold, epochs run, best epoch, whether the best epoch came
    before the last (early stopping or a plateau ended the fit), best validation UAR, seconds per epoch."""
    import pandas as pd

    rows = []
    for o in outputs:
        if o is None:
            continue
        h, m = o.history, o.meta
        rows.append(dict(system=o.config["system"], seed=o.config["seed"], fold=o.config["fold"],
                         epochs_run=m["epochs_run"], best_epoch=m["best_epoch"],
                         best_before_last=m["best_epoch"] < m["epochs_run"], val_uar=m["best_val_uar"],
                         sec_per_epoch=float(h["seconds"].mean()) if h is not None and len(h) else np.nan))
    return pd.DataFrame(rows)
