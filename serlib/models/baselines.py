"""Benchmark spectrogram classifiers of paper 5 and the DenseNet building blocks they share.

Paper: Latif et al., "Deep Architecture Enhancing Robustness to Noise, Adversarial Attacks,
and Cross-corpus Setting for Speech Emotion Recognition" (Interspeech 2020),
``../shared/papers/5_densenet_lstm_highway_mixup.txt``, Sec. 3.1 and 4.4.

Every model maps a batch of spectrogram segments ``(batch, 1, frames, bins)`` (or
``(batch, frames, bins)``; a channel axis is added) to **logits** ``(batch, n_classes)``;
``nn.CrossEntropyLoss`` applies the softmax. The paper's input is 256 frames x 128 bins
(25 ms Hamming / 10 ms STFT, see ``serlib.features`` kind ``spectrogram``); any number of
frames >= :attr:`min_frames` works, the number of bins is fixed at construction
(``n_bins``) because it sets the size of the recurrent/linear layers.

Models (all default to the paper's sizes; the width arguments let a notebook shrink them
for the ``quick`` profile):

- :class:`CNN`, :class:`CNNLSTM` -- the paper defers to its reference [36] for the CNN-LSTM
  ("we follow the architecture configuration described in [36]") and builds the CNN from it
  by "a fully connected layer instead of an LSTM layer". Our copy of the paper has no
  reference list, so [36] cannot be identified with certainty; we use the common
  spectrogram CNN-LSTM of that line of work (Satt et al., Interspeech 2017; Latif et al.,
  Interspeech 2019): three conv blocks ``Conv3x3 -> BN -> ReLU -> MaxPool 2x2`` with 32/64/128
  channels (256x128 -> 32x16), the feature maps read time-major as a sequence of
  ``channels * bins`` vectors, one LSTM layer of 128 units whose last output is the
  utterance-segment summary, dropout 0.5, linear classifier. The CNN replaces the LSTM with
  a time-distributed fully connected layer of 128 ReLU units followed by the mean over
  time (the closest feed-forward stand-in that keeps everything else identical).
- :class:`DenseNet` -- Sec. 4.4: three DenseBlocks of L = 6 layers, growth rate G = 16,
  a transition between consecutive blocks, global average pooling ("3x3 global average
  pooling" in the paper; we pool over the whole remaining map), a fully connected layer
  of 1,000 ReLU units, softmax.
- :class:`DenseNetLSTM` -- the same with "an LSTM layer instead of a global average pooling
  layer": the final feature maps read time-major into one LSTM layer (128 units, last output).

Choices where the paper is vague (shared with :mod:`serlib.models.densenet_highway`):

- **Initial convolution**: the paper says only "initial convolutional layer". We use the
  ImageNet DenseNet stem of Huang et al. (2017), ``Conv 7x7 stride 2 (2G channels) -> BN ->
  ReLU -> MaxPool 3x3 stride 2``, which turns 256x128 into 64x32 before the first block.
  A stride-1 stem (the CIFAR variant) would run the first DenseBlock on 32,768 positions per
  segment, ~16x the compute, which no CPU profile could train. ``stem_stride=1,
  stem_pool=False`` restores it for GPU experiments.
- **Composite function** H = BN -> ReLU -> Conv 3x3 (no bottleneck 1x1 layer: the paper names
  only BN, ReLU and Conv, i.e. the basic DenseNet, not DenseNet-B).
- **Transition** = BN -> ReLU -> Conv 1x1 -> AvgPool 2x2 stride 2 (Huang et al.'s transition;
  the paper lists "BN, 1x1 conv, 2x2 average pooling" and says BN precedes the
  non-linearity in all convolutional layers). Compression 0.5 (DenseNet-C's value): the 1x1
  convolution halves the channels; the paper does not say, and without compression the
  LSTM input of the proposed model would double.
- **Final BN-ReLU** after the last DenseBlock (as in Huang et al.'s reference models) before
  pooling or the LSTM.
- **LSTM**: one unidirectional layer of 128 units (the size of the paper's highway layers);
  its output at the last time step is the summary vector (Keras' default
  ``return_sequences=False``).
- **Dropout 0.5** after the pooled / LSTM features in every model: the paper states 0.5 for
  the proposed model only; using it everywhere keeps the comparison about architecture.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

__all__ = [
    "CNN",
    "CNNLSTM",
    "DenseBlock",
    "DenseLayer",
    "DenseNet",
    "DenseNetLSTM",
    "DenseStem",
    "Transition",
    "as_image_batch",
    "n_parameters",
]


# --------------------------------------------------------------------------- helpers
def n_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of (trainable) parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def as_image_batch(x: torch.Tensor, n_bins: int, min_frames: int, name: str) -> torch.Tensor:
    """Validate a spectrogram batch and return it as ``(batch, 1, frames, bins)`` float.

    Accepts ``(batch, frames, bins)`` (a channel axis is added) or ``(batch, 1, frames, bins)``.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} expects a torch.Tensor of spectrogram segments, got {type(x).__name__}")
    if x.ndim == 3:
        x = x.unsqueeze(1)
    if x.ndim != 4 or x.shape[1] != 1:
        raise ValueError(
            f"{name} expects spectrogram segments shaped (batch, 1, frames, bins) or (batch, frames, bins), "
            f"got {tuple(x.shape)}"
        )
    if x.shape[-1] != n_bins:
        raise ValueError(
            f"{name} was built for {n_bins} frequency bins but got {x.shape[-1]} (input shape {tuple(x.shape)}); "
            f"build it with n_bins={x.shape[-1]} or check that frames come before bins"
        )
    if x.shape[-2] < min_frames:
        raise ValueError(
            f"{name} needs at least {min_frames} frames per segment (its down-sampling stages), got {x.shape[-2]}; "
            "use longer segments (the paper uses 256 frames)"
        )
    return x if x.is_floating_point() else x.float()


def _feature_shape(module: nn.Module, n_bins: int, frames: int) -> tuple[int, int, int]:
    """(channels, time, freq) of ``module``'s output for a (1, 1, frames, n_bins) input."""
    was_training = module.training
    module.eval()
    with torch.no_grad():
        out = module(torch.zeros(1, 1, frames, n_bins))
    module.train(was_training)
    return int(out.shape[1]), int(out.shape[2]), int(out.shape[3])


def _step_width(module: nn.Module, n_bins: int, min_frames: int, stages: str) -> int:
    """Features per time step (channels x frequency bins) of ``module``'s output: the LSTM/FC input size."""
    c, _, f = _feature_shape(module, n_bins, 2 * min_frames)
    if f < 1:
        raise ValueError(f"n_bins={n_bins} is too small for {stages}")
    return c * f


def _check_positive(**values: int) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


def _check_dropout(p: float) -> None:
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {p}")


class _SequenceLSTM(nn.Module):
    """Feature maps (B, C, T, F) -> time-major sequence (B, T, C*F) -> LSTM -> last output (B, H)."""

    def __init__(self, input_size: int, hidden: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(input_size, hidden, batch_first=True)

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        b, c, t, f = fmap.shape
        seq = fmap.permute(0, 2, 1, 3).reshape(b, t, c * f)  # time-major: one vector per time step
        out, _ = self.lstm(seq)
        return out[:, -1]


# --------------------------------------------------------------------------- DenseNet blocks
class DenseLayer(nn.Module):
    """Composite function H_{l,G} of Eq. (1): BN -> ReLU -> Conv 3x3 producing ``growth`` maps."""

    def __init__(self, in_channels: int, growth: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(in_channels)
        self.conv = nn.Conv2d(in_channels, growth, kernel_size=3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.relu(self.norm(x)))


class DenseBlock(nn.Module):
    """DenseBlock(L, G): layer l sees the concatenation [x0, x1, ..., x_{l-1}] (Eq. 1).

    Output: the concatenation of the input and all L new maps, ``in_channels + L * G`` channels.
    """

    def __init__(self, in_channels: int, layers: int = 6, growth: int = 24) -> None:
        super().__init__()
        _check_positive(in_channels=in_channels, layers=layers, growth=growth)
        self.layers = nn.ModuleList(DenseLayer(in_channels + i * growth, growth) for i in range(layers))
        self.out_channels = in_channels + layers * growth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for layer in self.layers:
            feats.append(layer(torch.cat(feats, dim=1)))
        return torch.cat(feats, dim=1)


class Transition(nn.Module):
    """Down-sampling between DenseBlocks: BN -> ReLU -> Conv 1x1 -> AvgPool 2x2 stride 2."""

    def __init__(self, in_channels: int, compression: float = 0.5) -> None:
        super().__init__()
        if not 0.0 < compression <= 1.0:
            raise ValueError(f"compression must be in (0, 1], got {compression}")
        self.out_channels = max(1, int(in_channels * compression))
        self.norm = nn.BatchNorm2d(in_channels)
        self.conv = nn.Conv2d(in_channels, self.out_channels, kernel_size=1, bias=False)
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(torch.relu(self.norm(x))))


class DenseStem(nn.Module):
    """Initial convolution: Conv k x k (stride s) -> BN -> ReLU [-> MaxPool 3x3 stride 2]."""

    def __init__(self, out_channels: int, kernel: int = 7, stride: int = 2, pool: bool = True) -> None:
        super().__init__()
        _check_positive(out_channels=out_channels, kernel=kernel, stride=stride)
        self.conv = nn.Conv2d(1, out_channels, kernel_size=kernel, stride=stride, padding=kernel // 2, bias=False)
        self.norm = nn.BatchNorm2d(out_channels)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1) if pool else nn.Identity()
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(torch.relu(self.norm(self.conv(x))))


class _DenseFeatures(nn.Module):
    """Stem + DenseBlocks with a transition between consecutive blocks + final BN-ReLU.

    ``forward`` returns the final feature map and the list of every block's raw output
    (before its transition), which the proposed model uses for its skip connections.
    """

    def __init__(self, n_blocks: int, layers: int, growth: int, compression: float,
                 stem_channels: int | None, stem_kernel: int, stem_stride: int, stem_pool: bool) -> None:
        super().__init__()
        _check_positive(n_blocks=n_blocks, layers=layers, growth=growth)
        c = 2 * growth if stem_channels is None else stem_channels
        self.stem = DenseStem(c, stem_kernel, stem_stride, stem_pool)
        self.blocks = nn.ModuleList()
        self.transitions = nn.ModuleList()
        self.block_channels: list[int] = []
        for i in range(n_blocks):
            block = DenseBlock(c, layers, growth)
            self.blocks.append(block)
            c = block.out_channels
            self.block_channels.append(c)
            if i < n_blocks - 1:
                trans = Transition(c, compression)
                self.transitions.append(trans)
                c = trans.out_channels
        self.final_norm = nn.BatchNorm2d(c)
        self.out_channels = c
        # stem: /stride (and /2 with pooling); each transition: /2
        self.min_frames = stem_stride * (2 if stem_pool else 1) * 2 ** (n_blocks - 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        x = self.stem(x)
        outs = []
        for i, block in enumerate(self.blocks):
            x = block(x)
            outs.append(x)
            if i < len(self.transitions):
                x = self.transitions[i](x)
        return torch.relu(self.final_norm(x)), outs


# --------------------------------------------------------------------------- CNN family
class _ConvStack(nn.Module):
    """``Conv3x3 -> BN -> ReLU -> MaxPool 2x2`` per entry of ``channels``."""

    def __init__(self, channels: Sequence[int]) -> None:
        super().__init__()
        if len(channels) == 0:
            raise ValueError("channels must list at least one conv block, e.g. (32, 64, 128)")
        _check_positive(**{f"channels[{i}]": c for i, c in enumerate(channels)})
        layers: list[nn.Module] = []
        c_in = 1
        for c in channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            c_in = c
        self.net = nn.Sequential(*layers)
        self.min_frames = 2 ** len(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CNNLSTM(nn.Module):
    """Spectrogram CNN-LSTM benchmark (configuration chosen for [36], see the module docstring).

    Conv blocks (``channels``, each Conv3x3-BN-ReLU-MaxPool2) -> time-major sequence ->
    LSTM(``lstm_hidden``), last output -> dropout -> linear logits.
    """

    def __init__(self, n_classes: int = 4, n_bins: int = 128, channels: Sequence[int] = (32, 64, 128),
                 lstm_hidden: int = 128, dropout: float = 0.5) -> None:
        super().__init__()
        _check_positive(n_classes=n_classes, n_bins=n_bins, lstm_hidden=lstm_hidden)
        _check_dropout(dropout)
        self.n_bins = n_bins
        self.features = _ConvStack(channels)
        self.min_frames = self.features.min_frames
        width = _step_width(self.features, n_bins, self.min_frames, f"{len(channels)} pooling stages")
        self.temporal = _SequenceLSTM(width, lstm_hidden)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(lstm_hidden, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = as_image_batch(x, self.n_bins, self.min_frames, type(self).__name__)
        return self.classifier(self.dropout(self.temporal(self.features(x))))


class CNN(nn.Module):
    """Spectrogram CNN benchmark: :class:`CNNLSTM` with the LSTM replaced by a fully connected layer.

    Conv blocks -> time-major sequence -> time-distributed Linear(``fc_units``) + ReLU ->
    mean over time -> dropout -> linear logits.
    """

    def __init__(self, n_classes: int = 4, n_bins: int = 128, channels: Sequence[int] = (32, 64, 128),
                 fc_units: int = 128, dropout: float = 0.5) -> None:
        super().__init__()
        _check_positive(n_classes=n_classes, n_bins=n_bins, fc_units=fc_units)
        _check_dropout(dropout)
        self.n_bins = n_bins
        self.features = _ConvStack(channels)
        self.min_frames = self.features.min_frames
        width = _step_width(self.features, n_bins, self.min_frames, f"{len(channels)} pooling stages")
        self.fc = nn.Linear(width, fc_units)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(fc_units, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = as_image_batch(x, self.n_bins, self.min_frames, type(self).__name__)
        fmap = self.features(x)
        b, c, t, f = fmap.shape
        seq = fmap.permute(0, 2, 1, 3).reshape(b, t, c * f)
        pooled = torch.relu(self.fc(seq)).mean(dim=1)
        return self.classifier(self.dropout(pooled))


# --------------------------------------------------------------------------- DenseNet family
class DenseNet(nn.Module):
    """DenseNet benchmark (Sec. 4.4): stem, ``n_blocks`` DenseBlock(L=``layers``, G=``growth``)
    with transitions, global average pooling, dropout, FC ``fc_units`` ReLU, linear logits."""

    def __init__(self, n_classes: int = 4, n_bins: int = 128, n_blocks: int = 3, layers: int = 6, growth: int = 16,
                 fc_units: int = 1000, dropout: float = 0.5, compression: float = 0.5,
                 stem_channels: int | None = None, stem_kernel: int = 7, stem_stride: int = 2,
                 stem_pool: bool = True) -> None:
        super().__init__()
        _check_positive(n_classes=n_classes, n_bins=n_bins, fc_units=fc_units)
        _check_dropout(dropout)
        self.n_bins = n_bins
        self.features = _DenseFeatures(n_blocks, layers, growth, compression, stem_channels, stem_kernel,
                                       stem_stride, stem_pool)
        self.min_frames = self.features.min_frames
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(self.features.out_channels, fc_units)
        self.classifier = nn.Linear(fc_units, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = as_image_batch(x, self.n_bins, self.min_frames, type(self).__name__)
        fmap, _ = self.features(x)
        pooled = fmap.mean(dim=(2, 3))
        return self.classifier(torch.relu(self.fc(self.dropout(pooled))))


class DenseNetLSTM(nn.Module):
    """DenseNet-LSTM benchmark (Sec. 4.4): :class:`DenseNet` with an LSTM (``lstm_hidden`` units,
    last output) in place of global average pooling, then dropout, FC ``fc_units`` ReLU, logits."""

    def __init__(self, n_classes: int = 4, n_bins: int = 128, n_blocks: int = 3, layers: int = 6, growth: int = 16,
                 lstm_hidden: int = 128, fc_units: int = 1000, dropout: float = 0.5, compression: float = 0.5,
                 stem_channels: int | None = None, stem_kernel: int = 7, stem_stride: int = 2,
                 stem_pool: bool = True) -> None:
        super().__init__()
        _check_positive(n_classes=n_classes, n_bins=n_bins, lstm_hidden=lstm_hidden, fc_units=fc_units)
        _check_dropout(dropout)
        self.n_bins = n_bins
        self.features = _DenseFeatures(n_blocks, layers, growth, compression, stem_channels, stem_kernel,
                                       stem_stride, stem_pool)
        self.min_frames = self.features.min_frames
        width = _step_width(_FirstOutput(self.features), n_bins, self.min_frames,
                            "the down-sampling stages of this DenseNet")
        self.temporal = _SequenceLSTM(width, lstm_hidden)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(lstm_hidden, fc_units)
        self.classifier = nn.Linear(fc_units, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = as_image_batch(x, self.n_bins, self.min_frames, type(self).__name__)
        fmap, _ = self.features(x)
        return self.classifier(torch.relu(self.fc(self.dropout(self.temporal(fmap)))))


class _FirstOutput(nn.Module):
    """Wraps a module returning (tensor, extras) so that only the tensor is returned (shape probing)."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x)[0]
