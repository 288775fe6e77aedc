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


def _largest_remainder(quota: np.ndarray, units: int, rng: np.random.Generator) -> np.ndarray:
    """Integers summing to ``units``, each ``floor(quota)`` or one more (largest fractions first, seeded ties)."""
    alloc = np.floor(quota + 1e-9).astype(np.int64)
    frac = quota - alloc
    order = np.lexsort((rng.random(len(quota)), -frac))
    alloc[order[: units - int(alloc.sum())]] += 1
    return alloc


def subsample(m: pd.DataFrame, n: int, *, seed: int = 0) -> pd.DataFrame:
    """``n`` utterances of ``m``, stratified by speaker and emotion, deterministic from ``seed``.

    Speakers get their proportional share ``n * size / len(m)`` by largest remainders (so each
    speaker's count is within one utterance of proportional). Within a speaker, each emotion
    gets its proportional share rounded down, and the speaker's remaining units go to the
    emotions furthest below their corpus-wide proportional totals (speakers visited in a seeded
    order), so per-emotion counts stay close to proportional too. Rows are drawn at random
    (``seed``) within each (speaker, emotion) stratum and returned in manifest order with a fresh
    index. ``n >= len(m)`` returns ``m`` unchanged. ``attrs["subsample"]`` records ``n``, the
    original size and the seed.
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"subsample: n must be a positive number of utterances, got {n!r}")
    total = len(m)
    if n >= total:
        return m
    rng = np.random.default_rng([seed, 11])
    spk, emo = _strata(m)
    joint = pd.DataFrame({"spk": spk.to_numpy(), "emo": emo.to_numpy()})
    size = joint.groupby(["spk", "emo"]).size()                      # sorted (speaker, emotion) strata
    spk_size = size.groupby(level="spk").sum()
    spk_alloc = pd.Series(_largest_remainder(n * spk_size.to_numpy() / total, n, rng), index=spk_size.index)
    emo_target = size.groupby(level="emo").sum() * n / total
    emo_alloc = pd.Series(0.0, index=emo_target.index)
    alloc = pd.Series(0, index=size.index, dtype=np.int64)
    for s in spk_size.index[rng.permutation(len(spk_size))]:
        sizes = size.loc[s]
        quota = n * sizes.to_numpy() / total
        take = np.minimum(np.floor(quota + 1e-9).astype(np.int64), sizes.to_numpy())
        room = (take < np.ceil(quota - 1e-9)) & (take < sizes.to_numpy())
        jitter = rng.random(len(take)) * 1e-6
        for _ in range(int(spk_alloc[s] - take.sum())):
            deficit = (emo_target[sizes.index] - emo_alloc[sizes.index] - take).to_numpy() + (quota - take) + jitter
            if not room.any():  # rounding left no stratum at its ceiling: take any with rows left
                room = take < sizes.to_numpy()
            deficit[~room] = -np.inf
            j = int(np.argmax(deficit))
            take[j] += 1
            room[j] = False
        alloc.loc[s] = take
        emo_alloc[sizes.index] += take
    positions = pd.Series(np.arange(total)).groupby([joint["spk"], joint["emo"]]).indices
    rows = [positions[k][rng.permutation(len(positions[k]))[:t]] for k, t in alloc.items() if t]
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
    size = f"{len(m)} utterances" + (f" (from a stratified subsample of {sub['n']} of its {sub['of']}, seed "
                                     f"{sub['seed']})" if sub else "")
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
