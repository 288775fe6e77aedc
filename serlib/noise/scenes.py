"""Generated noise scenes: one recipe per noise type, layered from :mod:`serlib.noise.synth` blocks.

The papers test with recorded noise we cannot ship (iNoise, DEMAND, ESC-50, MUSAN), so the default
bank is generated. Each type is a recipe of layers meant to sound like what it names: engines,
clatter, talkers, footsteps, wind, rain, birds, music, ... rather than plain coloured noise (that is
what the ``stationary`` family is for). Every clip is a function of ``(VERSION, noise_type,
source index)`` only, so any subset of the bank can be generated in any order with identical audio.

Families (:data:`NOISE_FAMILIES`) let notebooks loop over groups; a type may belong to several
(``cafeteria`` is both an iNoise and a DEMAND scene).

Talkers (babble, cafeteria, radio, announcements, ...) are eSpeak NG voices that are *not* speakers
of the embedded speech corpora (see :func:`background_voices`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
from scipy import signal

from serlib.audio import SR
from serlib.noise import synth as S

__all__ = [
    "VERSION", "NOISE_FAMILIES", "NOISE_TYPES", "TYPE_DURATIONS", "N_SOURCES",
    "stable_seed", "background_voices", "generate_clip", "clip_duration",
]

VERSION = 2
"""Bump when any recipe changes: the bank is cached under ``data/noise/synthetic-v{VERSION}``.
2: talkers' eSpeak NG noise is seeded (:mod:`serlib.tts`), so babble and the scenes with voices are
the same on every machine (version 1 banks differed in 18 of 162 clips between two generations)."""

N_SOURCES = 6
"""Disjoint source clips generated per noise type (4 train / 2 test, see :mod:`serlib.noise.banks`)."""

NOISE_FAMILIES: dict[str, list[str]] = {
    "babble": ["babble"],
    "music": ["music"],
    "stationary": ["white", "pink", "brown"],
    "inoise": ["workplace", "cafeteria", "home", "bus", "street"],
    "demand": ["kitchen", "park", "station", "traffic", "cafeteria"],
    "esc": ["dog", "rain", "sea_waves", "crying_baby", "clock_tick", "sneezing", "helicopter", "chainsaw",
            "rooster", "crackling_fire"],
    "musan": ["noise", "music", "speech"],
    "broadcast": ["radio"],
}
"""Groups of generated noise types: paper 1 uses ``inoise``, paper 3 ``esc`` and ``musan``, paper 4
``musan`` (noise, music, speech = babble-like), paper 5 ``demand``, paper 2's room simulation ``radio``."""
NOISE_FAMILIES["environmental"] = sorted(set(NOISE_FAMILIES["inoise"] + NOISE_FAMILIES["demand"]))

NOISE_TYPES: list[str] = sorted({t for types in NOISE_FAMILIES.values() for t in types})
"""Every generated noise type."""

TYPE_DURATIONS: dict[str, tuple[float, float]] = {t: (8.0, 20.0) for t in NOISE_TYPES}
"""Clip duration range (s) per type: ESC-like clips are 5 s like ESC-50's; others 8-20 s."""
TYPE_DURATIONS.update({t: (5.0, 5.0) for t in NOISE_FAMILIES["esc"]})
TYPE_DURATIONS.update({t: (10.0, 10.0) for t in NOISE_FAMILIES["stationary"]})

_TARGET_RMS = 0.05  # -26 dBFS: clips are rescaled by mix() anyway; this keeps them audible and unclipped
_PEAK = 0.95


def stable_seed(*parts) -> int:
    """A 64-bit seed from any printable parts, stable across processes and Python versions.

    (Python's ``hash`` is salted per process, so it must never seed anything.)
    """
    text = "".join(f"{len(str(p))}:{p};" for p in parts)  # length-prefixed: ("a", "b") != ("a;b",)
    h = hashlib.blake2b(text.encode("utf-8"), digest_size=8)
    return int.from_bytes(h.digest(), "little")


def clip_duration(noise_type: str, index: int) -> float:
    """Duration (s) of generated clip ``index`` of ``noise_type`` (deterministic)."""
    lo, hi = TYPE_DURATIONS[noise_type]
    rng = np.random.default_rng(stable_seed("dur", VERSION, noise_type, index))
    return float(round(rng.uniform(lo, hi), 2))


def background_voices() -> list[str]:
    """eSpeak NG voices usable as background talkers: :data:`serlib.tts.VOICES` minus corpus speakers.

    The embedded corpora (``serlib.corpora.synthetic`` and its cross-corpus variant) export the voices
    they use as speakers (``CORPUS_VOICES``). No talker of a noise clip uses one of them, nor even
    the same voice variant (timbre) under another accent, so babble never carries a corpus speaker.
    """
    from serlib import tts

    try:
        from serlib.corpora.synthetic import CORPUS_VOICES
    except ImportError as exc:
        raise ImportError(
            "serlib.noise needs serlib.corpora.synthetic.CORPUS_VOICES (the eSpeak voices used as corpus "
            "speakers) to keep them out of babble; it could not be imported: " + str(exc)
        ) from exc
    # A voice is "accent+variant" and the variant sets the timbre (formants, pitch, breathiness). To be
    # safe, a talker may share neither the exact voice nor the variant with any corpus speaker.
    reserved_variants = {v.split("+", 1)[1].lower() for v in CORPUS_VOICES if "+" in v}
    voices = [v for v in tts.VOICES if v not in CORPUS_VOICES and "+" in v
              and v.split("+", 1)[1].lower() not in reserved_variants]
    if len(voices) < 8:
        raise RuntimeError(f"only {len(voices)} eSpeak voices are left for babble after removing corpus speakers")
    return voices


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def _lay(*layers: tuple[np.ndarray, float]) -> np.ndarray:
    """Sum ``(signal, dB)`` layers (beds are RMS 1, event layers peak 1)."""
    n = len(layers[0][0])
    out = np.zeros(n)
    for x, db in layers:
        out += np.asarray(x, dtype=np.float64)[:n] * 10.0 ** (db / 20.0)
    return out.astype(np.float32)


def _gate(rng: np.random.Generator, n: int, on_s: tuple[float, float], off_s: tuple[float, float],
          sr: int = SR, ramp_ms: float = 30.0, start_on: bool | None = None) -> np.ndarray:
    """Random on/off intervals (0/1 with short ramps): typing bursts, running tap, footsteps."""
    g = np.zeros(n)
    pos, on = 0, (rng.random() < 0.5) if start_on is None else start_on
    while pos < n:
        d = int(rng.uniform(*(on_s if on else off_s)) * sr)
        if on:
            g[pos:pos + d] = 1.0
        pos += max(d, 1)
        on = not on
    k = max(1, int(sr * ramp_ms / 1000))
    return np.clip(signal.fftconvolve(g, np.ones(k) / k, mode="same"), 0.0, 1.0).astype(np.float32)


def _talkers(rng, n, voices, k: int, sr: int = SR, **kw) -> np.ndarray:
    """``k`` talkers at equal level (each normalised on its speech), summed, RMS 1."""
    out = np.zeros(n)
    for _ in range(k):
        x = S.talker_stream(rng, n, voices, sr, **kw)
        active = np.abs(x) > 1e-4
        r = np.sqrt(np.mean(x[active] ** 2)) if active.any() else 1.0
        out += x / max(r, 1e-9) * 10 ** (rng.uniform(-4, 2) / 20)
    return S.normalize(out)


def _room_tone(rng, n, sr=SR, lp=400.0) -> np.ndarray:
    return S.normalize(S.filt(S.colored(rng, n, 1.5, sr), "lowpass", lp, sr))


def _footsteps(rng, n, sr=SR, hard: bool = True) -> np.ndarray:
    """Walking: a step every ~0.5 s during walking intervals (heel clicks or soft thumps)."""
    freq = (800, 3000) if hard else (80, 400)
    step = lambda r: S.impact(r, sr, freq=freq, decay_s=(0.008, 0.03), n_modes=3, click=0.8)  # noqa: E731
    steps = S.scatter(rng, n, 0, step, period=rng.uniform(0.45, 0.6) * sr, jitter=0.08, level_db=(-6, 0), sr=sr)
    return steps * _gate(rng, n, (2, 5), (1, 4), sr)


def _clatter(rng, n, rate, sr=SR, freq=(1500, 7000), decay=(0.02, 0.15)) -> np.ndarray:
    """Dishes and cutlery: struck objects in little clusters."""
    def cluster(r):
        m = int(r.integers(1, 4))
        ev = np.zeros(int(0.6 * sr))
        for _ in range(m):
            x = S.impact(r, sr, freq=freq, decay_s=decay, n_modes=int(r.integers(2, 6)))
            t0 = int(r.uniform(0, 0.3) * sr)
            ev[t0:t0 + len(x)] += x[: len(ev) - t0] * r.uniform(0.3, 1)
        return ev
    return S.scatter(rng, n, rate, cluster, level_db=(-14, 0), sr=sr)


def _tone_seq(freqs_dur: list[tuple[tuple[float, ...], float]], sr=SR) -> np.ndarray:
    """Concatenated (chord of sine frequencies, duration) pieces: phone rings, chimes, beeps."""
    parts = []
    for freqs, dur in freqs_dur:
        t = np.arange(int(dur * sr)) / sr
        x = sum(np.sin(2 * np.pi * f * t) for f in freqs) if freqs else np.zeros_like(t)
        parts.append(S.fade(np.asarray(x, dtype=np.float32), 5, sr))
    out = np.concatenate(parts)
    peak = np.abs(out).max()
    return out / peak if peak > 0 else out


def _engine(rng, n, sr, f0_range, changes_per_s=0.15, tilt=-3.0, n_harm=30, jitter=0.02) -> np.ndarray:
    """An engine whose firing frequency ramps between random targets (acceleration, gear changes)."""
    knots = max(3, int(n / sr * changes_per_s) + 2)
    f0 = np.interp(np.arange(n), np.linspace(0, n, knots), rng.uniform(*f0_range, size=knots))
    return S.harmonic(f0, n, sr, n_harm=n_harm, tilt_db=tilt, rng=rng, jitter=jitter)


def _chirp(rng, sr=SR, f=(2000, 6000), dur=(0.04, 0.2)) -> np.ndarray:
    """A bird chirp: a fast frequency sweep with a little vibrato."""
    d = rng.uniform(*dur)
    m = int(d * sr)
    t = np.arange(m) / sr
    f_a, f_b = rng.uniform(*f, size=2)
    track = f_a + (f_b - f_a) * (t / d) ** rng.uniform(0.5, 2) + 150 * np.sin(2 * np.pi * rng.uniform(20, 60) * t)
    x = np.sin(2 * np.pi * np.cumsum(track) / sr) * np.hanning(m)
    return x.astype(np.float32)


def _bird_song(rng, sr=SR) -> np.ndarray:
    k = int(rng.integers(2, 7))
    gap = int(rng.uniform(0.03, 0.12) * sr)
    base = rng.uniform(2000, 4500)
    parts = []
    for _ in range(k):
        parts += [_chirp(rng, sr, f=(base * 0.8, base * 1.4)), np.zeros(gap, dtype=np.float32)]
    return np.concatenate(parts)


def _vowel_call(rng, sr, dur, f0_start, f0_peak, f0_end, formant_freqs, vibrato=(0, 0), noise_db=-20.0,
                tilt=-4.0) -> np.ndarray:
    """A voiced call (bark, cry, crow): harmonic source along a 3-point pitch contour, formant-filtered."""
    m = int(dur * sr)
    t = np.linspace(0, 1, m)
    f0 = np.interp(t, [0, 0.35, 1], [f0_start, f0_peak, f0_end])
    if vibrato[0] > 0:
        f0 = f0 * (1 + vibrato[1] * np.sin(2 * np.pi * vibrato[0] * t * dur))
    src = S.harmonic(f0, m, sr, n_harm=25, tilt_db=tilt, rng=rng, jitter=0.01)
    src = src + 10 ** (noise_db / 20) * S.colored(rng, m, 0.0, sr)
    x = S.formants(src, formant_freqs, q=4.0, sr=sr)
    env = np.minimum(1.0, np.minimum(t / 0.08, (1 - t) / 0.25))
    return (x * np.clip(env, 0, 1)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# music
# --------------------------------------------------------------------------------------------

_MAJOR, _MINOR = [0, 2, 4, 5, 7, 9, 11], [0, 2, 3, 5, 7, 8, 10]
_PROGRESSIONS = [[0, 4, 5, 3], [0, 5, 3, 4], [0, 3, 4, 4], [5, 3, 0, 4], [0, 3, 0, 4]]
_GENRES = ["pop", "piano", "ambient", "rock", "electronic", "folk"]


def _note(f: float, dur: float, sr: int, kind: str, rng) -> np.ndarray:
    m = max(16, int(dur * sr))
    t = np.arange(m) / sr
    if kind == "pluck":  # piano / guitar: bright attack, exponential decay
        x = S.harmonic(f, m, sr, n_harm=12, tilt_db=-7, rng=rng) * np.exp(-t / rng.uniform(0.3, 0.8))
    elif kind == "pad":  # strings / synth pad: slow attack and release
        x = S.harmonic(f * (1 + 0.003 * np.sin(2 * np.pi * 5 * t)), m, sr, n_harm=8, tilt_db=-9, rng=rng)
        x = x * np.minimum(1, np.minimum(t / 0.3, (dur - t) / 0.3)).clip(0, 1)
    elif kind == "bass":
        x = S.harmonic(f, m, sr, n_harm=6, tilt_db=-10, rng=rng) * np.exp(-t / 0.6)
    elif kind == "lead":  # singing-like synth lead with vibrato
        x = S.harmonic(f * (1 + 0.006 * np.sin(2 * np.pi * 5.5 * t)), m, sr, n_harm=10, tilt_db=-6, rng=rng)
        x = x * np.minimum(1, np.minimum(t / 0.03, (dur - t) / 0.08)).clip(0, 1)
    elif kind == "dist":  # distorted guitar
        x = np.tanh(3 * S.harmonic(f, m, sr, n_harm=8, tilt_db=-5, rng=rng)) * np.exp(-t / 1.2)
    else:
        raise ValueError(kind)
    return x.astype(np.float32)


def _drum(kind: str, sr: int, rng) -> np.ndarray:
    if kind == "kick":
        m = int(0.25 * sr)
        t = np.arange(m) / sr
        f = 50 + 90 * np.exp(-t / 0.03)
        return (np.sin(2 * np.pi * np.cumsum(f) / sr) * np.exp(-t / 0.12)).astype(np.float32)
    if kind == "snare":
        m = int(0.2 * sr)
        t = np.arange(m) / sr
        x = S.filt(rng.standard_normal(m), "bandpass", (1000, 6000), sr) * 3 + 0.5 * np.sin(2 * np.pi * 190 * t)
        return (x * np.exp(-t / 0.06)).astype(np.float32)
    m = int(0.06 * sr)  # hi-hat
    t = np.arange(m) / sr
    return (S.filt(rng.standard_normal(m), "highpass", 7000, sr) * 2 * np.exp(-t / 0.015)).astype(np.float32)


def _put(out: np.ndarray, x: np.ndarray, pos: int, gain: float = 1.0) -> None:
    if pos >= len(out):
        return
    m = min(len(x), len(out) - pos)
    out[pos:pos + m] += gain * x[:m]


def _music(rng, n, sr=SR, genre: str | None = None) -> np.ndarray:
    """A synthesised piece: chord progression (pad/piano), bass, melody and drums depending on genre."""
    genre = genre or _GENRES[int(rng.integers(len(_GENRES)))]
    bpm = {"ambient": rng.uniform(60, 80), "piano": rng.uniform(70, 100)}.get(genre, rng.uniform(90, 140))
    beat = 60.0 / bpm
    scale = _MAJOR if rng.random() < 0.6 else _MINOR
    root = 48 + int(rng.integers(0, 12))  # MIDI note of the tonic (C3..B3)
    prog = _PROGRESSIONS[int(rng.integers(len(_PROGRESSIONS)))]
    hz = lambda midi: 440.0 * 2 ** ((midi - 69) / 12)  # noqa: E731
    deg = lambda d, octave=0: root + 12 * (octave + d // 7) + scale[d % 7]  # noqa: E731
    chords, bass, lead, drums = (np.zeros(n) for _ in range(4))
    bar = 4 * beat
    n_bars = int(np.ceil(n / sr / bar)) + 1
    chord_kind = {"piano": "pluck", "rock": "dist", "folk": "pluck"}.get(genre, "pad")
    melody_deg = 7
    for b in range(n_bars):
        d = prog[b % len(prog)]
        t0 = int(b * bar * sr)
        for tone in (0, 2, 4):
            if chord_kind == "pad":
                _put(chords, _note(hz(deg(d + tone, 1)), bar, sr, "pad", rng), t0, 0.5)
            else:  # strummed / arpeggiated on each beat
                for q in range(4):
                    _put(chords, _note(hz(deg(d + tone, 1)), beat * 1.5, sr, chord_kind, rng),
                         t0 + int((q * beat + tone * 0.02) * sr), 0.4)
        if genre != "ambient":
            for q in (0, 2):
                _put(bass, _note(hz(deg(d, -1)), beat * 1.8, sr, "bass", rng), t0 + int(q * beat * sr), 0.8)
            # melody: eighth notes drifting over the scale, with rests
            for e in range(8):
                if rng.random() < 0.3:
                    continue
                melody_deg = int(np.clip(melody_deg + rng.integers(-2, 3), 4, 13))
                _put(lead, _note(hz(deg(melody_deg, 1)), beat * 0.5, sr, "lead" if genre != "piano" else "pluck",
                                 rng), t0 + int(e * beat * 0.5 * sr), 0.35)
        if genre in ("pop", "rock", "electronic"):
            for q in range(4):
                tq = t0 + int(q * beat * sr)
                _put(drums, _drum("kick" if q % 2 == 0 else "snare", sr, rng), tq, 0.9)
                _put(drums, _drum("hat", sr, rng), tq, 0.3)
                _put(drums, _drum("hat", sr, rng), tq + int(beat * sr / 2), 0.25)
        elif genre == "folk" and b % 2 == 0:
            _put(drums, _drum("snare", sr, rng), t0 + int(3 * beat * sr), 0.3)  # a hand drum
    mixture = (S.normalize(chords) + 0.7 * S.normalize(bass) + 0.8 * S.normalize(lead) +
               (0.9 * S.normalize(drums) if np.any(drums) else 0))
    return S.reverb(mixture, rng, rt60=rng.uniform(0.4, 1.5), wet=0.25, sr=sr)


# --------------------------------------------------------------------------------------------
# recipes: each (rng, n, sr, voices) -> audio
# --------------------------------------------------------------------------------------------

def _white(rng, n, sr, voices):
    return S.colored(rng, n, 0.0, sr)


def _pink(rng, n, sr, voices):
    return S.colored(rng, n, 1.0, sr)


def _brown(rng, n, sr, voices):
    return S.colored(rng, n, 2.0, sr)


def _babble(rng, n, sr, voices):
    x = _talkers(rng, n, voices, int(rng.integers(5, 10)), sr, pause_s=(0.1, 0.6))
    return S.reverb(x, rng, rt60=rng.uniform(0.3, 0.8), wet=0.3, sr=sr)


def _music_recipe(rng, n, sr, voices, index: int = 0):
    return _music(rng, n, sr, genre=_GENRES[index % len(_GENRES)])


def _speech(rng, n, sr, voices):
    """MUSAN-like speech: one person reading (audiobook / speech), short pauses."""
    x = S.talker_stream(rng, n, voices, sr, pause_s=(0.15, 0.6), rate=(130, 180))
    return S.normalize(x) + 10 ** (-45 / 20) * _room_tone(rng, n, sr)


def _radio(rng, n, sr, voices):
    """A radio show: host talk, music, talk over a music bed, jingles; band-limited and compressed."""
    out = np.zeros(n)
    pos = 0
    while pos < n:
        kind = rng.choice(["talk", "music", "talk_bed", "jingle"], p=[0.35, 0.3, 0.25, 0.1])
        d = int({"jingle": rng.uniform(1.5, 3), "music": rng.uniform(5, 10)}.get(kind, rng.uniform(4, 9)) * sr)
        d = min(d, n - pos)
        if d < sr // 4:
            break
        if kind in ("talk", "talk_bed"):
            seg = _talkers(rng, d, voices, int(rng.integers(1, 3)), sr, pause_s=(0.1, 0.4))
            if kind == "talk_bed":
                seg = seg + 10 ** (-14 / 20) * S.normalize(_music(rng, d, sr))
        else:
            seg = S.normalize(_music(rng, d, sr, genre="electronic" if kind == "jingle" else None))
        out[pos:pos + d] += S.fade(seg, 40, sr)
        pos += d
    out = S.filt(out, "bandpass", (120, 6500), sr)
    return np.tanh(2.0 * S.normalize(out) / 3.0)  # broadcast compression


def _musan_noise(rng, n, sr, voices, index: int = 0):
    """MUSAN-like 'noise': each source is one kind of technical or ambient sound."""
    kind = ["dial", "fax", "thunder", "paper", "machine", "applause", "vacuum"][index % 7]
    if kind == "dial":  # dial tone, DTMF digits, busy signal
        keys = [(697, 1209), (697, 1336), (770, 1477), (852, 1336), (941, 1209), (770, 1209)]
        seq = [((350, 440), rng.uniform(1, 2))]
        for _ in range(int(rng.integers(6, 12))):
            seq += [(keys[int(rng.integers(len(keys)))], 0.1), ((), 0.08)]
        seq += [((480, 620), 0.5), ((), 0.5)] * 6
        x = np.resize(_tone_seq(seq, sr), n)
        return x + 0.03 * _room_tone(rng, n, sr)
    if kind == "fax":  # modem handshake: warbling tones, chirps and noise bursts
        t = np.arange(n) / sr
        x = np.sin(2 * np.pi * (1650 + 500 * np.sign(np.sin(2 * np.pi * rng.uniform(8, 30) * t))) * t)
        bursts = S.filt(rng.standard_normal(n), "bandpass", (600, 3400), sr) * _gate(rng, n, (0.3, 1.5), (0.2, 1), sr)
        return S.normalize(x) * _gate(rng, n, (1, 3), (0.3, 1), sr) + 1.5 * S.normalize(bursts)
    if kind == "thunder":
        def boom(r):
            m = int(r.uniform(2, 5) * sr)
            t = np.arange(m) / sr
            crack = np.exp(-t / 0.05) * r.standard_normal(m) * (r.random() < 0.5)
            rumble = S.filt(r.standard_normal(m), "lowpass", 200, sr, order=4) * 8 * np.exp(-t / r.uniform(0.8, 2))
            return rumble + 0.3 * crack
        rain = S.filt(S.colored(rng, n, 0.5, sr), "highpass", 1000, sr)
        return _lay((S.scatter(rng, n, 0.15, boom, level_db=(-8, 0), sr=sr), 6), (rain, -10))
    if kind == "paper":
        rustle = S.filt(rng.standard_normal(n), "highpass", 1500, sr) * S.envelope(rng, n, 12, 30, sr)
        return rustle * _gate(rng, n, (0.5, 2), (0.2, 1), sr) + 0.02 * _room_tone(rng, n, sr)
    if kind == "machine":  # motor hum + harmonics + periodic mechanical clanks
        hum = _engine(rng, n, sr, (45, 60), changes_per_s=0.05, tilt=-5, n_harm=20)
        clank = S.scatter(rng, n, 0, lambda r: S.impact(r, sr, freq=(300, 2000), decay_s=(0.02, 0.1)),
                          period=rng.uniform(0.3, 1.2) * sr, jitter=0.02, sr=sr)
        return _lay((hum, 0), (clank, 4), (S.filt(S.colored(rng, n, 1, sr), "bandpass", (200, 3000), sr), -8))
    if kind == "applause":
        clap = lambda r: S.filt(r.standard_normal(int(0.01 * sr)), "bandpass", (800, 4000), sr) * np.hanning(  # noqa: E731
            int(0.01 * sr))
        dens = S.scatter(rng, n, 150, clap, level_db=(-15, 0), sr=sr)
        return dens * S.envelope(rng, n, 0.3, 12, sr)
    # vacuum cleaner: motor whine + broadband airflow, switched on/off
    whine = _engine(rng, n, sr, (300, 420), changes_per_s=0.3, tilt=-8, n_harm=10)
    air = S.filt(S.colored(rng, n, 0.5, sr), "bandpass", (300, 6000), sr)
    return (0.6 * whine + air) * (0.15 + _gate(rng, n, (3, 8), (0.5, 2), sr, ramp_ms=300, start_on=True))


# ---- paper 1: iNoise-like scenes ----

def _workplace(rng, n, sr, voices):
    hvac = S.filt(S.colored(rng, n, 1.5, sr), "lowpass", 600, sr)
    hum = S.harmonic(rng.choice([50.0, 60.0]), n, sr, n_harm=6, tilt_db=-6)
    keys = S.scatter(rng, n, 7, lambda r: S.impact(r, sr, freq=(1500, 5000), decay_s=(0.004, 0.02), n_modes=3,
                                                    click=1.0), level_db=(-10, 0), sr=sr)
    keys = keys * _gate(rng, n, (1.5, 5), (1, 4), sr)
    talk = S.reverb(S.filt(_talkers(rng, n, voices, int(rng.integers(1, 4)), sr), "lowpass", 3500, sr), rng, 0.5,
                    0.4, sr)
    printer = S.filt(rng.standard_normal(n), "bandpass", (400, 2500), sr) * (
        0.5 + 0.5 * np.sin(2 * np.pi * 9 * np.arange(n) / sr)) * _gate(rng, n, (2, 4), (6, 15), sr, start_on=False)
    layers = [(hvac, 0), (hum, -20), (keys, 6), (talk, -3), (printer, -8), (_footsteps(rng, n, sr), -2)]
    if rng.random() < 0.6:  # a phone rings somewhere
        ring = _tone_seq([((440, 480), 2.0), ((), 4.0)] * 4, sr)
        start = int(rng.uniform(0, 0.5) * n)
        r = np.zeros(n)
        _put(r, ring, start)
        layers.append((S.reverb(r.astype(np.float32), rng, 0.5, 0.4, sr), -6))
    return S.reverb(_lay(*layers), rng, 0.45, 0.2, sr)


def _cafeteria(rng, n, sr, voices):
    crowd = _talkers(rng, n, voices, int(rng.integers(8, 13)), sr, pause_s=(0.1, 1.0))
    crowd = S.reverb(crowd, rng, rng.uniform(0.6, 1.0), 0.45, sr)
    dishes = _clatter(rng, n, rng.uniform(0.8, 2.0), sr)
    cutlery = _clatter(rng, n, rng.uniform(1.5, 3.0), sr, freq=(3000, 8000), decay=(0.01, 0.05))
    scrape = S.scatter(rng, n, 0.15, lambda r: S.filt(r.standard_normal(int(0.5 * sr)), "bandpass", (300, 2000), sr)
                       * np.hanning(int(0.5 * sr)) * (1 + np.sin(2 * np.pi * r.uniform(15, 40) * np.arange(
                           int(0.5 * sr)) / sr)), sr=sr)
    hiss = S.filt(rng.standard_normal(n), "highpass", 2000, sr) * _gate(rng, n, (1, 3), (8, 20), sr, start_on=False)
    return _lay((crowd, 0), (S.reverb(dishes, rng, 0.7, 0.3, sr), 8), (cutlery, 4), (scrape, 0), (hiss, -12),
                (_room_tone(rng, n, sr), -12))


def _home(rng, n, sr, voices):
    fridge = _lay((S.harmonic(rng.choice([50.0, 60.0]), n, sr, n_harm=8, tilt_db=-4), 0),
                  (S.filt(S.colored(rng, n, 1, sr), "lowpass", 300, sr), -3))
    tv_talk = _talkers(rng, n, voices, 1, sr, pause_s=(0.2, 0.8))
    tv = S.normalize(tv_talk + 0.3 * S.normalize(_music(rng, n, sr)))
    tv = S.reverb(S.filt(tv, "lowpass", rng.uniform(1500, 3000), sr), rng, 0.6, 0.5, sr)  # another room
    door = S.scatter(rng, n, 0.08, lambda r: S.impact(r, sr, freq=(60, 250), decay_s=(0.05, 0.15), click=1.0),
                     sr=sr)
    kitchen = _clatter(rng, n, 0.3, sr)
    tick = S.scatter(rng, n, 0, lambda r: S.impact(r, sr, freq=(2500, 4000), decay_s=(0.003, 0.01)), period=sr,
                     jitter=0.0, sr=sr)
    return S.reverb(_lay((fridge, -6), (tv, 0), (door, 6), (kitchen, 2), (_footsteps(rng, n, sr, hard=False), 4),
                         (tick, -14)), rng, 0.4, 0.2, sr)


def _bus(rng, n, sr, voices):
    engine = _engine(rng, n, sr, (22, 45), changes_per_s=0.25, tilt=-4, n_harm=30)
    rumble = S.filt(S.colored(rng, n, 2, sr), "lowpass", 300, sr) * S.envelope(rng, n, 0.5, 6, sr)
    road = S.filt(S.colored(rng, n, 1, sr), "lowpass", 1500, sr)
    rattle = _clatter(rng, n, rng.uniform(2, 5), sr, freq=(800, 3000), decay=(0.01, 0.04))
    brakes = S.filt(rng.standard_normal(n), "bandpass", (2000, 6000), sr) * _gate(rng, n, (0.5, 1.2), (5, 12), sr,
                                                                                   start_on=False)
    indicator = S.scatter(rng, n, 0, lambda r: S.impact(r, sr, freq=(1000, 2000), decay_s=(0.005, 0.015)),
                          period=0.7 * sr, sr=sr) * _gate(rng, n, (2, 5), (4, 10), sr, start_on=False)
    passengers = _talkers(rng, n, voices, int(rng.integers(1, 4)), sr)
    return _lay((engine, -2), (rumble, 0), (road, -4), (rattle, 2), (brakes, -14), (indicator, -8),
                (S.reverb(passengers, rng, 0.3, 0.3, sr), -8))


def _street(rng, n, sr, voices):
    bed = S.filt(S.colored(rng, n, 2, sr), "lowpass", 800, sr)
    cars = np.zeros(n, dtype=np.float32)
    for _ in range(rng.poisson(0.35 * n / sr) + 1):
        cars += S.pass_by(rng, n, sr, center=rng.uniform(0, n), tau_s=rng.uniform(0.8, 2.5), f0=rng.uniform(30, 70),
                          bright=rng.uniform(800, 2500)) * 10 ** (rng.uniform(-8, 0) / 20)
    if rng.random() < 0.6:  # a motorbike
        cars += 1.5 * S.pass_by(rng, n, sr, center=rng.uniform(0, n), tau_s=1.0, f0=rng.uniform(80, 130),
                                bright=3000, engine_db=4, n_harm=20)
    horn = S.scatter(rng, n, 0.08, lambda r: _tone_seq([((r.uniform(380, 450), r.uniform(480, 560)),
                                                         r.uniform(0.2, 0.8))], sr), sr=sr)
    talk = _talkers(rng, n, voices, 2, sr) * _gate(rng, n, (2, 5), (2, 6), sr)
    birds = S.scatter(rng, n, 0.3, lambda r: _bird_song(r, sr), sr=sr)
    return _lay((bed, -4), (S.normalize(cars), 0), (horn, -2), (_footsteps(rng, n, sr), 2), (talk, -6), (birds, -12))


# ---- paper 5: DEMAND-like scenes ----

def _kitchen(rng, n, sr, voices):
    fridge = _lay((S.harmonic(rng.choice([100.0, 120.0]), n, sr, n_harm=6, tilt_db=-6), 0),
                  (S.filt(S.colored(rng, n, 1, sr), "lowpass", 250, sr), -3))
    tap = S.filt(rng.standard_normal(n), "bandpass", (500, 5000), sr) * (
        1 + 0.5 * S.normalize(S.filt(rng.standard_normal(n), "lowpass", 40, sr)))
    tap = tap * _gate(rng, n, (1.5, 5), (2, 6), sr, ramp_ms=80)
    chop = S.scatter(rng, n, 0, lambda r: S.impact(r, sr, freq=(150, 900), decay_s=(0.01, 0.03), click=1.0),
                     period=rng.uniform(0.2, 0.35) * sr, jitter=0.15, sr=sr) * _gate(rng, n, (1.5, 4), (2, 6), sr)
    sizzle = S.scatter(rng, n, 300, lambda r: r.standard_normal(int(0.002 * sr)), level_db=(-20, 0), sr=sr)
    sizzle = S.filt(sizzle, "highpass", 2500, sr) * (rng.random() < 0.5)
    fan = S.filt(S.colored(rng, n, 1, sr), "bandpass", (150, 2000), sr) * (rng.random() < 0.5)
    x = _lay((fridge, -8), (tap, -4), (_clatter(rng, n, rng.uniform(0.8, 2), sr), 8), (chop, 6), (sizzle, -2),
             (fan, -6))
    return S.reverb(x, rng, 0.4, 0.25, sr)


def _park(rng, n, sr, voices):
    wind = S.filt(S.colored(rng, n, 1.2, sr), "lowpass", rng.uniform(400, 900), sr) * S.envelope(rng, n, 0.4, 15, sr)
    leaves = S.filt(rng.standard_normal(n), "highpass", 3000, sr) * S.envelope(rng, n, 0.4, 20, sr)
    birds = S.scatter(rng, n, rng.uniform(0.3, 1.2), lambda r: _bird_song(r, sr), sr=sr)
    voices_far = S.reverb(S.filt(_talkers(rng, n, voices, int(rng.integers(2, 5)), sr), "lowpass", 3000, sr), rng, 1.0,
                          0.5, sr)
    traffic = S.filt(S.colored(rng, n, 2, sr), "lowpass", 500, sr)
    gravel = S.scatter(rng, n, 0, lambda r: S.filt(r.standard_normal(int(0.08 * sr)), "highpass", 1500, sr) * np.exp(
        -np.arange(int(0.08 * sr)) / (0.02 * sr)), period=0.55 * sr, jitter=0.1, sr=sr) * _gate(rng, n, (2, 5), (3, 8),
                                                                                            sr)
    bark = S.scatter(rng, n, 0.05, lambda r: _dog_bark(r, sr), sr=sr)
    return _lay((wind, 0), (leaves, -12), (birds, 2), (voices_far, -8), (traffic, -12), (gravel, -4),
                (S.reverb(bark, rng, 0.8, 0.6, sr), -8))


def _station(rng, n, sr, voices):
    rt = rng.uniform(1.5, 2.5)  # a large hall
    crowd = _talkers(rng, n, voices, int(rng.integers(6, 11)), sr)
    steps = _footsteps(rng, n, sr) + _footsteps(rng, n, sr)
    suitcase = S.scatter(rng, n, 0, lambda r: S.impact(r, sr, freq=(300, 1500), decay_s=(0.005, 0.02)),
                         period=rng.uniform(0.08, 0.15) * sr, sr=sr) * _gate(rng, n, (1, 3), (3, 8), sr)
    hall = S.reverb(_lay((crowd, 0), (steps, 2), (suitcase, -2)), rng, rt, 0.55, sr)
    train = (_engine(rng, n, sr, (30, 50), tilt=-6, n_harm=15) + S.filt(S.colored(rng, n, 2, sr), "lowpass", 200, sr))
    train = train * _gate(rng, n, (4, 8), (4, 10), sr, ramp_ms=1500, start_on=False)
    squeal = S.harmonic(rng.uniform(2500, 4000), n, sr, n_harm=2) * _gate(rng, n, (0.8, 2), (8, 20), sr,
                                                                           start_on=False, ramp_ms=200)
    layers = [(hall, 0), (train, -2), (S.reverb(squeal, rng, rt, 0.5, sr), -16)]
    if rng.random() < 0.7:  # chime + announcement over the PA
        ann = np.zeros(n, dtype=np.float32)
        chime = _tone_seq([((659,), 0.5), ((523,), 0.7)], sr) * 0.5
        speech = S.normalize(S.talker_stream(rng, min(n, 5 * sr), voices, sr, pause_s=(0.1, 0.3)))
        pa = np.concatenate([chime, np.zeros(sr // 4, dtype=np.float32), speech])
        _put(ann, S.filt(pa, "bandpass", (300, 3400), sr, order=3), int(rng.uniform(0, 0.4) * n))
        layers.append((S.reverb(ann, rng, rt, 0.6, sr), 2))
    return _lay(*layers)


def _traffic(rng, n, sr, voices):
    bed = S.filt(S.colored(rng, n, 2, sr), "lowpass", 600, sr)
    cars = np.zeros(n, dtype=np.float32)
    for _ in range(rng.poisson(0.8 * n / sr) + 2):
        truck = rng.random() < 0.25
        cars += S.pass_by(rng, n, sr, center=rng.uniform(-sr, n + sr), tau_s=rng.uniform(1.5, 3.0) if truck else
                          rng.uniform(0.6, 2.0), f0=rng.uniform(22, 35) if truck else rng.uniform(35, 75),
                          bright=rng.uniform(600, 1200) if truck else rng.uniform(1000, 3000),
                          engine_db=2 if truck else -4) * 10 ** (rng.uniform(-6, 0) / 20)
    horn = S.scatter(rng, n, 0.1, lambda r: _tone_seq([((r.uniform(380, 450), r.uniform(480, 560)),
                                                        r.uniform(0.2, 0.8))], sr), sr=sr)
    def squeal(r):
        m = int(r.uniform(0.5, 1.5) * sr)
        return S.harmonic(r.uniform(1500, 3500), m, sr, n_harm=3) * np.hanning(m)
    brakes = S.scatter(rng, n, 0.05, squeal, sr=sr)
    return _lay((bed, -2), (S.normalize(cars), 0), (horn, -6), (brakes, -14))


# ---- paper 3: ESC-50-like events ----

def _esc_bed(rng, n, sr, lp=1500.0):
    return S.filt(S.colored(rng, n, 1.0, sr), "lowpass", lp, sr)


def _dog_bark(rng, sr=SR) -> np.ndarray:
    parts = []
    for _ in range(int(rng.integers(1, 4))):
        f = rng.uniform(300, 650)
        parts.append(_vowel_call(rng, sr, rng.uniform(0.1, 0.25), f * 0.9, f * 1.2, f * 0.7,
                                 [rng.uniform(800, 1300), rng.uniform(2000, 3000)], noise_db=-8, tilt=-3))
        parts.append(np.zeros(int(rng.uniform(0.15, 0.4) * sr), dtype=np.float32))
    return np.concatenate(parts)


def _dog(rng, n, sr, voices):
    barks = S.scatter(rng, n, rng.uniform(0.4, 1.2), lambda r: _dog_bark(r, sr), level_db=(-6, 0), sr=sr)
    return _lay((S.reverb(barks, rng, 0.5, 0.3, sr), 0), (_esc_bed(rng, n, sr), -26))


def _rain(rng, n, sr, voices):
    drops = S.scatter(rng, n, rng.uniform(200, 800), lambda r: S.impact(r, sr, freq=(2000, 8000),
                                                                         decay_s=(0.001, 0.006), n_modes=2),
                      level_db=(-25, 0), sr=sr)
    hiss = S.filt(S.colored(rng, n, 0.5, sr), "highpass", 800, sr) * S.envelope(rng, n, 0.3, 4, sr)
    plinks = S.scatter(rng, n, rng.uniform(1, 4), lambda r: S.impact(r, sr, freq=(800, 3000), decay_s=(0.01, 0.04)),
                       sr=sr)
    return _lay((hiss, 0), (drops, 6), (plinks, 0))


def _sea_waves(rng, n, sr, voices):
    t = np.arange(n) / sr
    period = rng.uniform(3.5, 7)
    phase = (t / period + rng.random()) % 1.0
    swell = np.where(phase < 0.6, (phase / 0.6) ** 2, np.exp(-(phase - 0.6) / 0.12))  # slow rise, fast crash
    surf = S.filt(S.colored(rng, n, 1.5, sr), "lowpass", rng.uniform(800, 2000), sr)
    crash = S.filt(rng.standard_normal(n), "highpass", 1500, sr) * np.clip(swell - 0.5, 0, None) * 2
    return _lay((surf * (0.35 + swell), 0), (crash, -6), (S.filt(S.colored(rng, n, 2, sr), "lowpass", 150, sr), -8))


def _crying_baby(rng, n, sr, voices):
    def phrase(r):
        d = r.uniform(0.6, 1.5)
        f = r.uniform(350, 550)
        cry = _vowel_call(r, sr, d, f, f * r.uniform(1.1, 1.4), f * 0.8, [r.uniform(900, 1200), r.uniform(1800, 2400),
                                                                            3300], vibrato=(r.uniform(5, 8), 0.03),
                          noise_db=-14, tilt=-3)
        gasp = S.filt(r.standard_normal(int(0.25 * sr)), "bandpass", (800, 3000), sr) * np.hanning(int(0.25 * sr)) * 0.1
        return np.concatenate([cry, np.zeros(int(r.uniform(0.05, 0.2) * sr), dtype=np.float32), gasp])
    cries = S.scatter(rng, n, 0, phrase, period=rng.uniform(1.2, 2.0) * sr, jitter=0.3, level_db=(-6, 0), sr=sr)
    return _lay((S.reverb(cries, rng, 0.4, 0.3, sr), 0), (_esc_bed(rng, n, sr), -30))


def _clock_tick(rng, n, sr, voices):
    period = rng.choice([0.5, 1.0, 0.25]) * sr
    f_tick, f_tock = rng.uniform(2000, 5000), rng.uniform(1500, 4000)
    state = {"i": 0}

    def tick(r):
        state["i"] += 1
        f = f_tick if state["i"] % 2 else f_tock
        return S.impact(r, sr, freq=(f * 0.95, f * 1.05), decay_s=(0.003, 0.012), n_modes=3, click=0.6)
    ticks = S.scatter(rng, n, 0, tick, period=period, jitter=0.0, level_db=(-2, 0), sr=sr)
    return _lay((S.reverb(ticks, rng, 0.3, 0.2, sr), 0), (_esc_bed(rng, n, sr, 800), -34))


def _sneeze(rng, sr=SR) -> np.ndarray:
    inhale_d = rng.uniform(0.3, 0.7)
    m = int(inhale_d * sr)
    t = np.linspace(0, 1, m)
    inhale = S.formants(rng.standard_normal(m), [700 + 600 * 0.5, 1800], q=3, sr=sr) * t**2 * 0.25
    m2 = int(rng.uniform(0.15, 0.35) * sr)
    t2 = np.arange(m2) / sr
    burst = S.filt(rng.standard_normal(m2), "bandpass", (rng.uniform(1500, 2500), 7500), sr) * np.exp(-t2 / 0.08)
    voiced = _vowel_call(rng, sr, m2 / sr, 350, 420, 250, [600, 1600], noise_db=-6) * 0.5
    return np.concatenate([inhale, np.zeros(int(0.05 * sr), dtype=np.float32), burst * 1.5 + voiced])


def _sneezing(rng, n, sr, voices):
    sneezes = S.scatter(rng, n, 0.35, lambda r: _sneeze(r, sr), sr=sr)
    return _lay((S.reverb(sneezes, rng, 0.4, 0.3, sr), 0), (_esc_bed(rng, n, sr, 1000), -32))


def _helicopter(rng, n, sr, voices):
    t = np.arange(n) / sr
    rotor = rng.uniform(12, 22)
    slap = S.scatter(rng, n, 0, lambda r: S.filt(r.standard_normal(int(0.02 * sr)), "lowpass", 800, sr) * np.hanning(
        int(0.02 * sr)), period=sr / rotor, jitter=0.01, level_db=(-2, 0), sr=sr)
    turbine = S.harmonic(rng.uniform(900, 1800) * (1 + 0.01 * np.sin(2 * np.pi * 0.2 * t)), n, sr, n_harm=3)
    rumble = S.filt(S.colored(rng, n, 2, sr), "lowpass", 400, sr)
    center = rng.uniform(0.3, 0.7) * n
    swell = np.sqrt(1 / (1 + ((np.arange(n) - center) / (rng.uniform(2, 6) * sr)) ** 2))
    return _lay((S.normalize(slap), 2), (turbine, -14), (rumble, 0)) * swell


def _chainsaw(rng, n, sr, voices):
    rev = _gate(rng, n, (0.8, 2.5), (0.4, 1.5), sr, ramp_ms=250)
    f0 = rng.uniform(60, 90) + rev * rng.uniform(90, 140)
    engine = S.harmonic(f0, n, sr, n_harm=40, tilt_db=-2.5, rng=rng, jitter=0.03)
    engine = np.tanh(2.5 * engine)
    cut = S.filt(rng.standard_normal(n), "bandpass", (2000, 6000), sr) * rev * (rng.random() < 0.7)
    return _lay((engine, 0), (cut, -6), (_esc_bed(rng, n, sr), -20))


def _rooster(rng, n, sr, voices):
    def crow(r):
        f = r.uniform(450, 750)
        sy = [(0.15, f * 0.9, f, f), (0.12, f, f * 1.1, f), (0.5, f, f * 1.3, f * 1.2),  # cock-a-doodle-doo
              (0.6, f * 1.2, f * 1.25, f * 0.7)]
        parts = []
        for d, a, b, c in sy:
            parts += [_vowel_call(r, sr, d * r.uniform(0.8, 1.2), a, b, c, [r.uniform(900, 1400), 2800],
                                  vibrato=(r.uniform(15, 30), 0.02), noise_db=-12, tilt=-3),
                      np.zeros(int(0.04 * sr), dtype=np.float32)]
        return np.concatenate(parts)
    crows = S.scatter(rng, n, 0.25, crow, sr=sr)
    farm = S.scatter(rng, n, 0.5, lambda r: _bird_song(r, sr), sr=sr)
    return _lay((S.reverb(crows, rng, 0.6, 0.3, sr), 0), (farm, -14), (_esc_bed(rng, n, sr, 600), -24))


def _crackling_fire(rng, n, sr, voices):
    density = S.envelope(rng, n, 2.0, 20, sr)
    crackle = S.scatter(rng, n, rng.uniform(20, 60), lambda r: r.standard_normal(int(r.uniform(0.001, 0.005) * sr)),
                        level_db=(-30, 0), sr=sr) * density
    pops = S.scatter(rng, n, rng.uniform(0.5, 2), lambda r: S.impact(r, sr, freq=(500, 3000), decay_s=(0.005, 0.02),
                                                                      click=1.0), sr=sr)
    roar = S.filt(S.colored(rng, n, 2, sr), "lowpass", 300, sr) * S.envelope(rng, n, 0.5, 8, sr)
    hiss = S.filt(rng.standard_normal(n), "highpass", 3000, sr)
    return _lay((S.filt(crackle, "highpass", 300, sr), 4), (pops, 2), (roar, -10), (hiss, -24))


_RECIPES: dict[str, Callable] = {
    "white": _white, "pink": _pink, "brown": _brown,
    "babble": _babble, "music": _music_recipe, "speech": _speech, "noise": _musan_noise, "radio": _radio,
    "workplace": _workplace, "cafeteria": _cafeteria, "home": _home, "bus": _bus, "street": _street,
    "kitchen": _kitchen, "park": _park, "station": _station, "traffic": _traffic,
    "dog": _dog, "rain": _rain, "sea_waves": _sea_waves, "crying_baby": _crying_baby, "clock_tick": _clock_tick,
    "sneezing": _sneezing, "helicopter": _helicopter, "chainsaw": _chainsaw, "rooster": _rooster,
    "crackling_fire": _crackling_fire,
}
_INDEXED = {"music", "noise"}  # recipes that vary their sub-kind (genre, noise kind) with the source index
_TALKERS = {"babble", "speech", "radio", "workplace", "cafeteria", "home", "bus", "street", "park", "station"}
assert set(_RECIPES) == set(NOISE_TYPES), set(_RECIPES) ^ set(NOISE_TYPES)


def needs_talkers(noise_type: str) -> bool:
    """Whether the recipe synthesises background talkers (needs eSpeak NG and the corpus voice list)."""
    return noise_type in _TALKERS


def generate_clip(noise_type: str, index: int, sr: int = SR, voices: list[str] | None = None) -> np.ndarray:
    """Generate source clip ``index`` of ``noise_type``: float32 mono at ``sr``, RMS -26 dBFS, peak <= 0.95.

    Deterministic: the audio depends only on (:data:`VERSION`, ``noise_type``, ``index``, ``sr``).
    """
    if noise_type not in _RECIPES:
        raise ValueError(f"unknown generated noise type {noise_type!r}; choose from {NOISE_TYPES}")
    if voices is None and needs_talkers(noise_type):
        voices = background_voices()
    n = int(round(clip_duration(noise_type, index) * sr))
    rng = np.random.default_rng(stable_seed("clip", VERSION, noise_type, index))
    recipe = _RECIPES[noise_type]
    x = recipe(rng, n, sr, voices, index=index) if noise_type in _INDEXED else recipe(rng, n, sr, voices)
    x = np.asarray(x, dtype=np.float64)[:n]
    x = x - x.mean()
    floor = 10 ** (-80 / 20) * np.random.default_rng(stable_seed("floor", noise_type, index)).standard_normal(n)
    x = S.normalize(x, _TARGET_RMS) + floor  # a -80 dBFS floor: never digital silence
    x = S.fade(x, 30, sr)
    peak = np.abs(x).max()
    if peak > _PEAK:
        x = x * (_PEAK / peak)
    if not np.all(np.isfinite(x)):
        raise RuntimeError(f"generated {noise_type} clip {index} has non-finite samples (a recipe bug)")
    return x.astype(np.float32)
