"""The embedded corpora: acted emotional speech generated offline with eSpeak NG.

No licensed corpus can ship, so the default corpus is synthesised (see DESIGN.md section 4).

``synthetic`` (IEMOCAP stand-in)
    4 emotions (angry, happy, neutral, sad); 10 speakers = 5 sessions x (female, male)
    eSpeak NG voices (accent + voice variant, each with its own baseline rate, pitch, range,
    level and expressiveness); transcripts; arousal / valence / dominance on 1-5 from three
    simulated raters; 16 kHz mono wav.
``synthetic_xcorpus`` (EmoDB + RAVDESS / MSP-IMPROV stand-in)
    disjoint speakers (other accents and named voice variants), other sentences (a small fixed
    neutral set said in every emotion, as in acted corpora), and another recording chain
    (band limit, room reverberation, another level and noise floor). Same schema.

How an utterance is made (:func:`utterance_specs` then :func:`render`):

1. utterance ``i`` gets speaker ``i % 10`` and an emotion such that every block of 40
   holds each speaker x emotion once (so the 40-utterance ``smoke`` set covers all of them);
2. a sentence: an emotion-congruent line (about half the time), sometimes a line of another
   class, otherwise a neutral line shared by all classes;
3. an *acting intensity* ``a`` (how strongly the emotion is played), *blending* toward
   another emotion (mostly the one of similar arousal: angry<->happy, neutral<->sad);
4. prosody = speaker baseline + ``a`` x expressiveness x blended emotion profile + *jitter*
   (independent noise on every dimension): rate, pitch, pitch range, volume for eSpeak NG,
   plus voice quality after synthesis: spectral tilt, saturation (harsh voice), breath noise,
   tremor;
5. *level variation* (recording gain), random leading/trailing pauses and a low noise
   floor (about -60 dBFS; eSpeak NG outputs exact digital silence, which makes SNR and
   openSMILE misbehave);
6. ratings: three raters score the arousal they hear in the realised prosody, the valence of
   the blended emotion and of the words, and dominance, each with rater noise (integers 1-5,
   averaged).

A deterministic emotion -> prosody mapping is learned perfectly (98% UAR); intensity, jitter,
blending and level variation bring clean 4-class UAR with eGeMAPS + random forest under
leave-one-session-out to IEMOCAP-like levels (``scripts/difficulty_check.py`` measures it).

Everything about utterance ``i`` depends only on ``(seed, i)``, so the smoke set is a subset of
``quick`` which is a subset of ``paper``, and they share one cache folder
``data_dir("corpora", f"synthetic-v{VERSION}-seed{seed}")``. Generation runs in parallel
processes (one eSpeak NG per process), writes each wav atomically, and resumes: only
missing files are made. The same seed gives bit-identical audio.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from scipy.signal import butter, fftconvolve, lfilter, sosfilt

from serlib.audio import SR, atomic_write, save_wav
from serlib.paths import data_dir

from .schema import EMOTIONS_4, CorpusError, make_manifest
from .sentences import (CONGRUENT, LEXICAL_VALENCE, NEUTRAL_SHARED, XCORPUS_CONGRUENT,
                        XCORPUS_NEUTRAL_SHARED)

__all__ = [
    "VERSION", "SIZES", "EMOTIONS", "SPEAKERS", "XCORPUS_SPEAKERS", "SPEAKER_VOICES",
    "XCORPUS_SPEAKER_VOICES", "CORPUS_VOICES", "Speaker", "resolve_size", "utterance_specs",
    "render", "generate", "load_synthetic", "load_xcorpus", "cache_folder",
]

VERSION = 2
"""Generator version; part of the cache folder name, bump it whenever the audio would change.
2: eSpeak NG's breath/flutter PRNG is seeded (:mod:`serlib.tts`); version 1 folders hold speakers
Ses02F, Ses03F and Ses05F as one machine happened to draw them."""

SIZES: dict[str, int] = {"smoke": 40, "quick": 1200, "paper": 5500}
"""Utterances per named size (paper ~ IEMOCAP's 5,531-utterance 4-class set)."""

EMOTIONS: list[str] = list(EMOTIONS_4)

AV_SCALE = (1.0, 5.0)


@dataclass(frozen=True)
class Speaker:
    """One synthetic speaker: an eSpeak NG voice plus a personal speaking style."""

    speaker: str          # e.g. "Ses01F"
    session: str          # e.g. "Ses01"
    gender: str           # "F" or "M"
    voice: str            # eSpeak NG voice, e.g. "en-us+f1"
    rate: int             # baseline words per minute
    pitch: int            # baseline eSpeak pitch (0-100)
    range: int            # baseline eSpeak pitch range (0-100)
    expressiveness: float  # multiplies the emotion profile
    level_db: float       # recording level offset


def _make_speakers(prefix: str, table: list[tuple[str, str, str]], style_seed: int) -> list[Speaker]:
    """Speakers of 5 sessions x (F, M); the personal style is fixed (independent of the corpus seed)."""
    rng = np.random.default_rng(style_seed)
    out = []
    for s, (lang, fvar, mvar) in enumerate(table, start=1):
        for gender, var in (("F", fvar), ("M", mvar)):
            out.append(Speaker(
                speaker=f"{prefix}{s:02d}{gender}", session=f"{prefix}{s:02d}", gender=gender,
                voice=f"{lang}+{var}", rate=int(rng.integers(150, 186)), pitch=int(rng.integers(38, 62)),
                range=int(rng.integers(40, 61)), expressiveness=float(rng.uniform(0.8, 1.2)),
                level_db=float(rng.uniform(-3.0, 3.0))))
    return out


SPEAKERS: list[Speaker] = _make_speakers("Ses", [
    ("en-us", "f1", "m1"), ("en-gb-x-rp", "f2", "m3"), ("en", "f3", "m2"),
    ("en-gb-scotland", "f4", "m6"), ("en-029", "f5", "m4")], style_seed=20240501)
"""The 10 speakers of ``synthetic`` (IEMOCAP-style ids ``Ses01F`` ... ``Ses05M``)."""

XCORPUS_SPEAKERS: list[Speaker] = _make_speakers("X", [
    ("en-us-nyc", "belinda", "john"), ("en-gb-x-gbclan", "linda", "robert"),
    ("en-gb-x-gbcwmd", "steph", "Mike"), ("en-us-nyc", "aunty", "Andy"),
    ("en-gb-x-gbclan", "Annie", "ian")], style_seed=20240502)
"""The 10 speakers of ``synthetic_xcorpus`` (``X01F`` ... ``X05M``), disjoint from :data:`SPEAKERS`."""

SPEAKER_VOICES: list[str] = [s.voice for s in SPEAKERS]
XCORPUS_SPEAKER_VOICES: list[str] = [s.voice for s in XCORPUS_SPEAKERS]
CORPUS_VOICES: list[str] = SPEAKER_VOICES + XCORPUS_SPEAKER_VOICES
"""Every voice used as a corpus speaker; babble talkers must be picked outside this list."""

# Emotion profiles at full intensity, as deviations from the speaker's baseline.
# rate (wpm), pitch and range (eSpeak 0-100 units), volume (eSpeak 0-200 units),
# tilt (+ brighter / - darker), drive (saturation), breath (aspiration noise), tremor.
_DIMS = ("rate", "pitch", "range", "volume", "tilt", "drive", "breath", "tremor")
_PROFILE = {
    "angry":   np.array([+26.0, +8.0, +18.0, +40.0, +0.55, +0.9, 0.0, 0.0]),
    "happy":   np.array([+30.0, +16.0, +30.0, +36.0, +0.4, +0.3, 0.0, +0.1]),
    "neutral": np.zeros(8),
    "sad":     np.array([-34.0, -9.0, -22.0, -28.0, -0.45, 0.0, +0.45, +0.35]),
}
_JITTER_SD = np.array([14.0, 7.0, 12.0, 16.0, 0.22, 0.3, 0.2, 0.2])
# Typical ratings (arousal, valence, dominance) of each category on 1-5.
_TYPICAL = {"angry": (4.3, 1.7, 4.0), "happy": (3.9, 4.4, 3.4), "neutral": (2.8, 3.1, 2.9), "sad": (1.9, 1.8, 2.1)}
_NEIGHBOUR = {"angry": "happy", "happy": "angry", "neutral": "sad", "sad": "neutral"}


@dataclass(frozen=True)
class _Variant:
    name: str
    tag: int
    speakers: list[Speaker]
    neutral_lines: list[str]
    congruent: dict[str, list[str]]
    p_congruent: float
    p_other_line: float
    intensity_mean: float
    intensity_sd: float
    p_blend: float
    level_sd_db: float
    noise_floor_db: float
    room: bool


_VARIANTS = {
    "synthetic": _Variant("synthetic", 0, SPEAKERS, NEUTRAL_SHARED, CONGRUENT, p_congruent=0.45, p_other_line=0.1,
                          intensity_mean=0.75, intensity_sd=0.22, p_blend=0.35, level_sd_db=3.0,
                          noise_floor_db=-60.0, room=False),
    "synthetic_xcorpus": _Variant("synthetic_xcorpus", 1, XCORPUS_SPEAKERS, XCORPUS_NEUTRAL_SHARED,
                                  XCORPUS_CONGRUENT, p_congruent=0.3, p_other_line=0.05, intensity_mean=0.85,
                                  intensity_sd=0.25, p_blend=0.25, level_sd_db=2.5, noise_floor_db=-55.0,
                                  room=True),
}


def _variant(name: str) -> _Variant:
    if name not in _VARIANTS:
        raise ValueError(f"unknown synthetic corpus {name!r}; choose one of {sorted(_VARIANTS)}")
    return _VARIANTS[name]


def resolve_size(size: str | int) -> int:
    """Number of utterances for ``size`` ("smoke", "quick", "paper" or a positive int)."""
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        if size <= 0:
            raise ValueError(f"size must be a positive number of utterances, got {size}")
        return int(size)
    if isinstance(size, str) and size in SIZES:
        return SIZES[size]
    raise ValueError(f"size={size!r} is not valid; use one of {sorted(SIZES)} or a positive int")


def cache_folder(name: str = "synthetic", seed: int = 0, root: str | os.PathLike | None = None) -> Path:
    """Folder holding the generated wavs and manifests of ``name`` for ``seed``."""
    _variant(name)
    if root is not None:
        return Path(root).expanduser().resolve()
    return data_dir("corpora", f"{name}-v{VERSION}-seed{int(seed)}")


# ----------------------------------------------------------------------------------------------
# Specs: everything about an utterance except its audio, from (seed, i) alone.

def _spec(var: _Variant, seed: int, i: int) -> dict:
    rng = np.random.default_rng([int(seed), var.tag, int(i), 0])
    spk = var.speakers[i % len(var.speakers)]
    k = i % len(var.speakers)
    emotion = EMOTIONS[(i // len(var.speakers) + k) % 4]

    # sentence
    u = rng.random()
    if emotion != "neutral" and u < var.p_congruent:
        text = var.congruent[emotion][rng.integers(len(var.congruent[emotion]))]
    elif u > 1.0 - var.p_other_line:
        other = [e for e in EMOTIONS if e not in (emotion, "neutral")]
        pool = var.congruent[other[rng.integers(len(other))]]
        text = pool[rng.integers(len(pool))]
    else:
        text = var.neutral_lines[rng.integers(len(var.neutral_lines))]

    # acting: intensity, blending, jitter
    intensity = float(np.clip(rng.normal(var.intensity_mean, var.intensity_sd), 0.25, 1.4))
    blend_with, blend_w = None, 0.0
    if rng.random() < var.p_blend:
        if rng.random() < 0.7:
            blend_with = _NEIGHBOUR[emotion]
        else:
            others = [e for e in EMOTIONS if e not in (emotion, _NEIGHBOUR[emotion])]
            blend_with = others[rng.integers(len(others))]
        blend_w = float(rng.uniform(0.15, 0.5))
    profile = _PROFILE[emotion] * (1 - blend_w)
    if blend_with is not None:
        profile = profile + _PROFILE[blend_with] * blend_w
    jitter = rng.normal(0.0, 1.0, len(_DIMS)) * _JITTER_SD
    dev = intensity * spk.expressiveness * profile + jitter
    d = dict(zip(_DIMS, dev))

    rate = int(np.clip(round(spk.rate + d["rate"]), 90, 300))
    pitch = int(np.clip(round(spk.pitch + d["pitch"]), 5, 99))
    prange = int(np.clip(round(spk.range + d["range"]), 5, 99))
    volume = int(np.clip(round(100 + d["volume"]), 40, 165))
    lexical_valence = LEXICAL_VALENCE[text]
    if emotion in ("angry", "happy") and text.endswith(".") and rng.random() < 0.25 * intensity:
        text = text[:-1] + "!"

    # recording: level, pauses
    level_db = spk.level_db + float(rng.normal(0.0, var.level_sd_db))
    lead = float(rng.uniform(0.05, 0.6))
    trail = float(rng.uniform(0.05, 0.6))

    # ratings: three raters, integers 1-5, averaged
    weights = {emotion: 1.0 - blend_w}
    if blend_with is not None:
        weights[blend_with] = weights.get(blend_with, 0.0) + blend_w
    a_rel = intensity / var.intensity_mean
    heard_arousal = (d["rate"] / 30.0 + d["volume"] / 40.0 + d["range"] / 25.0 + d["pitch"] / 20.0) / 4.0
    true_a = 3.0 + 1.25 * heard_arousal + 0.15 * sum(w * (_TYPICAL[e][0] - 3.0) for e, w in weights.items())
    true_v = 3.0 + 0.8 * a_rel * sum(w * (_TYPICAL[e][1] - 3.0) for e, w in weights.items()) \
        + 0.5 * lexical_valence
    true_d = 3.0 + 0.8 * a_rel * sum(w * (_TYPICAL[e][2] - 3.0) for e, w in weights.items()) + 0.3 * heard_arousal
    ratings = []
    for true in (true_a, true_v, true_d):
        r = np.clip(np.rint(true + rng.normal(0.0, 0.6, 3)), 1, 5)
        ratings.append(float(np.mean(r)))

    return dict(
        i=int(i), utt_id=f"{spk.speaker}_{i:05d}", speaker=spk.speaker, session=spk.session, gender=spk.gender,
        voice=spk.voice, emotion=emotion, transcript=text, lexical_valence=lexical_valence, intensity=intensity,
        blend_with=blend_with, blend_weight=blend_w, rate=rate, pitch=pitch, range=prange, volume=volume,
        tilt=float(np.clip(d["tilt"], -0.85, 1.2)), drive=float(max(d["drive"], 0.0)),
        breath=float(max(d["breath"], 0.0)), tremor=float(max(d["tremor"], 0.0)), level_db=level_db,
        lead_s=lead, trail_s=trail, arousal=ratings[0], valence=ratings[1], dominance=ratings[2],
        seed=int(seed), corpus=var.name,
    )


def utterance_specs(name: str = "synthetic", size: str | int = "quick", seed: int = 0) -> pd.DataFrame:
    """The generation parameters of every utterance (one row each), without synthesising.

    Columns include the manifest fields plus ``intensity``, ``blend_with``, ``blend_weight``,
    the eSpeak NG parameters and the voice-quality settings, useful to explain the corpus.
    """
    var = _variant(name)
    n = resolve_size(size)
    return pd.DataFrame([_spec(var, seed, i) for i in range(n)])


# ----------------------------------------------------------------------------------------------
# Rendering: spec -> audio.

def _one_pole_lowpass(x: np.ndarray, fc: float) -> np.ndarray:
    a = math.exp(-2.0 * math.pi * fc / SR)
    return lfilter([1.0 - a], [1.0, -a], x)


def _trim_digital_silence(x: np.ndarray, thr: float = 1e-4) -> np.ndarray:
    idx = np.flatnonzero(np.abs(x) > thr)
    if idx.size == 0:
        return x
    return x[idx[0]: idx[-1] + 1]


def _room_ir(rng: np.random.Generator, rt60: float, wet: float) -> np.ndarray:
    """A simple room impulse response: direct path + exponentially decaying noise tail."""
    n = int(rt60 * SR)
    t = np.arange(n) / SR
    tail = rng.normal(0.0, 1.0, n) * np.exp(-6.9 * t / rt60)
    tail[: int(0.003 * SR)] = 0.0  # first reflections arrive after ~3 ms
    tail *= wet / (np.sqrt(np.sum(tail ** 2)) + 1e-12)
    tail[0] = 1.0
    return tail


def render(spec: dict) -> np.ndarray:
    """Synthesise one utterance from its spec (a row of :func:`utterance_specs`) as 16 kHz float32."""
    from serlib import tts

    var = _variant(spec["corpus"])
    rng = np.random.default_rng([int(spec["seed"]), var.tag, int(spec["i"]), 1])
    x = tts.synthesize(spec["transcript"], spec["voice"], rate=int(spec["rate"]), pitch=int(spec["pitch"]),
                       range=int(spec["range"]), volume=int(spec["volume"]), sr=SR).astype(np.float64)
    x = _trim_digital_silence(x) * 0.35  # headroom: eSpeak peaks can exceed full scale

    # voice quality
    hp = x - _one_pole_lowpass(x, 1000.0)
    x = x + spec["tilt"] * hp
    if spec["drive"] > 0.02:
        peak = np.max(np.abs(x)) + 1e-12
        g = 1.0 + 2.5 * spec["drive"]
        x = peak * np.tanh(g * x / peak) / np.tanh(g)
    if spec["breath"] > 0.01:
        env = _one_pole_lowpass(np.abs(x), 30.0)
        noise = rng.normal(0.0, 1.0, x.size)
        noise = noise - _one_pole_lowpass(noise, 1500.0)
        x = x + spec["breath"] * 1.2 * env * noise
    if spec["tremor"] > 0.01:
        t = np.arange(x.size) / SR
        x = x * (1.0 + 0.25 * spec["tremor"] * np.sin(2 * np.pi * rng.uniform(4.5, 6.5) * t + rng.uniform(0, 6.3)))

    # pauses, recording chain, level, noise floor
    x = np.concatenate([np.zeros(int(spec["lead_s"] * SR)), x, np.zeros(int(spec["trail_s"] * SR))])
    if var.room:
        sess = int(spec["session"][-2:])
        rt60 = (0.25, 0.35, 0.45, 0.3, 0.4)[(sess - 1) % 5]
        x = fftconvolve(x, _room_ir(rng, rt60, wet=0.5))[: x.size + int(0.1 * SR)]
        x = sosfilt(butter(4, [120.0, 4800.0], btype="bandpass", fs=SR, output="sos"), x)
        level_shift = -4.0
    else:
        level_shift = 0.0
    x = x * 10.0 ** ((spec["level_db"] + level_shift) / 20.0)
    peak = np.max(np.abs(x))
    if peak > 0.95:  # recording limiter: never clip
        x = x * (0.95 / peak)
    floor = rng.normal(0.0, 10.0 ** (var.noise_floor_db / 20.0), x.size)
    return (x + floor).astype(np.float32)


def _render_to(spec: dict, path: str) -> str:
    save_wav(path, render(spec), SR)
    return path


def _render_batch(specs: list[dict], paths: list[str]) -> int:
    for spec, path in zip(specs, paths):
        _render_to(spec, path)
    return len(specs)


# ----------------------------------------------------------------------------------------------
# Generation with cache.

def _wav_path(folder: Path, utt_id: str) -> Path:
    return folder / "wav" / f"{utt_id}.wav"


def _check_stamp(folder: Path, name: str, seed: int) -> None:
    """Refuse a cache folder made by another corpus, seed or generator version (``corpus.json``)."""
    stamp = folder / "corpus.json"
    want = {"corpus": name, "version": VERSION, "seed": int(seed)}
    if stamp.is_file():
        have = json.loads(stamp.read_text())
        if have != want:
            raise CorpusError(f"{folder} holds {have}, not {want}; its audio cannot be reused. Pass another "
                              "root (or none, for the default per-version folder) or delete that folder.")
    else:
        atomic_write(stamp, lambda tmp: Path(tmp).write_text(json.dumps(want)))


def _remove_stale_temporaries(folder: Path, max_age_s: float = 3600.0) -> None:
    """Delete temporary files left by a killed generation (older than an hour, so a run in
    another process that is writing right now is not disturbed)."""
    now = time.time()
    for tmp in folder.glob(".*.tmp.wav"):
        try:
            if now - tmp.stat().st_mtime > max_age_s:
                tmp.unlink()
        except OSError:
            pass


def generate(name: str = "synthetic", size: str | int = "quick", seed: int = 0, *, root=None,
             n_jobs: int | None = None, progress: bool = True) -> pd.DataFrame:
    """Make sure every wav of ``size`` exists in the cache folder (making only missing ones).

    Returns the spec table (see :func:`utterance_specs`) with a ``path`` column.
    ``n_jobs`` processes synthesise in parallel (default: all CPU cores, at most 8);
    small jobs run in this process.
    """
    specs = utterance_specs(name, size, seed)
    folder = cache_folder(name, seed, root)
    (folder / "wav").mkdir(parents=True, exist_ok=True)
    _check_stamp(folder, name, seed)
    specs["path"] = [str(_wav_path(folder, u)) for u in specs["utt_id"]]
    _remove_stale_temporaries(folder / "wav")
    todo = [k for k, p in enumerate(specs["path"]) if not os.path.exists(p)]
    if todo:
        _run(specs.iloc[todo], n_jobs=n_jobs, progress=progress, desc=f"generating {name} (seed {seed})")
    return specs


def _run(specs: pd.DataFrame, *, n_jobs: int | None, progress: bool, desc: str) -> None:
    """Render the given specs to their paths: in ``n_jobs`` spawned processes, or here for small jobs.

    If the process pool breaks (typically a script without an ``if __name__ == "__main__":``
    guard, whose spawned workers re-run it), the remaining files are made in this process,
    with a warning saying why.
    """
    from serlib.progress import bar as progress_bar

    records = specs.to_dict("records")
    n_jobs = n_jobs or min(os.cpu_count() or 1, 8)
    bar = progress_bar(total=len(records), desc=desc, unit="utt", disable=not progress)
    try:
        if n_jobs > 1 and len(records) > 48:
            batch = 16
            try:
                with ProcessPoolExecutor(max_workers=n_jobs, mp_context=get_context("spawn")) as pool:
                    futures = [pool.submit(_render_batch, records[k:k + batch], [r["path"] for r in
                                                                                   records[k:k + batch]])
                               for k in range(0, len(records), batch)]
                    for fut in as_completed(futures):
                        bar.update(fut.result())
                return
            except BrokenProcessPool as exc:
                warnings.warn(f"parallel generation failed ({exc}); making the remaining files in this process. "
                              "In a script, put the code that loads the corpus under "
                              "'if __name__ == \"__main__\":' so that worker processes can start.", stacklevel=3)
        for r in records:
            if not os.path.exists(r["path"]):
                _render_to(r, r["path"])
            bar.update(1)
    finally:
        bar.close()


def _durations(paths: list[str], specs: pd.DataFrame, name: str, n_jobs, progress) -> list[float]:
    out = []
    for k, p in enumerate(paths):
        try:
            info = sf.info(p)
            out.append(info.frames / info.samplerate)
        except Exception:  # an unreadable cached file (e.g. disk trouble): remake it once
            warnings.warn(f"{p}: cached audio is unreadable; regenerating it", stacklevel=3)
            os.unlink(p)
            _run(specs.iloc[[k]], n_jobs=1, progress=False, desc=f"regenerating {name}")
            info = sf.info(p)
            out.append(info.frames / info.samplerate)
    return out


def _load(name: str, root, size, seed, n_jobs, progress, validate=False) -> pd.DataFrame:
    specs = generate(name, size, seed, root=root, n_jobs=n_jobs, progress=progress)
    specs["duration"] = _durations(list(specs["path"]), specs, name, n_jobs, progress)
    rows = specs.assign(split=None)
    df = make_manifest(rows.to_dict("records"), corpus=name, av_scale=AV_SCALE)
    folder = cache_folder(name, seed, root)
    n = len(df)
    atomic_write(folder / f"manifest-{n}.csv", lambda tmp: df.to_csv(tmp, index=False))
    atomic_write(folder / f"specs-{n}.csv", lambda tmp: specs.to_csv(tmp, index=False))
    df.attrs.update(seed=int(seed), version=VERSION, size=n, cache=str(folder))
    if validate:
        from .real.common import validate_audio
        validate_audio(df)
    return df


def load_synthetic(root: str | os.PathLike | None = None, *, size: str | int = "quick", seed: int = 0,
                   n_jobs: int | None = None, progress: bool = True, validate: bool = False) -> pd.DataFrame:
    """The embedded IEMOCAP-like corpus as a manifest, generating missing audio first.

    Args:
        root: cache folder override (default ``data_dir("corpora", "synthetic-v<VERSION>-seed<seed>")``).
        size: "smoke" (40), "quick" (1,200), "paper" (5,500) or a number of utterances.
        seed: corpus seed; the same seed gives bit-identical audio.
        n_jobs: synthesis processes (default: CPU cores, at most 8).
        progress: show a progress bar.
        validate: decode every file (as the real-corpus loaders do with ``validate=True``).
    """
    return _load("synthetic", root, size, seed, n_jobs, progress, validate)


def load_xcorpus(root: str | os.PathLike | None = None, *, size: str | int = "quick", seed: int = 0,
                 n_jobs: int | None = None, progress: bool = True, validate: bool = False) -> pd.DataFrame:
    """The cross-corpus variant (disjoint speakers, other sentences, another recording chain).

    Same arguments as :func:`load_synthetic`; cache folder ``synthetic_xcorpus-v<VERSION>-seed<seed>``.
    """
    return _load("synthetic_xcorpus", root, size, seed, n_jobs, progress, validate)


def generation_speed(n: int = 40, seed: int = 0) -> dict:
    """Time the synthesis of ``n`` utterances in this process (no disk): utterances/s and x real time."""
    var = _variant("synthetic")
    specs = [_spec(var, seed, i) for i in range(n)]
    t0 = time.perf_counter()
    seconds = sum(render(s).size for s in specs) / SR
    dt = time.perf_counter() - t0
    return {"utterances": n, "audio_s": seconds, "wall_s": dt, "utt_per_s": n / dt, "x_real_time": seconds / dt}


def _check_specs_are_valid() -> None:
    for s in SPEAKERS + XCORPUS_SPEAKERS:
        if s.gender not in ("F", "M"):  # pragma: no cover - guard for edits
            raise CorpusError(f"speaker {s.speaker}: gender must be F or M")
    if set(SPEAKER_VOICES) & set(XCORPUS_SPEAKER_VOICES):  # pragma: no cover
        raise CorpusError("synthetic and synthetic_xcorpus speakers must be disjoint")


_check_specs_are_valid()
