"""Speech-emotion corpora as manifests: the embedded synthetic corpora and loaders for real ones.

A corpus is a **manifest**: a pandas DataFrame with one row per utterance and the columns of
:data:`MANIFEST_COLUMNS` (see :mod:`serlib.corpora.schema`). One entry point::

    from serlib import corpora
    df = corpora.load("synthetic", size="quick", seed=0)          # embedded, generated on first use
    df = corpora.load("iemocap", root="/data/IEMOCAP_full_release")
    df4 = corpora.to_4class(df)                                    # angry/happy/neutral/sad, exc -> happy

Registered corpora (:data:`REGISTRY`): ``synthetic``, ``synthetic_xcorpus``, ``iemocap``,
``msp_podcast``, ``msp_improv``, ``emodb``, ``ravdess``, ``crema_d``. Real-corpus loaders read
the layouts documented in their modules; durations come from file headers, and audio is only
decoded (and validated, via :func:`serlib.audio.load_audio`) when read, or up front with
``validate=True``.

Label helpers: :func:`to_4class`, :func:`binary_av`, :func:`category_to_av`.
"""

from __future__ import annotations

import os
from typing import Callable

import pandas as pd

from . import synthetic
from .labels import binary_av, category_to_av, to_4class
from .real import crema_d, emodb, iemocap, msp_improv, msp_podcast, ravdess
from .real.common import validate_audio
from .schema import EMOTIONS_4, MANIFEST_COLUMNS, CorpusError, make_manifest, validate_manifest

__all__ = [
    "REGISTRY", "load", "names", "MANIFEST_COLUMNS", "EMOTIONS_4", "CorpusError", "validate_manifest",
    "make_manifest", "validate_audio", "to_4class", "binary_av", "category_to_av", "synthetic", "from_config",
]

REGISTRY: dict[str, Callable[..., pd.DataFrame]] = {
    "synthetic": synthetic.load_synthetic,
    "synthetic_xcorpus": synthetic.load_xcorpus,
    "iemocap": iemocap.load,
    "msp_podcast": msp_podcast.load,
    "msp_improv": msp_improv.load,
    "emodb": emodb.load,
    "ravdess": ravdess.load,
    "crema_d": crema_d.load,
}
"""Corpus name -> loader ``f(root=None, **opts) -> manifest``."""


def names() -> list[str]:
    """Names accepted by :func:`load`."""
    return list(REGISTRY)


def load(name: str, root: str | os.PathLike | None = None, **opts) -> pd.DataFrame:
    """Load corpus ``name`` as a manifest (see :data:`REGISTRY` for names, each loader for ``opts``).

    For ``synthetic`` / ``synthetic_xcorpus``, ``root`` overrides the cache folder and
    ``size`` ("smoke" | "quick" | "paper" | int) and ``seed`` choose the corpus. For real
    corpora ``root`` is the corpus folder (required), and ``validate=True`` decodes every file
    up front; ``missing="error"`` (default) or ``"skip"`` decides what a label naming a
    missing audio file does.
    """
    if not isinstance(name, str) or name.lower() not in REGISTRY:
        raise ValueError(f"unknown corpus {name!r}; valid names: {', '.join(REGISTRY)}")
    df = REGISTRY[name.lower()](root, **opts)
    return validate_manifest(df)


def from_config(cfg, which: str = "corpus") -> pd.DataFrame:
    """Load the corpus a notebook's settings name: ``cfg[which]`` at ``cfg[which + "_root"]``.

    ``which`` is ``"corpus"`` (training corpus) or ``"xcorpus"`` (cross-corpus test set). The
    embedded corpora take ``cfg.corpus_size`` and ``cfg.seed``; real corpora need the root folder.
    """
    name, root = cfg[which], cfg.get(f"{which}_root")
    if name in ("synthetic", "synthetic_xcorpus"):
        opts = {"size": cfg.get("corpus_size", "quick"), "seed": cfg.get("seed", 0)}
        if cfg.get("n_jobs"):
            opts["n_jobs"] = cfg["n_jobs"]
        return load(name, root, **opts)
    if root is None:
        raise CorpusError(f"{which}={name!r} is a real corpus: set {which}_root to its folder "
                          f"(e.g. -p {which}_root /data/{name}), or use the embedded 'synthetic' corpus")
    return load(name, root)
