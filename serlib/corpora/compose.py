"""Manifests made from manifests: stratified subsamples and combined corpora.

- :func:`subsample`: ``n`` utterances of any manifest, stratified by speaker and emotion,
  deterministic from ``seed`` (what ``corpus_size`` does to a real corpus, so ``smoke`` on a
  real corpus takes seconds).
- :func:`combine`: several corpora as one manifest (paper 1 tests on EmoDB + RAVDESS), each
  row keeping its own ``corpus`` value and speakers namespaced by corpus.
- :func:`describe`: one line on a manifest's shape (what :func:`serlib.protocols.auto` and the
  label helpers decide from), for notebooks to print.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .schema import CorpusError, validate_manifest

__all__ = ["subsample", "combine", "describe"]


def _strata(m: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    corpus = m["corpus"].astype(str) if "corpus" in m.columns else pd.Series("", index=m.index)
    spk = corpus + "/" + m["speaker"].astype(str)
    emo = m["emotion"].astype(object).where(m["emotion"].notna(), "<none>").astype(str)
    return spk, emo


def subsample(m: pd.DataFrame, n: int, *, seed: int = 0) -> pd.DataFrame:
    """``n`` utterances of ``m``, stratified by speaker and emotion, deterministic from ``seed``.

    Each (speaker, emotion) stratum gets its proportional share ``n * size / len(m)`` rounded
    down or up; the units left after rounding down go one by one to the stratum whose speaker
    and emotion are furthest below their own proportional totals (ties by a seeded draw), so
    per-speaker and per-emotion counts stay within about one utterance of proportional. Rows are
    drawn at random (``seed``) within strata and returned in manifest order with a fresh index.
    ``n >= len(m)`` returns ``m`` unchanged. ``attrs["subsample"]`` records ``n``, the original
    size and the seed.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"subsample: n must be a positive number of utterances, got {n!r}")
    total = len(m)
    if n >= total:
        return m
    spk, emo = _strata(m)
    key = spk + "\0" + emo
    sizes = key.value_counts().sort_index()
    strata = sizes.index.to_numpy()
    size = sizes.to_numpy()
    s_spk = np.array([k.split("\0")[0] for k in strata])
    s_emo = np.array([k.split("\0")[1] for k in strata])
    spk_codes, spk_idx = np.unique(s_spk, return_inverse=True)
    emo_codes, emo_idx = np.unique(s_emo, return_inverse=True)
    quota = n * size / total
    alloc = np.floor(quota).astype(np.int64)
    frac = quota - alloc
    spk_target = np.bincount(spk_idx, weights=quota, minlength=len(spk_codes))
    emo_target = np.bincount(emo_idx, weights=quota, minlength=len(emo_codes))
    spk_alloc = np.bincount(spk_idx, weights=alloc, minlength=len(spk_codes))
    emo_alloc = np.bincount(emo_idx, weights=alloc, minlength=len(emo_codes))
    rng = np.random.default_rng([seed, 11])
    jitter = rng.random(len(size)) * 1e-6
    open_ = frac > 1e-12
    for _ in range(int(n - alloc.sum())):
        score = (spk_target - spk_alloc)[spk_idx] + (emo_target - emo_alloc)[emo_idx] + frac + jitter
        score[~open_] = -np.inf
        j = int(np.argmax(score))
        alloc[j] += 1
        open_[j] = False
        spk_alloc[spk_idx[j]] += 1
        emo_alloc[emo_idx[j]] += 1
    rows = []
    positions = pd.Series(np.arange(total), index=m.index).groupby(key.to_numpy()).indices
    for k, take in zip(strata, alloc):
        if take:
            pos = positions[k]
            rows.append(pos[rng.permutation(len(pos))[:take]])
    keep = np.sort(np.concatenate(rows))
    out = m.iloc[keep].reset_index(drop=True)
    out.attrs = dict(m.attrs)
    out.attrs["subsample"] = {"n": int(n), "of": int(total), "seed": int(seed)}
    return out


def combine(manifests: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Several corpora as one manifest, e.g. EmoDB + RAVDESS as paper 1's cross-corpus test set.

    Each row keeps its ``corpus`` value; ``speaker`` becomes ``"<corpus>:<speaker>"`` so
    speakers stay distinct whatever code reads the column; ``utt_id`` is kept when unique across
    the corpora, else every ``utt_id`` is prefixed the same way. Ratings on different scales are
    rescaled linearly to 1-5 (``attrs["av_scale"]``). ``attrs["corpus"]`` is ``"a+b"``,
    ``attrs["parts"]`` the corpus names and ``attrs["root"]`` the list of roots.
    """
    parts = list(manifests)
    if len(parts) < 2:
        raise ValueError(f"combine: give at least two manifests, got {len(parts)}")
    names = []
    for p in parts:
        vals = sorted(map(str, p["corpus"].dropna().unique()))
        names.append("+".join(vals) or str(p.attrs.get("corpus")))
    if len(set(names)) < len(names):
        raise CorpusError(f"combine: the same corpus is given twice ({names}); give each corpus once")
    scales = [p.attrs.get("av_scale") for p in parts]
    given = {tuple(map(float, s)) for s in scales if s is not None}
    frames = []
    prefix_ids = pd.concat([p["utt_id"] for p in parts]).duplicated().any()
    for p, name, scale in zip(parts, names, scales):
        f = p.copy()
        f["speaker"] = name + ":" + f["speaker"].astype(str)
        if prefix_ids:
            f["utt_id"] = name + ":" + f["utt_id"].astype(str)
        if len(given) > 1 and scale is not None:
            lo, hi = map(float, scale)
            for col in ("arousal", "valence", "dominance"):
                f[col] = 1.0 + (f[col] - lo) * 4.0 / (hi - lo)
        frames.append(f)
    out = pd.concat(frames, ignore_index=True)
    out.attrs = {"corpus": "+".join(names), "parts": names, "root": [p.attrs.get("root") for p in parts],
                 "av_scale": (1.0, 5.0) if len(given) > 1 else (next(iter(given)) if given else None)}
    return validate_manifest(out)


def describe(m: pd.DataFrame) -> str:
    """One line on the manifest's shape: size, speakers, genders, sessions, categories, ratings, text."""
    corpus = "+".join(sorted(map(str, m["corpus"].dropna().unique())))
    sub = m.attrs.get("subsample")
    size = f"{len(m)} of {sub['of']} utterances (stratified subsample, seed {sub['seed']})" if sub else \
        f"{len(m)} utterances"
    spk = m.groupby("speaker")["gender"].first()
    genders = spk.value_counts().to_dict()
    g = f" ({', '.join(f'{v} {k}' for k, v in sorted(genders.items()))})" if genders else ""
    ses = m["session"].dropna().nunique()
    cats = m["emotion"].dropna().value_counts()
    rated = int(m[["arousal", "valence"]].notna().all(axis=1).sum())
    text = m["transcript"].dropna()
    bits = [
        f"{corpus}: {size}",
        f"{spk.size} speakers{g}",
        f"{ses} sessions" if ses else "no sessions",
        f"{cats.size} categories ({', '.join(cats.index)})" if cats.size else "no categories",
        f"ratings on {rated} utterances" if rated else "no ratings",
        f"{text.nunique()} distinct transcripts" if len(text) else "no transcripts",
    ]
    if m["split"].notna().any():
        bits.append("predefined splits " + "/".join(sorted(map(str, m["split"].dropna().unique()))))
    return ", ".join(bits)
