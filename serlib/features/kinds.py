"""The registry of feature kinds: what each one computes, with which parameters.

Every kind is a :class:`FeatureKind` in :data:`FEATURE_KINDS`. Its ``params`` and the
versions of the libraries that compute it form the cache identity (:func:`config_id`):
change a parameter or upgrade openSMILE/torch and the cache starts afresh instead of
silently mixing features from two definitions (NOTES.md pain point 5).

**Device.** Spectral kinds computed on a CUDA GPU are cached apart from CPU ones
(:meth:`FeatureKind.on_device` adds ``"device": "cuda"`` to their parameters, hence to their
``config_id``; CPU identities are unchanged). cuFFT and the CPU FFT agree only to float32
rounding, and a run should not silently mix features from both (training features cached by a
CPU run, test features computed on the GPU); a GPU run pays one recomputation, which is cheap there.
``tests/test_features.py::test_cuda_matches_cpu`` compares the two when a GPU is present.

Kinds
-----
``egemaps``
    openSMILE eGeMAPSv02 functionals, 88 values per utterance.
``compare``
    openSMILE ComParE_2016 functionals, 6,373 values per utterance.
``lmfb``
    80 log-mel filterbank energies per 10 ms frame: 25 ms (400-sample) symmetric Hamming
    frames every 10 ms (160 samples), no centring/padding (frames = 1 + (samples - 400) // 160,
    Kaldi's ``snip_edges``), 512-point FFT, power spectrum, 80 HTK-mel triangles 20-8000 Hz
    (``torchaudio.functional.melscale_fbanks``, unnormalised), natural log with the power
    floored at 1e-10 (below the 16-bit quantisation noise of one FFT bin, so only digital
    silence reaches it). No dither, pre-emphasis or DC removal: the same geometry as Kaldi
    ``fbank`` (TRNet) but not bit-identical to it.
``spectrogram``
    128-bin log-magnitude STFT: the same 25 ms Hamming / 10 ms frames and 512-point FFT,
    keeping the lowest 128 of its 257 bins (0-3,969 Hz in 31.25 Hz steps; paper 5 asks for a
    spectrogram "height of 128", and the spectrogram-CNN SER line it follows keeps 0-4 kHz),
    natural log of the magnitude floored at 1e-5 (= the lmfb power floor).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Mapping

VERSION = "1"
"""Version of serlib's feature code; bump it when a computation changes so old caches are not reused."""

_FRAMES = {"sample_rate": 16000, "win_length": 400, "hop_length": 160, "n_fft": 512, "window": "hamming-symmetric"}


@dataclass(frozen=True)
class FeatureKind:
    """One feature kind: its name, backend, output shape and parameters."""

    name: str
    backend: Literal["opensmile", "torch"]
    output: Literal["table", "sequence"]
    """``table``: one row per utterance (DataFrame); ``sequence``: one (frames, bins) array per utterance."""
    dim: int
    """Number of columns (table) or bins (sequence)."""
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def on_device(self, device: str | None) -> FeatureKind:
        """The kind as cached when computed on ``device``: a torch kind on CUDA gets
        ``params["device"] = "cuda"`` (its own cache); CPU and openSMILE kinds are returned as is."""
        if self.backend != "torch" or device is None or not str(device).startswith("cuda"):
            return self
        return FeatureKind(self.name, self.backend, self.output, self.dim, {**self.params, "device": "cuda"},
                           self.description)

    def config(self) -> dict[str, Any]:
        """Everything that defines the computed values: kind, parameters, library versions."""
        return {
            "kind": self.name,
            "backend": self.backend,
            "output": self.output,
            "dim": self.dim,
            "params": dict(self.params),
            "versions": library_versions(self.backend),
        }


FEATURE_KINDS: dict[str, FeatureKind] = {
    "egemaps": FeatureKind(
        "egemaps", "opensmile", "table", 88,
        {"feature_set": "eGeMAPSv02", "feature_level": "Functionals", "sample_rate": 16000,
         "call": "process_signal"},
        "openSMILE eGeMAPSv02 functionals (88-d)",
    ),
    "compare": FeatureKind(
        "compare", "opensmile", "table", 6373,
        {"feature_set": "ComParE_2016", "feature_level": "Functionals", "sample_rate": 16000,
         "call": "process_signal"},
        "openSMILE ComParE_2016 functionals (6,373-d)",
    ),
    "lmfb": FeatureKind(
        "lmfb", "torch", "sequence", 80,
        {**_FRAMES, "n_mels": 80, "f_min": 20.0, "f_max": 8000.0, "mel_scale": "htk",
         "power": 2.0, "log": "natural", "floor": 1e-10},
        "80-d log-mel filterbank, 25 ms Hamming / 10 ms",
    ),
    "spectrogram": FeatureKind(
        "spectrogram", "torch", "sequence", 128,
        {**_FRAMES, "n_bins": 128, "power": 1.0, "log": "natural", "floor": 1e-5},
        "128-bin log-magnitude STFT (0-3.97 kHz), 25 ms Hamming / 10 ms",
    ),
}
"""All feature kinds by name."""


def get_kind(kind: str | FeatureKind) -> FeatureKind:
    """Look a kind up by name; an unknown name raises ``ValueError`` listing the valid ones."""
    if isinstance(kind, FeatureKind):
        return kind
    try:
        return FEATURE_KINDS[kind]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown feature kind {kind!r}; valid kinds: {', '.join(sorted(FEATURE_KINDS))}"
        ) from None


def library_versions(backend: str) -> dict[str, str]:
    """Versions of the libraries whose output the features depend on."""
    versions = {"serlib.features": VERSION}
    if backend == "opensmile":
        import opensmile

        versions["opensmile"] = opensmile.__version__
    else:
        import torch
        import torchaudio

        versions["torch"] = torch.__version__.split("+")[0]
        versions["torchaudio"] = torchaudio.__version__.split("+")[0]
    return versions


def config_id(kind: str | FeatureKind) -> str:
    """Stable, filesystem-safe identity of a kind's config, e.g. ``egemaps-3f2a9c0d1b2e``."""
    kind = get_kind(kind)
    blob = json.dumps(kind.config(), sort_keys=True).encode()
    return f"{kind.name}-{hashlib.sha1(blob).hexdigest()[:12]}"


def frame_count(n_samples: int, kind: str | FeatureKind) -> int:
    """Frames a ``sequence`` kind yields for ``n_samples`` samples (0 if shorter than one frame)."""
    p = get_kind(kind).params
    if n_samples < p["win_length"]:
        return 0
    return 1 + (n_samples - p["win_length"]) // p["hop_length"]
