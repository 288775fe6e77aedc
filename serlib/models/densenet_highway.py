"""Paper 5's proposed model: DenseNet + LSTM + highway network (Latif et al., Interspeech 2020).

Paper: ``../shared/papers/5_densenet_lstm_highway_mixup.txt``, Sec. 3 (model), 4.2 (input),
4.4 (configuration). The benchmarks (CNN, CNN-LSTM, DenseNet, DenseNet-LSTM) and the DenseNet
building blocks live in :mod:`serlib.models.baselines`; :func:`build` makes any of the five
by name.

Architecture of :class:`DenseNetLSTMHighway` for a segment ``(B, 1, 256 frames, 128 bins)``
with the paper's sizes (G = 24, L = 6) and our stem (see below)::

    stem  Conv7x7/2 (48) - BN - ReLU - MaxPool3x3/2      -> (B,  48, 64, 32)
    DenseBlock 1 (L=6, G=24)                              -> (B, 192, 64, 32) --GAP--Linear--> s1 (128)
    transition BN-ReLU-Conv1x1 (96)-AvgPool2x2/2          -> (B,  96, 32, 16)
    DenseBlock 2 (L=6, G=24)                              -> (B, 240, 32, 16) --GAP--Linear--> s2 (128)
    BN - ReLU, reshape time-major                         -> (B, 32 steps, 240*16)
    LSTM(128), output at the last step, dropout 0.5       -> l (128)
    concat [l, s1 + s2]                                   -> (B, 256)
    Linear projection 256 -> 128                          -> (B, 128)
    3 highway layers, 128 ReLU units each                 -> (B, 128)
    Linear 128 -> n_classes                               -> logits (softmax is in the loss)

Choices where the paper is vague (each with its reason; those shared with the benchmarks are
listed in :mod:`serlib.models.baselines`: stem, composite function, transition and its
compression 0.5, final BN-ReLU, LSTM of 128 units read at the last step):

- **Skip connections** ("two skip connections from each DenseBlock and the sum of these
  features are concatenated with the LSTM features"): each DenseBlock's output map (the
  concatenation of its input and its L new maps, before the transition) is global-average
  pooled over time and frequency to a vector, mapped by its own linear layer to
  ``skip_dim`` = 128 units (the blocks have 192 and 240 channels, so a sum needs a common
  size), and the two vectors are summed. Average pooling is the DenseNet way of turning maps
  into a vector; a per-block linear map is the smallest change that makes the sum defined.
- **Dropout 0.5** is applied to the LSTM output only (the paper places it "after the LSTM
  layer"), not to the skip features.
- **Projection to 128**: the concatenation is 256-d while highway layers keep their width, so
  a linear layer (no activation) maps it to ``highway_units`` = 128 first, as Srivastava et
  al. (2015) do with a plain layer where the dimensionality changes.
- **Highway layers** (Eq. 2 with the coupled carry gate C = 1 - T of Srivastava et al.):
  ``y = H(x) * T(x) + x * (1 - T(x))`` with ``H(x) = ReLU(W_H x + b_H)`` and
  ``T(x) = sigmoid(W_T x + b_T)``; ``b_T`` starts at ``gate_bias`` = -1 so each layer
  initially mostly carries its input (Srivastava et al. recommend -1 to -3; -1 suffices for
  three layers). The "three fully connected layers with 128 hidden units with ReLU" are the
  three H transforms.
- **Output**: logits; the paper's softmax is applied by ``nn.CrossEntropyLoss`` in training
  and by ``softmax`` when utterance posteriors are averaged over segments.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from serlib.models.baselines import (
    CNN,
    CNNLSTM,
    DenseNet,
    DenseNetLSTM,
    _check_dropout,
    _check_positive,
    _DenseFeatures,
    _FirstOutput,
    _step_width,
    _SequenceLSTM,
    as_image_batch,
    n_parameters,
)

__all__ = ["MODELS", "DenseNetLSTMHighway", "Highway", "build", "n_parameters"]


class Highway(nn.Module):
    """One highway layer (Srivastava et al., 2015): ``H(x) * T(x) + x * (1 - T(x))``.

    ``H`` = Linear + ReLU, ``T`` = Linear + sigmoid with its bias initialised to ``gate_bias``.
    Input and output have ``units`` features.
    """

    def __init__(self, units: int, gate_bias: float = -1.0) -> None:
        super().__init__()
        _check_positive(units=units)
        self.transform = nn.Linear(units, units)
        self.gate = nn.Linear(units, units)
        nn.init.constant_(self.gate.bias, gate_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.transform(x))
        t = torch.sigmoid(self.gate(x))
        return h * t + x * (1.0 - t)


class DenseNetLSTMHighway(nn.Module):
    """The proposed model of paper 5 (see the module docstring for the layer-by-layer layout).

    Args:
        n_classes: emotion classes (4: angry, happy, neutral, sad).
        n_bins: frequency bins of the input spectrogram (128 in the paper).
        n_blocks: DenseBlocks (2), with a transition after every block but the last.
        layers, growth: L and G of each DenseBlock (6, 24).
        lstm_hidden: LSTM units (128).
        skip_dim: size each block's pooled skip vector is mapped to before summing (128).
        highway_units, highway_layers: width and depth of the highway network (128, 3).
        dropout: after the LSTM (0.5).
        gate_bias: initial bias of the highway transform gates (-1).
        compression, stem_*: see :mod:`serlib.models.baselines`.
    """

    def __init__(self, n_classes: int = 4, n_bins: int = 128, n_blocks: int = 2, layers: int = 6, growth: int = 24,
                 lstm_hidden: int = 128, skip_dim: int = 128, highway_units: int = 128, highway_layers: int = 3,
                 dropout: float = 0.5, gate_bias: float = -1.0, compression: float = 0.5,
                 stem_channels: int | None = None, stem_kernel: int = 7, stem_stride: int = 2,
                 stem_pool: bool = True) -> None:
        super().__init__()
        _check_positive(n_classes=n_classes, n_bins=n_bins, lstm_hidden=lstm_hidden, skip_dim=skip_dim,
                        highway_units=highway_units, highway_layers=highway_layers)
        _check_dropout(dropout)
        self.n_bins = n_bins
        self.features = _DenseFeatures(n_blocks, layers, growth, compression, stem_channels, stem_kernel,
                                       stem_stride, stem_pool)
        self.min_frames = self.features.min_frames
        width = _step_width(_FirstOutput(self.features), n_bins, self.min_frames,
                            "the down-sampling stages of this DenseNet")
        self.temporal = _SequenceLSTM(width, lstm_hidden)
        self.dropout = nn.Dropout(dropout)
        self.skips = nn.ModuleList(nn.Linear(ch, skip_dim) for ch in self.features.block_channels)
        self.project = nn.Linear(lstm_hidden + skip_dim, highway_units)
        self.highway = nn.Sequential(*(Highway(highway_units, gate_bias) for _ in range(highway_layers)))
        self.classifier = nn.Linear(highway_units, n_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The highway network's output (B, highway_units): the representation before the classifier
        (for t-SNE plots)."""
        x = as_image_batch(x, self.n_bins, self.min_frames, type(self).__name__)
        fmap, block_outs = self.features(x)
        context = self.dropout(self.temporal(fmap))
        skip = sum(lin(out.mean(dim=(2, 3))) for lin, out in zip(self.skips, block_outs))
        return self.highway(self.project(torch.cat([context, skip], dim=1)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


MODELS: dict[str, type[nn.Module]] = {
    "cnn": CNN,
    "cnn_lstm": CNNLSTM,
    "densenet": DenseNet,
    "densenet_lstm": DenseNetLSTM,
    "proposed": DenseNetLSTMHighway,
}
"""Paper 5's five models by name, in the order of its Table 1."""


def build(name: str, **kwargs) -> nn.Module:
    """Build one of :data:`MODELS` by name; ``kwargs`` go to its constructor (e.g. ``growth=8``)."""
    key = name.lower().replace("-", "_")
    if key not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}")
    return MODELS[key](**kwargs)


# --------------------------------------------------------------------------- profile sizes and evaluation helpers
SIZES: dict[str, dict[str, dict]] = {
    "paper": {name: {} for name in MODELS},
    # quick profile (2 CPU cores): ~0.5-1 s per batch of 64 full-size 256x128 segments per model
    "small": {
        "cnn": dict(channels=(8, 16, 32), fc_units=64),
        "cnn_lstm": dict(channels=(8, 16, 32), lstm_hidden=64),
        "densenet": dict(layers=3, growth=8, fc_units=128),
        "densenet_lstm": dict(layers=3, growth=8, lstm_hidden=64, fc_units=64),
        "proposed": dict(layers=3, growth=12, lstm_hidden=64, skip_dim=64, highway_units=64),
    },
    # smoke profile (CI): just enough to run the pipeline
    "tiny": {
        "cnn": dict(channels=(4, 8), fc_units=16),
        "cnn_lstm": dict(channels=(4, 8), lstm_hidden=16),
        "densenet": dict(layers=2, growth=4, fc_units=16),
        "densenet_lstm": dict(layers=2, growth=4, lstm_hidden=16, fc_units=16),
        "proposed": dict(layers=2, growth=4, lstm_hidden=16, skip_dim=16, highway_units=16),
    },
}
"""Model widths per profile size: ``paper`` = the paper's (the constructors' defaults); ``small``
(quick profile) and ``tiny`` (smoke) shrink depth/width but keep every architectural element
(stem, DenseBlocks, transition, LSTM, skip sum, three highway layers) and the 256x128 input."""


def sized(name: str, size: str = "paper", **kwargs) -> nn.Module:
    """:func:`build` with the widths of :data:`SIZES` ``[size]`` (``kwargs`` override them)."""
    if size not in SIZES:
        raise ValueError(f"unknown model size {size!r}; choose one of {', '.join(SIZES)}")
    key = name.lower().replace("-", "_")
    return build(name, **{**SIZES[size].get(key, {}), **kwargs})


def utterance_posteriors(model: nn.Module, segments, owner, *, batch_size: int = 128,
                         device: str | None = None) -> "np.ndarray":
    """Utterance posteriors = mean of the segment softmax posteriors per ``owner`` (paper Sec. 4.2).

    ``segments`` (M, frames, bins) and ``owner`` (M,) as returned by
    :func:`serlib.features.segment_stack`; returns (n_utterances, n_classes) in owner order 0..n-1.
    """
    from serlib.training import predict

    logits = torch.as_tensor(predict(model, np.asarray(segments, dtype=np.float32), batch_size=batch_size,
                                     device=device))
    probs = torch.softmax(logits.float(), dim=1).numpy()
    owner = np.asarray(owner)
    n = int(owner.max()) + 1
    out = np.zeros((n, probs.shape[1]))
    np.add.at(out, owner, probs)
    counts = np.bincount(owner, minlength=n)
    if (counts == 0).any():
        raise ValueError("utterance_posteriors: some utterances have no segment (owner must cover 0..n-1)")
    return out / counts[:, None]


def attack_segments(model: nn.Module, segments, labels, kind: str, eps: float, *, batch_size: int = 64,
                    device: str | None = None, alpha: float | None = None, steps: int | None = None) -> "np.ndarray":
    """FGSM or BIM (:mod:`serlib.attacks`) adversarial copies of ``segments`` against their ``labels``
    (each segment carries its utterance's label), batch by batch; returns a float32 array.

    ``alpha`` / ``steps``: BIM's step size and iterations (None = :func:`serlib.attacks.bim_defaults`)."""
    from serlib import attacks
    from serlib.training import resolve_device

    if kind not in ("fgsm", "bim"):
        raise ValueError(f"kind must be 'fgsm' or 'bim', got {kind!r}")
    fn = attacks.fgsm if kind == "fgsm" else attacks.bim
    dev = resolve_device(device)
    model.to(dev)
    x_all, y_all = np.asarray(segments, dtype=np.float32), np.asarray(labels, dtype=np.int64)
    out = []
    for i in range(0, len(x_all), batch_size):
        x = torch.from_numpy(x_all[i:i + batch_size]).to(dev)
        y = torch.from_numpy(y_all[i:i + batch_size]).to(dev)
        adv = fn(model, x, y, eps) if kind == "fgsm" else fn(model, x, y, eps, alpha=alpha, steps=steps)
        out.append(adv.cpu().numpy())
    return np.concatenate(out).astype(np.float32)


__all__ += ["SIZES", "attack_segments", "sized", "utterance_posteriors"]


# --------------------------------------------------------------------------- the paper's experiment (notebook 05)
# One engine task = one fit (model x augmentation x seed x fold) and every test of that fitted model: the clean
# test speaker (Table 1), the same speaker under random DEMAND-like noise per SNR (Table 2), FGSM and BIM copies of
# the clean test segments (Table 3) and the cross-corpus selection / test parts (Table 4, Figure 2).
AUGMENTATIONS = ("none", "mixup", "speed_perturbation", "speed_perturbation+mixup")
"""Training augmentations of the paper's Tables 2 and 3 (``none`` = Table 1's training)."""

NAMES = {"cnn": "CNN", "cnn_lstm": "CNN-LSTM", "densenet": "DenseNet", "densenet_lstm": "DenseNet-LSTM",
         "proposed": "Proposed"}
"""Display names of :data:`MODELS`, as the paper's tables write them."""

SEGMENT_FRAMES = 256
"""Frames per input segment (paper Sec. 4.2: 256 frames = 2.56 s at a 10 ms hop)."""

MIXUP_ALPHA = 0.2
"""mixup's Beta(alpha, alpha) (the paper gives none; 0.2 is Zhang et al.'s ImageNet value)."""

DRY_BATCH_SIZE = 8
"""Dry runs: at most this many segments per mini-batch (the paper's 32 at the paper's model sizes and
256 x 128 input costs about a CPU-second per batch; a dry run only has to execute every branch)."""

TABLES = {"clean": "1", "noisy": "2", "fgsm": "3", "bim": "3", "xcorpus": "4"}
"""The paper's table of each test condition."""


def lr_patience(patience: int | None) -> int | None:
    """Epochs without validation improvement before the LR is halved: a quarter of ``patience``
    (the paper's 20 -> 5), at least 2; None when early stopping is off."""
    return None if patience is None else max(2, int(patience) // 4)


def settings(cfg, classes, noise_types) -> dict:
    """The settings every fit of a notebook shares, as plain data for the task configs.

    ``cfg`` is the notebook's resolved profile, ``classes`` the label order (the posterior columns),
    ``noise_types`` the test-noise types (``serlib.noise.types_for(cfg)``).

    In a dry run (:func:`serlib.profiles.is_dry`) the loops are capped like training's epochs: BIM runs
    :data:`serlib.profiles.DRY_BATCHES` iterations and the mini-batches hold at most :data:`DRY_BATCH_SIZE`
    segments, so the paper-size models execute every branch (both attacks, mixup on a batch) in seconds.
    """
    from serlib import attacks, profiles

    alpha, steps = attacks.bim_defaults(attacks.PAPER_EPS)
    batch = int(cfg.batch_size)
    if profiles.is_dry():
        steps, batch = min(steps, profiles.DRY_BATCHES), min(batch, DRY_BATCH_SIZE)
    pool = int(cfg.get("input_pool") or 1)
    if pool < 1 or 128 % pool or SEGMENT_FRAMES % pool:
        raise ValueError(f"input_pool must divide 128 bins and {SEGMENT_FRAMES} frames (1, 2, 4, ...), got {pool}")
    return {"classes": [str(c) for c in classes], "model_size": cfg.model_size, "epochs": int(cfg.epochs),
            "patience": cfg.patience, "lr_patience": lr_patience(cfg.patience), "lr": float(cfg.lr),
            "batch_size": batch, "segment": SEGMENT_FRAMES, "pool": pool, "mixup_alpha": MIXUP_ALPHA,
            "speed_factors": [float(f) for f in cfg.speed_factors], "eps": attacks.PAPER_EPS,
            "bim_alpha": alpha, "bim_steps": steps,
            "noise": {"types": list(noise_types), "snrs": [float(s) for s in cfg.snrs], "bank": cfg.noise,
                      "root": cfg.noise_root, "seed": 0}}


def noisy_conditions(noise: dict) -> dict:
    """``{snr: RandomCondition}``: one DEMAND-like type drawn per test utterance, at a fixed SNR, from
    test-only noise clips (the paper's Table 2 protocol); ``noise`` is ``settings(...)["noise"]``."""
    from serlib.noise import RandomCondition

    return {s: RandomCondition(tuple(noise["types"]), (s, s), seed=noise["seed"], part="test", bank=noise["bank"],
                               root=noise["root"]) for s in noise["snrs"]}


def speed_conditions(factors) -> list:
    """Speed-perturbation conditions (``serlib.augment.SpeedPerturbation``) for ``factors``."""
    from serlib.augment import SpeedPerturbation

    return [SpeedPerturbation(float(f)) for f in factors]


def pool_segments(segs: "np.ndarray", k: int) -> "np.ndarray":
    """Average ``k`` x ``k`` blocks of (M, frames, bins) segments (``k`` = 1: unchanged); a cheaper input
    for CPU profiles that keeps the segment's 2.56 s and 0-3.97 kHz."""
    if k == 1:
        return segs
    m, t, f = segs.shape
    if t % k or f % k:
        raise ValueError(f"pool_segments: {t} frames x {f} bins are not divisible by {k}")
    return segs.reshape(m, t // k, k, f // k, k).mean(axis=(2, 4), dtype="float32")


def segments(frame, condition, st: dict, *, n_jobs: int | None = 1):
    """(segments, owner) of every utterance of ``frame`` under an audio ``condition`` (None = clean):
    spectrograms from the feature cache cut into ``st["segment"]``-frame segments, pooled by ``st["pool"]``."""
    from serlib import features

    seqs = features.extract(frame, "spectrogram", condition, n_jobs=n_jobs, progress=False)
    segs, owner = features.segment_stack(seqs, st["segment"])
    return pool_segments(segs, st["pool"]), owner


def tasks(proto, m, st: dict, *, models, aug_models, augmentations, seeds, xparts=None) -> list:
    """The notebook's grid as engine tasks: every model without augmentation and every ``aug_models``
    model with each of ``augmentations``, for every seed and every split of ``proto`` (a
    :class:`serlib.protocols.Protocol` over manifest ``m``); ``xparts`` = ``{"select": frame, "test":
    frame}`` of the cross-corpus manifest (None: no cross-corpus test).

    In a dry run (:func:`serlib.profiles.is_dry`) only one of ``aug_models`` (the proposed model where it
    is listed) trains with the augmentations: every model and every augmentation branch still runs, in
    8 fits instead of the paper grid's 17."""
    from serlib import profiles
    from serlib.experiment import Task

    bad = [a for a in augmentations if a not in AUGMENTATIONS[1:]]
    unknown = [k for k in [*models, *aug_models] if k not in MODELS]
    if bad or unknown:
        raise ValueError(f"unknown augmentation(s) {bad} / model(s) {unknown}; augmentations: {AUGMENTATIONS[1:]}, "
                         f"models: {list(MODELS)}")
    if profiles.is_dry() and len(aug_models) > 1:
        aug_models = [k for k in aug_models if k == "proposed"] or list(aug_models[:1])
    runs = [(k, "none") for k in models] + [(k, a) for k in aug_models for a in augmentations]
    xc = None if xparts is None else {k: v.utt_id.astype(str).tolist() for k, v in xparts.items()}
    out = []
    for seed in seeds:
        for split in proto.splits:
            ids = {k: m.utt_id.iloc[list(getattr(split, k))].astype(str).tolist() for k in ("train", "val", "test")}
            for key, aug in runs:
                out.append(Task(run_task, {"model": key, "augmentation": aug, "seed": int(seed), "fold": split.name,
                                           "split": ids, "xcorpus": xc, "settings": st}))
    return out


def extract_features(m, x, grid, *, n_jobs: int | None = None) -> "pd.DataFrame":
    """Fill the feature cache with every spectrogram the ``grid`` of tasks reads (clean corpus and
    cross-corpus, noisy test utterances per SNR, speed-perturbed training utterances), so the tasks
    only read it. Returns one row per condition: utterances and seconds."""
    import time

    import pandas as pd

    from serlib import features

    st = grid[0].config["settings"]
    test = {u for t in grid for u in t.config["split"]["test"]}
    train = {u for t in grid if "speed" in t.config["augmentation"] for u in t.config["split"]["train"]}
    jobs = [("clean", m, None)] + ([("xcorpus clean", x, None)] if x is not None else [])
    jobs += [(f"noisy {s:g} dB", m[m.utt_id.isin(test)], c) for s, c in noisy_conditions(st["noise"]).items()]
    jobs += [(c.key, m[m.utt_id.isin(train)], c) for c in speed_conditions(st["speed_factors"])] if train else []
    rows = []
    for name, frame, cond in jobs:
        t = time.perf_counter()
        features.extract(frame, "spectrogram", cond, n_jobs=n_jobs, progress=False)
        rows.append({"condition": name, "utterances": len(frame), "seconds": round(time.perf_counter() - t, 1)})
    return pd.DataFrame(rows)


def _frame(m, ids, what: str):
    """The rows of manifest ``m`` with these utt_ids, in the given order (a clear error if any is missing)."""
    idx = m.set_index(m.utt_id.astype(str), drop=False)
    missing = [u for u in ids if u not in idx.index]
    if missing:
        raise KeyError(f"{what}: {len(missing)} utt_id(s) not in the manifest (e.g. {missing[:3]}): the task was "
                       "built for another corpus")
    return idx.loc[list(ids)].reset_index(drop=True)


def _predictions(frame, post, classes, **cond) -> "pd.DataFrame":
    import pandas as pd

    out = pd.DataFrame({"utt_id": frame.utt_id.astype(str).to_numpy(), **cond,
                        "y_true": frame.emotion.astype(str).to_numpy(),
                        "y_pred": np.asarray(classes, dtype=object)[post.argmax(1)]})
    for i, c in enumerate(classes):
        out[f"p_{c}"] = post[:, i].astype(np.float32)
    return out


def run_task(config: dict, ctx) -> "TaskOutput":
    """One fit of paper 5 and every test of the fitted model (an :mod:`serlib.experiment` task).

    ``config``: ``model`` (a key of :data:`MODELS`), ``augmentation`` (:data:`AUGMENTATIONS`), ``seed``,
    ``fold`` (the split's name), ``split`` (``train``/``val``/``test`` utt_ids of ``ctx.manifests["main"]``),
    ``xcorpus`` (None or ``select``/``test`` utt_ids of ``ctx.manifests["xcorpus"]``) and ``settings``
    (:func:`settings`). Spectrograms come from the feature cache (:func:`extract_features` fills it).

    Training (:func:`serlib.training.fit`): segments standardised per bin with the training speakers'
    statistics, cross-entropy, Adam, early stopping and LR halving on the validation speaker's
    utterance UAR, the best epoch's weights kept; mixup mixes every batch, speed perturbation adds
    resampled copies of the training audio. Returns per-utterance predictions and posteriors
    (``p_<class>``) with ``test_condition`` (clean | noisy | fgsm | bim | xcorpus), ``snr`` (noisy) and
    ``part`` (xcorpus: select | test); meta: best_epoch, epochs, stopped_early, best_val_uar, sec_per_epoch,
    train_segments, n_parameters, device, dry, fit_seconds (features + training) and eval_seconds (all tests)
    (wall clock), cpu_seconds (this process's CPU time over the task).
    """
    import pandas as pd
    import torch.nn.functional as F

    from serlib import augment, features, metrics, training
    from serlib.experiment import TaskOutput

    import time

    started, cpu = time.perf_counter(), time.process_time()
    st, aug, dev = config["settings"], config["augmentation"], ctx.device
    if aug not in AUGMENTATIONS:
        raise ValueError(f"augmentation {aug!r} is not one of {AUGMENTATIONS}")
    classes = st["classes"]
    lab = {c: i for i, c in enumerate(classes)}
    m = ctx.manifests["main"]
    part = {k: _frame(m, ids, f"split {k}") for k, ids in config["split"].items()}
    y = {k: f.emotion.astype(str).map(lab).to_numpy() for k, f in part.items()}
    s_tr, o_tr = segments(part["train"], None, st)
    sc = features.Standardizer().fit(s_tr)
    xs, ys = [sc.transform(s_tr)], [y["train"][o_tr]]
    for cond in speed_conditions(st["speed_factors"]) if "speed" in aug else []:
        s, o = segments(part["train"], cond, st)
        xs, ys = xs + [sc.transform(s)], ys + [y["train"][o]]
    s_va, o_va = segments(part["val"], None, st)
    x_va = sc.transform(s_va)
    post = lambda mdl, x, o: utterance_posteriors(mdl, x, o, device=dev)  # noqa: E731
    torch.manual_seed(config["seed"])  # the initial weights: deterministic outside the engine too
    model = sized(config["model"], st["model_size"], n_classes=len(classes), n_bins=128 // st["pool"])
    fr = training.fit(model, (torch.from_numpy(np.concatenate(xs)), torch.from_numpy(np.concatenate(ys))),
                      loss_fn=F.cross_entropy, val_metric=lambda mdl: metrics.uar(y["val"], post(mdl, x_va, o_va).argmax(1)),
                      epochs=st["epochs"], lr=st["lr"], batch_size=st["batch_size"], patience=st["patience"],
                      lr_patience=st["lr_patience"], seed=config["seed"], device=dev, progress=False,
                      train_step=augment.MixupStep(st["mixup_alpha"]) if "mixup" in aug else None)
    fitted = time.perf_counter()
    test = part["test"]
    s_te, o_te = segments(test, None, st)
    x_te = sc.transform(s_te)
    preds = [_predictions(test, post(fr.model, x_te, o_te), classes, test_condition="clean", snr=None, part=None)]
    for snr, cond in noisy_conditions(st["noise"]).items():
        s, o = segments(test, cond, st)
        preds.append(_predictions(test, post(fr.model, sc.transform(s), o), classes, test_condition="noisy",
                                  snr=float(snr), part=None))
    for kind in ("fgsm", "bim"):
        adv = attack_segments(fr.model, x_te, y["test"][o_te], kind, st["eps"], device=dev, alpha=st["bim_alpha"],
                              steps=st["bim_steps"])
        preds.append(_predictions(test, post(fr.model, adv, o_te), classes, test_condition=kind, snr=None, part=None))
    for name, ids in (config.get("xcorpus") or {}).items():
        xf = _frame(ctx.manifests["xcorpus"], ids, f"xcorpus {name}")
        s, o = segments(xf, None, st)
        preds.append(_predictions(xf, post(fr.model, sc.transform(s), o), classes, test_condition="xcorpus",
                                  snr=None, part=name))
    hist = fr.history
    meta = {"best_epoch": int(fr.best_epoch), "epochs": int(len(hist)), "stopped_early": bool(fr.stopped_early),
            "best_val_uar": float(fr.best_score), "sec_per_epoch": float(hist.seconds.mean()),
            "train_segments": int(sum(len(a) for a in xs)), "n_parameters": n_parameters(fr.model),
            "device": fr.device, "dry": bool(fr.dry), "fit_seconds": round(fitted - started, 2),
            "eval_seconds": round(time.perf_counter() - fitted, 2), "cpu_seconds": round(time.process_time() - cpu, 2)}
    return TaskOutput(predictions=pd.concat(preds, ignore_index=True), history=hist, meta=meta)


def result_rows(preds: "pd.DataFrame") -> "pd.DataFrame":
    """Tidy UAR rows (``Results.add(**row)`` via ``serlib.experiment.records``) from the stacked
    predictions of :func:`run_task` (``experiment.stack(outs, config=["model", "augmentation", "seed",
    "fold"])``).

    One row per model x augmentation x seed x fold x test condition (x SNR): ``method`` (:data:`NAMES`),
    ``table`` (:data:`TABLES`), ``noise_type`` ``DEMAND`` for the noisy rows (the paper's condition our
    DEMAND-like noise stands in for), ``corpus``: the paper's corpus whose role the data plays
    (``IEMOCAP`` within corpus, ``MSP-IMPROV`` cross-corpus). Cross-corpus rows have
    ``test_condition`` clean and ``part`` select | test; the others ``part`` None.
    """
    import pandas as pd

    from serlib.experiment import scores

    by = ["model", "augmentation", "seed", "fold", "test_condition", "snr", "part"]
    rows = scores(preds, by=by, metrics=["uar"]).drop(columns="n")
    rows.insert(0, "method", rows.pop("model").map(NAMES))
    rows["table"] = rows.test_condition.map(TABLES)
    rows["noise_type"] = np.where(rows.test_condition == "noisy", "DEMAND", None)
    rows["corpus"] = np.where(rows.table == "4", "MSP-IMPROV", "IEMOCAP")
    rows.loc[rows.test_condition == "xcorpus", "test_condition"] = "clean"
    rows["snr"] = pd.to_numeric(rows.snr)
    return rows


def xcorpus_choice(rows: "pd.DataFrame") -> "pd.Series":
    """Per method, the augmentation with the best mean UAR on the cross-corpus *selection* part (the
    paper's 30 %); the test part is never looked at. ``rows`` as from :func:`result_rows`."""
    sel = rows[(rows.table == "4") & (rows.part == "select")]
    if sel.empty:
        raise ValueError("xcorpus_choice: no cross-corpus selection rows (was the grid built with xparts?)")
    mean = sel.groupby(["method", "augmentation"]).value.mean().reset_index()
    best = mean.sort_values(["value", "augmentation"], ascending=[False, True], kind="stable").drop_duplicates("method")
    return best.set_index("method").augmentation.rename("selected augmentation")


def fit_summary(outs) -> "pd.DataFrame":
    """One row per fit: model, augmentation, seed, fold and the task's meta (best epoch, epochs run,
    whether early stopping ended it, seconds per epoch, training segments, device); ``ended_early``
    is True when the best epoch came before the last (the model had stopped improving)."""
    import pandas as pd

    rows = [{k: o.config[k] for k in ("model", "augmentation", "seed", "fold")} | o.meta | {"cached": o.cached}
            for o in outs if o is not None]
    df = pd.DataFrame(rows)
    df["ended_early"] = df.best_epoch < df.epochs
    return df


__all__ += ["AUGMENTATIONS", "DRY_BATCH_SIZE", "NAMES", "SEGMENT_FRAMES", "TABLES", "extract_features", "fit_summary",
            "lr_patience", "noisy_conditions", "pool_segments", "result_rows", "run_task", "segments", "settings",
            "speed_conditions", "tasks", "xcorpus_choice"]
