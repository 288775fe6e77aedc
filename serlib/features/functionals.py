"""openSMILE functionals (``egemaps``, ``compare``) for one signal.

We call ``opensmile.Smile.process_signal`` on audio we loaded ourselves with
:func:`serlib.audio.load_audio` (mono float32, 16 kHz), never ``process_file``: the two read
audio differently and give different numbers (NOTES.md pain point 5). One ``Smile`` object
per feature set is kept per process (creating one costs ~0.1-0.3 s).
"""

from __future__ import annotations

import numpy as np

from .kinds import FeatureKind, get_kind

_SMILES: dict[str, object] = {}


def smile(kind: str | FeatureKind):
    """The (per-process cached) ``opensmile.Smile`` for an openSMILE kind."""
    spec = get_kind(kind)
    if spec.backend != "opensmile":
        raise ValueError(f"feature kind {spec.name!r} is not an openSMILE kind")
    if spec.name not in _SMILES:
        import opensmile

        _SMILES[spec.name] = opensmile.Smile(
            feature_set=getattr(opensmile.FeatureSet, spec.params["feature_set"]),
            feature_level=getattr(opensmile.FeatureLevel, spec.params["feature_level"]),
        )
    return _SMILES[spec.name]


def feature_names(kind: str | FeatureKind) -> list[str]:
    """Column names of an openSMILE kind, in output order."""
    return list(smile(kind).feature_names)


def compute(wav: np.ndarray, kind: str | FeatureKind, sr: int = 16000) -> np.ndarray:
    """Functionals of one mono signal as a float32 vector (``len == kind.dim``)."""
    spec = get_kind(kind)
    values = smile(spec).process_signal(np.asarray(wav, dtype=np.float32), sr).to_numpy()
    if values.shape != (1, spec.dim):
        raise RuntimeError(
            f"openSMILE {spec.params['feature_set']} returned shape {values.shape}, expected (1, {spec.dim}); "
            "the installed opensmile version may define the feature set differently"
        )
    return values[0].astype(np.float32, copy=False)
