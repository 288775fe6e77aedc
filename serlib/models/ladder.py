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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from serlib.metrics import ccc_loss as _metrics_ccc_loss

__all__ = [
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
    cross-entropy by :func:`train_step`; the leaderboard's categorical track).
    """

    def __init__(self, n_features: int, hidden: Sequence[int] = (256, 256), dropout: float = 0.5,
                 n_outputs: int = 1) -> None:
        super().__init__()
        _check_sizes(n_features, hidden)
        _check_outputs(n_outputs)
        self.n_outputs = int(n_outputs)
        layers: list[nn.Module] = []
        d = n_features
        for h in hidden:
            layers += [nn.Dropout(dropout), nn.Linear(d, h), nn.ReLU()]
            d = h
        layers.append(nn.Linear(d, self.n_outputs))
        self.net = nn.Sequential(*layers)
        self.n_features = n_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _check_input(x, self.n_features)
        return self.net(x).squeeze(-1)


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
                    self.running_mean.lerp_(mean.detach(), self.momentum)
                    self.running_var.lerp_(unbiased.detach(), self.momentum)
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
        x = torch.stack([z_tilde, u, z_tilde * u], dim=-1)  # (B, n, 3)
        h = F.leaky_relu(torch.einsum("bni,nih->bnh", x, self.W1) + self.b1, self.negative_slope)
        return torch.einsum("bnh,nh->bn", h, self.w2) + self.b2


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
    def _encode(self, x: torch.Tensor, *, corrupted: bool, batch_stats: bool, update: bool,
                dropout: bool, generator: torch.Generator | None = None) -> dict[str, Any]:
        """One encoder pass. Returns z (normalised pre-activations incl. noise), mean/std used,
        the embeddings (DLN) and the output."""

        def noise(t: torch.Tensor) -> torch.Tensor:
            if not corrupted or self.noise_std == 0:
                return t
            n = torch.randn(t.shape, generator=generator, device=t.device, dtype=t.dtype) if generator is not None \
                else torch.randn_like(t)
            return t + self.noise_std * n

        h = x.float()
        if corrupted and dropout and self.input_dropout > 0:
            h = F.dropout(h, self.input_dropout, training=True)
        h = noise(h)
        zs, means, stds = [h], [None], [None]
        out: dict[str, Any] = {}
        for l in range(1, self.L + 1):
            z, m, s = self.bn[l - 1](self.W[l - 1](h), batch_stats=batch_stats, update=update)
            z = noise(z)
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

    def run(self, x: torch.Tensor) -> LadderOutput:
        """Corrupted pass, clean pass and decoder (what a training step needs). In train mode
        batch statistics are used and the running ones updated by the clean path."""
        _check_input(x, self.n_features)
        t = self.training
        noisy = self._encode(x, corrupted=True, batch_stats=t, update=False, dropout=t)
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
        gen = torch.Generator(device=dev).manual_seed(seed)
        total = 0.0
        # n // batch_size nearly equal chunks: every chunk holds >= min(n, batch_size) >= 2 items
        for idx in np.array_split(np.arange(len(X)), max(1, len(X) // batch_size)):
            xb = X[torch.as_tensor(idx)].to(dev)
            total += float(((self._probe_rec0(xb, emb, gen) - xb.float()) ** 2).sum())
        return total / X.numel()

    def _probe_rec0(self, xb: torch.Tensor, emb: str, gen: torch.Generator) -> torch.Tensor:
        noisy = self._encode(xb, corrupted=True, batch_stats=True, update=False, dropout=False, generator=gen)
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
    the class indices ``y`` in place of ``1 - CCC`` (any batch size).
    """
    x, y = _parse_batch(batch)
    x = x.to(device)
    classify = getattr(model, "n_outputs", 1) > 1
    if not isinstance(model, LadderNetwork):
        if y is None:
            raise ValueError(f"{type(model).__name__} is supervised; it cannot train on unlabeled batches")
        return _supervised_loss(model(x), y.to(device), classify)
    out = model.run(x)
    loss = out.recon_cost
    if y is not None and (classify or len(y) >= 2):
        loss = loss + _supervised_loss(out.y_noisy, y.to(device), classify)
    return loss


def _supervised_loss(pred: torch.Tensor, y: torch.Tensor, classify: bool) -> torch.Tensor:
    """Cross-entropy on class indices (classifiers) or ``1 - CCC`` (regressors)."""
    if classify:
        return F.cross_entropy(pred.float(), y.long())
    return ccc_loss(pred, y)


def semi_supervised_data(
    labeled: tuple[Any, Any], unlabeled: Any, *, batch_size: int = 256, seed: int = 0
) -> Any:
    """``Interleave(labeled=..., unlabeled=...)`` over shuffled ``DataLoader`` s for :func:`train_step`.

    ``labeled`` = ``(X, y)``; ``unlabeled`` = ``X_u`` (target-condition audio features without
    labels). Refuses a missing or empty unlabeled set instead of silently training
    supervised-only. One epoch = one pass over the labeled data.
    """
    from torch.utils.data import DataLoader, TensorDataset

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
    gl = torch.Generator().manual_seed(seed)
    gu = torch.Generator().manual_seed(seed + 1)
    return Interleave(
        labeled=DataLoader(TensorDataset(Xl, yl), batch_size=batch_size, shuffle=True, generator=gl),
        unlabeled=DataLoader(TensorDataset(Xu), batch_size=batch_size, shuffle=True, generator=gu),
    )


def supervised_data(X: Any, y: Any, *, batch_size: int = 256, seed: int = 0) -> Any:
    """A shuffled ``DataLoader`` over ``(X, y)`` for the supervised :class:`Dense` model.

    ``1 - CCC`` needs at least 2 items per batch: when ``len(X) % batch_size == 1`` the last batch
    (a single item, a different one every epoch) is dropped rather than crashing the epoch.
    """
    from torch.utils.data import DataLoader, TensorDataset

    Xl, yl = _as_tensor(X, None), torch.as_tensor(np.asarray(y, dtype=np.float32))
    if len(Xl) != len(yl):
        raise ValueError(f"labeled data: {len(Xl)} inputs but {len(yl)} targets")
    if len(Xl) < 2:
        raise ValueError(f"labeled data: {len(Xl)} item(s); 1 - CCC needs at least 2 labelled items")
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(TensorDataset(Xl, yl), batch_size=batch_size, shuffle=True, generator=gen,
                      drop_last=len(Xl) % batch_size == 1)


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


def partition(manifest: Any, fractions: Sequence[float] = (0.5, 0.1, 0.2, 0.2)) -> dict[str, Any]:
    """Speaker-disjoint ``train`` / ``dev`` / ``unlabeled`` / ``test`` manifests (notebook 02's protocol).

    Speakers are taken in sorted order (session by session for the embedded corpus) and dealt
    to the four parts by ``fractions`` of the speaker count (each part gets >= 1 speaker; the
    last parts are filled first, so train takes what remains): with 10 speakers, 5 train,
    1 dev, 2 unlabeled, 2 test. The unlabeled part stands in for the paper's un-annotated
    recordings: other utterances and other speakers than the test set (and than train).
    """
    if len(fractions) != 4 or any(f <= 0 for f in fractions):
        raise ValueError(f"fractions needs 4 positive values (train, dev, unlabeled, test), got {list(fractions)}")
    if "speaker" not in manifest.columns or manifest["speaker"].isna().any():
        raise ValueError("partition() needs a 'speaker' column without missing values")
    speakers = sorted(manifest["speaker"].astype(str).unique())
    if len(speakers) < 4:
        raise ValueError(f"partition() needs >= 4 speakers (train, dev, unlabeled, test), got {len(speakers)}")
    total = float(sum(fractions))
    counts = [max(1, round(len(speakers) * f / total)) for f in fractions[1:]]
    while sum(counts) > len(speakers) - 1:  # keep >= 1 training speaker
        counts[int(np.argmax(counts))] -= 1
    n_dev, n_unl, n_test = counts
    n_train = len(speakers) - n_dev - n_unl - n_test
    bounds = np.cumsum([0, n_train, n_dev, n_unl, n_test])
    spk = manifest["speaker"].astype(str)
    parts = {}
    for name, lo, hi in zip(("train", "dev", "unlabeled", "test"), bounds[:-1], bounds[1:]):
        parts[name] = manifest[spk.isin(speakers[lo:hi]).to_numpy()].reset_index(drop=True)
    return parts


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
    early stopping, no LR halving, as in the paper). The semi-supervised models need
    ``X_unlabeled`` (the target condition's unlabeled features) and refuse to run without it;
    Dense ignores it.
    """
    from serlib import training

    model = make_model(method, int(np.asarray(X).shape[1]))
    if method in SEMI_SUPERVISED:
        if X_unlabeled is None or len(X_unlabeled) == 0:
            raise ValueError(f"{method} needs the unlabeled set of the target condition (X_unlabeled); "
                             "it is never trained supervised-only - use Dense for that")
        data = semi_supervised_data((X, y), X_unlabeled, batch_size=batch_size, seed=seed)
    else:
        data = supervised_data(X, y, batch_size=batch_size, seed=seed)
    val = (np.asarray(X_dev, dtype=np.float32), np.asarray(y_dev, dtype=np.float32))
    return training.fit(model, data, val, train_step=train_step, val_metric="ccc", epochs=epochs, lr=lr,
                        batch_size=batch_size, patience=patience, lr_patience=None, seed=seed, device=device,
                        amp=False, progress=progress)


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
