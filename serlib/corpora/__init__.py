"""Speech-emotion corpora as manifests: the embedded synthetic corpora and loaders for real ones.

A corpus is a **manifest**: a pandas DataFrame with one row per utterance and the columns of
:data:`MANIFEST_COLUMNS` (see :mod:`serlib.corpora.schema`). One entry point::

    from serlib import corpora
    df = corpora.load("synthetic", size="quick", seed=0)          # embedded, generated on first use
    df = corpora.load("iemocap", root="/data/IEMOCAP_full_release")
    df4 = corpora.to_4class(df)                                    # angry/happy/neutral/sad, exc -> happy

Registered corpora (:data:`REGISTRY`): ``synthetic``, ``synthetic_xcorpus``, ``iemocap``,
``msp_podcast``, ``msp_improv``, ``emodb``, ``ravdess``, ``crema_d``, and ``folder`` (any labelled
folder or CSV, :mod:`serlib.corpora.real.folder`). Real-corpus loaders read the layouts documented
in their modules; durations come from file headers, and audio is only decoded (and validated, via
:func:`serlib.audio.load_audio`) when read, or up front with ``validate=True``.

Label helpers: :func:`to_4class` (``report=True`` says what was dropped), :func:`binary_av`,
:func:`category_to_av`, :func:`normalize_emotion`, :func:`has_ratings`, :func:`require_ratings`
(paper 2). Manifests from manifests: :func:`subsample`, :func:`combine`, :func:`describe`. Text:
:func:`language`, :func:`lexical_overlap`, :func:`language_warning`. A notebook loads its corpus
with :func:`from_config`, which also combines (``xcorpus: emodb+ravdess``) and subsamples
(``corpus_size``).
"""

from __future__ import annotations

import os
from typing import Callable

import pandas as pd

from . import synthetic
from .compose import combine, describe, subsample
from .labels import (CATEGORY_RATINGS, RATED_CORPORA, LabelReport, binary_av, category_to_av, has_ratings,
                     normalize_emotion, require_ratings, to_4class)
from .real import crema_d, emodb, folder, iemocap, msp_improv, msp_podcast, ravdess
from .real.common import validate_audio
from .schema import EMOTIONS_4, MANIFEST_COLUMNS, CorpusError, make_manifest, validate_manifest
from .text import LANGUAGE, LexicalOverlap, language, language_warning, lexical_overlap

__all__ = [
    "REGISTRY", "load", "names", "MANIFEST_COLUMNS", "EMOTIONS_4", "CorpusError", "validate_manifest",
    "make_manifest", "validate_audio", "to_4class", "binary_av", "category_to_av", "synthetic", "from_config",
    "LabelReport", "normalize_emotion", "has_ratings", "require_ratings", "CATEGORY_RATINGS", "RATED_CORPORA",
    "subsample", "combine", "describe", "LANGUAGE", "language", "lexical_overlap", "LexicalOverlap",
    "language_warning", "size_for",
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
    "folder": folder.load,
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


EMBEDDED = ("synthetic", "synthetic_xcorpus")


def size_for(corpus_size, *, embedded: bool) -> int | str | None:
    """What ``corpus_size`` means: the embedded corpus's generation size, or a real corpus's subsample.

    For the embedded corpora the value itself (``smoke``/``quick``/``paper`` or a number). For
    real corpora the number of utterances to subsample to: a number as given, ``smoke`` and
    ``quick`` the embedded corpus's counts (``synthetic.SIZES``: 40 and 1,200) so those profiles
    stay small, ``paper`` or None: the whole corpus (None returned).
    """
    if embedded:
        return corpus_size if corpus_size is not None else "quick"
    if corpus_size is None or corpus_size == "paper":
        return None
    if isinstance(corpus_size, str):
        if corpus_size not in synthetic.SIZES:
            raise ValueError(f"corpus_size={corpus_size!r}: use a number of utterances or one of "
                             f"{sorted(synthetic.SIZES)}")
        return synthetic.SIZES[corpus_size]
    return int(corpus_size)


def _load_one(name: str, root, cfg, which: str) -> pd.DataFrame:
    if name in EMBEDDED:
        opts = {"size": size_for(cfg.get("corpus_size"), embedded=True), "seed": cfg.get("seed", 0) or 0}
        if cfg.get("n_jobs"):
            opts["n_jobs"] = cfg["n_jobs"]
        return load(name, root, **opts)
    if name not in REGISTRY:
        raise ValueError(f"{which}={name!r} is not a corpus; valid names: {', '.join(REGISTRY)} "
                         "(several combined with +, e.g. emodb+ravdess)")
    if root is None:
        raise CorpusError(f"{which}={name!r} is a real corpus: set {which}_root to its folder "
                          f"(e.g. -p {which}_root /data/{name}), or use the embedded 'synthetic' corpus")
    opts = {"speaker_regex": cfg.get("speaker_regex")} if name == "folder" else {}
    return load(name, root, **opts)


def from_config(cfg, which: str = "corpus") -> pd.DataFrame:
    """Load the corpus a notebook's settings name: ``cfg[which]`` at ``cfg[which + "_root"]``.

    ``which`` is ``"corpus"`` (training corpus) or ``"xcorpus"`` (cross-corpus test set).

    - Several corpora joined by ``+`` (``xcorpus: emodb+ravdess``) with a list of roots in the
      same order (``xcorpus_root: [DIR1, DIR2]``) give one :func:`combine` d manifest.
    - The embedded corpora take ``cfg.corpus_size`` (their generation size) and ``cfg.seed``.
    - A real training corpus (``which="corpus"``) is subsampled to :func:`size_for`
      ``(cfg.corpus_size)`` utterances, stratified by speaker and emotion, from ``cfg.seed``
      (``attrs["subsample"]`` records it); ``paper`` keeps it whole. The cross-corpus test set
      is not subsampled here (``xcorpus_max`` is its knob).
    - Corpus ``folder`` gets ``cfg.speaker_regex``.
    """
    name, root = cfg[which], cfg.get(f"{which}_root")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{which} must name a corpus, got {name!r}")
    names = [n.strip().lower() for n in name.split("+")]
    if len(names) > 1:
        roots = list(root) if isinstance(root, (list, tuple)) else [root] if root is not None else []
        real = [n for n in names if n not in EMBEDDED]
        if len(roots) == len(real) and len(real) < len(names):  # roots given for the real corpora only
            it = iter(roots)
            roots = [None if n in EMBEDDED else next(it) for n in names]
        if len(roots) != len(names):
            raise CorpusError(f"{which}={name!r} combines {len(names)} corpora: give {which}_root as a list of "
                              f"{len(names)} folders in the same order (e.g. -p {which}_root \"[DIR1, DIR2]\"), "
                              f"got {root!r}")
        m = combine([_load_one(n, r, cfg, which) for n, r in zip(names, roots)])
    else:
        if isinstance(root, (list, tuple)):
            if len(root) != 1:
                raise CorpusError(f"{which}={name!r} is one corpus but {which}_root lists {len(root)} folders")
            root = root[0]
        m = _load_one(names[0], root, cfg, which)
    if which == "corpus" and any(n not in EMBEDDED for n in names):
        n = size_for(cfg.get("corpus_size"), embedded=False)
        if n is not None:
            m = subsample(m, n, seed=cfg.get("seed", 0) or 0)
    return m
