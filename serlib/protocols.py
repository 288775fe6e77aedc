"""Speaker-independent evaluation protocols over a corpus manifest.

A :class:`Split` holds **positional** row indices (``m.iloc[idx]``, not index labels) for
its parts, so it stays valid whatever the manifest's index is. It remembers how many rows
and which ``utt_id`` s it was made from and refuses a different manifest.

Protocols (each split is checked with :func:`assert_speaker_disjoint` before it is returned):

- :func:`leave_one_speaker_out`: one fold per speaker; val = the other speaker(s) of the same
  session (papers 3 and 5), train = the rest.
- :func:`leave_one_session_out`: one fold per session; val = whole speakers drawn from the
  remaining sessions (about ``val_frac`` of their utterances), train = the rest.
- :func:`speaker_holdout`: speaker-independent 80/20 with 10 % of train for validation (paper 1).
- :func:`cross_corpus`: train/val on one corpus, selection/test on another (paper 5).
- :func:`predefined`: the manifest's own ``split`` column (e.g. MSP-Podcast).
- :func:`leave_k_speakers_out`: speaker folds for corpora with speakers but no sessions (EmoDB,
  RAVDESS, CREMA-D): k test speakers per fold (at least 2 by default), gender-balanced, validation
  speakers drawn from the training speakers.

:func:`make` builds any of them by name (:data:`PROTOCOLS` is the registry) and always returns a
list. :func:`auto` is what a notebook calls: from the manifest's shape it picks the paper's
protocol where the corpus allows it and the nearest speaker-independent one where it does not,
and returns a :class:`Protocol` whose ``reason`` says which and why::

    proto = protocols.auto(m, "loso_speaker", protocol=cfg.protocol, limit_folds=cfg.folds, seed=cfg.seed)
    print(proto.reason)
    for split in proto.splits: ...

Speakers are compared as ``(corpus, speaker)`` pairs, so two corpora that both call a
speaker ``"spk01"`` do not collide. Rows without a speaker cannot be placed
speaker-independently and are refused (except by :func:`predefined`, which ignores them in
the leakage check and warns).
"""

from __future__ import annotations

import hashlib
import inspect
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "Split",
    "SpeakerLeakError",
    "assert_speaker_disjoint",
    "leave_one_speaker_out",
    "leave_one_session_out",
    "speaker_holdout",
    "cross_corpus",
    "predefined",
    "leave_k_speakers_out",
    "make",
    "auto",
    "fitting",
    "canonical",
    "Protocol",
    "ProtocolError",
    "PROTOCOLS",
    "ALIASES",
]

PARTS = ("train", "val", "select", "test")


class SpeakerLeakError(AssertionError):
    """A speaker occurs in two parts of a split (the result would not be speaker-independent)."""


class ProtocolError(ValueError):
    """No protocol of the kind asked for fits this corpus; the message names the ones that do."""


# --------------------------------------------------------------------------- the Split
def _fingerprint(m: pd.DataFrame) -> str:
    """A short hash of the manifest's utt_id order (positional indices depend on it)."""
    if "utt_id" not in m.columns:
        raise ValueError(f"manifest has no 'utt_id' column (columns: {list(m.columns)})")
    h = hashlib.sha1("\n".join(map(str, m["utt_id"].tolist())).encode()).hexdigest()
    return h[:16]


def _idx(a: Iterable[int]) -> np.ndarray:
    return np.asarray(sorted(int(i) for i in a), dtype=np.int64)


@dataclass(frozen=True, eq=False)
class Split:
    """One train/val/test partition, as positional row indices into the manifest(s).

    Within a corpus every part indexes the same manifest ``m``. For a cross-corpus split
    (``cross_corpus=True``) ``train`` and ``val`` index the *source* manifest and
    ``select`` and ``test`` the *target* manifest; pass both to :meth:`frames`.
    ``select`` is empty for within-corpus splits.
    """

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    select: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    cross_corpus: bool = False
    source_id: str = ""
    """Fingerprint of the manifest ``train``/``val`` index (set by the protocols)."""
    target_id: str = ""
    """Fingerprint of the manifest ``test``/``select`` index (same as source within a corpus)."""

    def _manifest_for(self, part: str, m: pd.DataFrame, target: pd.DataFrame | None) -> pd.DataFrame:
        on_target = self.cross_corpus and part in ("select", "test")
        if on_target:
            if target is None:
                raise ValueError(
                    f"split {self.name!r} is cross-corpus: its {part!r} part indexes the target "
                    "manifest; call frames(source_manifest, target_manifest)"
                )
            frame, expected, which = target, self.target_id, "target "
        else:
            frame, expected, which = m, self.source_id, "source " if self.cross_corpus else ""
        if expected and _fingerprint(frame) != expected:
            raise ValueError(
                f"split {self.name!r} was made from a different {which}manifest (other rows or order: "
                f"{len(frame)} rows given); positional indices would pick the wrong utterances. "
                "Rebuild the split from this manifest."
            )
        return frame

    def frame(self, part: str, m: pd.DataFrame, target: pd.DataFrame | None = None) -> pd.DataFrame:
        """The sub-manifest of ``part`` (one of train/val/select/test), in manifest order."""
        if part not in PARTS:
            raise ValueError(f"part must be one of {PARTS}, got {part!r}")
        frame = self._manifest_for(part, m, target)
        return frame.iloc[getattr(self, part)]

    def frames(self, m: pd.DataFrame, target: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
        """All parts as sub-manifests: ``{"train", "val", "test"}`` (+ ``"select"`` if cross-corpus)."""
        parts = PARTS if self.cross_corpus else ("train", "val", "test")
        return {p: self.frame(p, m, target) for p in parts}

    def sizes(self) -> dict[str, int]:
        """Number of utterances per part."""
        return {p: int(len(getattr(self, p))) for p in PARTS}

    def summary(self, m: pd.DataFrame, target: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per part: utterances, speakers and the speaker list (for notebooks)."""
        rows = []
        for part, frame in self.frames(m, target).items():
            spk = sorted(map(str, frame["speaker"].dropna().unique()))
            rows.append({"part": part, "utterances": len(frame), "speakers": len(spk), "speaker_ids": ", ".join(spk)})
        return pd.DataFrame(rows).set_index("part")


# --------------------------------------------------------------------------- checks
def _speaker_keys(m: pd.DataFrame) -> pd.Series:
    """``corpus/speaker`` per row (NaN where the speaker is unknown)."""
    if "speaker" not in m.columns:
        raise ValueError(f"manifest has no 'speaker' column (columns: {list(m.columns)})")
    spk = m["speaker"]
    unknown = spk.isna() | spk.astype(str).str.strip().str.lower().isin(["", "unknown", "none", "nan"])
    corpus = m["corpus"].astype(str) if "corpus" in m.columns else pd.Series("", index=m.index)
    keys = corpus + "/" + spk.astype(str)
    return keys.where(~unknown.to_numpy(), other=np.nan)


def _require_speakers(m: pd.DataFrame, protocol: str) -> pd.Series:
    keys = _speaker_keys(m)
    if keys.isna().any():
        bad = m.loc[keys.isna().to_numpy(), "utt_id"].tolist() if "utt_id" in m.columns else []
        raise ValueError(
            f"{protocol}: {int(keys.isna().sum())} row(s) have no speaker (e.g. {bad[:3]}); a "
            "speaker-independent split needs one per row: fill the 'speaker' column or drop them"
        )
    return keys


def assert_speaker_disjoint(
    m: pd.DataFrame, split: Split, target: pd.DataFrame | None = None, *, allow_unknown: bool = False
) -> None:
    """Raise :class:`SpeakerLeakError` naming every speaker found in two parts of ``split``.

    Also checks that indices are in range and that no row sits in two parts. Rows without a
    speaker raise unless ``allow_unknown`` (then they are ignored, as MSP-Podcast's
    "Unknown" speakers must be).
    """
    _disjoint(m, split, target, allow_unknown, {})


def _disjoint(m: pd.DataFrame, split: Split, target: pd.DataFrame | None, allow_unknown: bool,
              all_keys: dict[int, np.ndarray]) -> None:
    """:func:`assert_speaker_disjoint`, reusing speaker keys already computed (``id(frame)`` -> keys)."""
    if split.cross_corpus and target is None:
        raise ValueError(f"split {split.name!r} is cross-corpus: pass target= the target manifest")
    speakers: dict[str, set] = {}
    by_frame: dict[int, list[tuple[str, np.ndarray]]] = {}
    for part in PARTS:
        idx = np.asarray(getattr(split, part), dtype=np.int64)
        frame = target if (split.cross_corpus and part in ("select", "test")) else m
        n = len(frame)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise IndexError(f"split {split.name!r}: {part} indices out of range for a manifest of {n} rows")
        if np.unique(idx).size != idx.size:
            raise ValueError(f"split {split.name!r}: {part} lists some rows twice")
        by_frame.setdefault(id(frame), []).append((part, idx))
        if id(frame) not in all_keys:  # speaker keys once per manifest, then plain indexing
            all_keys[id(frame)] = _speaker_keys(frame).to_numpy(dtype=object)
        keys = all_keys[id(frame)][idx]
        unknown = pd.isna(keys)
        if unknown.any() and not allow_unknown:
            raise ValueError(
                f"split {split.name!r}: {int(unknown.sum())} {part} row(s) have no speaker, so "
                "speaker independence cannot be checked; fill the 'speaker' column"
            )
        speakers[part] = set(keys[~unknown])
    for parts in by_frame.values():
        for i, (a, ia) in enumerate(parts):
            for b, ib in parts[i + 1 :]:
                shared = np.intersect1d(ia, ib)
                if shared.size:
                    raise ValueError(f"split {split.name!r}: rows {shared[:5].tolist()} are in both {a} and {b}")
    leaks = []
    for i, a in enumerate(PARTS):
        for b in PARTS[i + 1 :]:
            both = speakers[a] & speakers[b]
            if both:
                leaks.append(f"{a}&{b}: {sorted(both)}")
    if leaks:
        raise SpeakerLeakError(f"split {split.name!r} is not speaker-independent; shared speakers " + "; ".join(leaks))


def _finish(split: Split, m: pd.DataFrame, target: pd.DataFrame | None = None, *, allow_unknown: bool = False,
            keys: pd.Series | None = None) -> Split:
    """Assert speaker independence (``keys``: ``_speaker_keys(m)`` when the caller has it) and non-empty parts."""
    _disjoint(m, split, target, allow_unknown, {} if keys is None else {id(m): keys.to_numpy(dtype=object)})
    for part in ("train", "test"):
        if len(getattr(split, part)) == 0:
            raise ValueError(f"split {split.name!r}: the {part} part is empty")
    return split


def _limit(splits: list[Split], limit_folds: int | None) -> list[Split]:
    if limit_folds is None:
        return splits
    if limit_folds < 1:
        raise ValueError(f"limit_folds must be >= 1 or None, got {limit_folds}")
    return splits[:limit_folds]


# --------------------------------------------------------------------------- speaker sampling
def _pick_speakers(
    counts: pd.Series,
    frac: float,
    rng: np.random.Generator,
    what: str = "a held-out part",
    rel_tol: float = 0.1,
    n_tries: int = 256,
) -> list:
    """Choose whole speakers whose utterances sum to about ``frac`` of the total.

    ``counts`` maps speaker -> number of utterances. Each try takes a seeded random ordering
    of the speakers and its prefix closest to the target count; the first try within
    ``rel_tol`` of the target wins (so different seeds give different speakers), else the
    closest of all ``n_tries``. Deterministic given ``rng``. At least one speaker is chosen
    and at least one is left.
    """
    if len(counts) < 2:
        raise ValueError(
            f"cannot draw {what} by speaker: need at least 2 speakers (one to hold out, one to keep), "
            f"got {len(counts)}: {[str(k).split('/', 1)[-1] for k in counts.index]}"
        )
    target = frac * counts.sum()
    values = counts.to_numpy()
    best, best_err = None, np.inf
    for _ in range(n_tries):
        order = rng.permutation(len(values))
        cum = np.cumsum(values[order])[:-1]  # keep >= 1 speaker out
        k = int(np.argmin(np.abs(cum - target)))  # prefix of k + 1 speakers
        err = abs(cum[k] - target)
        if err < best_err:
            best, best_err = order[: k + 1], err
        if best_err <= rel_tol * target:
            break
    return sorted(counts.index[best].tolist())


def _rows_of(keys: pd.Series, chosen: Iterable) -> np.ndarray:
    return np.flatnonzero(keys.isin(list(chosen)).to_numpy())


def _check_fraction(name: str, part: str, got: float, want: float) -> None:
    if want > 0 and abs(got - want) > max(0.05, 0.5 * want):
        warnings.warn(
            f"{name}: the {part} part holds {got:.0%} of the utterances instead of {want:.0%}, because "
            "whole speakers are held out and this corpus has few (or very unequal) speakers",
            UserWarning,
            stacklevel=3,
        )


# --------------------------------------------------------------------------- protocols
def leave_one_speaker_out(
    m: pd.DataFrame,
    val: str | None = "session_partner",
    *,
    limit_folds: int | None = None,
) -> list[Split]:
    """One fold per speaker (sorted): test = that speaker.

    ``val="session_partner"`` (papers 3 and 5): validation = the other speaker(s) of the
    test speaker's session(s); a session with a single speaker is an error. ``val=None``: no
    validation part (train = everyone else). ``limit_folds=k`` keeps the first ``k`` folds.
    """
    keys = _require_speakers(m, "leave_one_speaker_out")
    fid = _fingerprint(m)
    if val not in ("session_partner", None):
        raise ValueError(f"val must be 'session_partner' or None, got {val!r}")
    if val == "session_partner":
        if "session" not in m.columns or m["session"].isna().all():
            raise ValueError(
                "leave_one_speaker_out(val='session_partner') needs a 'session' column; this manifest "
                "has none: use val=None, or speaker_holdout / leave_one_session_out"
            )
        if m["session"].isna().any():
            raise ValueError(f"{int(m['session'].isna().sum())} row(s) have no session; fill the 'session' column")
        sessions = m["session"].astype(str) + "|" + m.get("corpus", pd.Series("", index=m.index)).astype(str)
        spk_sessions = pd.DataFrame({"spk": keys, "ses": sessions}).drop_duplicates()
    splits = []
    for spk in sorted(keys.unique()):
        test = np.flatnonzero((keys == spk).to_numpy())
        val_idx = np.zeros(0, dtype=np.int64)
        if val == "session_partner":
            own = set(spk_sessions.loc[spk_sessions["spk"] == spk, "ses"])
            partners = set(spk_sessions.loc[spk_sessions["ses"].isin(own), "spk"]) - {spk}
            if not partners:
                raise ValueError(
                    f"leave_one_speaker_out: speaker {spk!r} has no partner speaker in session(s) "
                    f"{sorted(s.split('|')[0] for s in own)}, so there is no validation speaker; use val=None"
                )
            val_idx = _rows_of(keys, partners)
        train = np.setdiff1d(np.arange(len(m)), np.concatenate([test, val_idx]))
        name = f"speaker={spk.split('/', 1)[1]}"
        splits.append(_finish(Split(name, _idx(train), _idx(val_idx), _idx(test), source_id=fid, target_id=fid), m,
                              keys=keys))
    return _limit(splits, limit_folds)


def leave_one_session_out(
    m: pd.DataFrame,
    val: str | None = "speakers",
    *,
    val_frac: float = 0.1,
    seed: int = 0,
    limit_folds: int | None = None,
) -> list[Split]:
    """One fold per session (sorted): test = that session.

    Validation comes from the remaining sessions and is speaker-disjoint from train:

    - ``val="speakers"`` (default): whole speakers whose utterances make up about
      ``val_frac`` of the remaining utterances (at least one speaker), drawn with ``seed``
      and the fold number, so every fold gets its own validation speakers (IEMOCAP, 10 %:
      one of the eight remaining speakers).
    - ``val="next_session"``: the whole next session (cyclic order) is validation.
    - ``val=None``: no validation part.
    """
    keys = _require_speakers(m, "leave_one_session_out")
    if "session" not in m.columns or m["session"].isna().any():
        raise ValueError("leave_one_session_out needs a 'session' value on every row; fill the 'session' column")
    if val not in ("speakers", "next_session", None):
        raise ValueError(f"val must be 'speakers', 'next_session' or None, got {val!r}")
    if not 0.0 < val_frac < 1.0:
        raise ValueError(f"val_frac must be in (0, 1), got {val_frac}")
    fid = _fingerprint(m)
    session = m["session"].astype(str).to_numpy()
    order = sorted(set(session))
    if len(order) < 2 or (val == "next_session" and len(order) < 3):
        raise ValueError(f"leave_one_session_out needs more sessions than {order} for val={val!r}")
    splits = []
    for k, ses in enumerate(order):
        test = np.flatnonzero(session == ses)
        rest = np.flatnonzero(session != ses)
        shared = set(keys.iloc[test]) & set(keys.iloc[rest])
        if shared:
            raise SpeakerLeakError(
                f"leave_one_session_out: speaker(s) {sorted(shared)} occur in session {ses!r} and in other "
                "sessions; sessions do not separate speakers in this corpus: use leave_one_speaker_out"
            )
        val_idx = np.zeros(0, dtype=np.int64)
        if val == "next_session":
            val_idx = np.flatnonzero(session == order[(k + 1) % len(order)])
        elif val == "speakers":
            counts = keys.iloc[rest].value_counts().sort_index()
            rng = np.random.default_rng([seed, k])
            chosen = _pick_speakers(counts, val_frac, rng, f"validation speakers for session {ses!r}")
            val_idx = np.intersect1d(_rows_of(keys, chosen), rest)
        train = np.setdiff1d(rest, val_idx)
        split = Split(f"session={ses}", _idx(train), _idx(val_idx), _idx(test), source_id=fid, target_id=fid)
        splits.append(_finish(split, m, keys=keys))
    return _limit(splits, limit_folds)


def speaker_holdout(
    m: pd.DataFrame,
    test_size: float = 0.2,
    val_size: float = 0.1,
    seed: int = 0,
) -> Split:
    """Speaker-independent holdout (paper 1: 80/20, then 10 % of train for validation).

    Whole speakers are drawn (seeded) so that test holds about ``test_size`` of all
    utterances and val about ``val_size`` of the non-test utterances; train, val and test
    are speaker-disjoint. Fractions are met as closely as whole speakers allow; with few
    speakers they can be far off (IEMOCAP's 10 speakers: test = 2 speakers ~ 20 %, val = 1
    of the 8 others ~ 12 %), which is warned about. Fewer than 3 speakers is an error (each
    part needs one). ``val_size=0`` gives no validation part.
    """
    keys = _require_speakers(m, "speaker_holdout")
    if not 0.0 < test_size < 1.0 or not 0.0 <= val_size < 1.0:
        raise ValueError(f"need 0 < test_size < 1 and 0 <= val_size < 1, got {test_size}, {val_size}")
    counts = keys.value_counts().sort_index()
    need = 3 if val_size > 0 else 2
    if len(counts) < need:
        raise ValueError(
            f"speaker_holdout needs at least {need} speakers (train/val/test each need one); this manifest "
            f"has {len(counts)}: {[k.split('/', 1)[1] for k in counts.index]}. Use predefined() or a larger corpus"
        )
    rng = np.random.default_rng(seed)
    test_spk = _pick_speakers(counts, test_size, rng, "the test speakers")
    if val_size > 0 and len(test_spk) > len(counts) - 2:  # leave room for val and train
        test_spk = test_spk[: len(counts) - 2]
    rest = counts.drop(test_spk)
    val_spk = _pick_speakers(rest, val_size, rng, "the validation speakers") if val_size > 0 else []
    test, val = _rows_of(keys, test_spk), _rows_of(keys, val_spk)
    train = np.setdiff1d(np.arange(len(m)), np.concatenate([test, val]))
    _check_fraction("speaker_holdout", "test", len(test) / len(m), test_size)
    _check_fraction("speaker_holdout", "val", len(val) / max(1, len(m) - len(test)), val_size)
    fid = _fingerprint(m)
    split = Split(f"holdout-seed{seed}", _idx(train), _idx(val), _idx(test), source_id=fid, target_id=fid)
    return _finish(split, m, keys=keys)


def cross_corpus(
    train_m: pd.DataFrame,
    test_m: pd.DataFrame,
    select_frac: float = 0.3,
    val_size: float = 0.1,
    seed: int = 0,
) -> Split:
    """Train on one corpus, test on another (paper 5: IEMOCAP -> MSP-IMPROV).

    Index semantics: ``train`` and ``val`` are positional rows of ``train_m`` (``val`` = whole
    speakers, about ``val_size`` of it; ``val_size=0``: none); ``select`` and ``test`` are
    positional rows of ``test_m``, split by whole speakers into about ``select_frac`` for
    parameter/model selection and the rest for testing (the paper draws 30 % / 70 %; we draw
    by speaker so selection and test share no speaker). Use
    ``split.frames(train_m, test_m)`` to get the four sub-manifests.
    """
    src = _require_speakers(train_m, "cross_corpus (train corpus)")
    tgt = _require_speakers(test_m, "cross_corpus (test corpus)")
    if not 0.0 < select_frac < 1.0 or not 0.0 <= val_size < 1.0:
        raise ValueError(f"need 0 < select_frac < 1 and 0 <= val_size < 1, got {select_frac}, {val_size}")
    val_idx = np.zeros(0, dtype=np.int64)
    if val_size > 0:  # independent streams: the target split does not depend on val_size
        what = "validation speakers of the train corpus"
        chosen = _pick_speakers(src.value_counts().sort_index(), val_size, np.random.default_rng([seed, 0]), what)
        val_idx = _rows_of(src, chosen)
    train = np.setdiff1d(np.arange(len(train_m)), val_idx)
    what = "selection speakers of the test corpus"
    chosen = _pick_speakers(tgt.value_counts().sort_index(), select_frac, np.random.default_rng([seed, 1]), what)
    select = _rows_of(tgt, chosen)
    test = np.setdiff1d(np.arange(len(test_m)), select)
    _check_fraction("cross_corpus", "select", len(select) / len(test_m), select_frac)
    names = [str(f["corpus"].iloc[0]) if "corpus" in f.columns and len(f) else "?" for f in (train_m, test_m)]
    split = Split(
        f"cross:{names[0]}->{names[1]}-seed{seed}",
        _idx(train),
        _idx(val_idx),
        _idx(test),
        select=_idx(select),
        cross_corpus=True,
        source_id=_fingerprint(train_m),
        target_id=_fingerprint(test_m),
    )
    return _finish(split, train_m, test_m)


_DEFAULT_NAMES = {
    "train": ("train", "training"),
    "val": ("val", "valid", "validation", "dev", "development"),
    "test": ("test", "test1", "testing"),
}


def predefined(
    m: pd.DataFrame,
    train: str | Sequence[str] | None = None,
    val: str | Sequence[str] | None = None,
    test: str | Sequence[str] | None = None,
) -> Split:
    """The split given by the manifest's ``split`` column (case-insensitive).

    Defaults: train = ``train``; val = ``val``/``valid``/``validation``/``dev``/``development``;
    test = ``test``/``test1``. Pass names to choose others (e.g. ``test="test2"``). Rows in
    none of the three are left out. Leakage is checked on rows with a known speaker only
    (MSP-Podcast has "Unknown" speakers); their count is warned about.
    """
    if "split" not in m.columns or m["split"].isna().all():
        raise ValueError(
            "predefined() needs a 'split' column with values such as train/dev/test; this manifest has none: "
            "use speaker_holdout / leave_one_speaker_out"
        )
    col = m["split"].astype(str).str.strip().str.lower().to_numpy()
    parts = {}
    for part, given in (("train", train), ("val", val), ("test", test)):
        names = _DEFAULT_NAMES[part] if given is None else ([given] if isinstance(given, str) else list(given))
        parts[part] = np.flatnonzero(np.isin(col, [n.lower() for n in names]))
    for part in ("train", "test"):
        if parts[part].size == 0:
            raise ValueError(
                f"predefined(): no rows for the {part} part; the 'split' column holds {sorted(set(col))}; "
                f"pass {part}= one of them"
            )
    unknown = int(_speaker_keys(m).isna().sum())
    if unknown:
        warnings.warn(
            f"predefined(): {unknown} row(s) have no known speaker; speaker independence is checked on the others only",
            UserWarning,
            stacklevel=2,
        )
    fid = _fingerprint(m)
    train_i, val_i, test_i = (_idx(parts[p]) for p in ("train", "val", "test"))
    split = Split("predefined", train_i, val_i, test_i, source_id=fid, target_id=fid)
    return _finish(split, m, allow_unknown=True)


MAX_FOLDS = 6
"""Default upper bound on the folds of :func:`leave_k_speakers_out` (6 for RAVDESS's 24 actors)."""


def _speaker_genders(m: pd.DataFrame, keys: pd.Series) -> dict[str, str | None]:
    """Each speaker's gender (``F``/``M``; None when unknown or inconsistent)."""
    if "gender" not in m.columns:
        return {k: None for k in keys.unique()}
    g = pd.DataFrame({"spk": keys.to_numpy(), "g": m["gender"].to_numpy()}).dropna()
    per = g.groupby("spk")["g"].agg(lambda s: s.iloc[0] if s.nunique() == 1 else None)
    return {k: per.get(k) for k in keys.unique()}


def leave_k_speakers_out(
    m: pd.DataFrame,
    n_folds: int | None = None,
    *,
    val: str | None = "speakers",
    val_frac: float = 0.1,
    seed: int = 0,
    limit_folds: int | None = None,
) -> list[Split]:
    """Speaker folds for a corpus with speakers but no sessions (EmoDB, RAVDESS, CREMA-D).

    Every speaker is a test speaker in exactly one fold. ``n_folds=None`` takes
    ``min(MAX_FOLDS, n_speakers // 2)`` folds, so each fold tests at least 2 speakers (EmoDB's
    10 speakers: 5 folds of 2; RAVDESS's 24 actors: 6 folds of 4; CREMA-D's 91: 6 folds of
    15-16). Speakers are dealt to folds gender by gender (shuffled with ``seed``), so folds have
    equal sizes (+-1 speaker) and, where genders are known, as balanced a gender mix as the
    corpus allows. ``val="speakers"``: whole speakers making up about ``val_frac`` of the
    training utterances (at least one) validate, drawn with ``seed`` and the fold number;
    ``val=None``: no validation part. ``limit_folds=k`` keeps the first ``k`` folds.
    """
    keys = _require_speakers(m, "leave_k_speakers_out")
    if val not in ("speakers", None):
        raise ValueError(f"val must be 'speakers' or None, got {val!r}")
    if not 0.0 < val_frac < 1.0:
        raise ValueError(f"val_frac must be in (0, 1), got {val_frac}")
    spk = sorted(keys.unique())
    n, need_rest = len(spk), 2 if val else 1
    names = [k.split("/", 1)[1] for k in spk]
    if n_folds is None:
        if n < 4:
            raise ValueError(
                f"leave_k_speakers_out needs at least 4 speakers (2 folds of 2 test speakers, each fold leaving "
                f"2 speakers to train{' and validate' if val else ''}); this manifest has {n}: {names}"
            )
        n_folds = min(MAX_FOLDS, n // 2)
    if not 2 <= n_folds <= n:
        raise ValueError(f"leave_k_speakers_out: n_folds must be in 2..{n} (the number of speakers), got {n_folds}")
    if n - -(-n // n_folds) < need_rest:
        raise ValueError(
            f"leave_k_speakers_out: {n_folds} folds of {n} speakers leave fewer than {need_rest} speaker(s) besides "
            f"the test speakers{' (validation and training each need one)' if val else ''}; use more folds"
        )
    genders = _speaker_genders(m, keys)
    rng = np.random.default_rng([seed, 1])
    order: list[str] = []
    for g in sorted({genders[k] for k in spk}, key=lambda x: (x is None, str(x))):
        members = [k for k in spk if genders[k] == g]
        order += [members[i] for i in rng.permutation(len(members))]
    fold_of = {k: i % n_folds for i, k in enumerate(order)}
    fid = _fingerprint(m)
    splits = []
    for k in range(n_folds):
        test_spk = sorted(s for s in spk if fold_of[s] == k)
        test = _rows_of(keys, test_spk)
        rest = np.setdiff1d(np.arange(len(m)), test)
        val_idx = np.zeros(0, dtype=np.int64)
        if val == "speakers":
            counts = keys.iloc[rest].value_counts().sort_index()
            rng = np.random.default_rng([seed, 2, k])
            chosen = _pick_speakers(counts, val_frac, rng, f"validation speakers of fold {k}")
            val_idx = _rows_of(keys, chosen)
        train = np.setdiff1d(rest, val_idx)
        name = "speakers=" + "+".join(s.split("/", 1)[1] for s in test_spk)
        splits.append(_finish(Split(name, _idx(train), _idx(val_idx), _idx(test), source_id=fid, target_id=fid), m,
                              keys=keys))
    return _limit(splits, limit_folds)


# --------------------------------------------------------------------------- the registry
PROTOCOLS: dict[str, object] = {
    "leave_one_speaker_out": leave_one_speaker_out,
    "leave_one_session_out": leave_one_session_out,
    "speaker_holdout": speaker_holdout,
    "leave_k_speakers_out": leave_k_speakers_out,
    "predefined": predefined,
}
"""Every within-corpus protocol by name (cross-corpus takes two manifests). Each takes the
manifest (plus options) and returns a :class:`Split` or a list of them; a new one must also get
an entry in :data:`NO_VALIDATION`. ``tests/test_protocols.py`` runs every entry on several corpus
shapes and checks speaker independence itself."""

ALIASES = {
    "loso_speaker": "leave_one_speaker_out",
    "loso_session": "leave_one_session_out",
    "holdout": "speaker_holdout",
    "lkso": "leave_k_speakers_out",
}
"""Short names accepted wherever a protocol name is (profiles, :func:`make`, :func:`auto`)."""

NO_VALIDATION: dict[str, dict] = {
    "leave_one_speaker_out": {"val": None},
    "leave_one_session_out": {"val": None},
    "speaker_holdout": {"val_size": 0.0},
    "leave_k_speakers_out": {"val": None},
    "predefined": {"val": []},
}
"""Per protocol, the options that build it without a validation part (``validation=False``)."""


def canonical(protocol: str) -> str:
    """The registry name of ``protocol`` (a name of :data:`PROTOCOLS` or an alias)."""
    name = ALIASES.get(protocol, protocol) if isinstance(protocol, str) else protocol
    if name not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {list(PROTOCOLS) + list(ALIASES)}")
    return name


def make(
    m: pd.DataFrame,
    protocol: str,
    *,
    limit_folds: int | None = None,
    seed: int = 0,
    validation: bool = True,
    **opts,
) -> list[Split]:
    """Build a within-corpus protocol by name and always return a list of splits.

    ``protocol`` is a name of :data:`PROTOCOLS` or :data:`ALIASES`; ``opts`` go to that
    function; ``seed`` goes to protocols that draw speakers; ``validation=False`` builds it
    without a validation part; ``limit_folds`` keeps the first folds.
    """
    name = canonical(protocol)
    fn = PROTOCOLS[name]
    params = inspect.signature(fn).parameters
    kw = dict(opts)
    if not validation:
        kw.update(NO_VALIDATION[name])
    if "seed" in params:
        kw.setdefault("seed", seed)
    if "limit_folds" in params:
        kw["limit_folds"] = limit_folds
    out = fn(m, **kw)
    return _limit(out if isinstance(out, list) else [out], limit_folds)


# --------------------------------------------------------------------------- auto
@dataclass(frozen=True, eq=False)
class Protocol:
    """The protocol :func:`auto` chose: its registry ``name``, one sentence ``reason`` (which
    protocol and why, for the notebook to print), the ``splits``, and whether it is the paper's
    own protocol (``paper_protocol``)."""

    name: str
    reason: str
    splits: list[Split]
    paper_protocol: bool

    def __len__(self) -> int:
        return len(self.splits)

    def __iter__(self):
        return iter(self.splits)

    def table(self, m: pd.DataFrame) -> pd.DataFrame:
        """One row per fold: utterances per part and the test speakers (for notebooks)."""
        rows = {}
        for s in self.splits:
            spk = ", ".join(sorted(map(str, s.frame("test", m)["speaker"].unique())))
            rows[s.name] = {**{p: n for p, n in s.sizes().items() if p != "select"}, "test speakers": spk}
        return pd.DataFrame(rows).T

    def metadata(self) -> dict:
        """What the results metadata records: ``protocol``, ``protocol_reason``, ``paper_protocol``, ``folds``."""
        return {"protocol": self.name, "protocol_reason": self.reason, "paper_protocol": self.paper_protocol,
                "folds": len(self.splits)}


def _corpus_name(m: pd.DataFrame) -> str:
    if "corpus" in m.columns and m["corpus"].notna().any():
        return "+".join(sorted(map(str, m["corpus"].dropna().unique())))
    return str(m.attrs.get("corpus", "this corpus"))


def _has_split(m: pd.DataFrame) -> bool:
    return "split" in m.columns and m["split"].notna().any()


def _session_problem(m: pd.DataFrame, name: str, keys: pd.Series) -> str | None:
    """Why the session-based protocol ``name`` does not fit ``m`` (None when it does)."""
    corpus = _corpus_name(m)
    if "session" not in m.columns or m["session"].isna().all():
        return f"{corpus} has no sessions"
    if m["session"].isna().any():
        return f"{int(m['session'].isna().sum())} utterance(s) of {corpus} have no session"
    ses = m["session"].astype(str) + "|" + m.get("corpus", pd.Series("", index=m.index)).astype(str)
    pairs = pd.DataFrame({"spk": keys.to_numpy(), "ses": ses.to_numpy()}).drop_duplicates()
    per_session = pairs.groupby("ses")["spk"].nunique()
    if name == "leave_one_speaker_out":
        alone = int((per_session < 2).sum())
        if alone:
            return (f"{alone} of {len(per_session)} sessions of {corpus} have a single speaker, so there is no "
                    "session partner to validate on")
        return None
    spanning = int((pairs.groupby("spk")["ses"].nunique() > 1).sum())
    if spanning:
        return f"{spanning} speaker(s) of {corpus} occur in several sessions, so sessions do not separate speakers"
    if len(per_session) < 2:
        return f"{corpus} has a single session"
    return None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _describe(name: str, splits: list[Split], m: pd.DataFrame, validation: bool, total: int) -> str:
    """What the splits are, in words (``total``: folds before ``limit_folds``)."""
    n = len(splits)
    folds = _plural(total, "fold")
    run = f", the first {n} run" if n < total else ""
    if name == "leave_one_speaker_out":
        return f"one fold per speaker ({folds}{run}){', the session partner validating' if validation else ''}"
    if name == "leave_one_session_out":
        return (f"one fold per session ({folds}{run})"
                + (", validation speakers drawn from the other sessions" if validation else ""))
    if name == "speaker_holdout":
        s = splits[0].summary(m)
        return (f"a speaker-independent holdout with {_plural(int(s.loc['test', 'speakers']), 'test speaker')}"
                + (f" and {_plural(int(s.loc['val', 'speakers']), 'validation speaker')}" if validation else ""))
    if name == "leave_k_speakers_out":
        k = sorted({len(s.frame("test", m)["speaker"].unique()) for s in splits})
        per = f"{k[0]}" if len(k) == 1 else f"{k[0]}-{k[-1]}"
        return (f"{folds} of {per} test speakers{run}, gender-balanced"
                + (", validation speakers drawn from the training speakers" if validation else ""))
    if name == "predefined":
        parts = m["split"].dropna().astype(str).value_counts()
        return "the corpus's own partition (" + ", ".join(f"{k} {v}" for k, v in parts.items()) + ")"
    return folds + run


def fitting(m: pd.DataFrame, *, seed: int = 0) -> list[str]:
    """The protocols that can be built on ``m`` (``"name"`` or ``"name (validation=False)"``)."""
    out = []
    for name in PROTOCOLS:
        for validation in (True, False):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    make(m, name, seed=seed, validation=validation)
            except (ValueError, SpeakerLeakError):
                continue
            out.append(name if validation else f"{name} (validation=False)")
            break
    return out


def _refuse(m: pd.DataFrame, what: str, exc: Exception, seed: int) -> ProtocolError:
    n_spk = int(_speaker_keys(m).dropna().nunique())
    fits = fitting(m, seed=seed)
    usable = [f for f in fits if "(" not in f]  # what the notebooks' protocol knob can ask for
    if usable:
        hint = f"Protocols that fit it: {', '.join(fits)} (set the knob, e.g. -p protocol {usable[0]})."
    elif fits:
        hint = (f"Only {', '.join(fits)} fit it, which the notebooks do not offer: use a corpus (or corpus_size) "
                "with more speakers.")
    else:
        hint = "No speaker-independent protocol fits it: use a corpus (or corpus_size) with more speakers."
    return ProtocolError(f"{what} does not fit {_corpus_name(m)} ({len(m)} utterances, {n_spk} speakers): {exc}. "
                         + hint)


def auto(
    m: pd.DataFrame,
    paper: str,
    *,
    protocol: str = "auto",
    validation: bool = True,
    limit_folds: int | None = None,
    seed: int = 0,
    **opts,
) -> Protocol:
    """The evaluation protocol for manifest ``m``: the paper's where the corpus allows it.

    ``paper`` is the paper's protocol (``loso_speaker``: papers 3, 4, 5; ``loso_session``:
    notebooks 00, 10; ``holdout``: paper 1; or any name of :data:`PROTOCOLS`); ``opts`` go to it
    when it is used (e.g. ``val="next_session"``). ``protocol`` is the notebook's knob:

    - ``"auto"`` (default), from the manifest's shape: a ``split`` column (MSP-Podcast) ->
      :func:`predefined`; else the paper's protocol when the corpus has what it needs
      (sessions of >= 2 speakers for ``loso_speaker``'s session-partner validation, sessions
      that separate speakers for ``loso_session``; speakers for ``holdout``); else (speakers
      only: EmoDB, RAVDESS, CREMA-D) :func:`leave_k_speakers_out`.
    - a protocol name: that protocol, or a :class:`ProtocolError` when it does not fit.

    ``validation=False`` builds every protocol without a validation part. Too few speakers for
    the protocol chosen raise :class:`ProtocolError` naming the protocols that fit. Every split is
    asserted speaker-independent.
    """
    paper_name = canonical(paper)
    keys = _speaker_keys(m)

    def build(name: str) -> list[Split]:  # every fold (so the reason can count them); limited below
        kw = opts if name == paper_name else {}
        return make(m, name, seed=seed, validation=validation, **kw)

    if protocol != "auto":
        name = canonical(protocol)
        try:
            splits = build(name)
        except (ValueError, SpeakerLeakError) as exc:
            raise _refuse(m, f"protocol={protocol!r}", exc, seed) from exc
        why = "the paper's protocol" if name == paper_name else f"instead of the paper's {paper_name}"
        used = _limit(splits, limit_folds)
        reason = f"{name} ({why}, set by the protocol knob): {_describe(name, used, m, validation, len(splits))}."
        return Protocol(name, reason, used, name == paper_name)

    if _has_split(m) and paper_name != "predefined":
        name, why_not = "predefined", f"{_corpus_name(m)} comes with its own speaker-independent partition"
    elif paper_name in ("leave_one_speaker_out", "leave_one_session_out"):
        if keys.isna().any():
            why_not = None  # let the paper's protocol refuse the rows without speakers
        else:
            why_not = _session_problem(m, paper_name, keys)
        name = paper_name if why_not is None else "leave_k_speakers_out"
    elif paper_name == "predefined" and not _has_split(m):
        name, why_not = "leave_k_speakers_out", f"{_corpus_name(m)} has no predefined partition"
    else:
        name, why_not = paper_name, None
    try:
        with warnings.catch_warnings():
            if name == "predefined":
                warnings.simplefilter("ignore")  # unknown speakers: counted in predefined's own check
            splits = build(name)
    except (ValueError, SpeakerLeakError) as exc:
        what = f"{name}" + ("" if name == paper_name else f" (chosen because {why_not})")
        raise _refuse(m, what, exc, seed) from exc
    used = _limit(splits, limit_folds)
    described = _describe(name, used, m, validation, len(splits))
    if name == paper_name:
        reason = f"{name}, the paper's protocol: {described}."
    else:
        reason = f"{name} instead of the paper's {paper_name}, because {why_not}: {described}."
    return Protocol(name, reason, used, name == paper_name)
