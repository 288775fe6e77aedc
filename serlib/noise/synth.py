"""Signal building blocks for the generated noise scenes (numpy, deterministic given a Generator).

Each function takes a :class:`numpy.random.Generator` (where it draws anything) and returns float32
audio at ``sr`` Hz. Beds (continuous layers) are returned at RMS 1 so that scene recipes set every
layer's level in dB relative to the others; event layers keep their natural dynamics (silence between
events) and are normalised on their loud parts.

Building blocks: coloured noise (white/pink/brown), Butterworth filtering, slow random envelopes,
harmonic (additive) tones following a pitch track, formant filtering, damped-mode impacts (clatter,
clinks, ticks), events scattered in time, pass-by envelopes (traffic), a synthetic reverb, and
talkers synthesised with eSpeak NG (:mod:`serlib.tts`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy import signal

from serlib.audio import SR

__all__ = [
    "normalize", "colored", "filt", "envelope", "harmonic", "formants", "impact", "scatter",
    "pass_by", "reverb", "fade", "talker_stream", "SENTENCES",
]

_EPS = 1e-12


def normalize(x: np.ndarray, rms: float = 1.0) -> np.ndarray:
    """Scale ``x`` to the given RMS (a silent input is returned unchanged)."""
    x = np.asarray(x, dtype=np.float64)
    r = np.sqrt(np.mean(x**2))
    return (x * (rms / r) if r > _EPS else x).astype(np.float32)


def colored(rng: np.random.Generator, n: int, beta: float = 0.0, sr: int = SR) -> np.ndarray:
    """Gaussian noise with power spectrum ~ 1/f**beta (0 white, 1 pink, 2 brown), RMS 1, no DC."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    shape = np.zeros_like(f)
    shape[1:] = np.maximum(f[1:], 10.0) ** (-beta / 2.0)  # flat below 10 Hz instead of exploding
    return normalize(np.fft.irfft(spec * shape, n))


def filt(x: np.ndarray, kind: str, freq, sr: int = SR, order: int = 2) -> np.ndarray:
    """Butterworth filter: ``kind`` in lowpass/highpass/bandpass/bandstop, ``freq`` in Hz."""
    nyq = sr / 2.0
    wn = np.clip(np.asarray(freq, dtype=float) / nyq, 1e-4, 0.9999)
    sos = signal.butter(order, wn, btype=kind, output="sos")
    return signal.sosfilt(sos, x).astype(np.float32)


def envelope(rng: np.random.Generator, n: int, rate_hz: float, depth_db: float, sr: int = SR,
             floor_db: float | None = None) -> np.ndarray:
    """Smooth random gain curve: knots every ``1/rate_hz`` s, uniform in [-depth_db, 0] dB, cubic-ish.

    ``floor_db`` optionally clamps the curve from below. Returns linear gains (length ``n``).
    """
    n_knots = max(4, int(np.ceil(n / sr * rate_hz)) + 3)
    knots_db = -depth_db * rng.random(n_knots)
    t_knots = np.linspace(0, n, n_knots)
    # smooth interpolation: linear interpolation then a moving average one knot wide
    curve = np.interp(np.arange(n), t_knots, knots_db)
    win = max(1, int(sr / max(rate_hz, 1e-3)))
    if win > 1 and win < n:
        kernel = np.hanning(win)
        kernel /= kernel.sum()
        curve = signal.fftconvolve(np.pad(curve, (win, win), mode="edge"), kernel, mode="same")[win:-win]
    if floor_db is not None:
        curve = np.maximum(curve, floor_db)
    return (10.0 ** (curve / 20.0)).astype(np.float32)


def harmonic(f0: np.ndarray | float, n: int, sr: int = SR, *, amps: Sequence[float] | None = None,
             n_harm: int = 20, tilt_db: float = -6.0, rng: np.random.Generator | None = None,
             jitter: float = 0.0) -> np.ndarray:
    """Additive tone following a pitch track ``f0`` (Hz, scalar or per sample), RMS 1.

    Harmonic ``k`` has amplitude ``amps[k-1]`` or ``k ** (tilt_db / 6.02)`` (a spectral tilt in dB
    per octave); harmonics above 0.45 * sr are dropped sample by sample. ``jitter`` adds a random
    relative pitch wobble (needs ``rng``).
    """
    f0 = np.broadcast_to(np.asarray(f0, dtype=np.float64), (n,)).copy()
    if jitter and rng is not None:
        f0 *= 1.0 + jitter * filt(rng.standard_normal(n), "lowpass", 30.0, sr, order=1) * 3.0
    phase = 2.0 * np.pi * np.cumsum(f0) / sr
    out = np.zeros(n)
    n_h = len(amps) if amps is not None else n_harm
    for k in range(1, n_h + 1):
        a = amps[k - 1] if amps is not None else k ** (tilt_db / 6.02)
        if a == 0:
            continue
        audible = (k * f0) < 0.45 * sr
        if not audible.any():
            break
        out += a * np.sin(k * phase + (rng.uniform(0, 2 * np.pi) if rng is not None else 0.0)) * audible
    return normalize(out)


def formants(x: np.ndarray, freqs: Sequence[float], q: float = 5.0, sr: int = SR,
             gains_db: Sequence[float] | None = None) -> np.ndarray:
    """Parallel resonators (``scipy.signal.iirpeak``) at ``freqs`` applied to ``x``, RMS 1."""
    out = np.zeros(len(x))
    for i, f in enumerate(freqs):
        b, a = signal.iirpeak(min(f, 0.45 * sr), q, fs=sr)
        g = 10.0 ** ((gains_db[i] if gains_db is not None else -3.0 * i) / 20.0)
        out += g * signal.lfilter(b, a, x)
    return normalize(out)


def impact(rng: np.random.Generator, sr: int = SR, *, freq: tuple[float, float] = (1500, 6000),
           decay_s: tuple[float, float] = (0.01, 0.08), n_modes: int = 4, click: float = 0.3) -> np.ndarray:
    """A struck object: a few exponentially decaying partials plus a short noise click (peak 1)."""
    dmax = decay_s[1] * 6
    n = max(8, int(dmax * sr))
    t = np.arange(n) / sr
    out = np.zeros(n)
    for _ in range(n_modes):
        f = rng.uniform(*freq)
        d = rng.uniform(*decay_s)
        out += rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) * np.exp(-t / d)
    n_click = max(4, int(0.003 * sr))
    out[:n_click] += click * rng.standard_normal(n_click) * np.linspace(1, 0, n_click)
    return (out / (np.abs(out).max() + _EPS)).astype(np.float32)


def scatter(rng: np.random.Generator, n: int, rate_hz: float, make: Callable[[np.random.Generator], np.ndarray],
            *, level_db: tuple[float, float] = (-12.0, 0.0), period: float | None = None,
            jitter: float = 0.0, sr: int = SR) -> np.ndarray:
    """Place events made by ``make(rng)`` in ``n`` samples.

    Poisson times at ``rate_hz`` events/s (at least one event), or quasi-periodic every ``period``
    samples with relative ``jitter``; each event at a random level in ``level_db``. The output's
    loudest point is scaled to 1.
    """
    out = np.zeros(n)
    if period is not None:
        t = rng.uniform(0, period)
        times = []
        while t < n:
            times.append(int(t))
            t += period * (1.0 + jitter * rng.uniform(-1, 1))
    else:
        count = rng.poisson(rate_hz * n / sr) if rate_hz > 0 else 0
        times = np.sort(rng.integers(0, n, size=max(count, 1 if rate_hz > 0 else 0))).tolist()
    for t0 in times:
        ev = make(rng) * 10.0 ** (rng.uniform(*level_db) / 20.0)
        m = min(len(ev), n - t0)
        out[t0:t0 + m] += ev[:m]
    peak = np.abs(out).max()
    return (out / peak if peak > _EPS else out).astype(np.float32)


def pass_by(rng: np.random.Generator, n: int, sr: int = SR, *, center: float, tau_s: float = 1.5,
            f0: float = 40.0, bright: float = 1200.0, doppler: float = 0.04, engine_db: float = -4.0,
            n_harm: int = 12) -> np.ndarray:
    """A vehicle passing the listener at sample ``center``: road noise, tyre hiss, engine tone, distance-law swell.

    Intensity follows ``1 / (1 + (t / tau_s)**2)`` (a straight pass at closest distance ``v * tau_s``);
    the engine pitch drops through the pass (Doppler). Computed on a window of +-6 ``tau_s``.
    """
    out = np.zeros(n, dtype=np.float32)
    lo = int(max(0, center - 6 * tau_s * sr))
    hi = int(min(n, center + 6 * tau_s * sr))
    m = hi - lo
    if m < 16:
        return out
    t = (np.arange(lo, hi) - center) / sr
    swell = 1.0 / (1.0 + (t / tau_s) ** 2)
    road = filt(colored(rng, m, 1.0, sr), "lowpass", bright, sr)
    tyres = filt(rng.standard_normal(m), "bandpass", (1000.0, 6000.0), sr) * 0.3 * swell  # the close "whoosh"
    pitch = f0 * (1.0 - doppler * np.tanh(t / (0.5 * tau_s)))
    engine = harmonic(pitch, m, sr, n_harm=n_harm, tilt_db=-4.0, rng=rng, jitter=0.01)
    out[lo:hi] = (road + tyres + 10 ** (engine_db / 20) * engine) * np.sqrt(swell)
    return out


def reverb(x: np.ndarray, rng: np.random.Generator, rt60: float, wet: float = 0.3, sr: int = SR) -> np.ndarray:
    """Mix ``x`` with itself convolved by an exponentially decaying noise tail (reverb time ``rt60`` s)."""
    if rt60 <= 0 or wet <= 0:
        return np.asarray(x, dtype=np.float32)
    n = int(rt60 * sr)
    t = np.arange(n) / sr
    ir = rng.standard_normal(n) * np.exp(-6.91 * t / rt60)  # -60 dB at rt60
    ir = filt(ir, "lowpass", 5000.0, sr, order=1)
    tail = signal.fftconvolve(x, ir)[: len(x)]
    tail = tail * (np.sqrt(np.mean(np.square(x))) / (np.sqrt(np.mean(tail**2)) + _EPS))
    return ((1 - wet) * x + wet * tail).astype(np.float32)


def fade(x: np.ndarray, ms: float = 50.0, sr: int = SR) -> np.ndarray:
    """Raised-cosine fade-in and fade-out of ``ms`` milliseconds."""
    x = np.array(x, dtype=np.float32)
    m = min(int(sr * ms / 1000), len(x) // 2)
    if m > 0:
        w = 0.5 - 0.5 * np.cos(np.pi * np.arange(m) / m)
        x[:m] *= w
        x[len(x) - m:] *= w[::-1]
    return x


SENTENCES: tuple[str, ...] = (
    "Could you pass me the menu from the other table?",
    "I think the train leaves at a quarter past seven.",
    "We should book the meeting room for Thursday afternoon.",
    "Did anyone see where I left my umbrella?",
    "The soup today is tomato and the special is grilled fish.",
    "My brother moved to the coast last spring.",
    "Let me check the schedule and call you back.",
    "It took us almost an hour to find a parking spot.",
    "The printer on the second floor is out of paper again.",
    "Two coffees and a slice of the lemon cake, please.",
    "She said the results would be ready by next week.",
    "Turn left at the bakery and keep going straight.",
    "Have you tried the new place near the market?",
    "I need to renew my passport before the summer.",
    "The kids are playing football in the garden.",
    "We ran out of milk, can you get some on the way home?",
    "The weather forecast says it will rain all weekend.",
    "He fixed the bicycle with an old piece of wire.",
    "Please remember to lock the back door tonight.",
    "The concert was louder than I expected.",
    "Our flight was delayed by almost two hours.",
    "I will send the invoice first thing tomorrow morning.",
    "They painted the kitchen a pale shade of green.",
    "Is this seat taken, or can I sit here?",
    "The library closes early on public holidays.",
    "Next stop is Central Square, change here for the ferry.",
    "The team finally agreed on the new design.",
    "You can leave your coat on the hook by the door.",
    "My phone battery is almost empty.",
    "This recipe needs three eggs and a cup of flour.",
    "And now the traffic and weather on the hour.",
    "Stay tuned, after the break we talk to our guest about gardening.",
)
"""Background sentences for babble, radio talk and announcements (not the corpus's sentences)."""


def talker_stream(rng: np.random.Generator, n: int, voices: Sequence[str], sr: int = SR, *,
                  pause_s: tuple[float, float] = (0.2, 1.2), rate: tuple[int, int] = (140, 200),
                  sentences: Sequence[str] = SENTENCES) -> np.ndarray:
    """One talker speaking sentences with pauses for ``n`` samples (eSpeak NG voice drawn from ``voices``).

    Returns the raw stream (eSpeak's level, silence in the pauses); callers set the level.
    """
    from serlib import tts  # local import: eSpeak NG is only needed for scenes with talkers

    voice = voices[int(rng.integers(len(voices)))]
    pitch = int(rng.integers(30, 71))
    rng_ = int(rng.integers(30, 71))
    out = np.zeros(n, dtype=np.float32)
    pos = int(rng.uniform(0, pause_s[1]) * sr)
    while pos < n:
        text = sentences[int(rng.integers(len(sentences)))]
        wav = tts.synthesize(text, voice, rate=int(rng.integers(rate[0], rate[1] + 1)), pitch=pitch, range=rng_,
                             sr=sr)
        m = min(len(wav), n - pos)
        out[pos:pos + m] += wav[:m]
        pos += len(wav) + int(rng.uniform(*pause_s) * sr)
    return out
