"""Acoustic features with a resumable on-disk cache: one entry point, :func:`extract`.

>>> from serlib import corpora, features, noise
>>> m = corpora.load("synthetic", size="quick")
>>> X = features.extract(m, "egemaps")                                  # DataFrame, 88 columns
>>> lm = features.extract(m, "lmfb", noise.Condition("babble", snr_db=5))  # list of (frames, 80)
>>> x = features.stack(lm, max_frames=500)                              # (N, 500, 80) float32

Kinds (:data:`FEATURE_KINDS`, details in :mod:`serlib.features.kinds`): ``egemaps``
(eGeMAPSv02 functionals, 88-d), ``compare`` (ComParE_2016 functionals, 6,373-d), ``lmfb``
(80 log-mel, 25/10 ms), ``spectrogram`` (128-bin log-magnitude STFT, 25 ms Hamming / 10 ms).
The cache layout and keys are described in :mod:`serlib.features.cache`; sequence helpers and
the :class:`Standardizer` in :mod:`serlib.features.sequences`.
"""

from .cache import FeatureCache, condition_key, entry_key
from .kinds import FEATURE_KINDS, VERSION, FeatureKind, config_id, frame_count, get_kind
from .pipeline import FeatureError, FeatureList, extract, load_conditioned
from .sequences import Standardizer, segment, segment_stack, stack

__all__ = [
    "FEATURE_KINDS", "VERSION", "FeatureKind", "FeatureError", "FeatureList", "FeatureCache",
    "extract", "get_kind", "config_id", "frame_count", "condition_key", "entry_key", "load_conditioned",
    "stack", "segment", "segment_stack", "Standardizer",
]
