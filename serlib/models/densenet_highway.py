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
    import numpy as np

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
                    device: str | None = None) -> "np.ndarray":
    """FGSM or BIM (:mod:`serlib.attacks`) adversarial copies of ``segments`` against their ``labels``
    (each segment carries its utterance's label), batch by batch; returns a float32 array."""
    import numpy as np

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
        out.append(fn(model, x, y, eps).cpu().numpy())
    return np.concatenate(out).astype(np.float32)


__all__ += ["SIZES", "attack_segments", "sized", "utterance_posteriors"]
