"""Label helpers shared by every corpus.

- :func:`to_4class`: the papers' 4-class set (angry, happy, neutral, sad), IEMOCAP ``excited``
  merged into ``happy``; other classes are dropped and the count reported.
- :func:`binary_av`: binary arousal / valence at a threshold (paper 1: rating >= 2.5 on 1-5).
- :func:`category_to_av`: binary arousal / valence from the category, for corpora without
  ratings (paper 1's cross-corpus mapping: angry, happy = A+; sad, neutral = A-;
  happy, neutral = V+; angry, sad = V-).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from .schema import EMOTIONS_4, CorpusError

log = logging.getLogger(__name__)

# Canonical names of the categories the loaders emit, and the 4-class merge.
TO_4CLASS: dict[str, str] = {
    "angry": "angry", "anger": "angry",
    "happy": "happy", "happiness": "happy", "excited": "happy", "exc": "happy",
    "neutral": "neutral",
    "sad": "sad", "sadness": "sad",
}
"""Category -> 4-class label (``excited`` -> ``happy``); anything else is dropped."""

CATEGORY_AV: dict[str, tuple[int, int]] = {
    "angry": (1, 0), "happy": (1, 1), "neutral": (0, 1), "sad": (0, 0),
}
"""Paper 1's category -> (binary arousal, binary valence) mapping."""


def to_4class(df: pd.DataFrame, *, merge_excited: bool = True, warn: bool = True) -> pd.DataFrame:
    """Keep utterances of the 4 classes (angry, happy, neutral, sad), merging ``excited`` into happy.

    Dropped rows (other categories or no category) are counted per category, reported with a
    warning and stored in ``out.attrs["dropped"]``. Raises :class:`CorpusError` when nothing is left.
    """
    mapping = dict(TO_4CLASS)
    if not merge_excited:
        mapping.pop("excited"), mapping.pop("exc")
    emo = df["emotion"].map(lambda e: mapping.get(e) if isinstance(e, str) else None)
    keep = emo.notna()
    dropped = df.loc[~keep, "emotion"].fillna("<none>").value_counts().to_dict()
    out = df.loc[keep].copy()
    out["emotion"] = pd.Series(list(emo[keep]), index=out.index, dtype=object)
    out = out.reset_index(drop=True)
    out.attrs = dict(df.attrs)
    out.attrs["dropped"] = {str(k): int(v) for k, v in dropped.items()}
    if not len(out):
        raise CorpusError(f"to_4class: no utterance of {EMOTIONS_4} (categories found: {dropped}); "
                          "check that the corpus has categorical labels")
    if dropped and warn:
        msg = (f"to_4class: kept {len(out)} utterances of {EMOTIONS_4}, dropped {int(sum(dropped.values()))} "
               f"of other classes: {dropped}")
        warnings.warn(msg, stacklevel=2)
    return out


def binary_av(df: pd.DataFrame, threshold: float = 2.5, scale: tuple[float, float] | None = (1, 5), *,
              source: str = "auto") -> pd.DataFrame:
    """Add ``arousal_bin`` and ``valence_bin`` columns (1 when the rating >= threshold, else 0).

    ``threshold`` is expressed on ``scale`` (default 1-5; paper 1: 2.5) and rescaled linearly to
    the corpus's own scale (``df.attrs["av_scale"]``, e.g. MSP-Podcast's 1-7) when that differs;
    the threshold used is stored in ``attrs["av_threshold"]``. With ``source="auto"`` rows
    without ratings fall back to :func:`category_to_av`; ``source="ratings"`` requires ratings,
    ``"category"`` ignores them.
    Raises :class:`CorpusError` when a row has neither a rating nor a mappable category.
    """
    if source not in ("auto", "ratings", "category"):
        raise ValueError(f"binary_av: source={source!r}; use 'auto', 'ratings' or 'category'")
    out = df.copy()
    out.attrs = dict(df.attrs)
    lo, hi = (1.0, 5.0) if scale is None else (float(scale[0]), float(scale[1]))
    corpus_scale = df.attrs.get("av_scale") or (lo, hi)
    clo, chi = float(corpus_scale[0]), float(corpus_scale[1])
    thr = clo + (threshold - lo) * (chi - clo) / (hi - lo)  # the threshold on the corpus's own scale
    out.attrs["av_threshold"] = thr
    has = out[["arousal", "valence"]].notna().all(axis=1).to_numpy().copy()  # writable under copy-on-write
    if source == "category":
        has[:] = False
    out["arousal_bin"] = np.where(has, (out["arousal"] >= thr).astype(int), -1)
    out["valence_bin"] = np.where(has, (out["valence"] >= thr).astype(int), -1)
    if (~has).any():
        if source == "ratings":
            bad = out.loc[~has, "utt_id"].head(3).tolist()
            raise CorpusError(f"binary_av: {int((~has).sum())} utterances have no arousal/valence rating "
                              f"(e.g. {bad}); use source='auto' to map their categories instead")
        cat = category_to_av(out.loc[~has])
        out.loc[~has, "arousal_bin"] = cat["arousal_bin"].values
        out.loc[~has, "valence_bin"] = cat["valence_bin"].values
    out["arousal_bin"] = out["arousal_bin"].astype(int)
    out["valence_bin"] = out["valence_bin"].astype(int)
    return out


def category_to_av(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``arousal_bin`` / ``valence_bin`` from the category (paper 1's cross-corpus mapping).

    angry, happy -> arousal 1; sad, neutral -> arousal 0; happy, neutral -> valence 1;
    angry, sad -> valence 0 (``excited`` counts as happy). Raises :class:`CorpusError`
    naming the categories that have no mapping; filter with :func:`to_4class` first.
    """
    four = df["emotion"].map(lambda e: TO_4CLASS.get(e) if isinstance(e, str) else None)
    bad = df.loc[four.isna(), "emotion"].fillna("<none>").value_counts().to_dict()
    if bad:
        raise CorpusError(f"category_to_av: no arousal/valence rating and no mappable category for "
                          f"{int(sum(bad.values()))} utterances (categories {bad}); only "
                          f"{sorted(CATEGORY_AV)} map. Filter with serlib.corpora.to_4class first.")
    out = df.copy()
    out.attrs = dict(df.attrs)
    out["arousal_bin"] = [CATEGORY_AV[e][0] for e in four]
    out["valence_bin"] = [CATEGORY_AV[e][1] for e in four]
    return out
