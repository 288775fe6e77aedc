"""Deterministic noisy conditions: which noise, at which SNR, for every utterance.

A *condition* is any object with ``.key`` (a stable, filesystem-safe string naming everything that
changes the audio; caches are keyed by it) and ``.apply(wav, utt_id, sr=16000) -> wav``. ``None``
means clean audio. Conditions are frozen dataclasses of plain values, so they pickle to worker
processes; banks and clips are loaded lazily and cached **per process**.

- :class:`Condition` ``(noise_type, snr_db, seed, bank, root, part)``: for utterance ``utt_id`` the
  clip and the offset in it are drawn from a generator seeded with
  ``stable_seed(seed, utt_id, noise_type)``, so the same utterance gets the same noise segment at
  every SNR (curves over SNR compare like with like) and in every process.
- :class:`RandomCondition` ``(noise_types, snr_range, seed, part)``: paper 4's noisy training set;
  each utterance gets its own type and SNR (uniform in ``snr_range``), drawn the same way.

Test conditions use ``part="test"`` sources and training conditions ``part="train"`` sources, which
never share a recording (see :func:`serlib.noise.banks.assign_parts`).

**Keys and caches.** A key names everything that changes the noisy audio, so that feature caches
keyed by it are never stale: type, SNR, seed, part, SNR mode, the bank (:func:`bank_token`: the
generated bank by its generator version, a recorded bank by its folder *and a fingerprint of its
files*: relative path, size and modification time of every file, so adding, removing or editing a
clip in place changes the key) and :data:`MIX_VERSION`, the version of the mixing code. The
fingerprint is computed once per process and bank (a ``stat`` per file); after editing a bank
inside a running session, call :func:`clear_caches` (a new process always sees the edit).
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from serlib import paths
from serlib.audio import SILENCE_RMS, SR, AudioError, load_audio
from serlib.noise import scenes
from serlib.noise.banks import BANKS, load_noise, synthetic_root
from serlib.noise.mix import SNR_MODES, mix, noise_segment
from serlib.noise.scenes import stable_seed

__all__ = ["Condition", "RandomCondition", "PARTS", "ALL_TYPES", "MIX_VERSION", "clear_caches", "bank_fingerprint", "bank_token",
           "mix_token", "snr_token", "snr_table"]

PARTS = ("train", "test", "all")
"""Which sources a condition draws from."""

ALL_TYPES = "all"
"""A noise type that means every type of a recorded bank (e.g. paper 2's radio programme from a
folder without a ``radio`` type: the bank's own sounds play from the radio's position)."""

MIX_VERSION = 1
"""Version of the code that turns clean audio into a condition's audio (:mod:`serlib.noise.mix` and the
clip/offset draws here and in :mod:`serlib.noise.room`). Bump it when that audio changes for the same
inputs: every condition key changes (``-mix2``; version 1 adds no token, the keys of existing caches),
so no cache serves features of the old mixtures. ``tests/test_cache_keys.py`` pins the mixtures."""

_MAX_DRAWS = 16  # tries to find a non-silent noise segment (ESC-like clips contain silences)
_CLIP_CACHE_BYTES = 512 * 2**20

_lock = threading.Lock()
_banks: dict[tuple, pd.DataFrame] = {}
_clips: OrderedDict[tuple[str, int], np.ndarray] = OrderedDict()
_clip_bytes = 0
_warned: set[str] = set()
_fingerprints: dict[tuple[str, str], str] = {}


def clear_caches() -> None:
    """Forget the banks, clips and bank fingerprints cached in this process (after regenerating or
    editing a bank in the running session; a new process starts without them)."""
    global _clip_bytes
    with _lock:
        _banks.clear()
        _clips.clear()
        _fingerprints.clear()
        _clip_bytes = 0


def _bank_clips(bank: str, root: str | None, noise_type: str, part: str) -> pd.DataFrame:
    if noise_type == ALL_TYPES and bank == "synthetic":
        raise ValueError(f"noise type {ALL_TYPES!r} means every type of a recorded bank; the generated bank makes "
                         "its types one by one: name them")
    root = _bank_root(bank, root)  # resolved now: SERLIB_DATA may change between calls (tests, notebooks)
    key = (bank, root, noise_type if bank == "synthetic" else None)
    with _lock:
        df = _banks.get(key)
    if df is None:
        if bank == "synthetic":
            # n_jobs=1: this may run inside a worker process, which must not start a pool of its own
            df = load_noise("synthetic", root, types=[noise_type], progress=False, n_jobs=1)
        else:
            df = load_noise(bank, root)
        with _lock:
            _banks[key] = df
    sel = df if noise_type == ALL_TYPES else df[df["noise_type"] == noise_type]
    if sel.empty:
        raise ValueError(f"noise bank {bank!r} ({root or 'default root'}) has no clips of type {noise_type!r}; "
                         f"available types: {sorted(df['noise_type'].unique())}")
    if part != "all":
        sel = sel[sel["part"] == part]
        if sel.empty:
            raise ValueError(f"noise type {noise_type!r} of bank {bank!r} has no {part} sources (it has only "
                             f"{sorted(df.loc[df['noise_type'] == noise_type, 'part'].unique())}); use part='all' "
                             "or a bank with more sources of this type")
    return sel.reset_index(drop=True)


def _load_clip(path: str, sr: int) -> np.ndarray | None:
    """Clip audio at ``sr`` (LRU-cached per process); None for a silent clip (warned once)."""
    global _clip_bytes
    key = (path, sr)
    with _lock:
        x = _clips.get(key)
        if x is not None:
            _clips.move_to_end(key)
            return x
    try:
        x = load_audio(path, sr)
    except AudioError as exc:
        if "silent" not in str(exc):
            raise
        if path not in _warned:
            _warned.add(path)
            warnings.warn(f"{path}: silent noise clip, never used (remove it from the bank)", stacklevel=3)
        return None
    x.setflags(write=False)
    with _lock:
        _clips[key] = x
        _clip_bytes += x.nbytes
        while _clip_bytes > _CLIP_CACHE_BYTES and len(_clips) > 1:
            _, old = _clips.popitem(last=False)
            _clip_bytes -= old.nbytes
    return x


def _bank_root(bank: str, root: str | None) -> str:
    """The folder a bank is read from (its default location when ``root`` is None)."""
    if root is not None:
        return str(root)
    return str(synthetic_root() if bank == "synthetic" else paths.data_dir("noise", bank))


def bank_fingerprint(bank: str, root: str | None) -> str:
    """A short hash of a recorded bank's files: relative path, size and modification time (ns) of every
    non-hidden file under its folder (no audio is read). Computed once per process and bank
    (:func:`clear_caches` forgets it). ``""`` for the generated bank, whose contents follow from the
    generator's version and seed (regenerating it gives the same clips, so its keys stay)."""
    if bank == "synthetic":
        return ""
    folder = _bank_root(bank, root)
    with _lock:
        fp = _fingerprints.get((bank, folder))
    if fp is not None:
        return fp
    entries = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if name.startswith("."):
                continue
            path = os.path.join(dirpath, name)
            try:
                st = os.stat(path)
            except OSError:  # removed meanwhile
                continue
            entries.append(f"{os.path.relpath(path, folder)}\0{st.st_size}\0{st.st_mtime_ns}")
    fp = hashlib.sha1("\n".join(sorted(entries)).encode()).hexdigest()[:10]
    if entries:  # a missing or empty folder is not remembered: it may be filled later in this session
        with _lock:
            _fingerprints[(bank, folder)] = fp
    return fp


def bank_token(bank: str, root: str | None) -> str:
    """The bank part of a condition key: ``synthetic`` (+ ``v{VERSION}`` after v1) for the generated
    bank; for a recorded bank its name, a hash of its folder (when given) and ``files`` + the
    :func:`bank_fingerprint` of its contents."""
    tok = bank if bank != "synthetic" or scenes.VERSION == 1 else f"synthetic{scenes.VERSION}"
    if root is not None:
        tok += f"-root{stable_seed('root', os.path.abspath(root)) % 16**8:08x}"
    if bank != "synthetic":
        tok += f"-files{bank_fingerprint(bank, root)}"
    return tok


def mix_token() -> str:
    """The mixing-code part of a condition key: ``""`` at :data:`MIX_VERSION` 1, else ``-mix{N}``."""
    return "" if MIX_VERSION == 1 else f"-mix{MIX_VERSION}"


def snr_token(snr: float) -> str:
    """Filesystem-safe SNR: 5 -> ``5``, -5 -> ``m5``, 2.5 -> ``2p5``."""
    s = f"{float(snr):g}"
    return s.replace("-", "m").replace(".", "p")


def _safe(name: str) -> str:
    tok = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_")
    return tok if tok == name else f"{tok}_{stable_seed('name', name) % 16**4:04x}"


def _norm_root(root) -> str | None:
    return None if root is None else str(Path(root).expanduser().resolve())


@dataclass(frozen=True)
class Condition:
    """Additive noise of one type at one SNR, deterministic per utterance.

    Args:
        noise_type: a type of the bank (e.g. ``"babble"``, ``"cafeteria"``); None = clean.
        snr_db: target SNR in dB (required with a noise type), as defined in :mod:`serlib.noise.mix`.
        seed: changes which clip and offset every utterance gets.
        bank: ``synthetic`` (default) or a recorded bank (``musan``, ``esc50``, ``esc10``, ``demand``,
            ``inoise``, ``auto``), see :func:`serlib.noise.load_noise`.
        root: the bank's folder (None = default location).
        part: ``test`` (default), ``train`` or ``all`` sources.
        snr_mode: ``utterance`` (default) or ``active`` speech power.
    """

    noise_type: str | None = None
    snr_db: float | None = None
    seed: int = 0
    bank: str = "synthetic"
    root: str | None = None
    part: str = "test"
    snr_mode: str = "utterance"

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", _norm_root(self.root))
        if self.noise_type is None:
            if self.snr_db is not None:
                raise ValueError(f"Condition: snr_db={self.snr_db} given without a noise_type (None means clean)")
            return
        if self.snr_db is None or not math.isfinite(float(self.snr_db)):
            raise ValueError(f"Condition({self.noise_type!r}): snr_db must be a finite number of dB, "
                             f"got {self.snr_db!r}")
        object.__setattr__(self, "snr_db", float(self.snr_db))
        if self.bank not in BANKS:
            raise ValueError(f"Condition: unknown bank {self.bank!r}; choose from {BANKS}")
        if self.bank == "synthetic" and self.noise_type not in scenes.NOISE_TYPES:
            raise ValueError(f"Condition: {self.noise_type!r} is not a generated noise type; choose from "
                             f"{scenes.NOISE_TYPES}")
        if self.part not in PARTS:
            raise ValueError(f"Condition: part={self.part!r} is not one of {PARTS}")
        if self.snr_mode not in SNR_MODES:
            raise ValueError(f"Condition: snr_mode={self.snr_mode!r} is not one of {SNR_MODES}")

    @property
    def key(self) -> str:
        """``clean`` or e.g. ``synthetic-babble-snr5-seed0-test`` (``-active`` for active-speech SNR)."""
        if self.noise_type is None:
            return "clean"
        key = (f"{bank_token(self.bank, self.root)}-{_safe(self.noise_type)}-snr{snr_token(self.snr_db)}"
               f"-seed{self.seed}-{self.part}")
        return key + ("-active" if self.snr_mode == "active" else "") + mix_token()

    def clips(self) -> pd.DataFrame:
        """The bank rows this condition draws from (its type and part)."""
        if self.noise_type is None:
            raise ValueError("the clean condition uses no noise clips")
        return _bank_clips(self.bank, self.root, self.noise_type, self.part)

    def prepare(self) -> Condition:
        """Load (generate, for the synthetic bank) the clips now, e.g. before sending the condition to
        worker processes, which would otherwise each do it on first use. Returns ``self``."""
        if self.noise_type is not None:
            self.clips()
        return self

    def apply(self, wav: np.ndarray, utt_id: str, sr: int = SR) -> np.ndarray:
        """The noisy version of ``wav`` (float32, same length); the input itself when clean."""
        if self.noise_type is None:
            return wav
        return self.apply_with_parts(wav, utt_id, sr)[0]

    def apply_with_parts(self, wav: np.ndarray, utt_id: str, sr: int = SR):
        """``(mixture, speech_part, noise_part, info)``; ``info`` names the clip, offset and SNR used."""
        x = np.asarray(wav, dtype=np.float32)
        if x.ndim != 1:
            raise AudioError(f"{utt_id}: expected a mono 1-D signal, got shape {x.shape}")
        if self.noise_type is None:
            return x, x, np.zeros_like(x), {"condition": "clean"}
        clips = self.clips()
        rng = np.random.default_rng(stable_seed(self.seed, utt_id, self.noise_type))
        for _ in range(_MAX_DRAWS):
            row = clips.iloc[int(rng.integers(len(clips)))]
            noise = _load_clip(row["path"], sr)
            if noise is None:
                continue
            seg, offs = noise_segment(noise, len(x), rng=rng, sr=sr)
            if float(np.sqrt(np.mean(np.square(seg, dtype=np.float64)))) >= SILENCE_RMS:
                break
        else:
            raise AudioError(f"{utt_id}: {_MAX_DRAWS} draws from {len(clips)} {self.noise_type!r} clips gave only "
                             f"silent noise segments; check the bank ({self.bank}, {self.root or 'default root'})")
        mixture, sp, npart = mix(x, seg, self.snr_db, snr_mode=self.snr_mode, sr=sr, return_parts=True,
                                 names=str(utt_id), noise_names=str(row["clip_id"]))
        info = {"condition": self.key, "clip_id": row["clip_id"], "source_id": row["source_id"],
                "offset": int(offs[0]), "snr_db": self.snr_db}
        return mixture, sp, npart, info


@dataclass(frozen=True)
class RandomCondition:
    """A random noise type and SNR per utterance (paper 4's noisy training set), deterministic.

    For utterance ``utt_id`` a generator seeded with ``stable_seed("random", seed, utt_id)`` picks the
    type (uniformly among ``noise_types``) and the SNR (uniform in ``snr_range``, rounded to 0.01 dB);
    the noise itself is then :class:`Condition` ``(type, snr, seed, bank, root, part)``.
    """

    noise_types: tuple[str, ...] = ("noise", "music", "speech")
    snr_range: tuple[float, float] = (5.0, 35.0)
    seed: int = 0
    part: str = "train"
    bank: str = "synthetic"
    root: str | None = None
    snr_mode: str = "utterance"

    def __post_init__(self) -> None:
        types = (self.noise_types,) if isinstance(self.noise_types, str) else tuple(self.noise_types)
        if not types:
            raise ValueError("RandomCondition: noise_types is empty")
        object.__setattr__(self, "noise_types", types)
        lo, hi = (float(v) for v in self.snr_range)
        if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
            raise ValueError("RandomCondition: snr_range must be (low, high) in dB with low <= high, "
                             f"got {self.snr_range}")
        object.__setattr__(self, "snr_range", (lo, hi))
        object.__setattr__(self, "root", _norm_root(self.root))
        for t in types:  # validates every type, bank, part and mode now rather than mid-run
            Condition(t, lo, self.seed, self.bank, self.root, self.part, self.snr_mode)

    @property
    def key(self) -> str:
        """e.g. ``random-synthetic-music+noise+speech-snr5to35-seed0-train``."""
        names = "+".join(_safe(t) for t in self.noise_types)
        if len(names) > 40:
            names = f"{len(self.noise_types)}types{stable_seed('types', *self.noise_types) % 16**6:06x}"
        lo, hi = self.snr_range
        key = (f"random-{bank_token(self.bank, self.root)}-{names}-snr{snr_token(lo)}to{snr_token(hi)}"
               f"-seed{self.seed}-{self.part}")
        return key + ("-active" if self.snr_mode == "active" else "") + mix_token()

    def prepare(self) -> RandomCondition:
        """Load (or generate) the clips of every type now; see :meth:`Condition.prepare`."""
        for t in self.noise_types:
            Condition(t, self.snr_range[0], self.seed, self.bank, self.root, self.part, self.snr_mode).prepare()
        return self

    def draw(self, utt_id: str) -> Condition:
        """The fixed :class:`Condition` this utterance gets."""
        rng = np.random.default_rng(stable_seed("random", self.seed, utt_id))
        t = self.noise_types[int(rng.integers(len(self.noise_types)))]
        snr = round(float(rng.uniform(*self.snr_range)), 2)
        return Condition(t, snr, self.seed, self.bank, self.root, self.part, self.snr_mode)

    def apply(self, wav: np.ndarray, utt_id: str, sr: int = SR) -> np.ndarray:
        """The noisy version of ``wav`` under this utterance's drawn condition."""
        return self.draw(utt_id).apply(wav, utt_id, sr)

    def apply_with_parts(self, wav: np.ndarray, utt_id: str, sr: int = SR):
        """As :meth:`Condition.apply_with_parts`, with the drawn type and SNR in ``info``."""
        cond = self.draw(utt_id)
        out = cond.apply_with_parts(wav, utt_id, sr)
        out[3]["noise_type"] = cond.noise_type
        return out


def snr_table(utterances: dict[str, np.ndarray], conditions, sr: int = SR) -> pd.DataFrame:
    """Target vs measured SNR for every (utterance, condition): a check for notebooks and tests.

    ``utterances`` maps utt_id -> clean signal; ``conditions`` is an iterable of conditions with
    ``apply_with_parts`` (:class:`Condition`, :class:`RandomCondition`, ``RoomCondition``). Returns one
    row per pair: ``utt_id, condition, noise_type, clip_id, snr_target, snr_measured,
    snr_measured_active`` (measured on the parts actually summed, see :mod:`serlib.noise.mix`).
    """
    from serlib.noise.mix import measure_snr

    rows = []
    for cond in conditions:
        key = cond.key
        for utt_id, wav in utterances.items():
            _, sp, npart, info = cond.apply_with_parts(wav, utt_id, sr)
            rows.append({"utt_id": utt_id, "condition": key,
                         "noise_type": info.get("noise_type", getattr(cond, "noise_type", None)),
                         "clip_id": info.get("clip_id"),
                         "snr_target": info["snr_db"],
                         "snr_measured": measure_snr(sp, npart, "utterance", sr),
                         "snr_measured_active": measure_snr(sp, npart, "active", sr)})
    return pd.DataFrame(rows)
