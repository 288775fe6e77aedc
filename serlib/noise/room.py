"""Paper 2's re-recording protocol, simulated: a smartphone in a sound booth with speech and a radio.

Paper 2 (decoupled ladder network) played MSP-Podcast speech and, at the same time, radio shows
(talk, music, jingles) in a 13 ft x 13 ft ASHA-certified single-walled sound booth and recorded both
with a smartphone. The speech loudspeaker was ``A`` inches from the phone and the radio ``B``
inches (Table 1); 1-minute calibration recordings gave the estimated SNRs:

=========  ======  ======  ==================
condition  A (in)  B (in)  paper SNR (dB)
=========  ======  ======  ==================
10dB       5       35      11.06
5dB        10      30      4.34
0dB        15      25      0.15
=========  ======  ======  ==================

Our simulation (pyroomacoustics image-source method, computed once per condition and sample rate):

- booth: 13 ft x 13 ft (3.96 m x 3.96 m) x 2.0 m high (a typical single-walled booth interior);
  walls with uniform energy absorption from Sabine's formula for a reverberation time of
  ``RT60`` = 0.15 s (treated booths measure about 0.1-0.2 s), air absorption on;
- phone: an omnidirectional microphone at (1.8, 2.1, 1.0) m (on a stand in the middle of the booth),
  followed by a phone-like band-pass (2nd-order Butterworth, 100 Hz - 7 kHz);
- speech loudspeaker ``A`` inches from the phone along +x, radio ``B`` inches along -x (opposite
  sides), all at 1.0 m height;
- radio programme: the ``radio`` type of the noise bank (talk, talk over music beds, music and
  jingles, band-limited and compressed), a clip and an offset drawn per utterance as in
  :class:`serlib.noise.Condition`.

Calibration: with both loudspeakers at the same level the geometry alone gives the SNRs of
:func:`calibration_table` (``geometry_snr``, about 15.1 / 8.3 / 3.8 dB, i.e. 4 dB above the
paper's); one radio volume for all three set-ups (least squares) lands within about 0.2 dB of the
paper's three values, so the simulated booth is consistent with the paper's. The noise level is
then calibrated **per condition** so that the paper's SNR is met exactly, in one of two ways
(``level``):

- ``"utterance"`` (default): every utterance is mixed at the condition's SNR measured at the phone
  (speech and radio both as recorded, reverberant and band-passed), so conditions are comparable
  across corpora whatever their levels;
- ``"fixed"``: the radio plays at the calibrated volume relative to a speech loudspeaker playing at
  ``REF_RMS`` (-26 dBFS), as in the real booth; each utterance then plays at its own level, so its
  SNR varies around the nominal one with its loudness (louder utterances: higher SNR).

The recording is aligned on the direct path of the speech (so clean and noisy versions line up),
keeps the input length, and is peak-protected like :func:`serlib.noise.mix`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import signal

from serlib.audio import SILENCE_RMS, SR, AudioError
from serlib.noise.condition import PARTS, _bank_clips, _load_clip, _norm_root, bank_token, mix_token
from serlib.noise.mix import PEAK_LIMIT, mix, noise_segment
from serlib.noise.scenes import stable_seed

__all__ = [
    "SETTINGS", "ALIASES", "ROOM_DIM", "RT60", "MIC_POS", "REF_RMS", "VERSION", "RoomCondition",
    "room_irs", "calibration_table", "noise_level_db",
]

VERSION = 1
"""Part of the condition key; bump when the simulation changes."""

FOOT, INCH = 0.3048, 0.0254
ROOM_DIM = (13 * FOOT, 13 * FOOT, 2.0)
"""Booth size in metres (13 ft x 13 ft x 2.0 m)."""
RT60 = 0.15
"""Reverberation time of the booth (s), used to set the wall absorption (Sabine)."""
MIC_POS = (1.8, 2.1, 1.0)
"""Phone microphone position (m)."""
PHONE_BAND = (100.0, 7000.0)
"""Phone microphone band-pass (Hz)."""
REF_RMS = 0.05
"""Speech loudspeaker reference level (-26 dBFS RMS) for ``level="fixed"`` and the calibration."""
CAL_SECONDS = 60.0
"""Length of the calibration recordings (the paper used 1-minute recordings)."""

SETTINGS: dict[str, tuple[float, float, float]] = {
    "A5_B35": (5.0, 35.0, 11.06),
    "A10_B30": (10.0, 30.0, 4.34),
    "A15_B25": (15.0, 25.0, 0.15),
}
"""Condition -> (speech distance A in inches, radio distance B in inches, paper's estimated SNR dB)."""
ALIASES = {"10dB": "A5_B35", "5dB": "A10_B30", "0dB": "A15_B25"}
"""The paper's names for the conditions."""

LEVELS = ("utterance", "fixed")


def _canonical(setting: str) -> str:
    s = ALIASES.get(setting, setting)
    if s not in SETTINGS:
        raise ValueError(f"unknown room setting {setting!r}; choose from {list(SETTINGS)} or {list(ALIASES)}")
    return s


@functools.lru_cache(maxsize=16)
def room_irs(setting: str, sr: int = SR) -> tuple[np.ndarray, np.ndarray, int]:
    """Impulse responses (speech -> phone, radio -> phone), phone band-pass included, and the direct-path
    delay (samples) of the speech response. Simulated once per (setting, sr) and process."""
    import pyroomacoustics as pra

    a_in, b_in, _ = SETTINGS[_canonical(setting)]
    e_abs, max_order = pra.inverse_sabine(RT60, list(ROOM_DIM))
    room = pra.ShoeBox(list(ROOM_DIM), fs=sr, materials=pra.Material(e_abs), max_order=max_order,
                       air_absorption=True)
    mic = np.asarray(MIC_POS)
    room.add_source(mic + np.array([a_in * INCH, 0.0, 0.0]))
    room.add_source(mic - np.array([b_in * INCH, 0.0, 0.0]))
    room.add_microphone(mic)
    room.compute_rir()
    sos = signal.butter(2, [PHONE_BAND[0], min(PHONE_BAND[1], 0.45 * sr)], btype="bandpass", fs=sr, output="sos")
    irs = []
    for h in (room.rir[0][0], room.rir[0][1]):
        h = signal.sosfilt(sos, np.concatenate([np.asarray(h, dtype=np.float64), np.zeros(sr // 50)]))
        irs.append(h.astype(np.float32))
    delay = int(np.argmax(np.abs(room.rir[0][0])))
    return irs[0], irs[1], delay


def _power(x: np.ndarray) -> float:
    return float(np.mean(np.square(np.asarray(x, dtype=np.float64))))


@functools.lru_cache(maxsize=8)
def _calibration_signals(bank: str, root: str | None, noise_type: str, part: str, sr: int):
    """One minute of talker speech and one minute of radio, both at ``REF_RMS`` (deterministic)."""
    from serlib.noise import scenes, synth

    n = int(CAL_SECONDS * sr)
    rng = np.random.default_rng(stable_seed("room-calibration-speech", VERSION))
    speech = synth.talker_stream(rng, n, scenes.background_voices(), sr, pause_s=(0.2, 0.8))
    clips = _bank_clips(bank, root, noise_type, part)
    usable = [x for x in (_load_clip(p, sr) for p in clips["path"]) if x is not None]
    if not usable:
        raise AudioError(f"no usable {noise_type!r} clip in the {bank} bank ({root or 'default root'}) for calibration")
    parts, total = [], 0
    while total < n:
        for x in usable:
            parts.append(x)
            total += len(x)
    radio = np.concatenate(parts)[:n]
    scale = lambda x: (x * (REF_RMS / math.sqrt(_power(x)))).astype(np.float32)  # noqa: E731
    return scale(speech), scale(radio)


@functools.lru_cache(maxsize=32)
def _geometry_snr(setting: str, bank: str, root: str | None, noise_type: str, part: str, sr: int) -> float:
    hs, hn, _ = room_irs(setting, sr)
    cal_s, cal_n = _calibration_signals(bank, root, noise_type, part, sr)
    return 10 * math.log10(_power(signal.fftconvolve(cal_s, hs)) / _power(signal.fftconvolve(cal_n, hn)))


def noise_level_db(setting: str, bank: str = "synthetic", root: str | None = None, noise_type: str = "radio",
                   part: str = "test", sr: int = SR) -> float:
    """Calibrated radio level (dB re the speech loudspeaker) that gives the paper's SNR in this setting."""
    setting = _canonical(setting)
    return _geometry_snr(setting, bank, _norm_root(root), noise_type, part, sr) - SETTINGS[setting][2]


def calibration_table(bank: str = "synthetic", root: str | None = None, noise_type: str = "radio",
                      part: str = "test", sr: int = SR) -> pd.DataFrame:
    """The paper's SNRs beside ours, from 1-minute calibration recordings simulated in the booth.

    Columns: ``setting, A_in, B_in, paper_snr`` (Table 1), ``geometry_snr`` (both loudspeakers at the
    same level), ``single_volume_snr`` (one radio volume for all three set-ups, least squares),
    ``noise_level_db`` (the per-condition calibrated radio level re speech) and ``calibrated_snr``
    (re-measured with that level: equals the paper's by construction, shown as a check).
    """
    root = _norm_root(root)
    rows = []
    for s, (a, b, paper) in SETTINGS.items():
        geo = _geometry_snr(s, bank, root, noise_type, part, sr)
        rows.append({"setting": s, "name": [k for k, v in ALIASES.items() if v == s][0], "A_in": a, "B_in": b,
                     "paper_snr": paper, "geometry_snr": geo})
    df = pd.DataFrame(rows)
    single = float(np.mean(df["geometry_snr"] - df["paper_snr"]))  # least-squares common offset
    df["single_volume_snr"] = df["geometry_snr"] - single
    df["noise_level_db"] = df["geometry_snr"] - df["paper_snr"]
    cal = []
    for s, lvl in zip(df["setting"], df["noise_level_db"], strict=True):
        hs, hn, _ = room_irs(s, sr)
        cal_s, cal_n = _calibration_signals(bank, root, noise_type, part, sr)
        rs, rn = signal.fftconvolve(cal_s, hs), signal.fftconvolve(cal_n, hn) * 10 ** (lvl / 20)
        cal.append(10 * math.log10(_power(rs) / _power(rn)))
    df["calibrated_snr"] = cal
    return df


@dataclass(frozen=True)
class RoomCondition:
    """A simulated booth re-recording (paper 2), with the ``.key`` / ``.apply`` condition interface.

    Args:
        setting: ``A5_B35``, ``A10_B30``, ``A15_B25`` (or the paper's names ``10dB``, ``5dB``, ``0dB``).
        seed: changes the radio clip and offset per utterance.
        part: which radio sources (``test`` default; ``train`` for the unlabelled target-domain set).
        bank / root / noise_type: where the radio programme comes from (generated ``radio`` by default).
        level: ``utterance`` (every utterance at the paper's SNR) or ``fixed`` (calibrated radio volume,
            utterance SNR follows its loudness), see the module docstring.
    """

    setting: str = "A5_B35"
    seed: int = 0
    part: str = "test"
    bank: str = "synthetic"
    root: str | None = None
    noise_type: str = "radio"
    level: str = "utterance"

    def __post_init__(self) -> None:
        object.__setattr__(self, "setting", _canonical(self.setting))
        object.__setattr__(self, "root", _norm_root(self.root))
        if self.part not in PARTS:
            raise ValueError(f"RoomCondition: part={self.part!r} is not one of {PARTS}")
        if self.level not in LEVELS:
            raise ValueError(f"RoomCondition: level={self.level!r} is not one of {LEVELS}")

    @property
    def snr_db(self) -> float:
        """The paper's estimated SNR for this setting."""
        return SETTINGS[self.setting][2]

    @property
    def key(self) -> str:
        """e.g. ``room1-A5_B35-synthetic-radio-seed0-test`` (``-fixed`` for the fixed radio level)."""
        key = (f"room{VERSION}-{self.setting}-{bank_token(self.bank, self.root)}-{self.noise_type}"
               f"-seed{self.seed}-{self.part}")
        return key + ("-fixed" if self.level == "fixed" else "") + mix_token()

    def prepare(self, sr: int = SR) -> RoomCondition:
        """Simulate the booth and load (or generate) the radio clips now, e.g. before sending the
        condition to worker processes. Returns ``self``."""
        room_irs(self.setting, sr)
        _bank_clips(self.bank, self.root, self.noise_type, self.part)
        if self.level == "fixed":
            noise_level_db(self.setting, self.bank, self.root, self.noise_type, self.part, sr)
        return self

    def apply(self, wav: np.ndarray, utt_id: str, sr: int = SR) -> np.ndarray:
        """The phone recording of ``wav`` played in the booth with the radio on (float32, same length)."""
        return self.apply_with_parts(wav, utt_id, sr)[0]

    def apply_with_parts(self, wav: np.ndarray, utt_id: str, sr: int = SR):
        """``(recording, speech_part, noise_part, info)``: the parts as the phone picked them up.

        ``info`` names the radio clip and offset, the nominal ``snr_db`` (the paper's) and the
        ``snr_measured`` of this recording (equal to it with ``level="utterance"``).
        """
        x = np.asarray(wav, dtype=np.float32)
        if x.ndim != 1 or x.size == 0:
            raise AudioError(f"{utt_id}: expected a non-empty mono 1-D signal, got shape {x.shape}")
        if not np.all(np.isfinite(x)):
            raise AudioError(f"{utt_id}: audio has NaN/inf samples; re-export or remove this file")
        hs, hn, delay = room_irs(self.setting, sr)
        n = len(x)
        speech = signal.fftconvolve(x, hs)[delay:delay + n].astype(np.float32)
        clips = _bank_clips(self.bank, self.root, self.noise_type, self.part)
        rng = np.random.default_rng(stable_seed(self.seed, utt_id, self.noise_type))
        for _ in range(16):  # recorded clips can hold silent stretches (ESC-10): draw again, deterministically
            row = clips.iloc[int(rng.integers(len(clips)))]
            clip = _load_clip(row["path"], sr)
            if clip is None:
                continue
            seg, offs = noise_segment(clip, n + len(hn) - 1, rng=rng, sr=sr)
            radio = signal.fftconvolve(seg, hn, mode="valid")[:n].astype(np.float32)
            if math.sqrt(_power(radio)) >= SILENCE_RMS:
                break
        else:
            raise AudioError(f"{utt_id}: 16 draws from the {self.noise_type!r} clips of the {self.bank} bank "
                             f"({self.root or 'default root'}, {self.part} part) gave only silent radio segments; "
                             "remove the silent clips or use a bank with more sound")
        info = {"condition": self.key, "clip_id": row["clip_id"], "source_id": row["source_id"],
                "offset": int(offs[0]), "setting": self.setting, "snr_db": self.snr_db}
        if self.level == "utterance":
            mixture, sp, npart = mix(speech, radio, self.snr_db, sr=sr, return_parts=True, names=str(utt_id),
                                     noise_names=str(row["clip_id"]))
        else:
            gain = 10 ** (noise_level_db(self.setting, self.bank, self.root, self.noise_type, self.part, sr) / 20)
            npart = radio * np.float32(gain * REF_RMS / math.sqrt(_power(clip)))
            sp = speech
            mixture = sp + npart
            peak = float(np.abs(mixture).max())
            if peak > PEAK_LIMIT:
                f = np.float32(PEAK_LIMIT / peak)
                mixture, sp, npart = mixture * f, sp * f, npart * f
        ps, pn = _power(sp), _power(npart)
        info["snr_measured"] = 10 * math.log10(ps / pn) if ps > 0 and pn > 0 else float("nan")
        return mixture, sp, npart, info
