"""Paper 1: Emotion-Disentangled Representation Learning + Multiblock Embedding Alignment.

Tiwari, Chakraborty, Kopparapu, "Emotion-Disentangled Embedding Alignment for Noise-Robust
and Cross-Corpus Speech Emotion Recognition" (``../shared/papers/1_edrl_mea_tiwari.txt``).

What this module builds (the paper's section in brackets):

- :class:`EDRL` [3.1, 4.2, Fig. 1, Alg. 1]: one block per emotion class. Each block has an
  *intra-class* (independent) branch and an *inter-class* (similarity) branch; each branch is
  an autoencoder ``E -> L -> D`` of ReLU layers; the latent layer ``L`` of the inter-class
  branches is one module shared (tied) by all blocks. The two decoded outputs are
  concatenated and fed to a linear dense layer of ``N`` units (``N`` = input dimension),
  the block's output. Loss per block: cosine-similarity reconstruction of the block's input
  plus a KL term. Training alternates blocks inside every epoch (block ``c`` sees only class
  ``c``) with Adam and early stopping on the validation loss.
- :class:`MEA` [3.2, 4.2]: ``mbpls.MBPLS`` with one X block per class (the N-d output of that
  EDRL block) and the original input ``X`` as the response; ``transform`` returns the MBPLS
  prediction ``X'`` (N-d), the "aligned embedding".
- :class:`EDRLMEA` [Alg. 1]: the pipeline ``fit(X_train, y_train, X_val, y_val)`` ->
  ``transform(X) = X'``. The final Random Forest (and its grid search) is not here: the
  notebook applies the same classifier code to the baseline features and to ``X'``.

Choices where the paper is vague (the notebook narrates them):

1. **Layer sizes ("setup-3 with 2N neurons", 4.2).** The paper tried setups 1-3 "with N/2, N,
   2N and 4N hidden neurons" and setup-3 defines L *relative to* E and D ("twice of that in
   E and D"). We read the size as the size of E and D, so E = D = 2N and L = 4N units (N=88
   for eGeMAPS: 176-352-176). The other reading (L = 2N, E = D = N) is ``hidden=N``.
2. **Decoder output.** D is a ReLU layer of ``hidden`` units (not an N-d reconstruction):
   the paper says the decoded outputs of the two branches are concatenated and fed to the
   final linear dense layer of N units, so the block output (N-d) is what reconstructs the
   input and what the loss compares with it. (Section 3.1 also writes the joint embedding as
   the concatenation of the two branch codes; Section 4.2 and MEA use the N-d block output,
   which we follow.)
3. **The KL term** ("a Kullback-Leibler divergence term encouraging compact, disentangled
   representations", 3.1; the loss is written as a function of the input and the two codes,
   Alg. 1 line 6). Default ``kl="sparsity"``: the sparse-autoencoder KL ``KL(rho || rho_hat_j)``
   averaged over the latent units of both branches, where ``rho_hat_j`` is the batch mean of
   ``tanh`` of the ReLU code (a firing rate in [0, 1); a ReLU code itself is unbounded) and
   ``rho = 0.05``. Reason: setup-3 is an *over-complete* autoencoder (L = 4N > N), which can
   copy its input unless a sparsity penalty makes the code compact, and "compact" is what the
   paper says the KL is for. The other reading, a Keras loss ``cosine + KLDivergence(y_true,
   y_pred)`` on the output, is available as ``kl="softmax"``: ``KL(softmax(x) || softmax(x_hat))``
   (softmax because standardised features are not distributions). ``kl=None`` drops the term.
   The weight is not given; ``kl_weight=0.1`` (the cosine term lies in [0, 2]).
4. **Input scaling.** Cosine similarity on raw eGeMAPS values would be dominated by the few
   large-valued features, so :class:`EDRLMEA` standardises the features (mean/std of the
   training set) before EDRL. MEA's response is the *original* (unscaled) ``X``, as the paper
   says; ``MBPLS(standardize=True)`` scales it internally and returns ``X'`` in X's units.
5. **Alternation and early stopping** (4.2). One epoch = block 1 over all class-1 training
   batches, then block 2 over all class-2 batches, ... (shuffled inside each class). The
   shared latent layer is updated by every block's batches, a block's own layers only by its
   class. One Adam optimiser holds all parameters; a block's parameters get no gradient (and
   no Adam update) while another block trains. The validation loss monitored for early
   stopping is the mean over classes of each block's loss on its class's validation samples
   (a class without validation samples is left out, with a warning). Unlike Keras' ``EarlyStopping`` default we restore the best-epoch weights (the shared loop
   :func:`serlib.training.fit` always does). Epochs, patience, batch size and learning rate
   are not given: defaults 100 / 10 / 32 (Keras' default) / 1e-3 (Keras' Adam default), no LR
   halving (Keras' EarlyStopping alone does not halve the LR).
6. **MEA inputs** (our reading, 3.2 and 4.2): MBPLS needs every block to describe the *same*
   rows, and at inference the class is unknown, so every sample (training and test) passes
   through every EDRL block; block ``c`` of MEA is the N-d output of EDRL block ``c`` for all
   samples. ``n_components`` (K, the number of latent variables) is not given: default 20,
   chosen on validation data by the notebook if desired.
7. **Class order.** Block ``c`` belongs to ``classes_[c]``, the sorted unique training labels.
   Any number of classes works (binary A/V in paper 1, four categories on the leaderboard).

The notebook's grid of fits (experiment engine, :mod:`serlib.experiment`):

- :func:`runs` pairs the seeds with the protocol's splits (one holdout: every seed on it;
  several speaker folds: one seed per fold), :func:`tasks` declares one task per system x
  attribute x run, and :func:`run_task` is the task function: undersample the training rows,
  fit the system (Baseline: the forest grid on eGeMAPS; EDRL-MEA: EDRL + MEA, then the same
  grid on ``X'``) and predict every test item, one row per utterance and test condition.
- :func:`noisy_design` says which noisy versions of each test utterance are tested (every
  noise type x SNR, the paper's design, or ``per_utterance`` of them, balanced), and
  :func:`test_items` / :func:`extract_features` compute their eGeMAPS through the feature cache
  (the notebook fills the cache before the engine runs; a task only reads it).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.preprocessing import StandardScaler
from torch import nn

from serlib import profiles

__all__ = [
    "BlockBatches",
    "EDRL",
    "EDRLBlock",
    "EDRLMEA",
    "MEA",
    "SYSTEMS",
    "Systems",
    "fit_systems",
    "balanced_rows",
    "noisy_design",
    "test_items",
    "extract_features",
    "runs",
    "tasks",
    "run_task",
    "cosine_loss",
    "edrl_train_step",
    "kl_softmax",
    "kl_sparsity",
]

KL_KINDS = ("sparsity", "softmax", None)


# --------------------------------------------------------------------------- losses
def cosine_loss(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``1 - cos(x_hat, x)`` averaged over the batch (0 = same direction, 2 = opposite)."""
    return 1.0 - F.cosine_similarity(x_hat.float(), x.float(), dim=1, eps=1e-8).mean()


def kl_sparsity(codes: Sequence[torch.Tensor], rho: float = 0.05) -> torch.Tensor:
    """Sparse-autoencoder KL ``mean_j KL(Bernoulli(rho) || Bernoulli(rho_hat_j))`` over the units
    of all ``codes`` (each (batch, units), non-negative ReLU outputs). ``rho_hat_j`` is the batch
    mean of ``tanh(code_j)``, a firing rate in [0, 1)."""
    if not 0.0 < rho < 1.0:
        raise ValueError(f"the sparsity target rho must lie in (0, 1), got {rho}")
    eps = 1e-6
    terms = []
    for h in codes:
        rho_hat = torch.tanh(h.float()).mean(0).clamp(eps, 1.0 - eps)
        terms.append(rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat)))
    return torch.cat(terms).mean()


def kl_softmax(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``KL(softmax(x) || softmax(x_hat))`` over the feature axis, averaged over the batch."""
    return F.kl_div(F.log_softmax(x_hat.float(), dim=1), F.log_softmax(x.float(), dim=1),
                    reduction="batchmean", log_target=True)


# --------------------------------------------------------------------------- model
class EDRLBlock(nn.Module):
    """One class block ``B_c``: intra-class AE branch, inter-class AE branch (latent layer shared,
    passed in), and the linear N-unit output layer over the concatenated decoder outputs."""

    def __init__(self, n_features: int, hidden: int, latent: int, shared_latent: nn.Linear) -> None:
        super().__init__()
        self.intra_E = nn.Linear(n_features, hidden)
        self.intra_L = nn.Linear(hidden, latent)
        self.intra_D = nn.Linear(latent, hidden)
        self.inter_E = nn.Linear(n_features, hidden)
        self.inter_L = shared_latent  # the same module object in every block (tied weights)
        self.inter_D = nn.Linear(latent, hidden)
        self.out = nn.Linear(2 * hidden, n_features)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return ``(output (B, N), intra code (B, latent), inter code (B, latent))``."""
        z_intra = F.relu(self.intra_L(F.relu(self.intra_E(x))))
        z_inter = F.relu(self.inter_L(F.relu(self.inter_E(x))))
        d = torch.cat([F.relu(self.intra_D(z_intra)), F.relu(self.inter_D(z_inter))], dim=1)
        return self.out(d), z_intra, z_inter


class EDRL(nn.Module):
    """The EDRL network: ``n_classes`` blocks whose inter-class latent layer is shared.

    ``hidden`` = units of E and D (default ``2 * n_features``, our reading of "setup-3 with
    2N"); L has ``round(latent_factor * hidden)`` units (setup-3: twice E and D). ``kl``:
    ``"sparsity"`` (default), ``"softmax"`` or ``None``; see the module docstring, choice 3.

    ``model(x)`` returns every block's output stacked as (B, n_classes, N);
    ``model(x, block=c)`` block ``c``'s output (B, N). Inputs should be standardised.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        *,
        hidden: int | None = None,
        latent_factor: float = 2.0,
        kl: str | None = "sparsity",
        kl_weight: float = 0.1,
        sparsity_target: float = 0.05,
    ) -> None:
        super().__init__()
        if n_features < 1:
            raise ValueError(f"n_features must be >= 1, got {n_features}")
        if n_classes < 2:
            raise ValueError(f"EDRL needs at least 2 classes (one block each), got n_classes={n_classes}")
        if kl not in KL_KINDS:
            raise ValueError(f"kl must be one of {KL_KINDS}, got {kl!r}")
        if kl_weight < 0:
            raise ValueError(f"kl_weight must be >= 0, got {kl_weight}")
        if kl == "sparsity" and not 0.0 < sparsity_target < 1.0:
            raise ValueError(f"sparsity_target must lie in (0, 1), got {sparsity_target}")
        self.n_features, self.n_classes = int(n_features), int(n_classes)
        self.hidden = int(hidden) if hidden is not None else 2 * self.n_features
        self.latent = max(1, int(round(latent_factor * self.hidden)))
        self.kl, self.kl_weight, self.sparsity_target = kl, float(kl_weight), float(sparsity_target)
        self.shared_latent = nn.Linear(self.hidden, self.latent)
        self.blocks = nn.ModuleList(
            EDRLBlock(self.n_features, self.hidden, self.latent, self.shared_latent) for _ in range(self.n_classes)
        )
        self.classes_: np.ndarray | None = None  # set by fit_blocks: block c <-> classes_[c]

    def _check_block(self, block: int) -> int:
        c = int(block)
        if not 0 <= c < self.n_classes:
            raise IndexError(f"block {block} does not exist; this EDRL has blocks 0..{self.n_classes - 1}")
        return c

    def forward(self, x: torch.Tensor, block: int | None = None) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"EDRL expects input of shape (batch, {self.n_features}), got {tuple(x.shape)}")
        if block is not None:
            return self.blocks[self._check_block(block)](x)[0]
        return torch.stack([b(x)[0] for b in self.blocks], dim=1)

    def block_loss(self, x: torch.Tensor, block: int) -> torch.Tensor:
        """Loss ``L_r^c`` of block ``block`` on a batch of its class: cosine + kl_weight * KL."""
        out, z_intra, z_inter = self.blocks[self._check_block(block)](x)
        loss = cosine_loss(out, x)
        if self.kl == "sparsity" and self.kl_weight > 0:
            loss = loss + self.kl_weight * kl_sparsity([z_intra, z_inter], self.sparsity_target)
        elif self.kl == "softmax" and self.kl_weight > 0:
            loss = loss + self.kl_weight * kl_softmax(out, x)
        return loss

    @torch.no_grad()
    def validation_loss(self, X: np.ndarray | torch.Tensor, y: Sequence, *, batch_size: int = 1024) -> float:
        """Mean over classes of each block's (sample-weighted) loss on its class's samples."""
        if self.classes_ is None:
            raise RuntimeError("validation_loss needs classes_; call fit_blocks first or set model.classes_")
        was_training = self.training
        self.eval()
        dev = next(self.parameters()).device
        Xt = torch.as_tensor(np.asarray(X, dtype=np.float32)).to(dev)
        y = np.asarray(y)
        per_class = []
        for c, label in enumerate(self.classes_):
            xc = Xt[torch.as_tensor(y == label, device=dev)]
            if len(xc) == 0:
                continue
            total = sum(float(self.block_loss(xc[i:i + batch_size], c)) * len(xc[i:i + batch_size])
                        for i in range(0, len(xc), batch_size))
            per_class.append(total / len(xc))
        self.train(was_training)
        if not per_class:
            raise ValueError(f"validation labels {np.unique(y)[:10]} contain none of the classes {list(self.classes_)}")
        return float(np.mean(per_class))

    @torch.no_grad()
    def block_outputs(self, X: np.ndarray | torch.Tensor, *, batch_size: int = 1024) -> list[np.ndarray]:
        """Every sample through every block: a list of ``n_classes`` float64 arrays (n, N), the
        MEA input blocks (module docstring, choice 6)."""
        X = _check_X(X, "X", self.n_features)
        was_training = self.training
        self.eval()
        dev = next(self.parameters()).device
        outs = [[] for _ in range(self.n_classes)]
        for i in range(0, len(X), batch_size):
            xb = torch.as_tensor(X[i:i + batch_size], dtype=torch.float32, device=dev)
            for c, block in enumerate(self.blocks):
                outs[c].append(block(xb)[0].float().cpu().numpy())
        self.train(was_training)
        return [np.concatenate(o).astype(np.float64) for o in outs]

    def fit_blocks(
        self,
        X: np.ndarray,
        y: Sequence,
        X_val: np.ndarray,
        y_val: Sequence,
        *,
        epochs: int = 100,
        lr: float = 1e-3,
        batch_size: int = 32,
        patience: int | None = 10,
        seed: int = 0,
        device: str | None = None,
        progress: bool = False,
    ) -> Any:
        """Train all blocks with per-epoch alternation (choice 5) through the shared loop
        :func:`serlib.training.fit`; returns its ``FitResult`` (``history`` has one row per
        epoch with the validation loss in ``val_metric``). The model keeps the weights of the
        best validation epoch. Labels may be any sortable values; ``classes_`` records the
        label of each block."""
        from serlib import training

        X = _check_X(X, "X", self.n_features)
        X_val = _check_X(X_val, "X_val", self.n_features)
        y, y_val = _check_y(y, len(X), "y"), _check_y(y_val, len(X_val), "y_val")
        classes = np.unique(y)
        if len(classes) != self.n_classes:
            raise ValueError(
                f"y holds {len(classes)} classes {list(classes)[:10]} but this EDRL has {self.n_classes} blocks; "
                "build EDRL(n_features, n_classes=len(np.unique(y)))"
            )
        missing = set(classes.tolist()) - set(np.unique(y_val).tolist())
        if len(missing) == len(classes):
            raise ValueError(f"y_val has none of the classes {list(classes)} (it holds {list(np.unique(y_val))[:10]}); "
                             "early stopping needs validation samples of at least one class")
        if missing:  # e.g. one validation speaker with a single class in a tiny corpus
            warnings.warn(f"y_val has no samples of class(es) {sorted(missing)}: early stopping monitors the "
                          "validation loss of the other block(s) only (a validation split with every class avoids "
                          "this)", stacklevel=2)
        self.classes_ = classes
        batches = BlockBatches(X, y, classes=classes, batch_size=batch_size)
        return training.fit(
            self, batches, None,
            val_metric=lambda model: model.validation_loss(X_val, y_val), mode="min",
            train_step=edrl_train_step, epochs=epochs, lr=lr, patience=patience, lr_patience=None,
            device=device, seed=seed, progress=progress,
        )


class BlockBatches:
    """Re-iterable training data for :func:`serlib.training.fit` that yields ``(c, x_batch)``:
    all batches of class ``classes[0]`` (shuffled), then all of ``classes[1]``, ... One pass
    is one EDRL epoch. Shuffling uses torch's global RNG (seeded by ``fit``)."""

    def __init__(self, X: np.ndarray, y: Sequence, *, classes: Sequence, batch_size: int = 32,
                 shuffle: bool = True) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y)
        self.per_class: list[torch.Tensor] = []
        for label in classes:
            xc = X[y == label]
            if len(xc) == 0:
                raise ValueError(f"class {label!r} has no training samples; every EDRL block needs its class")
            self.per_class.append(torch.from_numpy(np.ascontiguousarray(xc)))
        self.batch_size, self.shuffle = int(batch_size), shuffle

    def __iter__(self) -> Iterator[tuple[int, torch.Tensor]]:
        for c, xc in enumerate(self.per_class):
            order = torch.randperm(len(xc)) if self.shuffle else torch.arange(len(xc))
            for i in range(0, len(xc), self.batch_size):
                yield c, xc[order[i:i + self.batch_size]]

    def __len__(self) -> int:
        return sum(-(-len(xc) // self.batch_size) for xc in self.per_class)


def edrl_train_step(model: EDRL, batch: tuple[int, torch.Tensor], device: torch.device) -> torch.Tensor:
    """``train_step`` for :func:`serlib.training.fit`: batch ``(c, x)`` -> block ``c``'s loss."""
    c, x = batch
    return model.block_loss(x.to(device), int(c))


# --------------------------------------------------------------------------- MEA
class MEA(TransformerMixin, BaseEstimator):
    """Multiblock Embedding Alignment: ``mbpls.MBPLS(n_components, method, standardize)`` fitted
    with one X block per class and the original features ``X`` as the response.

    ``fit(blocks, X)``: ``blocks`` is a list of (n, p_c) arrays (the EDRL block outputs of the
    same n samples), ``X`` (n, N). ``transform(blocks)`` -> ``X'`` (n, N), the MBPLS prediction.
    ``block_importances_`` (n_blocks, K) is MBPLS's ``A_``.
    """

    def __init__(self, n_components: int = 20, method: str = "NIPALS", standardize: bool = True) -> None:
        self.n_components = n_components
        self.method = method
        self.standardize = standardize

    def _blocks(self, blocks: Sequence, name: str, n_rows: int | None = None) -> list[np.ndarray]:
        if isinstance(blocks, np.ndarray) or not isinstance(blocks, Sequence) or len(blocks) < 1:
            raise TypeError(f"{name} must be a list of 2-d arrays (one per EDRL block), got {type(blocks).__name__}")
        out = []
        for i, b in enumerate(blocks):
            a = np.asarray(b, dtype=np.float64)
            if a.ndim != 2:
                raise ValueError(f"{name}[{i}] must be 2-d (samples, features), got shape {a.shape}")
            if not np.isfinite(a).all():
                raise ValueError(f"{name}[{i}] contains NaN or inf; check the EDRL outputs / input features")
            out.append(a.copy())  # MBPLS overwrites the list items it is given
        rows = {a.shape[0] for a in out}
        if len(rows) != 1 or (n_rows is not None and rows != {n_rows}):
            raise ValueError(f"{name}: the blocks must describe the same samples; row counts {sorted(rows)}"
                             + (f", expected {n_rows}" if n_rows is not None else ""))
        return out

    def fit(self, blocks: Sequence, X: np.ndarray) -> MEA:
        from mbpls.mbpls import MBPLS

        X = _check_X(X, "X", None).astype(np.float64)
        B = self._blocks(blocks, "blocks", len(X))
        k, p = int(self.n_components), sum(b.shape[1] for b in B)
        if not 1 <= k <= min(len(X) - 1, p):
            raise ValueError(f"n_components={self.n_components} must lie in 1..min(n_samples - 1, total block "
                             f"columns) = 1..{min(len(X) - 1, p)}")
        self.mbpls_ = MBPLS(n_components=k, method=self.method, standardize=self.standardize)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*force_all_finite.*", category=FutureWarning)
            self.mbpls_.fit(B, X)
        self.n_blocks_ = len(B)
        self.block_dims_ = [b.shape[1] for b in B]
        self.n_features_out_ = X.shape[1]
        return self

    def transform(self, blocks: Sequence) -> np.ndarray:
        if not hasattr(self, "mbpls_"):
            raise RuntimeError("MEA is not fitted; call fit(blocks, X) first")
        B = self._blocks(blocks, "blocks")
        dims = [b.shape[1] for b in B]
        if dims != self.block_dims_:
            raise ValueError(f"blocks have column counts {dims}, but MEA was fitted with {self.block_dims_}")
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*force_all_finite.*", category=FutureWarning)
            out = self.mbpls_.predict(B)
        return np.asarray(out, dtype=np.float64).reshape(len(B[0]), self.n_features_out_)

    @property
    def block_importances_(self) -> np.ndarray:
        """MBPLS block importances ``A_`` (n_blocks, n_components)."""
        return np.asarray(self.mbpls_.A_)


# --------------------------------------------------------------------------- pipeline
class EDRLMEA:
    """The paper's embedding generator: standardise -> EDRL (per-class blocks) -> MEA -> ``X'``.

    ``fit(X_train, y_train, X_val, y_val)`` trains EDRL with early stopping on the validation
    loss, then fits MEA on the training samples; ``transform(X)`` returns ``X'`` (n, N) in the
    units of ``X``. The validation split is used for EDRL early stopping only. Keyword
    arguments: see :class:`EDRL`, :class:`MEA`, :meth:`EDRL.fit_blocks`.
    """

    def __init__(
        self,
        *,
        hidden: int | None = None,
        latent_factor: float = 2.0,
        kl: str | None = "sparsity",
        kl_weight: float = 0.1,
        sparsity_target: float = 0.05,
        n_components: int = 20,
        epochs: int = 100,
        lr: float = 1e-3,
        batch_size: int = 32,
        patience: int | None = 10,
        seed: int = 0,
        device: str | None = None,
        progress: bool = False,
    ) -> None:
        if kl not in KL_KINDS:
            raise ValueError(f"kl must be one of {KL_KINDS}, got {kl!r}")
        self.hidden, self.latent_factor = hidden, latent_factor
        self.kl, self.kl_weight, self.sparsity_target = kl, kl_weight, sparsity_target
        self.n_components = n_components
        self.epochs, self.lr, self.batch_size, self.patience = epochs, lr, batch_size, patience
        self.seed, self.device, self.progress = seed, device, progress

    def fit(self, X_train: np.ndarray, y_train: Sequence, X_val: np.ndarray, y_val: Sequence) -> EDRLMEA:
        from serlib import training

        X_train = _check_X(X_train, "X_train", None)
        X_val = _check_X(X_val, "X_val", X_train.shape[1])
        y_train = _check_y(y_train, len(X_train), "y_train")
        y_val = _check_y(y_val, len(X_val), "y_val")
        self.classes_ = np.unique(y_train)
        if len(self.classes_) < 2:
            raise ValueError(f"y_train holds a single class {list(self.classes_)}; EDRL needs >= 2 classes")
        self.scaler_ = StandardScaler().fit(X_train)
        Xs, Xv = self.scaler_.transform(X_train), self.scaler_.transform(X_val)
        training.seed_everything(self.seed)  # initial weights depend on the seed
        self.edrl_ = EDRL(X_train.shape[1], len(self.classes_), hidden=self.hidden, latent_factor=self.latent_factor,
                          kl=self.kl, kl_weight=self.kl_weight, sparsity_target=self.sparsity_target)
        self.fit_result_ = self.edrl_.fit_blocks(
            Xs, y_train, Xv, y_val, epochs=self.epochs, lr=self.lr, batch_size=self.batch_size,
            patience=self.patience, seed=self.seed, device=self.device, progress=self.progress,
        )
        self.history_ = self.fit_result_.history
        k = self.n_components  # a dry run (serlib.profiles) trains on a few rows: at most one component per row - 1
        k = min(k, len(X_train) - 1) if profiles.is_dry() else k
        self.mea_ = MEA(n_components=k).fit(self.edrl_.block_outputs(Xs), X_train)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """``X'`` = MEA(EDRL blocks(standardised X)), shape (n, N)."""
        if not hasattr(self, "mea_"):
            raise RuntimeError("EDRLMEA is not fitted; call fit(X_train, y_train, X_val, y_val) first")
        X = _check_X(X, "X", self.scaler_.n_features_in_)
        return self.mea_.transform(self.edrl_.block_outputs(self.scaler_.transform(X)))

    def fit_transform(self, X_train: np.ndarray, y_train: Sequence, X_val: np.ndarray, y_val: Sequence) -> np.ndarray:
        return self.fit(X_train, y_train, X_val, y_val).transform(X_train)


# --------------------------------------------------------------------------- the two systems
SYSTEMS = ("Baseline", "EDRL-MEA")
"""The paper's two systems, in the order of its tables."""


@dataclass
class Systems:
    """Paper 1's two classifiers fitted on one split (see :func:`fit_systems`).

    ``baseline``: the random-forest grid result on eGeMAPS; ``edrl_mea``: the fitted
    :class:`EDRLMEA`; ``forest``: the random-forest grid result on ``X'``; ``n_train``: the
    training rows after undersampling.
    """

    baseline: Any
    edrl_mea: EDRLMEA
    forest: Any
    n_train: int

    def embed(self, X: np.ndarray) -> np.ndarray:
        """``X'`` of ``X`` (the aligned embedding the EDRL-MEA forest sees)."""
        return self.edrl_mea.transform(X)

    def predict(self, X: np.ndarray) -> dict[str, np.ndarray]:
        """Predictions of both systems: ``{"Baseline": ..., "EDRL-MEA": ...}``."""
        X = _check_X(X, "X", self.edrl_mea.scaler_.n_features_in_)
        return {"Baseline": self.baseline.model.predict(X), "EDRL-MEA": self.forest.model.predict(self.embed(X))}


def fit_systems(
    X_train: np.ndarray,
    y_train: Sequence,
    X_val: np.ndarray,
    y_val: Sequence,
    *,
    grid: str | dict = "coarse",
    seed: int = 0,
    undersample: bool = True,
    n_jobs: int | None = None,
    **edrl_kwargs: Any,
) -> Systems:
    """Fit paper 1's Baseline and EDRL-MEA on one split (Alg. 1 + Section 4.2).

    1. ``RandomUnderSampler(random_state=seed)`` (imbalanced-learn) balances the *training*
       rows by dropping majority-class rows; validation is left as it is.
    2. Baseline: :func:`serlib.models.forest.fit_grid` on the eGeMAPS features (``grid``,
       selected on validation macro F1).
    3. EDRL-MEA: :class:`EDRLMEA` (``edrl_kwargs``, ``seed``) trained on the balanced rows with
       early stopping on validation, then the same grid search on ``X'``.

    ``n_jobs``: forest worker threads; None = all cores (the profiles' meaning, unlike
    scikit-learn's None = 1). Forests with a fixed ``random_state`` give the same trees for
    any ``n_jobs``.
    """
    from serlib.models import forest

    n_jobs = -1 if n_jobs is None else n_jobs

    X_train = _check_X(X_train, "X_train", None)
    X_val = _check_X(X_val, "X_val", X_train.shape[1])
    y_train = _check_y(y_train, len(X_train), "y_train")
    y_val = _check_y(y_val, len(X_val), "y_val")
    if undersample:
        idx = balanced_rows(y_train, seed)
        X_train, y_train = X_train[idx], y_train[idx]
    baseline = forest.fit_grid(X_train, y_train, X_val, y_val, grid=grid, seed=seed, n_jobs=n_jobs)
    em = EDRLMEA(seed=seed, **edrl_kwargs).fit(X_train, y_train, X_val, y_val)
    rf = forest.fit_grid(em.transform(X_train), y_train, em.transform(X_val), y_val, grid=grid, seed=seed,
                         n_jobs=n_jobs)
    return Systems(baseline=baseline, edrl_mea=em, forest=rf, n_train=len(X_train))


def balanced_rows(y: Sequence, seed: int = 0) -> np.ndarray:
    """Row indices (sorted) that balance the classes of ``y`` by dropping majority-class rows:
    imbalanced-learn's ``RandomUnderSampler(random_state=seed)``, as the paper does on its
    training rows (never on validation or test rows)."""
    from imblearn.under_sampling import RandomUnderSampler

    y = np.asarray(y)
    idx, _ = RandomUnderSampler(random_state=seed).fit_resample(np.arange(len(y)).reshape(-1, 1), y)
    return np.sort(idx.ravel())


# --------------------------------------------------------------------------- the notebook's grid of fits
TASK = "serlib.models.edrl_mea:run_task"
"""The task function of notebook 01 (:mod:`serlib.experiment`)."""

DRY_ITEMS_PER_CONDITION = 4
"""Dry runs: utterances tested per noisy condition and test set (:func:`test_items`)."""

ITEM_COLUMNS = ("utt_id", "table", "corpus", "test_condition", "noise_type", "snr")
"""The columns naming one test item in :func:`run_task`'s predictions (besides the task's config)."""


def noisy_design(m: pd.DataFrame, noise_types: Sequence[str], snrs: Sequence[float], *,
                 per_utterance: int | None = None, seed: int = 0) -> pd.DataFrame:
    """Which noisy versions of the utterances of ``m`` are tested: rows ``utt_id, noise_type, snr``.

    ``per_utterance=None`` (or at least the number of noise type x SNR conditions): every
    utterance under every condition, the paper's design. ``per_utterance=k``: each utterance
    under ``k`` different conditions, dealt so that every condition gets the same share of
    the utterances of every speaker and emotion (utterances sorted by speaker and emotion, in a
    random order inside each, then dealt the conditions in turn, in a random order of the
    conditions; both orders drawn from ``seed``). The design depends on the whole manifest, so
    compute it on the whole corpus and pick the test rows of a split from it.
    """
    combos = [(str(t), float(s)) for t in noise_types for s in snrs]
    if not combos:
        raise ValueError(f"noisy_design: no noise conditions (noise_types={list(noise_types)}, snrs={list(snrs)})")
    ids = m["utt_id"].astype(str).to_numpy()
    if per_utterance is None or int(per_utterance) >= len(combos):
        rows = [(u, t, s) for u in ids for t, s in combos]
    else:
        k = int(per_utterance)
        if k < 1:
            raise ValueError(f"noisy_design: per_utterance must be >= 1 or None (every condition), got {per_utterance}")
        rng = np.random.default_rng([int(seed), 1])
        strata = pd.DataFrame({"speaker": m["speaker"].astype(str).to_numpy(),
                               "emotion": m["emotion"].astype(str).to_numpy(), "tie": rng.permutation(len(m))})
        order = np.lexsort((strata["tie"], strata["emotion"], strata["speaker"]))
        deal = rng.permutation(len(combos))
        rows = [(ids[pos], *combos[deal[(j * k + i) % len(combos)]]) for j, pos in enumerate(order) for i in range(k)]
    return pd.DataFrame(rows, columns=["utt_id", "noise_type", "snr"])


def _corpus_name(m: pd.DataFrame) -> str:
    """The corpus of a manifest as one name (``emodb+ravdess`` for a combined set)."""
    names = sorted({str(c) for c in m["corpus"].dropna().unique()}) if "corpus" in m.columns else []
    return "+".join(names) or "unknown"


def noise_bank(name: str | None, root: Any = None) -> tuple[str, str]:
    """The noise bank to load for the knobs ``noise`` / ``noise_root``, and a sentence saying why
    (empty when ``name`` is used as given). ESC-10 is ESC-50's 10-class subset, also released on its
    own in another layout (``NNN - Class/*.ogg``): a folder in that layout asked for as ``esc50``
    is loaded as ``esc10`` instead of refused. Any other mismatch is left to
    :func:`serlib.noise.load_noise`, which refuses it naming the layouts."""
    from serlib.noise import NoiseLayoutError, detect_layout

    name = name or "synthetic"
    if name != "esc50" or root is None:
        return name, ""
    try:
        layout = detect_layout(root)
    except NoiseLayoutError:
        return name, ""
    if layout != "esc10":
        return name, ""
    return "esc10", f"{root} is the ESC-10 release (ESC-50's 10-class subset): loaded as the 'esc10' bank"


def _condition(noise: Mapping[str, Any], noise_type: str, snr: float):
    from serlib.noise import Condition

    return Condition(noise_type, snr, seed=int(noise.get("seed", 0)), bank=noise.get("bank") or "synthetic",
                     root=noise.get("root"), part="test")


def test_items(frame: pd.DataFrame, design: pd.DataFrame, noise: Mapping[str, Any], *, n_jobs: int | None = 1,
               progress: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """eGeMAPS of every test item of ``frame``: each utterance clean, then the noisy versions
    ``design`` names for it (:func:`noisy_design`), condition by condition.

    ``noise``: ``types``, ``snrs`` (their order is the order of the items), ``seed``, ``bank``,
    ``root`` of the test noise (:class:`serlib.noise.Condition` with ``part="test"``: sources
    that no training condition uses). Returns the items (the columns of ``frame`` plus
    ``test_condition``, ``noise_type``, ``snr``) and their features (n_items, 88), row-aligned.
    In a dry run (:func:`serlib.profiles.is_dry`) every noisy condition keeps at most
    :data:`DRY_ITEMS_PER_CONDITION` of its utterances (each condition still runs; the clean test
    keeps them all): the paper's design tests every utterance under all 25 conditions, which
    would make a dry run's feature extraction its slowest part.
    """
    from serlib import features

    frame = frame.reset_index(drop=True)
    by_id = frame.set_index(frame["utt_id"].astype(str))
    parts = [(None, frame.assign(test_condition="clean", noise_type=None, snr=np.nan))]
    mine = design[design["utt_id"].astype(str).isin(by_id.index)]
    cap = DRY_ITEMS_PER_CONDITION if profiles.is_dry() else None
    for c, (t, s) in enumerate((t, s) for t in noise["types"] for s in noise["snrs"]):
        ids = mine.loc[(mine["noise_type"] == str(t)) & (mine["snr"] == float(s)), "utt_id"].astype(str)
        if cap is not None and len(ids) > cap:  # dry run: rotate through the utterances, condition by condition
            ids = ids.iloc[[(c * cap + i) % len(ids) for i in range(cap)]]
        if len(ids):
            sub = by_id.loc[ids.to_numpy()].reset_index(drop=True)
            parts.append((_condition(noise, str(t), float(s)),
                          sub.assign(test_condition="noisy", noise_type=str(t), snr=float(s))))
    Xs = [features.extract(sub, "egemaps", cond, n_jobs=n_jobs, progress=progress).to_numpy() for cond, sub in parts]
    return pd.concat([sub for _, sub in parts], ignore_index=True), np.concatenate(Xs)


def extract_features(m: pd.DataFrame, x: pd.DataFrame, test_ids: Sequence[str], noise: Mapping[str, Any], *,
                     n_jobs: int | None = None, progress: bool = True) -> dict[str, int]:
    """Fill the feature cache with everything :func:`run_task` reads: clean eGeMAPS of every
    utterance of ``m`` (training, validation and test rows of every run), the test items of the
    utterances ``test_ids`` of ``m`` and of every utterance of the cross-corpus set ``x``.
    Returns the number of items per part (for the notebook to print)."""
    from serlib import features

    features.extract(m, "egemaps", None, n_jobs=n_jobs, progress=progress)
    noise = dict(noise)
    spec = (noise["types"], noise["snrs"])
    counts = {"clean (all utterances)": len(m)}
    for name, whole, ids in (("test items", m, set(map(str, test_ids))), ("cross-corpus items", x, None)):
        design = noisy_design(whole, *spec, per_utterance=noise.get("per_utterance"), seed=int(noise.get("seed", 0)))
        frame = whole if ids is None else whole[whole["utt_id"].astype(str).isin(ids)]
        counts[name] = len(test_items(frame, design, noise, n_jobs=n_jobs, progress=progress)[0])
    return counts


def runs(seeds: Sequence[int], splits: Sequence[Any]) -> list[tuple[int, Any]]:
    """The runs ``(seed, split)``: with one split (the paper's holdout) every seed on it; with
    several splits (speaker folds) split ``i`` with ``seeds[i]``, so that the runs differ in their
    test speakers and in their training randomness alike. Several splits need as many seeds."""
    seeds, splits = list(seeds), list(splits)
    if not seeds or not splits:
        raise ValueError(f"runs: need at least one seed and one split, got {len(seeds)} seeds, {len(splits)} splits")
    if len(splits) == 1:
        return [(int(s), splits[0]) for s in seeds]
    if len(seeds) != len(splits):
        raise ValueError(f"runs: {len(splits)} folds take one seed each, but {len(seeds)} seeds were given "
                         f"({seeds}); set -p seeds {list(range(len(splits)))} or -p folds {len(seeds)}")
    return [(int(s), sp) for s, sp in zip(seeds, splits)]


def tasks(m: pd.DataFrame, run_list: Sequence[tuple[int, Any]], *, attributes: Sequence[str] = ("arousal", "valence"),
          noise: Mapping[str, Any], grid: str | dict, edrl: Mapping[str, Any] | None = None,
          systems: Sequence[str] = SYSTEMS) -> list:
    """One :class:`serlib.experiment.Task` per system x attribute x run (:func:`runs`), in that
    order. The split travels as utterance ids (``train``, ``val``, ``test`` of manifest ``m``),
    so a task's key changes whenever its rows do; ``edrl`` holds :class:`EDRLMEA` keyword
    arguments (epochs, batch_size, patience, ...); ``noise`` is :func:`test_items`'s."""
    from serlib.experiment import Task

    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise ValueError(f"tasks: unknown system(s) {unknown}; paper 1's systems are {list(SYSTEMS)}")
    ids = m["utt_id"].astype(str).to_numpy()
    out = []
    for system in systems:
        for att in attributes:
            for seed, split in run_list:
                parts = {p: ids[getattr(split, p)].tolist() for p in ("train", "val", "test")}
                cfg = {"method": system, "attribute": att, "seed": int(seed), "fold": split.name, "split": parts,
                       "noise": dict(noise), "grid": grid, "edrl": dict(edrl or {}) if system == "EDRL-MEA" else {}}
                out.append(Task(TASK, cfg))
    return out


def run_task(config: dict, ctx: Any) -> Any:
    """Fit one of paper 1's systems on one run and predict every test item (a task function).

    ``config``: ``method`` (``Baseline`` | ``EDRL-MEA``), ``attribute`` (``arousal`` |
    ``valence``: the manifests' ``<attribute>_bin`` labels), ``seed``, ``fold``, ``split``
    (utterance ids of ``train``/``val``/``test`` in manifest ``main``), ``noise`` (see
    :func:`test_items`), ``grid`` (:func:`serlib.models.forest.fit_grid`), ``edrl``
    (:class:`EDRLMEA` keyword arguments). ``ctx.manifests``: ``main`` (the training corpus) and
    ``xcorpus`` (the cross-corpus test set). Steps: undersample the training rows
    (:func:`balanced_rows`), fit the system (the forest grid selected on validation macro F1),
    then predict the test items of the split (table ``"1"``) and of the cross-corpus set
    (table ``"2"``). Returns predictions (one row per item: :data:`ITEM_COLUMNS`, ``y_true``,
    ``y_pred``, ``p_pos`` = P(class 1)), the EDRL history, meta (selected forest, rows, epochs)
    and, for EDRL-MEA, extra arrays ``x_std`` (standardised eGeMAPS) and ``xprime`` (``X'``) of
    every predicted item, in the predictions' order.
    """
    from serlib import features
    from serlib.models import forest

    method, att, seed = config["method"], config["attribute"], int(config["seed"])
    if method not in SYSTEMS:
        raise ValueError(f"run_task: unknown method {method!r}; choose one of {list(SYSTEMS)}")
    ycol = f"{att}_bin"
    m, x = ctx.manifests["main"], ctx.manifests["xcorpus"]
    by_id = m.set_index(m["utt_id"].astype(str))
    part = {p: by_id.loc[config["split"][p]].reset_index(drop=True) for p in ("train", "val", "test")}
    X = {p: features.extract(part[p], "egemaps", None, n_jobs=1, progress=False).to_numpy() for p in ("train", "val")}
    y = {p: part[p][ycol].to_numpy() for p in ("train", "val")}
    keep = balanced_rows(y["train"], seed)
    X["train"], y["train"] = X["train"][keep], y["train"][keep]
    meta: dict[str, Any] = {"n_train": int(len(keep)), "n_train_before_undersampling": int(len(part["train"]))}
    history, embed = None, None
    if method == "EDRL-MEA":
        em = EDRLMEA(seed=seed, **config.get("edrl", {})).fit(X["train"], y["train"], X["val"], y["val"])
        embed, history = em.transform, em.history_
        meta.update(best_epoch=int(em.fit_result_.best_epoch), epochs_run=int(len(em.history_)),
                    epochs_max=int(em.epochs))
    f = embed or (lambda a: a)
    grid = forest.fit_grid(f(X["train"]), y["train"], f(X["val"]), y["val"], grid=config["grid"], seed=seed, n_jobs=1)
    meta.update(forest=grid.params, val_macro_f1=float(grid.table["val_score"].max()))
    noise = config["noise"]
    frames, Xs = [], []
    for table, whole, frame in (("1", m, part["test"]), ("2", x, x)):
        design = noisy_design(whole, noise["types"], noise["snrs"], per_utterance=noise.get("per_utterance"),
                              seed=int(noise.get("seed", 0)))
        items, Xi = test_items(frame, design, noise)
        frames.append(items.assign(table=table, corpus=_corpus_name(whole)))
        Xs.append(Xi)
    items, Xi = pd.concat(frames, ignore_index=True), np.concatenate(Xs)
    proba = grid.model.predict_proba(f(Xi))
    classes = list(grid.model.classes_)
    preds = items[list(ITEM_COLUMNS)].assign(
        y_true=items[ycol].to_numpy(), y_pred=np.asarray(classes)[proba.argmax(1)],
        p_pos=proba[:, classes.index(1)] if 1 in classes else 0.0)
    extra = {}
    if method == "EDRL-MEA":
        extra = {"x_std": em.scaler_.transform(Xi).astype(np.float32), "xprime": embed(Xi).astype(np.float32)}
    from serlib.experiment import TaskOutput

    return TaskOutput(predictions=preds, history=history, meta=meta, extra=extra)


# --------------------------------------------------------------------------- input checks
def _check_X(X: Any, name: str, n_features: int | None) -> np.ndarray:
    if hasattr(X, "to_numpy"):  # pandas DataFrame (serlib.features.extract returns one)
        X = X.to_numpy()
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or len(X) == 0:
        raise ValueError(f"{name} must be a non-empty 2-d array (samples, features), got shape {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{name} has {X.shape[1]} features, expected {n_features}")
    if not np.isfinite(X).all():
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{name} contains NaN or inf (first at row {bad[0]}, column {bad[1]}); "
                         "impute or drop those features before EDRL-MEA")
    return X


def _check_y(y: Any, n: int, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"{name} must be 1-d with one label per row ({n}), got shape {y.shape}")
    if y.dtype == object and any(v is None for v in y):
        raise ValueError(f"{name} contains None labels; drop the unlabelled rows first")
    return y
