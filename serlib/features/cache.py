"""The on-disk feature cache: chunks of utterances, written atomically, found by entry key.

Layout under ``data_dir("features")``::

    <kind>-<config hash>/config.json          kind, parameters, library versions (for humans)
    <kind>-<config hash>/columns.json         column names (table kinds)
    <kind>-<config hash>/<condition key>/chunk-<hash>.npys

The config hash covers the kind's parameters and the versions of openSMILE or torch/torchaudio
and of serlib's feature code (:func:`serlib.features.kinds.config_id`). The condition folder is
the noise condition's ``.key`` (``clean`` for none), which names everything that changes the noisy
audio, a recorded noise bank's files and the mixing code's version included
(:mod:`serlib.noise.condition`), so editing a noise folder in place starts a new folder.

**Entry key.** One per utterance: a hash of its ``utt_id``, the absolute audio path, the file
size and its modification time in ns. We chose path + size + mtime over a content hash so that
a cache hit needs one ``stat`` per file instead of reading all audio (a 5,500-utterance corpus
is ~1 GB); regenerating or editing a file changes its mtime and thus its key (the old entry is
never reused), while moving a corpus to another folder makes its cache miss once.

**Chunks.** Computed utterances are written in chunks of ``chunk_size`` (default 64), one
file each: consecutive ``.npy`` records ``keys``, ``utt_ids``, ``values`` and, for sequences,
``offsets`` (read them with repeated ``np.load(fh)``; no pickles). We use plain ``.npy``
records rather than ``.npz`` because a zip member's CRC check made cache hits ~2x slower.
Each is written through a temporary file and an atomic rename: a run killed half-way leaves only
whole chunks (plus, at worst, a hidden temporary file, deleted once it is an hour old), and
the next run computes only what those lack. Any utterance already stored in
any chunk of the folder is reused, whatever manifest or subset wrote it. 5,500 utterances x
40 conditions x 4 kinds is ~14,000 files of 64 utterances rather than ~900,000 per-utterance
files. An unreadable chunk is reported with a warning and recomputed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import warnings
from pathlib import Path

import numpy as np

from ..audio import atomic_write
from ..paths import data_dir
from .kinds import FeatureKind, config_id

log = logging.getLogger(__name__)

SUFFIX = ".npys"
"""Chunk file suffix: concatenated .npy records (keys, utt_ids, values[, offsets])."""

_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-+=,")


def condition_key(condition) -> str:
    """The condition's ``.key`` (``"clean"`` for None), checked to be a safe folder name."""
    if condition is None:
        return "clean"
    key = getattr(condition, "key", None)
    if not isinstance(key, str) or not key or key.startswith(".") or not set(key) <= _SAFE:
        raise ValueError(
            f"noise condition {condition!r} has key {key!r}; a condition needs a non-empty, "
            "filesystem-safe string .key (letters, digits, . _ - + = ,) that is unique for every "
            "setting that changes the audio"
        )
    return key


def entry_key(utt_id: str, path: str | os.PathLike) -> str:
    """Cache key of one utterance's audio: hash of utt_id, absolute path, size and mtime (ns).

    Raises ``FileNotFoundError`` naming the file when it is missing.
    """
    p = os.path.abspath(path)
    st = os.stat(p)
    blob = f"{utt_id}\0{p}\0{st.st_size}\0{st.st_mtime_ns}".encode()
    return hashlib.sha1(blob).hexdigest()[:24]


class FeatureCache:
    """The cache folder of one feature kind under one condition."""

    def __init__(self, kind: FeatureKind, cond_key: str, root: str | os.PathLike | None = None):
        self.kind = kind
        self.config_dir = Path(root) if root is not None else data_dir("features")
        self.config_dir = self.config_dir / config_id(kind)
        self.dir = self.config_dir / cond_key
        self.dir.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temps()
        cfg = self.config_dir / "config.json"
        if not cfg.exists():
            text = json.dumps(kind.config(), indent=2, sort_keys=True)
            atomic_write(cfg, lambda tmp: Path(tmp).write_text(text))

    def _remove_stale_temps(self, age_s: float = 3600.0) -> None:
        """Delete temporary files left by a run killed while writing (older than ``age_s``)."""
        now = time.time()
        for f in self.dir.glob(".chunk-*.tmp*"):
            try:
                if now - f.stat().st_mtime > age_s:
                    f.unlink()
            except OSError:  # removed by another process meanwhile
                pass

    # ---- lookup and read -------------------------------------------------------------
    def chunk_files(self) -> list[Path]:
        return sorted(self.dir.glob("chunk-*" + SUFFIX))

    def index(self) -> dict[str, tuple[Path, int]]:
        """Map every stored entry key to (chunk file, row)."""
        found: dict[str, tuple[Path, int]] = {}
        for f in self.chunk_files():
            try:
                with open(f, "rb") as fh:
                    keys = np.load(fh)
            except Exception as exc:  # truncated/corrupt file from a crashed disk, not from us
                warnings.warn(f"feature cache chunk {f} is unreadable ({exc}); its utterances are recomputed")
                continue
            for row, k in enumerate(keys.tolist()):
                found[k] = (f, row)
        return found

    def _load(self, f: Path) -> tuple[np.ndarray, np.ndarray | None]:
        with open(f, "rb") as fh:
            keys, _utt_ids, values = np.load(fh), np.load(fh), np.load(fh)
            offsets = np.load(fh) if self.kind.output == "sequence" else None
        n = len(keys)
        if (offsets is None and len(values) != n) or (offsets is not None and (len(offsets) != n + 1 or offsets[-1] != len(values))):
            raise ValueError(f"feature cache chunk {f} is inconsistent; delete it to recompute")
        return values, offsets

    def read(self, where: dict[int, tuple[Path, int]]) -> dict[int, np.ndarray]:
        """Load the arrays for ``{position: (chunk file, row)}``; one read per chunk file."""
        by_file: dict[Path, list[tuple[int, int]]] = {}
        for pos, (f, row) in where.items():
            by_file.setdefault(f, []).append((pos, row))
        out: dict[int, np.ndarray] = {}
        for f, items in by_file.items():
            values, offsets = self._load(f)
            # views when most of the chunk is used; copies when few rows are, so the rest can be freed
            copy = 2 * len(items) < len(values if offsets is None else offsets)
            for pos, row in items:
                a = values[row] if offsets is None else values[offsets[row] : offsets[row + 1]]
                out[pos] = a.copy() if copy else a
        return out

    # ---- write -------------------------------------------------------------------------
    def write(self, keys: list[str], utt_ids: list[str], arrays: list[np.ndarray]) -> Path:
        """Store one chunk atomically; its file name is a hash of its keys."""
        name = "chunk-" + hashlib.sha1("".join(keys).encode()).hexdigest()[:16] + SUFFIX
        records = [np.array(keys), np.array(utt_ids, dtype=str)]
        if self.kind.output == "sequence":
            lengths = [len(a) for a in arrays]
            records.append(np.concatenate(arrays, axis=0).astype(np.float32, copy=False))
            records.append(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64))
        else:
            records.append(np.stack(arrays).astype(np.float32, copy=False))

        def _save(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                for r in records:
                    np.save(fh, r, allow_pickle=False)

        return atomic_write(self.dir / name, _save)

    # ---- column names (table kinds) ------------------------------------------------------
    def columns(self) -> list[str] | None:
        f = self.config_dir / "columns.json"
        return json.loads(f.read_text()) if f.exists() else None

    def write_columns(self, names: list[str]) -> None:
        f = self.config_dir / "columns.json"
        if not f.exists():
            text = json.dumps(list(names))
            atomic_write(f, lambda tmp: Path(tmp).write_text(text))
