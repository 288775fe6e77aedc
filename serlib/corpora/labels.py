"""Label helpers shared by every corpus.

- :func:`normalize_emotion`: one spelling per category (``Angry``/``anger``/``ang`` -> ``angry``).
- :func:`to_4class`: the papers' 4-class set (angry, happy, neutral, sad), IEMOCAP ``excited``
  merged into ``happy``; other classes are dropped and reported (``report=True`` returns a
  :class:`LabelReport` a notebook prints).
- :func:`binary_av`: binary arousal / valence at a threshold (paper 1: rating >= 2.5 on 1-5).
- :func:`category_to_av`: binary arousal / valence from the category, for corpora without
  ratings (paper 1's cross-corpus mapping: angry, happy = A+; sad, neutral = A-;
  happy, neutral = V+; angry, sad = V-). Works on any corpus after :func:`to_4class`.
- :func:`has_ratings`, :func:`require_ratings`: paper 2 regresses continuous ratings; a corpus
  without them is refused at once, unless the user opts into :data:`CATEGORY_RATINGS`.
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .schema import EMOTIONS_4, CorpusError

log = logging.getLogger(__name__)

EMOTION_ALIASES: dict[str, str] = {
    **dict.fromkeys(["angry", "anger", "ang", "mad", "annoyed", "annoyance"], "angry"),
    **dict.fromkeys(["happy", "happiness", "hap", "joy", "joyful", "glad"], "happy"),
    **dict.fromkeys(["sad", "sadness", "unhappy"], "sad"),
    **dict.fromkeys(["neutral", "neu", "neut", "neutrality"], "neutral"),
    **dict.fromkeys(["fearful", "fear", "fea", "afraid", "scared", "fright"], "fearful"),
    **dict.fromkeys(["disgusted", "disgust", "dis", "dsg"], "disgusted"),
    **dict.fromkeys(["surprised", "surprise", "sur", "surp"], "surprised"),
    **dict.fromkeys(["calm", "cal", "calmness"], "calm"),
    **dict.fromkeys(["bored", "boredom", "bor"], "bored"),
    **dict.fromkeys(["excited", "excitement", "exc"], "excited"),
    **dict.fromkeys(["frustrated", "frustration", "fru"], "frustrated"),
    **dict.fromkeys(["contempt", "contemptuous", "con"], "contempt"),
    **dict.fromkeys(["other", "oth", "xxx"], "other"),
}
"""Spelling -> canonical category name (the names the loaders emit). Matched after lower-casing
and turning spaces and hyphens into underscores; unknown names keep that normalised form."""

KNOWN_EMOTIONS: tuple[str, ...] = tuple(dict.fromkeys(EMOTION_ALIASES.values()))
"""The canonical category names."""


def normalize_emotion(name) -> str | None:
    """The canonical category of ``name`` (``ANG``, ``Anger`` -> ``angry``); None for no label.

    Unknown names come back lower-cased, with spaces and hyphens as underscores.
    """
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return None
    key = re.sub(r"[\s\-]+", "_", str(name).strip().lower()).strip("_")
    if not key:
        return None
    return EMOTION_ALIASES.get(key, key)


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


@dataclass(frozen=True)
class LabelReport:
    """What :func:`to_4class` kept, merged and dropped; ``str(report)`` is one line to print."""

    total: int
    kept: dict[str, int]
    merged: dict[str, tuple[str, int]] = field(default_factory=dict)
    """Source category -> (4-class label, utterances), e.g. ``{"excited": ("happy", 1041)}``."""
    dropped: dict[str, int] = field(default_factory=dict)
    subsample: dict | None = None
    """``manifest.attrs["subsample"]`` when the manifest was subsampled (counts are of the subsample)."""

    @property
    def n_kept(self) -> int:
        return int(sum(self.kept.values()))

    @property
    def n_dropped(self) -> int:
        return int(sum(self.dropped.values()))

    def to_dict(self) -> dict:
        """Plain data for the results metadata."""
        return {"total": self.total, "kept": dict(self.kept), "dropped": dict(self.dropped),
                "merged": {k: list(v) for k, v in self.merged.items()}}

    def __str__(self) -> str:
        text = (f"4 classes: kept {self.n_kept} of {self.total} utterances ("
                + ", ".join(f"{k} {v}" for k, v in self.kept.items()) + ")")
        if self.merged:
            text += "; merged " + ", ".join(f"{k} -> {t} ({n})" for k, (t, n) in self.merged.items())
        if self.dropped:
            text += (f"; dropped {self.n_dropped} of other categories: "
                     + ", ".join(f"{k} {v}" for k, v in self.dropped.items()))
        else:
            text += "; nothing dropped"
        if "calm" in self.dropped:
            text += (" (calm is dropped, not merged into neutral: see serlib.corpora.to_4class; merge_calm=True "
                     "merges it)")
        if self.subsample:
            text += f" (counts of a stratified subsample of {self.subsample['of']} utterances)"
        return text + "."

    __repr__ = __str__


def to_4class(df: pd.DataFrame, *, merge_excited: bool = True, merge_calm: bool = False, warn: bool | None = None,
              report: bool = False):
    """Keep utterances of the 4 classes (angry, happy, neutral, sad), merging ``excited`` into happy.

    Categories are matched after :func:`normalize_emotion`. Dropped rows (other categories or no
    category) are counted per category and stored in ``out.attrs["dropped"]``; the whole
    :class:`LabelReport` goes to ``out.attrs["label_report"]``. With ``report=True`` the result
    is ``(manifest, report)`` (print the report; no warning), else the manifest, with a warning
    listing the drops unless ``warn=False``. Raises :class:`CorpusError` when nothing is left.

    RAVDESS *calm* is **dropped** by default, not merged into neutral: the papers' four classes
    are IEMOCAP's, which has no calm; RAVDESS defines calm as its own (low-arousal, pleasant)
    expression, acted at two intensities, while neutral is acted at normal intensity only, so
    merging would make neutral 1.5 times the other classes (288 vs 192 files) and mix two
    renditions the corpus keeps apart. ``merge_calm=True`` merges it for those who prefer the
    larger neutral class. Also dropped, whatever the corpus: fearful, disgusted, surprised
    (RAVDESS, CREMA-D), bored (EmoDB), frustrated, contempt, other.
    """
    mapping = dict(TO_4CLASS)
    if not merge_excited:
        mapping.pop("excited"), mapping.pop("exc")
    if merge_calm:
        mapping["calm"] = "neutral"
    canon = df["emotion"].map(normalize_emotion)
    emo = canon.map(lambda e: mapping.get(e) if isinstance(e, str) else None)
    keep = emo.notna()
    dropped = canon[~keep].fillna("<none>").value_counts().to_dict()
    merged_src = canon[keep & (canon != emo)]
    merged = {str(k): (str(mapping[k]), int(v)) for k, v in merged_src.value_counts().items()}
    out = df.loc[keep].copy()
    out["emotion"] = pd.Series(list(emo[keep]), index=out.index, dtype=object)
    out = out.reset_index(drop=True)
    out.attrs = dict(df.attrs)
    out.attrs["dropped"] = {str(k): int(v) for k, v in dropped.items()}
    if not len(out):
        raise CorpusError(f"to_4class: no utterance of {EMOTIONS_4} (categories found: {dropped}); "
                          "check that the corpus has categorical labels")
    counts = out["emotion"].value_counts()
    rep = LabelReport(total=len(df), kept={e: int(counts.get(e, 0)) for e in EMOTIONS_4}, merged=merged,
                      dropped=out.attrs["dropped"], subsample=df.attrs.get("subsample"))
    out.attrs["label_report"] = rep
    if warn is None:
        warn = not report
    if dropped and warn:
        warnings.warn(f"to_4class: {rep}", stacklevel=2)
    return (out, rep) if report else out


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
    four = df["emotion"].map(lambda e: TO_4CLASS.get(normalize_emotion(e)) if isinstance(e, str) else None)
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


# --------------------------------------------------------------------------- continuous ratings (paper 2)
RATING_ATTRIBUTES = ("arousal", "valence", "dominance")

RATED_CORPORA: tuple[str, ...] = ("iemocap", "msp_podcast", "msp_improv", "synthetic")
"""Registered corpora whose loaders give arousal/valence/dominance ratings (also a ``folder`` CSV
with arousal/valence/dominance columns)."""

CATEGORY_RATINGS: dict[str, tuple[float, float, float]] = {
    #             arousal valence dominance   (1-5)
    "angry":      (4.5,   1.5,    4.0),
    "happy":      (4.0,   4.5,    3.5),
    "excited":    (4.5,   4.5,    3.5),
    "neutral":    (2.0,   3.5,    3.0),
    "calm":       (1.5,   4.0,    3.0),
    "sad":        (1.5,   1.5,    2.0),
    "bored":      (1.5,   2.0,    2.0),
    "fearful":    (4.0,   1.5,    1.5),
    "disgusted":  (3.5,   1.5,    3.5),
    "surprised":  (4.5,   3.5,    2.5),
    "frustrated": (3.5,   1.5,    2.5),
    "contempt":   (3.0,   1.5,    4.0),
}
"""Opt-in category -> (arousal, valence, dominance) on a 1-5 scale, for a corpus without ratings.

**These are stated positions, not measurements.** They place each category in the quadrant the
dimensional literature gives it: Russell's circumplex (Russell, 1980, J. Pers. Soc. Psychol.
39(6)) for arousal and valence, and the PAD model's qualitative descriptions (Mehrabian &
Russell, 1974; Mehrabian, 1996, Curr. Psychol. 14(4)) for dominance, e.g. anger = unpleasant,
aroused, dominant; fear = unpleasant, aroused, submissive; boredom = unpleasant, unaroused,
submissive. The magnitudes (1.5 / 2 / 3 / 3.5 / 4 / 4.5) are ours and coarse: 3 is the scale
midpoint and each step says "more or less than". Neutral sits at arousal 2.0 and valence 3.5 so
that paper 1's binarisation at 2.5 gives its A-/V+ quadrant, as :data:`CATEGORY_AV` does for all
four classes. Every utterance of a category gets the same value, so a concordance correlation
(CCC) against them measures how well a model orders the categories along each dimension, not
agreement with human raters; a notebook must say so (``require_ratings`` returns the flag).
"""


def has_ratings(df: pd.DataFrame, attributes=("arousal", "valence")) -> bool:
    """True when at least one utterance has a rating for every one of ``attributes``."""
    cols = [a for a in attributes if a in df.columns]
    return len(cols) == len(tuple(attributes)) and bool(df[cols].notna().all(axis=1).any())


def require_ratings(df: pd.DataFrame, attributes=RATING_ATTRIBUTES, *,
                    from_categories: bool = False) -> tuple[pd.DataFrame, bool]:
    """The manifest with continuous ratings for ``attributes``, and whether they were mapped.

    Call it **before any feature extraction** (it reads only the manifest, so it answers in
    milliseconds). A rated corpus comes back as it is (utterances without a rating are dropped
    with a warning), flag False. A corpus without ratings (EmoDB, RAVDESS, CREMA-D) raises
    :class:`CorpusError` naming the corpora that have ratings and the opt-in knob, unless
    ``from_categories=True`` (knob ``ratings_from_categories``): then every utterance gets its
    category's :data:`CATEGORY_RATINGS` on a 1-5 scale, ``attrs["ratings_from"] =
    "categories"``, and the flag is True: the notebook must say that its CCC is on mapped labels.
    """
    attributes = tuple(attributes)
    bad = [a for a in attributes if a not in RATING_ATTRIBUTES]
    if bad or not attributes:
        raise ValueError(f"require_ratings: attributes must be among {RATING_ATTRIBUTES}, got {list(attributes)}")
    rated = df[list(attributes)].notna().all(axis=1)
    corpus = "+".join(sorted(map(str, df["corpus"].dropna().unique()))) or str(df.attrs.get("corpus", "?"))
    if rated.all():
        return df, False
    if rated.any():
        warnings.warn(f"require_ratings: {corpus}: dropped {int((~rated).sum())} of {len(df)} utterances without "
                      f"{'/'.join(attributes)} ratings", stacklevel=2)
        out = df.loc[rated].reset_index(drop=True)
        out.attrs = dict(df.attrs)
        return out, False
    if not from_categories:
        raise CorpusError(
            f"{corpus} has no {'/'.join(attributes)} ratings (0 of {len(df)} utterances rated), and this notebook "
            f"regresses continuous ratings. Corpora with ratings: {', '.join(RATED_CORPORA)} (or a 'folder' CSV with "
            "arousal/valence/dominance columns). To run anyway on ratings mapped from the emotion categories "
            "(stated positions, serlib.corpora.labels.CATEGORY_RATINGS; the CCC is then on mapped labels), "
            "set the knob: -p ratings_from_categories true")
    canon = df["emotion"].map(normalize_emotion)
    unknown = canon[~canon.isin(list(CATEGORY_RATINGS))].fillna("<none>").value_counts().to_dict()
    if unknown:
        raise CorpusError(f"require_ratings: {corpus}: no stated rating for categories {unknown}; known: "
                          f"{sorted(CATEGORY_RATINGS)}. Drop those utterances (or rename the categories) first.")
    out = df.copy()
    out.attrs = dict(df.attrs)
    for j, a in enumerate(RATING_ATTRIBUTES):
        out[a] = canon.map(lambda e: CATEGORY_RATINGS[e][j]).astype(float).to_numpy()
    out.attrs["av_scale"] = (1.0, 5.0)
    out.attrs["ratings_from"] = "categories"
    return out, True
