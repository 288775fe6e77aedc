"""The manifest: one pandas DataFrame row per utterance, the same columns for every corpus.

Columns (:data:`MANIFEST_COLUMNS`):

=============  =====================================================================
``utt_id``     unique utterance id (str)
``path``       absolute path of the audio file (str)
``corpus``     corpus name as registered in :mod:`serlib.corpora` (str)
``speaker``    speaker id, unique across the corpus (str)
``gender``     ``"F"``, ``"M"`` or None
``session``    recording session / group used by leave-one-session-out (str or None)
``emotion``    lower-case category (angry, happy, neutral, sad, ...) or None
``arousal``    float on the corpus's own rating scale, NaN when not rated
``valence``    float on the corpus's own rating scale, NaN when not rated
``dominance``  float on the corpus's own rating scale, NaN when not rated
``transcript`` words spoken (str) or None
``split``      official partition (e.g. MSP-Podcast ``Train``/``Development``/``Test1``) or None
``duration``   seconds, read from the file header (float)
=============  =====================================================================

The rating scale is stored in ``df.attrs["av_scale"]`` (e.g. ``(1, 5)``) so label helpers
can binarise without guessing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MANIFEST_COLUMNS: list[str] = ["utt_id", "path", "corpus", "speaker", "gender", "session", "emotion",
                               "arousal", "valence", "dominance", "transcript", "split", "duration"]
"""The columns of every manifest, in order."""

EMOTIONS_4: list[str] = ["angry", "happy", "neutral", "sad"]
"""The 4-class set used by the papers (IEMOCAP ``exc`` merged into ``happy``)."""


_NUMERIC = ("arousal", "valence", "dominance", "duration")


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA


class CorpusError(ValueError):
    """A corpus root, layout or label file is not what the loader expects; the message says the fix."""


def make_manifest(rows: list[dict], *, corpus: str, av_scale: tuple[float, float] | None) -> pd.DataFrame:
    """Build a manifest from row dicts and validate it.

    Missing columns become None (NaN for the numeric ones); ``corpus`` defaults to the
    ``corpus`` argument; ``av_scale`` (the rating scale, None without ratings) goes to
    ``df.attrs["av_scale"]``.
    """
    df = pd.DataFrame(rows)
    for col in MANIFEST_COLUMNS:
        if col not in df.columns:
            df[col] = np.nan if col in _NUMERIC else None
    df = df[MANIFEST_COLUMNS].copy()
    df["corpus"] = df["corpus"].where(df["corpus"].notna(), corpus)
    for col in _NUMERIC:
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    for col in MANIFEST_COLUMNS:
        if col in _NUMERIC:
            continue
        # object dtype with None for missing values (pandas 3 would infer str with NaN)
        df[col] = pd.Series([None if _missing(v) else v for v in df[col]], index=df.index, dtype=object)
    df = df.reset_index(drop=True)
    df.attrs["corpus"] = corpus
    df.attrs["av_scale"] = tuple(av_scale) if av_scale is not None else None
    validate_manifest(df)
    return df


def validate_manifest(df: pd.DataFrame) -> pd.DataFrame:
    """Check that ``df`` is a usable manifest; raise :class:`CorpusError` saying what is wrong.

    Checks: a DataFrame with exactly :data:`MANIFEST_COLUMNS` (extra columns allowed after
    them), unique non-empty ``utt_id``, non-empty ``path`` and ``speaker``, lower-case
    string emotions, numeric ratings and durations (> 0 where known). Returns ``df``.
    """
    if not isinstance(df, pd.DataFrame):
        raise CorpusError(f"a manifest must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in MANIFEST_COLUMNS if c not in df.columns]
    if missing:
        raise CorpusError(f"manifest lacks columns {missing}; expected {MANIFEST_COLUMNS} "
                          "(build it with serlib.corpora.schema.make_manifest)")
    if len(df) == 0:
        raise CorpusError("manifest is empty (no utterances); check the corpus root and filters")
    ids = df["utt_id"]
    if ids.isna().any() or (ids.astype(str).str.len() == 0).any():
        raise CorpusError("manifest has empty utt_id values")
    dup = ids[ids.duplicated()].unique()
    if len(dup):
        raise CorpusError(f"manifest has {len(dup)} duplicated utt_id values, e.g. {list(dup[:3])}")
    for col in ("path", "speaker", "corpus"):
        bad = df[col].isna() | (df[col].astype(str).str.len() == 0)
        if bad.any():
            raise CorpusError(f"manifest column {col!r} is empty for {int(bad.sum())} rows, "
                              f"e.g. utt_id {df.loc[bad, 'utt_id'].iloc[0]!r}")
    emo = df["emotion"].dropna()
    bad = [e for e in emo.unique() if not isinstance(e, str) or e != e.lower() or not e]
    if bad:
        raise CorpusError(f"manifest emotions must be lower-case strings or None, got {bad[:5]}")
    for col in ("arousal", "valence", "dominance", "duration"):
        if not pd.api.types.is_numeric_dtype(df[col]):
            raise CorpusError(f"manifest column {col!r} must be numeric (float, NaN when unknown)")
    dur = df["duration"].dropna()
    if (dur <= 0).any():
        bad_id = df.loc[df["duration"] <= 0, "utt_id"].iloc[0]
        raise CorpusError(f"manifest has non-positive durations, e.g. utt_id {bad_id!r}")
    return df
