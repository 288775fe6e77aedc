"""Paper 2: dense network, ladder network and decoupled ladder network (DLN) for SER.

"Decoupled ladder network" for noise-robust SER with unlabeled noisy target audio
(``../shared/papers/2_decoupled_ladder_network.txt``; architecture Sec. 3, Fig. 1, Eq. 1;
settings Sec. 4.3-4.4; embedding analyses Sec. 5.2, Fig. 3). Built on the ladder network of
Rasmus et al. (NIPS 2015, with batch normalisation) and the AMLP denoising function of
Pezeshki et al. (ICML 2016).

Models (all: two hidden layers of 256 ReLU units, one linear output per attribute; one model
per attribute; ``model(x)`` returns the prediction, shape (batch,)):

- :class:`Dense`: supervised only, 50% dropout before each hidden layer (Sec. 4.4).
- :class:`Ladder` (LN): corrupted and clean encoder paths sharing weights, batch-normalised
  pre-activations, Gaussian noise on every layer of the corrupted path, a decoder with
  lateral connections whose denoising function is a per-unit AMLP with 4 hidden units;
  reconstructs every layer: the input, both hidden layers and the output (Sec. 4.4).
- :class:`DecoupledLadder` (DLN): the last hidden layer is split into an emotion half
  (first 128 units) and a reconstruction half (last 128): only the emotion half feeds the
  output layer, only the reconstruction half feeds the top of the decoder, and the decoder
  reconstructs neither the emotion half nor the output (Eq. 1). ``he=True`` gives DLN+he:
  the same encoder, but the decoder is the LN decoder (top = the output, the last hidden
  layer reconstructed in full from the concatenated halves) (Sec. 4.3).

Training (Eq. 1, Sec. 3 and 4.3): ``C = (1 - CCC) + sum_l lambda_l * MSE(z_hat_BN(l), z(l))``
with ``lambda_l = 1``; mini-batches alternate labeled (both terms) and unlabeled
(reconstruction only). Use :func:`serlib.training.fit` with ``train_step=train_step`` and
``train_data=semi_supervised_data(...)`` (an :class:`serlib.training.Interleave`), Adam,
lr 5e-5, batch 256, ``val_metric="ccc"`` on the clean development set.

**Batch format** accepted by :func:`train_step`: ``("labeled", (x, y))`` / ``("unlabeled",
(x,))`` pairs as yielded by ``Interleave(labeled=..., unlabeled=...)`` over
``TensorDataset`` loaders; a dict ``{"x": x, "y": y}`` (labeled) or ``{"x": x}`` (unlabeled);
or a bare ``(x, y)`` (labeled) / ``(x,)`` (unlabeled).

Choices where the papers are vague (the notebook narrates them):

1. **Noise std 0.3** on every layer of the corrupted path (incl. the input and the output):
   not given by the DLN paper; 0.3 is Rasmus et al.'s value and the default of the public
   ladder implementations. ``noise_std`` changes it.
2. **Input dropout (10%)** is part of the corruption: it is applied to the corrupted path's
   input only (before the Gaussian noise), never to the clean path, whose activations are
   the reconstruction targets and whose output is the prediction at test time.
3. **Batch normalisation** (Rasmus et al.): every pre-activation ``z = BN(W h)`` is
   normalised without affine parameters; the clean path uses and updates the running
   statistics, the corrupted path normalises with its own batch statistics; at evaluation
   both use the running statistics. Hidden layers apply ``relu(z + beta)`` (a scale ``gamma``
   is redundant before ReLU); the output is ``gamma * (z + beta)``. The reconstruction target
   of layer ``l >= 1`` is the clean ``z(l)``; the reconstruction is normalised with the clean
   path's batch mean and std of that layer, ``z_hat_BN = (z_hat - mu) / sigma`` ("targets
   normalised by the clean path's batch statistics"). Layer 0 (the input) is compared
   unnormalised with ``x`` (already standardised features). As in Rasmus et al., the targets
   are not detached. The decoder's ``u`` vectors are batch-normalised the same way.
4. **AMLP** (Pezeshki et al.): per unit ``i``, ``z_hat_i = w2_i . lrelu(W1_i [z~_i, u_i,
   z~_i * u_i] + b1_i) + b2_i``, i.e. an MLP on the lateral input, the top-down signal and
   their product, with 4 hidden units (the DLN paper's "single layer AMLP with 4 cells").
   Not stated by the DLN paper, our choices: parameters *not* shared across units (like
   Rasmus' vanilla combinator), leaky ReLU hidden units (slope 0.1), linear output.
5. **Decoder top.** LN and DLN+he: ``u(L) = BN(y~)`` (the corrupted output), as in Rasmus et
   al. DLN: the top is layer L-1's reconstruction half: ``u = BN(h~_r)`` and the lateral input
   is ``z~_r``; the layer below receives ``V z_hat_r`` (V: 128 -> 256).
6. **Supervised cost on the corrupted output** (Rasmus et al.); predictions at test time come
   from the clean path. A labeled batch of a single item has no CCC; it contributes its
   reconstruction cost only (CCC needs >= 2 items).
7. **Figure 3 probes.** (a) "use the reconstruction embedding as the input of the output
   layer": :meth:`LadderNetwork.predict_from` feeds the chosen clean embedding to the trained
   output layer as is (the literal reading: no retraining), and :meth:`LadderNetwork.fit_probe`
   trains a fresh linear head (closed-form ridge least squares, deterministic) on the frozen
   clean embeddings of labeled training data (the reading in which the probe measures what
   information the embedding holds). (b) :meth:`LadderNetwork.input_reconstruction_mse`: MSE
   between the decoder's input reconstruction and ``x`` when the top of the decoder receives
   the emotion instead of the reconstruction embedding, evaluated as in training (corrupted
   path with seeded noise, batch statistics, no dropout, no statistics update), because the
   clean lateral connection alone would let the decoder copy ``x``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

import pandas as pd

from serlib.metrics import ccc_loss as _metrics_ccc_loss

__all__ = [
    "radio_programme",
    "AMLP",
    "Dense",
    "DecoupledLadder",
    "EmbeddingProbe",
    "Ladder",
    "LadderNetwork",
    "LadderOutput",
    "ccc_loss",
    "reconstruction_cost",
    "semi_supervised_data",
    "supervised_data",
    "train_step",
]


# --------------------------------------------------------------------------- losses
def ccc_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``1 - CCC`` (:func:`serlib.metrics.ccc_loss`), accepting (n,) vs (n, 1) shapes."""
    if pred.ndim == target.ndim + 1 and pred.shape[-1] == 1:
        pred = pred.squeeze(-1)
    if target.ndim == pred.ndim + 1 and target.shape[-1] == 1:
        target = target.squeeze(-1)
    return _metrics_ccc_loss(pred, target)


def reconstruction_cost(
    reconstructions: Sequence[torch.Tensor], targets: Sequence[torch.Tensor], lambdas: Sequence[float] | None = None
) -> torch.Tensor:
    """``sum_l lambda_l * mean((z_hat_BN(l) - z(l))**2)`` over the layers (lambda = 1 by default)."""
    if len(reconstructions) != len(targets) or not reconstructions:
        raise ValueError(f"reconstruction_cost: {len(reconstructions)} reconstructions vs {len(targets)} targets")
    lambdas = [1.0] * len(targets) if lambdas is None else list(lambdas)
    if len(lambdas) != len(targets):
        raise ValueError(f"reconstruction_cost: {len(lambdas)} lambdas for {len(targets)} layers")
    return sum(lam * F.mse_loss(r.float(), t.float()) for lam, r, t in zip(lambdas, reconstructions, targets))


# --------------------------------------------------------------------------- dense baseline
class Dense(nn.Module):
    """Supervised baseline: dropout(0.5) -> 256 ReLU -> dropout(0.5) -> 256 ReLU -> linear 1.

    ``n_outputs`` > 1 makes it a classifier (logits of ``n_outputs`` classes, trained with
    cross-entropy by :func:`train_step`; the leaderboard's categorical track). In train mode
    ``forward(x, noise)`` takes the dropout masks from ``noise`` (:meth:`noise_plan`,
    :func:`draw_noise`) or, when None, draws them from torch's global generator.
    """

    def __init__(self, n_features: int, hidden: Sequence[int] = (256, 256), dropout: float = 0.5,
                 n_outputs: int = 1) -> None:
        super().__init__()
        _check_sizes(n_features, hidden)
        _check_outputs(n_outputs)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.n_outputs = int(n_outputs)
        layers: list[nn.Module] = []
        d = n_features
        for h in hidden:
            layers += [nn.Dropout(dropout), nn.Linear(d, h), nn.ReLU()]
            d = h
        layers.append(nn.Linear(d, self.n_outputs))
        self.net = nn.Sequential(*layers)
        self.n_features = n_features

    def noise_plan(self, batch: int) -> list[tuple[str, tuple[int, ...], float]]:
        """The random draws of one training forward pass on ``batch`` items (see :func:`draw_noise`)."""
        if not self.training:
            return []
        return [("keep", (batch, m.in_features), 1.0 - d.p) for d, m in zip(self.net, self.net[1:])
                if isinstance(d, nn.Dropout) and isinstance(m, nn.Linear) and d.p > 0]

    def forward(self, x: torch.Tensor, noise: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        _check_input(x, self.n_features)
        masks = iter(_noise_for(self, x, noise))
        h = x
        for layer in self.net:
            if isinstance(layer, nn.Dropout):
                h = h * next(masks) if self.training and layer.p > 0 else h
            else:
                h = layer(h)
        return h.squeeze(-1)


# --------------------------------------------------------------------------- randomness
def draw_noise(plan: Sequence[tuple[str, tuple[int, ...], float]], generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> list[torch.Tensor]:
    """The random tensors of a model's :meth:`noise_plan`, drawn in order on the CPU from ``generator``
    (None = torch's global generator) and moved to ``device``.

    ``("keep", shape, q)``: an inverted-dropout mask (1/q with probability q, else 0);
    ``("normal", shape, std)``: Gaussian noise of standard deviation ``std``. The same generator
    state gives the same tensors whichever path asks for them, which is what lets
    :func:`train_batched` reproduce :func:`train_model` seed for seed.
    """
    out = []
    for kind, shape, v in plan:
        if kind == "keep":
            t = (torch.rand(shape, generator=generator) < v).float() / v
        elif kind == "normal":
            t = torch.randn(shape, generator=generator) * v
        else:
            raise ValueError(f"unknown noise kind {kind!r} (keep | normal)")
        out.append(t if device is None else t.to(device))
    return out


def _noise_for(model: nn.Module, x: torch.Tensor, noise: Sequence[torch.Tensor] | None,
               plan: Sequence | None = None) -> list[torch.Tensor]:
    """``noise`` checked against the model's plan, or drawn now from the global generator."""
    plan = model.noise_plan(x.shape[0]) if plan is None else plan
    if noise is None:
        return draw_noise(plan, None, x.device)
    noise = list(noise)
    if len(noise) != len(plan) or any(tuple(t.shape) != tuple(s) for t, (_, s, _) in zip(noise, plan)):
        raise ValueError(f"noise: expected {[tuple(s) for _, s, _ in plan]} (noise_plan), got "
                         f"{[tuple(t.shape) for t in noise]}")
    return noise


# --------------------------------------------------------------------------- building blocks
class _BatchNorm(nn.Module):
    """Batch normalisation without affine parameters that also returns the statistics used.

    ``batch_stats``: normalise with this batch's mean/std (else the running ones);
    ``update``: fold this batch's statistics into the running ones. Statistics in float32.
    """

    def __init__(self, n: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.momentum, self.eps = momentum, eps
        self.register_buffer("running_mean", torch.zeros(n))
        self.register_buffer("running_var", torch.ones(n))

    def forward(self, z: torch.Tensor, *, batch_stats: bool, update: bool = False):
        z = z.float()
        if batch_stats:
            mean, var = z.mean(0), z.var(0, unbiased=False)
            if update:
                with torch.no_grad():
                    n = z.shape[0]
                    unbiased = var * n / max(n - 1, 1)
                    # (1 - m) * running + m * batch, in place (works under torch.func.vmap)
                    self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean.detach())
                    self.running_var.mul_(1 - self.momentum).add_(self.momentum * unbiased.detach())
        else:
            mean, var = self.running_mean, self.running_var
        std = torch.sqrt(var + self.eps)
        return (z - mean) / std, mean, std


class AMLP(nn.Module):
    """Pezeshki et al.'s augmented-MLP denoising function, applied per unit with its own weights:
    ``z_hat = w2 . lrelu(W1 [z~, u, z~*u] + b1) + b2`` (choice 4)."""

    def __init__(self, n_units: int, hidden: int = 4, negative_slope: float = 0.1) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.W1 = nn.Parameter(torch.empty(n_units, 3, hidden))
        self.b1 = nn.Parameter(torch.zeros(n_units, hidden))
        self.w2 = nn.Parameter(torch.empty(n_units, hidden))
        self.b2 = nn.Parameter(torch.zeros(n_units))
        nn.init.uniform_(self.W1, -(3 ** -0.5), 3 ** -0.5)  # fan-in 3
        nn.init.uniform_(self.w2, -(hidden ** -0.5), hidden ** -0.5)

    def forward(self, z_tilde: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        # W1[i] . [z~_i, u_i, z~_i u_i] per unit, written as broadcasts: (B, n, hidden); a batched
        # matmul of n tiny (3 x hidden) matrices is many times slower on a CPU
        w = self.W1
        pre = (z_tilde.unsqueeze(-1) * w[:, 0] + u.unsqueeze(-1) * w[:, 1] + (z_tilde * u).unsqueeze(-1) * w[:, 2]
               + self.b1)
        return (F.leaky_relu(pre, self.negative_slope) * self.w2).sum(-1) + self.b2


@dataclass
class LadderOutput:
    """Everything one corrupted + clean pass computes (see :meth:`LadderNetwork.run`)."""

    y_noisy: torch.Tensor
    """prediction of the corrupted path, (B,): the supervised cost uses it (choice 6)."""
    y_clean: torch.Tensor
    """prediction of the clean path, (B,)."""
    recon_cost: torch.Tensor
    """sum over reconstructed layers of lambda_l * MSE (Eq. 1)."""
    layer_costs: list[torch.Tensor] = field(default_factory=list)
    """per reconstructed layer, bottom (input) first."""
    reconstructions: list[torch.Tensor] = field(default_factory=list)
    """the decoder's normalised reconstructions z_hat_BN, bottom first; [0] is the input."""


# --------------------------------------------------------------------------- ladder
class LadderNetwork(nn.Module):
    """Ladder network family (use :class:`Ladder` or :class:`DecoupledLadder`).

    ``decoupled``: split the last hidden layer into emotion (first ``emotion_units``, default
    half) and reconstruction halves. ``reconstruct_emotion`` (DLN+he, only with
    ``decoupled``): keep the LN decoder (output and full last hidden layer reconstructed).
    Layer indices: 0 = input, 1..L-1 = hidden, L = output. ``n_outputs`` > 1 makes the output
    layer ``n_outputs`` class logits (supervised cost: cross-entropy instead of ``1 - CCC``, see
    :func:`train_step`; the reconstruction cost is unchanged and reconstructs the logits layer
    where the plain LN reconstructs the output).
    """

    def __init__(
        self,
        n_features: int,
        hidden: Sequence[int] = (256, 256),
        *,
        decoupled: bool = False,
        reconstruct_emotion: bool = False,
        emotion_units: int | None = None,
        noise_std: float = 0.3,
        input_dropout: float = 0.1,
        combinator_hidden: int = 4,
        lambdas: Sequence[float] | None = None,
        n_outputs: int = 1,
    ) -> None:
        super().__init__()
        _check_sizes(n_features, hidden)
        _check_outputs(n_outputs)
        self.n_outputs = int(n_outputs)
        if reconstruct_emotion and not decoupled:
            raise ValueError("reconstruct_emotion (DLN+he) needs decoupled=True; the plain LN already reconstructs all")
        if noise_std < 0 or not 0.0 <= input_dropout < 1.0:
            raise ValueError(f"noise_std must be >= 0 and input_dropout in [0, 1); got {noise_std}, {input_dropout}")
        self.n_features = int(n_features)
        self.sizes = [self.n_features, *map(int, hidden), self.n_outputs]
        self.L = len(self.sizes) - 1
        self.decoupled, self.reconstruct_emotion = decoupled, reconstruct_emotion
        self.noise_std, self.input_dropout = float(noise_std), float(input_dropout)
        last = self.sizes[self.L - 1]
        self.k_e = (last // 2 if emotion_units is None else int(emotion_units)) if decoupled else last
        if decoupled and not 1 <= self.k_e < last:
            raise ValueError(f"emotion_units must lie in 1..{last - 1}, got {self.k_e}")

        # encoder (shared by the clean and corrupted paths)
        self.W = nn.ModuleList()
        for l in range(1, self.L + 1):
            fan_in = self.k_e if (l == self.L and decoupled) else self.sizes[l - 1]
            self.W.append(nn.Linear(fan_in, self.sizes[l], bias=False))
        self.bn = nn.ModuleList(_BatchNorm(self.sizes[l]) for l in range(1, self.L + 1))
        self.beta = nn.ParameterList(nn.Parameter(torch.zeros(self.sizes[l])) for l in range(1, self.L + 1))
        self.gamma = nn.Parameter(torch.ones(1))  # output scale

        # decoder: the reconstructed sizes, bottom (0) to top
        self.top = self.L - 1 if (decoupled and not reconstruct_emotion) else self.L
        self.rec_sizes = list(self.sizes[: self.top + 1])
        if self.top == self.L - 1:
            self.rec_sizes[-1] = last - self.k_e  # DLN: only the reconstruction half
        self.V = nn.ModuleList(  # V[l] maps z_hat(l+1) -> layer l
            nn.Linear(self.rec_sizes[l + 1], self.rec_sizes[l], bias=False) for l in range(self.top)
        )
        self.dec_bn = nn.ModuleList(_BatchNorm(n) for n in self.rec_sizes)
        self.g = nn.ModuleList(AMLP(n, combinator_hidden) for n in self.rec_sizes)
        self.lambdas = [1.0] * len(self.rec_sizes) if lambdas is None else [float(v) for v in lambdas]
        if len(self.lambdas) != len(self.rec_sizes):
            raise ValueError(
                f"lambdas needs {len(self.rec_sizes)} values (layers 0..{self.top}), got {len(self.lambdas)}"
            )

    # ----------------------------------------------------------------- encoder
    def noise_plan(self, batch: int, *, dropout: bool | None = None) -> list[tuple[str, tuple[int, ...], float]]:
        """The random draws of the corrupted path in :meth:`run` on ``batch`` items, in order: the
        input dropout mask (train mode only, or ``dropout``), then Gaussian noise on the input and on
        every layer's pre-activation (see :func:`draw_noise`)."""
        dropout = self.training if dropout is None else dropout
        plan: list[tuple[str, tuple[int, ...], float]] = []
        if dropout and self.input_dropout > 0:
            plan.append(("keep", (batch, self.n_features), 1.0 - self.input_dropout))
        if self.noise_std > 0:
            plan += [("normal", (batch, n), self.noise_std) for n in self.sizes]
        return plan

    def _encode(self, x: torch.Tensor, *, corrupted: bool, batch_stats: bool, update: bool,
                dropout: bool, noise: Sequence[torch.Tensor] | None = None) -> dict[str, Any]:
        """One encoder pass. Returns z (normalised pre-activations incl. noise), mean/std used,
        the embeddings (DLN) and the output. A corrupted pass takes its random tensors from
        ``noise`` (``noise_plan(len(x), dropout=dropout)``; None = drawn from the global generator)."""
        draws = iter(_noise_for(self, x, noise, self.noise_plan(x.shape[0], dropout=dropout)) if corrupted else ())

        def add_noise(t: torch.Tensor) -> torch.Tensor:
            return t + next(draws).to(t.dtype) if corrupted and self.noise_std > 0 else t

        h = x.float()
        if corrupted and dropout and self.input_dropout > 0:
            h = h * next(draws)
        h = add_noise(h)
        zs, means, stds = [h], [None], [None]
        out: dict[str, Any] = {}
        for l in range(1, self.L + 1):
            z, m, s = self.bn[l - 1](self.W[l - 1](h), batch_stats=batch_stats, update=update)
            z = add_noise(z)
            zs.append(z), means.append(m), stds.append(s)
            if l < self.L:
                h = F.relu(z + self.beta[l - 1])
                if l == self.L - 1 and self.decoupled:
                    out["h_e"], out["h_r"] = h[:, : self.k_e], h[:, self.k_e:]
                    h = out["h_e"]
            else:
                out["y"] = self.gamma * (z + self.beta[l - 1])
        out.update(z=zs, mean=means, std=stds)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Prediction of the clean path, shape (B,) (batch statistics in train mode, running
        statistics in eval mode)."""
        _check_input(x, self.n_features)
        return self._encode(x, corrupted=False, batch_stats=self.training, update=self.training,
                            dropout=False)["y"].squeeze(-1)

    # ----------------------------------------------------------------- decoder
    def _lateral_and_targets(self, noisy: dict, clean: dict) -> tuple[list, list, list, list]:
        """Lateral inputs z~(l), targets z(l) and the clean mean/std for the reconstructed layers."""
        lat, tgt = list(noisy["z"][: self.top + 1]), list(clean["z"][: self.top + 1])
        means, stds = list(clean["mean"][: self.top + 1]), list(clean["std"][: self.top + 1])
        if self.top == self.L - 1:  # DLN: reconstruction half only
            k = self.k_e
            lat[-1], tgt[-1] = lat[-1][:, k:], tgt[-1][:, k:]
            means[-1], stds[-1] = means[-1][k:], stds[-1][k:]
        return lat, tgt, means, stds

    def _decode(self, top_input: torch.Tensor, lateral: list, means: list, stds: list, *,
                batch_stats: bool, update: bool) -> list[torch.Tensor]:
        """Top-down pass; returns z_hat_BN for layers 0..top (bottom first)."""
        rec: list[torch.Tensor] = [None] * (self.top + 1)  # type: ignore[list-item]
        z_hat = None
        for l in range(self.top, -1, -1):
            pre = top_input if l == self.top else self.V[l](z_hat)
            u, _, _ = self.dec_bn[l](pre, batch_stats=batch_stats, update=update)
            z_hat = self.g[l](lateral[l].float(), u)
            rec[l] = z_hat if l == 0 else (z_hat - means[l]) / stds[l]
        return rec

    def _top_input(self, noisy: dict, embedding: str = "reconstruction") -> torch.Tensor:
        if self.top == self.L:
            return noisy["y"]
        return noisy["h_r"] if embedding == "reconstruction" else noisy["h_e"]

    def run(self, x: torch.Tensor, noise: Sequence[torch.Tensor] | None = None) -> LadderOutput:
        """Corrupted pass, clean pass and decoder (what a training step needs). In train mode
        batch statistics are used and the running ones updated by the clean path. ``noise``: the
        corrupted path's random tensors (:meth:`noise_plan`); None = drawn from the global generator."""
        _check_input(x, self.n_features)
        t = self.training
        noisy = self._encode(x, corrupted=True, batch_stats=t, update=False, dropout=t, noise=noise)
        clean = self._encode(x, corrupted=False, batch_stats=t, update=t, dropout=False)
        lat, tgt, means, stds = self._lateral_and_targets(noisy, clean)
        rec = self._decode(self._top_input(noisy), lat, means, stds, batch_stats=t, update=t)
        costs = [lam * F.mse_loss(r.float(), z.float()) for lam, r, z in zip(self.lambdas, rec, tgt)]
        return LadderOutput(noisy["y"].squeeze(-1), clean["y"].squeeze(-1), sum(costs), costs, rec)

    # ----------------------------------------------------------------- Figure 3 probes
    def _require_decoupled(self, what: str) -> None:
        if not self.decoupled:
            raise ValueError(f"{what} needs a decoupled model (DecoupledLadder): the plain ladder has one embedding")

    @torch.no_grad()
    def embeddings(self, x: torch.Tensor | np.ndarray, *, batch_size: int = 1024) -> dict[str, np.ndarray]:
        """Clean-path emotion and reconstruction embeddings (eval statistics):
        ``{"emotion": (n, k_e), "reconstruction": (n, 256 - k_e)}``."""
        self._require_decoupled("embeddings")
        X = _as_tensor(x, self.n_features)
        was = self.training
        self.eval()
        dev = _device(self)
        parts: dict[str, list] = {"emotion": [], "reconstruction": []}
        for i in range(0, len(X), batch_size):
            out = self._encode(X[i:i + batch_size].to(dev), corrupted=False, batch_stats=False, update=False,
                               dropout=False)
            parts["emotion"].append(out["h_e"].cpu().numpy())
            parts["reconstruction"].append(out["h_r"].cpu().numpy())
        self.train(was)
        return {k: np.concatenate(v) for k, v in parts.items()}

    @torch.no_grad()
    def predict_from(self, x: torch.Tensor | np.ndarray, embedding: str = "reconstruction") -> np.ndarray:
        """Fig. 3a, literal reading: feed the chosen clean embedding to the *trained* output
        layer (needs equal halves). Returns predictions (n,)."""
        self._require_decoupled("predict_from")
        emb = _check_embedding(embedding)
        if self.k_e != self.sizes[self.L - 1] - self.k_e:
            raise ValueError("predict_from needs equally sized halves (the output layer reads k_e units)")
        was = self.training
        self.eval()
        h = torch.as_tensor(self.embeddings(x)[emb], device=_device(self))
        z, _, _ = self.bn[self.L - 1](self.W[self.L - 1](h), batch_stats=False)
        self.train(was)
        return (self.gamma * (z + self.beta[self.L - 1])).squeeze(-1).cpu().numpy()

    def fit_probe(self, x: torch.Tensor | np.ndarray, y: Sequence[float], embedding: str = "reconstruction", *,
                  alpha: float = 1.0) -> EmbeddingProbe:
        """Fig. 3a, probe reading: a fresh linear head (ridge least squares, ``alpha``) trained on
        the frozen clean ``embedding`` of labeled data (use the training set). Returns an
        :class:`EmbeddingProbe` whose ``predict(x)`` scores new data."""
        from sklearn.linear_model import Ridge

        emb = _check_embedding(embedding)
        H = self.embeddings(x)[emb]
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if len(y) != len(H):
            raise ValueError(f"fit_probe: {len(H)} inputs but {len(y)} targets")
        return EmbeddingProbe(self, emb, Ridge(alpha=alpha).fit(H, y))

    @torch.no_grad()
    def input_reconstruction_mse(self, x: torch.Tensor | np.ndarray, embedding: str = "reconstruction", *,
                                 batch_size: int = 256, seed: int = 0) -> float:
        """Fig. 3b: MSE between the input reconstruction and ``x`` when the decoder top receives
        the ``embedding`` ("reconstruction" = the trained DLN, "emotion" = swapped). Evaluated
        like a training step (choice 7) over ``max(1, len(x) // batch_size)`` nearly equal
        batches (each holds >= min(len(x), batch_size) >= 2 items, so batch statistics exist),
        noise seeded by ``seed``; no parameters or statistics change. Returns the mean squared
        error per input value."""
        self._require_decoupled("input_reconstruction_mse")
        emb = _check_embedding(embedding)
        if self.reconstruct_emotion:
            raise ValueError("input_reconstruction_mse swaps the decoder's top input; DLN+he reads the output there")
        if self.k_e != self.rec_sizes[-1]:
            raise ValueError("swapping embeddings needs equally sized halves (emotion_units = half the last layer)")
        if batch_size < 2:
            raise ValueError(f"batch_size must be >= 2 (batch statistics), got {batch_size}")
        X = _as_tensor(x, self.n_features)
        if len(X) < 2:
            raise ValueError("input_reconstruction_mse needs at least 2 samples (batch statistics)")
        dev = _device(self)
        gen = torch.Generator().manual_seed(seed)  # noise is drawn on the CPU (draw_noise)
        total = 0.0
        # n // batch_size nearly equal chunks: every chunk holds >= min(n, batch_size) >= 2 items
        for idx in np.array_split(np.arange(len(X)), max(1, len(X) // batch_size)):
            xb = X[torch.as_tensor(idx)].to(dev)
            total += float(((self._probe_rec0(xb, emb, gen) - xb.float()) ** 2).sum())
        return total / X.numel()

    def _probe_rec0(self, xb: torch.Tensor, emb: str, gen: torch.Generator) -> torch.Tensor:
        noise = draw_noise(self.noise_plan(xb.shape[0], dropout=False), gen, xb.device)
        noisy = self._encode(xb, corrupted=True, batch_stats=True, update=False, dropout=False, noise=noise)
        clean = self._encode(xb, corrupted=False, batch_stats=True, update=False, dropout=False)
        lat, _, means, stds = self._lateral_and_targets(noisy, clean)
        rec = self._decode(self._top_input(noisy, emb), lat, means, stds, batch_stats=True, update=False)
        return rec[0]


class Ladder(LadderNetwork):
    """LN: the ladder network of Rasmus et al. with an AMLP combinator; reconstructs all layers."""

    def __init__(self, n_features: int, hidden: Sequence[int] = (256, 256), **kw: Any) -> None:
        super().__init__(n_features, hidden, decoupled=False, **kw)


class DecoupledLadder(LadderNetwork):
    """DLN (``he=False``) or DLN+he (``he=True``); see the module docstring."""

    def __init__(self, n_features: int, hidden: Sequence[int] = (256, 256), *, he: bool = False, **kw: Any) -> None:
        super().__init__(n_features, hidden, decoupled=True, reconstruct_emotion=he, **kw)


class EmbeddingProbe:
    """A linear head on one frozen DLN embedding (from :meth:`LadderNetwork.fit_probe`)."""

    def __init__(self, model: LadderNetwork, embedding: str, regressor: Any) -> None:
        self.model, self.embedding, self.regressor = model, embedding, regressor

    def predict(self, x: torch.Tensor | np.ndarray) -> np.ndarray:
        return self.regressor.predict(self.model.embeddings(x)[self.embedding])


# --------------------------------------------------------------------------- training glue
def _parse_batch(batch: Any) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Return ``(x, y or None)`` from any accepted batch format (module docstring)."""
    if isinstance(batch, (tuple, list)) and len(batch) == 2 and isinstance(batch[0], str):
        kind, inner = batch
        if kind not in ("labeled", "unlabeled"):
            raise ValueError(
                f"batch tag {kind!r} is neither 'labeled' nor 'unlabeled' (name the Interleave loaders so)"
            )
        x, y = _parse_batch(inner)
        if kind == "labeled" and y is None:
            raise ValueError("a 'labeled' batch holds no targets; its loader must yield (x, y)")
        return x, (y if kind == "labeled" else None)
    if isinstance(batch, dict):
        if "x" not in batch:
            raise KeyError(f"batch dict needs key 'x' (and 'y' when labeled), got keys {sorted(batch)}")
        return batch["x"], batch.get("y")
    if isinstance(batch, torch.Tensor):
        return batch, None
    if isinstance(batch, (tuple, list)) and len(batch) in (1, 2):
        return batch[0], (batch[1] if len(batch) == 2 else None)
    raise TypeError(f"unrecognised batch {type(batch).__name__}; see serlib.models.ladder's batch format")


def train_step(model: nn.Module, batch: Any, device: torch.device) -> torch.Tensor:
    """``train_step`` for :func:`serlib.training.fit` (Eq. 1).

    Ladder models: labeled batch -> ``(1 - CCC(y~, y)) + reconstruction cost``; unlabeled
    batch -> reconstruction cost only. :class:`Dense`: labeled only (``1 - CCC``); an
    unlabeled batch raises. Classifiers (``n_outputs > 1``): cross-entropy of the logits and
    the class indices ``y`` in place of ``1 - CCC`` (any batch size). Dropout masks and the
    corrupted path's noise come from torch's global generator (:func:`serlib.training.fit` seeds it).
    """
    x, y = _parse_batch(batch)
    return objective(model, x.to(device), None if y is None else y.to(device))


def objective(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None,
              noise: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
    """The training loss of one batch (``y`` None = unlabeled), with the model's random tensors
    from ``noise`` (its ``noise_plan``; None = the global generator): what :func:`train_step`
    computes, in a form :func:`torch.func.vmap` can batch over models (:func:`train_batched`)."""
    classify = getattr(model, "n_outputs", 1) > 1
    if not isinstance(model, LadderNetwork):
        if y is None:
            raise ValueError(f"{type(model).__name__} is supervised; it cannot train on unlabeled batches")
        return _supervised_loss(model(x, noise), y, classify)
    out = model.run(x, noise)
    loss = out.recon_cost
    if y is not None and (classify or len(y) >= 2):
        loss = loss + _supervised_loss(out.y_noisy, y, classify)
    return loss


def _supervised_loss(pred: torch.Tensor, y: torch.Tensor, classify: bool) -> torch.Tensor:
    """Cross-entropy on class indices (classifiers) or ``1 - CCC`` (regressors)."""
    if classify:
        return F.cross_entropy(pred.float(), y.long())
    return ccc_loss(pred, y)


class Batches:
    """Mini-batches of in-memory tensors, re-iterable: ``(X, y)`` or ``(X,)`` batches in a new
    order every pass (a permutation drawn from a generator seeded with ``seed``; ``shuffle=False``
    keeps the order). ``drop_last``: leave out a last, incomplete batch. Indexing the tensors
    directly is several times faster than a ``DataLoader`` over a ``TensorDataset`` of
    6,373-d rows, and the order depends on ``seed`` only."""

    def __init__(self, *tensors: torch.Tensor, batch_size: int, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False) -> None:
        if not tensors or any(len(t) != len(tensors[0]) for t in tensors):
            raise ValueError(f"Batches: tensors of unequal length {[len(t) for t in tensors]}")
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.tensors, self.batch_size, self.shuffle, self.drop_last = tensors, int(batch_size), shuffle, drop_last
        self.generator = torch.Generator().manual_seed(int(seed))
        n = len(tensors[0])
        if n == 0 or (drop_last and n < self.batch_size):
            raise ValueError(f"Batches: {n} item(s) give no batch of {self.batch_size}")

    def __len__(self) -> int:
        n = len(self.tensors[0])
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.tensors[0])
        order = torch.randperm(n, generator=self.generator) if self.shuffle else torch.arange(n)
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            yield tuple(t[idx] for t in self.tensors)


def semi_supervised_data(
    labeled: tuple[Any, Any], unlabeled: Any, *, batch_size: int = 256, seed: int = 0
) -> Any:
    """``Interleave(labeled=..., unlabeled=...)`` over shuffled :class:`Batches` for :func:`train_step`.

    ``labeled`` = ``(X, y)``; ``unlabeled`` = ``X_u`` (target-condition audio features without
    labels). Refuses a missing or empty unlabeled set instead of silently training
    supervised-only. One epoch = one pass over the labeled data (orders seeded by ``seed`` and
    ``seed + 1``).
    """
    from serlib.training import Interleave

    if unlabeled is None or len(unlabeled) == 0:
        raise ValueError(
            "no unlabeled data was given: a ladder network adapts to the target condition through unlabeled "
            "audio of that condition; pass its features (e.g. the condition's unlabeled set), or train Dense"
        )
    X, y = labeled
    Xl, yl = _as_tensor(X, None), torch.as_tensor(np.asarray(y, dtype=np.float32))
    if len(Xl) != len(yl):
        raise ValueError(f"labeled data: {len(Xl)} inputs but {len(yl)} targets")
    Xu = _as_tensor(unlabeled, Xl.shape[1])
    return Interleave(labeled=Batches(Xl, yl, batch_size=batch_size, seed=seed),
                      unlabeled=Batches(Xu, batch_size=batch_size, seed=seed + 1))


def supervised_data(X: Any, y: Any, *, batch_size: int = 256, seed: int = 0) -> Any:
    """Shuffled :class:`Batches` of ``(X, y)`` for the supervised :class:`Dense` model.

    ``1 - CCC`` needs at least 2 items per batch: when ``len(X) % batch_size == 1`` the last batch
    (a single item, a different one every epoch) is dropped rather than crashing the epoch.
    """
    Xl, yl = _as_tensor(X, None), torch.as_tensor(np.asarray(y, dtype=np.float32))
    if len(Xl) != len(yl):
        raise ValueError(f"labeled data: {len(Xl)} inputs but {len(yl)} targets")
    if len(Xl) < 2:
        raise ValueError(f"labeled data: {len(Xl)} item(s); 1 - CCC needs at least 2 labelled items")
    return Batches(Xl, yl, batch_size=batch_size, seed=seed, drop_last=len(Xl) % batch_size == 1)


def _training_data(method: str, X: Any, y: Any, X_unlabeled: Any, batch_size: int, seed: int) -> Any:
    """The batches :func:`train_model` trains ``method`` on (the ladders refuse no unlabeled data)."""
    if method in SEMI_SUPERVISED:
        if X_unlabeled is None or len(X_unlabeled) == 0:
            raise ValueError(f"{method} needs the unlabeled set of the target condition (X_unlabeled); "
                             "it is never trained supervised-only - use Dense for that")
        return semi_supervised_data((X, y), X_unlabeled, batch_size=batch_size, seed=seed)
    return supervised_data(X, y, batch_size=batch_size, seed=seed)


# --------------------------------------------------------------------------- helpers
def _check_sizes(n_features: int, hidden: Sequence[int]) -> None:
    if int(n_features) < 1 or not hidden or any(int(h) < 1 for h in hidden):
        raise ValueError(f"n_features and every hidden size must be >= 1, got {n_features}, {list(hidden)}")


def _check_outputs(n_outputs: int) -> None:
    if int(n_outputs) < 1:
        raise ValueError(f"n_outputs must be 1 (a regressor) or the number of classes (>= 2), got {n_outputs}")


def _check_input(x: torch.Tensor, n_features: int) -> None:
    if x.ndim != 2 or x.shape[1] != n_features:
        raise ValueError(f"expected input of shape (batch, {n_features}), got {tuple(x.shape)}")


def _check_embedding(embedding: str) -> str:
    if embedding not in ("emotion", "reconstruction"):
        raise ValueError(f"embedding must be 'emotion' or 'reconstruction', got {embedding!r}")
    return embedding


def _as_tensor(x: Any, n_features: int | None) -> torch.Tensor:
    if hasattr(x, "to_numpy"):
        x = x.to_numpy()
    t = x.detach().float().cpu() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, dtype=np.float32))
    if t.ndim != 2 or len(t) == 0 or (n_features is not None and t.shape[1] != n_features):
        want = f"(n, {n_features})" if n_features is not None else "(n, features)"
        raise ValueError(f"expected a non-empty 2-d array {want}, got shape {tuple(t.shape)}")
    if not torch.isfinite(t).all():
        raise ValueError("the features contain NaN or inf; normalise/clip them first (paper 2 clips to +-10)")
    return t


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


# --------------------------------------------------------------------------- experiment helpers (notebook 02)
METHODS = ("Dense", "LN", "DLN", "DLN+he")
"""The four models of the paper's Table 2, in its order."""

SEMI_SUPERVISED = ("LN", "DLN", "DLN+he")
"""The models that also learn from the unlabeled target-condition set."""


def make_model(method: str, n_features: int, **kw: Any) -> nn.Module:
    """``"Dense"``, ``"LN"``, ``"DLN"`` or ``"DLN+he"`` with the paper's sizes (two hidden layers of 256)."""
    builders = {"Dense": lambda: Dense(n_features, **kw), "LN": lambda: Ladder(n_features, **kw),
                "DLN": lambda: DecoupledLadder(n_features, **kw),
                "DLN+he": lambda: DecoupledLadder(n_features, he=True, **kw)}
    if method not in builders:
        raise ValueError(f"unknown method {method!r}; choose from {list(METHODS)}")
    return builders[method]()


def train_model(
    method: str,
    X: Any,
    y: Any,
    X_dev: Any,
    y_dev: Any,
    X_unlabeled: Any = None,
    *,
    epochs: int,
    lr: float = 5e-5,
    batch_size: int = 256,
    seed: int = 0,
    device: str | None = None,
    patience: int | None = None,
    progress: bool = False,
):
    """Train one model for one attribute as in Sec. 4.3 and return the :class:`serlib.training.FitResult`.

    Adam (``lr``), ``batch_size``, loss of Eq. 1 via :func:`train_step`, model selection on the
    CCC of the clean development set (the best epoch within ``epochs``; ``patience`` None = no
    early stopping, as in the paper; an int stops after that many epochs without a better dev
    CCC; never LR halving). The initial weights, the batch order and the random corruption all
    follow ``seed``. The semi-supervised models need ``X_unlabeled`` (the target condition's
    unlabeled features) and refuse to run without it; Dense ignores it.
    """
    from serlib import training

    data = _training_data(method, X, y, X_unlabeled, batch_size, seed)
    torch.manual_seed(seed)  # the initial weights (fit re-seeds before training)
    model = make_model(method, int(np.asarray(X).shape[1]))
    val = Batches(_as_tensor(X_dev, None), torch.as_tensor(np.asarray(y_dev, dtype=np.float32)),
                  batch_size=batch_size, shuffle=False)
    return training.fit(model, data, val, train_step=train_step, val_metric="ccc", epochs=epochs, lr=lr,
                        batch_size=batch_size, patience=patience, lr_patience=None, seed=seed, device=device,
                        amp=False, progress=progress)


class _Objective(nn.Module):
    """``objective`` as a module's forward, so that ``functional_call`` can run it on stacked weights."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, y: torch.Tensor | None, noise: list[torch.Tensor]) -> torch.Tensor:
        return objective(self.model, x, y, noise)


def train_batched(
    method: str,
    X: Any,
    ys: Sequence[Any],
    X_dev: Any,
    ys_dev: Sequence[Any],
    X_unlabeled: Any = None,
    *,
    seeds: Sequence[int],
    epochs: int,
    lr: float = 5e-5,
    batch_size: int = 256,
    device: str | None = None,
    patience: int | None = None,
) -> list:
    """Train ``len(seeds)`` models of ``method`` at once, as one model batched with :mod:`torch.func`.

    Model ``i`` learns targets ``ys[i]`` (dev targets ``ys_dev[i]``) with seed ``seeds[i]``: its
    initial weights, batch order, dropout masks and corruption noise are those of
    ``train_model(method, X, ys[i], X_dev, ys_dev[i], X_unlabeled, seed=seeds[i], ...)``, and so are
    its history, best epoch and selected weights up to floating-point rounding (a batched matrix
    product sums in another order; ``benchmarks/bench_batched_seeds.py`` measures the difference).
    The weights are stacked (``stack_module_state``), one ``vmap`` of ``functional_call`` computes
    every model's loss on its own batch, and one Adam step updates them all (Adam is elementwise,
    so each model's update is its own). Early stopping is per model: a model whose ``patience``
    ran out keeps its best weights and history (the batch trains on until the last one stops).
    Returns one :class:`serlib.training.FitResult` per model, in order. Dry runs
    (:func:`serlib.profiles.is_dry`) stop every epoch after 2 batches, as :func:`~serlib.training.fit`.
    """
    import copy
    import time

    from torch.func import functional_call, stack_module_state, vmap

    from serlib import profiles, training
    from serlib.metrics import ccc

    t_start = time.perf_counter()
    seeds = [int(s) for s in seeds]
    if not seeds or len(ys) != len(seeds) or len(ys_dev) != len(seeds):
        raise ValueError(f"train_batched: {len(seeds)} seeds, {len(ys)} target sets, {len(ys_dev)} dev target sets; "
                         "give one of each per model")
    if epochs < 1 or (patience is not None and patience < 1):
        raise ValueError(f"epochs must be >= 1 and patience >= 1 or None, got {epochs}, {patience}")
    dev = training.resolve_device(device)
    det = training.seed_everything(seeds[0], device=dev)
    datas = [_training_data(method, X, y, X_unlabeled, batch_size, s) for y, s in zip(ys, seeds)]
    models = []
    for s in seeds:
        torch.manual_seed(s)
        models.append(make_model(method, int(np.asarray(X).shape[1])).to(dev))
    params, buffers = stack_module_state([_Objective(m) for m in models])
    base = copy.deepcopy(_Objective(models[0])).to("meta")
    gens = [torch.Generator().manual_seed(s) for s in seeds]  # fit seeds the global generator with the seed
    opt = torch.optim.Adam(list(params.values()), lr=lr)

    def loss_of(p, b, x, y, noise):
        return functional_call(base, (p, b), (x, y, noise))

    def unlabeled_loss_of(p, b, x, noise):
        return functional_call(base, (p, b), (x, None, noise))

    def predict_of(p, b, x):
        return functional_call(base.model, ({k[6:]: v for k, v in p.items()}, {k[6:]: v for k, v in b.items()}),
                               (x,))

    train_l, train_u = vmap(loss_of), vmap(unlabeled_loss_of)
    predict = vmap(predict_of, in_dims=(0, 0, None))
    Xd = _as_tensor(X_dev, None).to(dev)
    yd = [np.asarray(v, dtype=np.float64) for v in ys_dev]
    max_batches = profiles.DRY_BATCHES if profiles.is_dry() else None
    n = len(seeds)
    rows: list[list[dict]] = [[] for _ in range(n)]
    best = [dict(score=float("nan"), epoch=0, state=None, bad=0, stopped=False, active=True) for _ in range(n)]
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        base.train()
        losses = []
        for i, items in enumerate(zip(*datas)):
            parsed = [_parse_batch(item) for item in items]
            x = torch.stack([p[0] for p in parsed]).to(dev)
            plan = base.model.noise_plan(x.shape[1])
            noise = [torch.stack(t).to(dev) for t in zip(*(draw_noise(plan, g) for g in gens))] if plan else []
            opt.zero_grad(set_to_none=True)
            if parsed[0][1] is None:
                loss = train_u(params, buffers, x, noise)
            else:
                loss = train_l(params, buffers, x, torch.stack([p[1] for p in parsed]).to(dev), noise)
            if not torch.isfinite(loss).all():
                bad = [seeds[j] for j in range(n) if not torch.isfinite(loss[j])]
                raise FloatingPointError(f"{method}: training loss is not finite at epoch {epoch}, batch {i} for "
                                         f"seed(s) {bad}; lower lr or check the inputs for NaN/inf")
            loss.sum().backward()
            opt.step()
            losses.append(loss.detach().cpu())
            if max_batches is not None and i + 1 >= max_batches:
                break
        base.eval()
        with torch.no_grad():
            pred = torch.cat([predict(params, buffers, Xd[k:k + batch_size]) for k in range(0, len(Xd), batch_size)],
                             dim=1).cpu().numpy()
        seconds = (time.perf_counter() - t0) / n
        mean_loss = torch.stack(losses).mean(0).tolist()
        for j in range(n):
            if not best[j]["active"]:
                continue
            score = float(ccc(yd[j], pred[j]))
            b = best[j]
            is_best = not np.isnan(score) and (np.isnan(b["score"]) or score > b["score"])
            if is_best:
                b.update(score=score, epoch=epoch, bad=0,
                         state={k[6:]: v[j].detach().to("cpu", copy=True) for k, v in (params | buffers).items()})
            else:
                b["bad"] += 1
            rows[j].append(dict(epoch=epoch, train_loss=mean_loss[j], val_metric=score, val_loss=float("nan"), lr=lr,
                                seconds=seconds, best=is_best))
            if patience is not None and b["bad"] >= patience:
                b["active"], b["stopped"] = False, epoch < epochs
        if not any(b["active"] for b in best):
            break
    seconds = (time.perf_counter() - t_start) / n
    out = []
    for model, b, r in zip(models, best, rows):
        if b["state"] is None:
            raise RuntimeError("the dev CCC was NaN in every epoch; no weights can be selected")
        model.load_state_dict(b["state"])
        model.eval()
        out.append(training.FitResult(model, pd.DataFrame(r), b["epoch"], b["score"], seconds, stopped_early=b["stopped"],
                                      device=str(dev), precision="fp32", deterministic=det,
                                      dry=max_batches is not None))
    return out


def significance_table(df: Any, *, metric: str = "ccc", alpha: float = 0.05,
                       condition: str = "snr") -> Any:
    """Table 2 with the paper's marks: mean ``metric`` over seeds per attribute x condition x method.

    ``df``: tidy results (``method``, ``attribute``, ``seed``, ``metric``, ``value`` and the
    ``condition`` column; a missing condition value = clean). Rows of one seed are averaged
    first (e.g. the three condition-adapted models on clean speech). A dagger marks a
    significant difference from Dense, ``*`` from LN (Welch's two-tailed t-test, p <= ``alpha``,
    over seeds; the paper marks improvements, we mark the direction too: a mark after a value
    below the reference's mean is written in brackets, e.g. ``0.41(†)``). Returns a DataFrame
    with columns ``attribute, condition`` and one per method (formatted strings), plus the
    numeric means in ``df.attrs["means"]``.
    """
    import pandas as pd

    from serlib.metrics import welch_t

    sub = df[df["metric"] == metric].copy()
    sub["_cond"] = sub[condition].map(lambda v: "clean" if pd.isna(v) else f"{float(v):g} dB")
    per_seed = sub.groupby(["attribute", "_cond", "method", "seed"], sort=False)["value"].mean().reset_index()
    methods = [m for m in METHODS if m in set(per_seed["method"])] + \
        sorted(set(per_seed["method"]) - set(METHODS))
    rows, means = [], []
    for (attr, cond), grp in per_seed.groupby(["attribute", "_cond"], sort=False):
        vals = {m: grp.loc[grp["method"] == m, "value"].to_numpy() for m in methods}
        row: dict[str, Any] = {"attribute": attr, "condition": cond}
        for m in methods:
            v = vals[m]
            if len(v) == 0:
                row[m] = ""
                continue
            mark = ""
            for ref, sym in (("Dense", "†"), ("LN", "*")):
                r = vals.get(ref, np.zeros(0))
                if m == ref or len(r) < 2 or len(v) < 2 or (ref == "Dense" and m == "Dense"):
                    continue
                if m == "Dense" and ref == "LN":
                    continue
                _, p = welch_t(v, r)
                if np.isfinite(p) and p <= alpha:
                    mark += sym if v.mean() > r.mean() else f"({sym})"
            row[m] = f"{v.mean():.3f}{mark}"
            means.append({"attribute": attr, "condition": cond, "method": m, "mean": float(v.mean()),
                          "n": int(len(v))})
        rows.append(row)
    out = pd.DataFrame(rows, columns=["attribute", "condition", *methods])
    out.attrs["means"] = pd.DataFrame(means)
    return out


def embedding_analysis(model: LadderNetwork, X_train: Any, y_train: Any, X_test: Any, y_test: Any, *,
                       seed: int = 0) -> dict[tuple[str, str], float]:
    """Figure 3 of the paper for one trained DLN, evaluated on ``(X_test, y_test)``.

    Returns ``{(quantity, embedding): value}`` with quantity ``ccc_output`` (Fig. 3a, the trained
    output layer reading the embedding, :meth:`LadderNetwork.predict_from`), ``ccc_probe`` (a ridge
    head fitted on the training set's frozen embedding, :meth:`LadderNetwork.fit_probe`) and
    ``input_mse`` (Fig. 3b, :meth:`LadderNetwork.input_reconstruction_mse` with the embedding at
    the decoder top), for embedding ``emotion`` and ``reconstruction``.
    """
    from serlib.metrics import ccc

    out: dict[tuple[str, str], float] = {}
    y_test = np.asarray(y_test, dtype=np.float64)
    for emb in ("emotion", "reconstruction"):
        out[("ccc_output", emb)] = float(ccc(y_test, model.predict_from(X_test, emb)))
        out[("ccc_probe", emb)] = float(ccc(y_test, model.fit_probe(X_train, y_train, emb).predict(X_test)))
        out[("input_mse", emb)] = model.input_reconstruction_mse(X_test, emb, seed=seed)
    return out


# --------------------------------------------------------------------------- notebook 02: folds, features, tasks
PAPER_PROTOCOL = "loso_session"
"""What notebook 02 asks :func:`serlib.protocols.auto` for: one fold per session on a corpus with
sessions (the embedded one), leave-k-speakers-out on a corpus with speakers only (EmoDB,
RAVDESS), the corpus's own partition where it has one (MSP-Podcast, the paper's)."""

BOOTH = {10: "10dB", 5: "5dB", 0: "0dB"}
"""The booth re-recording settings (:mod:`serlib.noise.room`) by the nominal SNR the paper names them by."""

PARTS = ("train", "dev", "unlabeled", "test")
"""The parts of a fold; ``unlabeled`` holds the speakers whose booth recordings the ladders adapt to."""

MAX_BATCH = 20
"""Most models :func:`run_task` trains as one batched model (the paper profile's 20 seeds x 3 attributes go in 3)."""

UNLABELED_FRACTION = 0.2
"""Share of the corpus's utterances taken (as whole training speakers) for the unlabeled part."""


def booth_settings(snrs: Sequence[float]) -> dict[float, str]:
    """``{nominal SNR: booth setting}`` for the ``snrs`` knob; an unknown SNR is an error naming the choices."""
    out = {}
    for v in snrs:
        if v not in BOOTH:
            raise ValueError(f"snrs: {v!r} dB is not a booth condition of paper 2; choose from {sorted(BOOTH)} "
                             "(10 = A5_B35, 5 = A10_B30, 0 = A15_B25)")
        out[float(v)] = BOOTH[v]
    return out


def fold_manifests(manifest: pd.DataFrame, proto: Any, *, unlabeled_fraction: float = UNLABELED_FRACTION,
                   seed: int = 0) -> dict[str, pd.DataFrame]:
    """Each fold of ``proto`` (from :func:`serlib.protocols.auto`) as the manifest's rows with a ``part`` column.

    ``train`` / ``dev`` / ``test`` are the protocol's train / val / test parts; ``unlabeled`` takes
    whole training speakers, about ``unlabeled_fraction`` of the corpus's utterances, out of
    ``train``: the stand-in for the paper's un-annotated recordings of other speakers. The
    speakers are taken in one fixed order (shuffled with ``seed``), skipping those a fold tests or
    validates on, so the folds share most of their unlabeled speakers and their booth recordings
    are simulated and featurised once. At least one training speaker always remains. Rows in no
    part (a predefined partition's leftovers) are left out. Every fold is checked speaker-disjoint.
    """
    if not 0.0 < unlabeled_fraction < 1.0:
        raise ValueError(f"unlabeled_fraction must be in (0, 1), got {unlabeled_fraction}")
    keys = manifest["corpus"].astype(str) + "/" + manifest["speaker"].astype(str) if "corpus" in manifest \
        else manifest["speaker"].astype(str)
    keys = keys.where(manifest["speaker"].notna())
    order = list(np.random.default_rng([seed, 2]).permutation(sorted(keys.dropna().unique())))
    target = unlabeled_fraction * len(manifest)
    out = {}
    for split in proto.splits:
        if len(split.val) == 0:
            raise ValueError(f"fold {split.name}: the protocol gave no validation part; paper 2 selects its "
                             "models on a development set (build the protocol with validation)")
        part = np.full(len(manifest), None, dtype=object)
        part[split.train], part[split.val], part[split.test] = "train", "dev", "test"
        counts = keys.iloc[split.train].value_counts()
        chosen, n = [], 0
        for spk in order:
            if spk in counts.index and n < target and len(counts) - len(chosen) > 1:
                chosen.append(spk)
                n += int(counts[spk])
        if not chosen:
            raise ValueError(f"fold {split.name}: a single training speaker; the unlabeled part needs another "
                             "(use a corpus or corpus_size with more speakers)")
        part[(keys.isin(chosen) & (part == "train")).to_numpy()] = "unlabeled"
        fold = manifest.assign(part=part)[part != None].reset_index(drop=True)  # noqa: E711
        _check_parts_disjoint(fold, keys.loc[part != None].reset_index(drop=True), split.name)  # noqa: E711
        out[split.name] = fold
    return out


def _check_parts_disjoint(fold: pd.DataFrame, keys: pd.Series, name: str) -> None:
    seen: dict[str, str] = {}
    for p in PARTS:
        for spk in keys[(fold["part"] == p).to_numpy()].dropna().unique():
            if seen.setdefault(spk, p) != p:
                raise AssertionError(f"fold {name}: speaker {spk} is in both {seen[spk]} and {p}")
    missing = [p for p in PARTS if not (fold["part"] == p).any()]
    if missing:
        raise ValueError(f"fold {name}: no utterances in part(s) {missing}")


def fold_table(folds: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per fold: utterances per part, and the test and unlabeled speakers."""
    rows = {}
    for name, f in folds.items():
        row: dict[str, Any] = {p: int((f["part"] == p).sum()) for p in PARTS}
        for p in ("test", "unlabeled"):
            row[f"{p} speakers"] = ", ".join(sorted(map(str, f.loc[f["part"] == p, "speaker"].dropna().unique())))
        rows[name] = row
    return pd.DataFrame(rows).T


@functools.lru_cache(maxsize=16)
def radio_programme(bank: str = "synthetic", root: str | None = None) -> tuple[str, str]:
    """``(noise type the booth's radio plays, a sentence saying why)``.

    Paper 2's radio played talk and music shows: the generated bank's ``radio`` type, or a recorded
    bank's own ``radio`` type. A recorded bank without one (ESC-10, DEMAND, a folder of your own)
    plays all of its types (:data:`serlib.noise.condition.ALL_TYPES`) from the radio's position,
    test clips for the test set and train clips for the unlabeled set, as always."""
    from serlib.noise import load_noise
    from serlib.noise.condition import ALL_TYPES

    if bank == "synthetic":
        return "radio", "radio programme: the generated bank's radio type (talk, talk over music beds, music)"
    types = sorted(load_noise(bank, root)["noise_type"].unique())
    if "radio" in types:
        return "radio", f"radio programme: the {bank} bank's own radio type"
    return ALL_TYPES, (f"radio programme: the {bank} bank has no radio type, so the radio plays all of its "
                       f"{len(types)} types ({', '.join(types)})")


def booth(setting: str, *, part: str, seed: int = 0, bank: str = "synthetic", root: str | None = None) -> Any:
    """The booth re-recording of ``setting``: the radio (:func:`radio_programme`) from the bank's ``test``
    sources for the test set, from its ``train`` sources for the unlabeled set (``part``), so test noise
    clips are never heard in training."""
    from serlib.noise import room

    return room.RoomCondition(setting, seed=seed, part=part, bank=bank, root=root,
                              noise_type=radio_programme(bank, root)[0])


def extract_features(folds: Mapping[str, pd.DataFrame], kind: str, settings: Sequence[str], *, seed: int = 0,
                     bank: str = "synthetic", root: str | None = None, n_jobs: int | None = None) -> pd.DataFrame:
    """Extract (into the feature cache) every feature the folds' tasks read: clean speech of the train,
    dev and test parts, the test parts' booth recordings and the unlabeled parts' booth recordings
    of every setting. Returns one row per condition: utterances, computed (not cached), seconds."""
    from serlib import features

    allf = pd.concat(list(folds.values()), ignore_index=True)
    def rows(*parts: str) -> pd.DataFrame:
        return allf[allf["part"].isin(parts)].drop_duplicates("utt_id").drop(columns="part").reset_index(drop=True)
    jobs = [("clean", rows("train", "dev", "test"), None)]
    for s in settings:
        jobs.append((f"{s} test", rows("test"), booth(s, part="test", seed=seed, bank=bank, root=root)))
        jobs.append((f"{s} unlabeled", rows("unlabeled"), booth(s, part="train", seed=seed, bank=bank, root=root)))
    out = []
    for name, m, cond in jobs:
        X = features.extract(m, kind, cond, n_jobs=n_jobs, progress=False)
        info = X.attrs.get("extract", {})
        out.append({"condition": name, "utterances": len(m), "computed": info.get("computed"),
                    "seconds": round(float(info.get("seconds", float("nan"))), 1)})
    return pd.DataFrame(out)


def run_task(config: Mapping[str, Any], ctx: Any) -> Any:
    """Notebook 02's task: one ``method`` on one fold, every attribute x seed trained at once.

    ``config``: ``method``, ``fold``, ``attributes``, ``seeds``, ``adapted_to`` (the booth setting
    whose unlabeled recordings the ladders use; None for Dense), ``tests`` (the booth settings to
    test on besides clean speech), ``feature_set``, ``condition_seed``, ``noise``, ``noise_root``,
    ``epochs``, ``patience``, ``lr``, ``batch_size``, ``batched``. ``ctx.manifest``: the fold's
    rows with their ``part`` (:func:`fold_manifests`). Features come from the cache
    (:func:`extract_features`), standardised on the fold's training set as in Sec. 4.2 (robust
    mean/std, clipped to +-10); targets are z-scored with the training mean and std, predictions
    mapped back to the rating scale (CCC is unchanged by that). ``batched``: :func:`train_batched`
    (else one :func:`train_model` per attribute x seed). Returns the per-utterance predictions of
    every model on every test condition, the histories, one summary per fit in ``meta["fits"]``
    and, for the DLN, the Figure 3 quantities (``extra["fig3"]``).
    """
    from serlib import features, training
    from serlib.experiment import TaskOutput

    c = dict(config)
    method, attrs, seeds = c["method"], list(c["attributes"]), [int(s) for s in c["seeds"]]
    m = ctx.manifest
    parts = {p: m[m["part"] == p].reset_index(drop=True) for p in PARTS}
    where = dict(seed=int(c["condition_seed"]), bank=c["noise"], root=c["noise_root"])

    def feats(frame: pd.DataFrame, cond: Any = None) -> np.ndarray:
        X = features.extract(frame.drop(columns="part"), c["feature_set"], cond, n_jobs=1, progress=False)
        return X.loc[frame["utt_id"]].to_numpy(np.float32)

    scaler = features.Standardizer(robust=True, clip=10.0).fit(feats(parts["train"]))
    X = {p: scaler.transform(feats(parts[p])) for p in ("train", "dev", "test")}
    semi = method in SEMI_SUPERVISED
    X_unl = scaler.transform(feats(parts["unlabeled"], booth(c["adapted_to"], part="train", **where))) if semi else None
    mu = {a: float(parts["train"][a].mean()) for a in attrs}
    sd = {a: float(parts["train"][a].std()) or 1.0 for a in attrs}
    z = {(p, a): ((parts[p][a].to_numpy(np.float64) - mu[a]) / sd[a]).astype(np.float32)
         for p in ("train", "dev", "test") for a in attrs}
    jobs = [(a, s) for a in attrs for s in seeds]
    kw = dict(epochs=int(c["epochs"]), lr=float(c["lr"]), batch_size=int(c["batch_size"]), device=ctx.device,
              patience=c.get("patience"))
    if c.get("batched", True):  # at most MAX_BATCH models in one batched model (memory)
        fits = [fr for k in range(0, len(jobs), MAX_BATCH) for fr in train_batched(
            method, X["train"], [z["train", a] for a, _ in jobs[k:k + MAX_BATCH]], X["dev"],
            [z["dev", a] for a, _ in jobs[k:k + MAX_BATCH]], X_unl, seeds=[s for _, s in jobs[k:k + MAX_BATCH]], **kw)]
    else:
        fits = [train_model(method, X["train"], z["train", a], X["dev"], z["dev", a], X_unl, seed=s, **kw)
                for a, s in jobs]
    snr_of = {v: k for k, v in BOOTH.items()}
    tests = [("clean", None, X["test"])] + [
        ("recorded", float(snr_of[s]), scaler.transform(feats(parts["test"], booth(s, part="test", **where))))
        for s in c["tests"]]
    preds, hist, fig3, summary = [], [], [], []
    for (a, s), fr in zip(jobs, fits):
        for cond, snr, Xt in tests:
            p = training.predict(fr.model, Xt, device=ctx.device, amp=False)
            preds.append(pd.DataFrame({"utt_id": parts["test"]["utt_id"].to_numpy(), "attribute": a, "seed": s,
                                       "test_condition": cond, "snr": snr, "noise_type": None if snr is None else "radio",
                                       "y_true": parts["test"][a].to_numpy(np.float64),
                                       "y_pred": p.astype(np.float64) * sd[a] + mu[a]}))
            if method == "DLN" and snr is not None:
                probe = embedding_analysis(fr.model, X["train"], z["train", a], Xt, z["test", a], seed=s)
                fig3 += [{"attribute": a, "seed": s, "snr": snr, "quantity": q, "embedding": e, "value": v}
                         for (q, e), v in probe.items()]
        hist.append(fr.history.assign(attribute=a, seed=s))
        summary.append({"attribute": a, "seed": s, "best_epoch": int(fr.best_epoch), "epochs_run": len(fr.history),
                        "stopped_early": bool(fr.stopped_early), "dev_ccc": float(fr.best_score),
                        "seconds": round(float(fr.seconds), 2)})
    predictions = pd.concat(preds, ignore_index=True).assign(
        train_condition="clean+unlabeled_target" if semi else "clean")
    extra = {"fig3": pd.DataFrame(fig3)} if fig3 else {}
    return TaskOutput(predictions=predictions, history=pd.concat(hist, ignore_index=True),
                      meta={"fits": summary, "sizes": {p: len(v) for p, v in parts.items()}}, extra=extra)


def runs(seeds: Sequence[int], folds: Sequence[str]) -> dict[str, list[int]]:
    """The seeds each fold runs: one fold runs every seed (the paper's 20 trials on one partition);
    several folds share the seeds out in order, the same number each (5 seeds on 5 folds: one
    each), so that every run (seed x fold) has its own seed and the runs differ in their test
    speakers and their training randomness alike. Several folds need a multiple of their number
    of seeds."""
    seeds, folds = [int(s) for s in seeds], list(folds)
    if not seeds or not folds:
        raise ValueError(f"runs: need at least one seed and one fold, got {len(seeds)} seeds, {len(folds)} folds")
    if len(folds) == 1:
        return {folds[0]: seeds}
    if len(seeds) % len(folds):
        raise ValueError(f"runs: {len(folds)} folds share the seeds out equally, but {len(seeds)} seeds were given "
                         f"({seeds}); set -p seeds \"{list(range(len(folds)))}\" or -p folds {len(seeds)}")
    k = len(seeds) // len(folds)
    return {f: seeds[i * k:(i + 1) * k] for i, f in enumerate(folds)}


def tasks(folds: Mapping[str, pd.DataFrame], settings: Mapping[float, str], cfg: Mapping[str, Any], *,
          methods: Sequence[str] = METHODS, batched: bool = True) -> list:
    """Notebook 02's grid as :class:`serlib.experiment.Task` s: per fold, one Dense task (tested on clean
    speech and every booth setting) and, per booth setting, one task per ladder (adapted to that
    setting's unlabeled recordings, tested on it and on clean speech); each trains every attribute
    x seed of its fold (:func:`runs`) at once. Fold ``f`` reads the experiment's manifest named ``f``."""
    from serlib.experiment import Task

    common = {k: cfg[k] for k in ("attributes", "epochs", "patience", "lr", "batch_size")}
    common |= {"feature_set": cfg["feature_set"], "condition_seed": cfg["seed"], "noise": cfg["noise"],
               "noise_root": cfg["noise_root"], "batched": batched}
    out = []
    for fold, seeds in runs(cfg["seeds"], list(folds)).items():
        for method in methods:
            adapted = list(settings.values()) if method in SEMI_SUPERVISED else [None]
            for setting in adapted:
                tests = list(settings.values()) if setting is None else [setting]
                out.append(Task(run_task, {**common, "method": method, "fold": fold, "seeds": seeds,
                                           "adapted_to": setting, "tests": tests}, manifests=[fold]))
    return out


def result_rows(outputs: Sequence[Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(rows, predictions)`` of the grid's task outputs: tidy result rows (CCC per model x test
    condition, and the DLN's Figure 3 quantities as ``fig3_*`` metrics) ready for ``Results.add``,
    and the per-utterance predictions with the same identifying columns (for the ledger)."""
    from serlib.experiment import scores, stack

    preds = stack(outputs, config=["method", "fold", "adapted_to"])
    preds["adapted_to"] = preds["adapted_to"].fillna("none")
    by = ["method", "fold", "seed", "attribute", "adapted_to", "train_condition", "test_condition", "noise_type", "snr"]
    rows = scores(preds, by=by, metrics=["ccc"])
    fig3 = [o.extra["fig3"].assign(method=o.config["method"], fold=o.config["fold"], adapted_to=o.config["adapted_to"])
            for o in outputs if o is not None and "fig3" in (o.extra or {})]
    if fig3:
        f = pd.concat(fig3, ignore_index=True)
        f = f.assign(metric="fig3_" + f.pop("quantity"), train_condition="clean+unlabeled_target",
                     test_condition="recorded", noise_type="radio")
        rows = pd.concat([rows, f], ignore_index=True)
    return rows.drop(columns=["n", "key"], errors="ignore"), preds.drop(columns=["key"])


def fit_summary(outputs: Sequence[Any]) -> pd.DataFrame:
    """One row per fit: method, fold, adapted_to, attribute, seed, best epoch, epochs run, stopped early,
    dev CCC, seconds (from the tasks' ``meta["fits"]``)."""
    rows = [{"method": o.config["method"], "fold": o.config["fold"], "adapted_to": o.config["adapted_to"] or "none",
             **f} for o in outputs if o is not None for f in o.meta["fits"]]
    out = pd.DataFrame(rows)
    out["best_before_last"] = out["best_epoch"] < out["epochs_run"]
    return out


MODEL_KEYS = ["method", "fold", "seed", "attribute", "adapted_to", "test_condition", "snr"]
"""The prediction columns that name one model's test (see :func:`constant_predictions`)."""


def constant_predictions(preds: pd.DataFrame, *, by: Sequence[str] = MODEL_KEYS, rel: float = 0.01) -> pd.DataFrame:
    """The models of ``preds`` (:func:`result_rows`) whose predictions are (nearly) constant on a test set.

    A regressor that predicts about the same value for every utterance scores a CCC near 0, the
    chance level of CCC (the regression analogue of a classifier predicting one class). Returns
    one row per such model: the ``by`` columns, ``pred_std`` and ``true_std`` (flagged when
    ``pred_std < rel * true_std``); empty when every model varies its predictions.
    """
    g = preds.groupby(list(by), dropna=False, sort=False)
    out = pd.DataFrame({"pred_std": g["y_pred"].std(ddof=0), "true_std": g["y_true"].std(ddof=0)}).reset_index()
    return out[out["pred_std"] < rel * out["true_std"]].reset_index(drop=True)
