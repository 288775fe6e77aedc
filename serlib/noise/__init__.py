"""Noise for robustness tests: banks, SNR mixing, deterministic noisy conditions, room re-recording.

- :func:`mix` (:mod:`serlib.noise.mix`): add noise at a target SNR, batched in torch (CPU/GPU), with
  the repository's one SNR definition (whole-utterance power by default, active speech optional).
- :func:`load_noise` (:mod:`serlib.noise.banks`): a table ``clip_id, path, noise_type, source_id, part,
  duration`` for the generated bank (default) or MUSAN / ESC-50 / ESC-10 / DEMAND / iNoise folders;
  train/test parts never share a source recording. :func:`types_for` / :func:`resolve_types`: noise-type
  knobs checked against a bank (a recorded bank's own types by default).
- :data:`NOISE_FAMILIES`, :data:`NOISE_TYPES` (:mod:`serlib.noise.scenes`): the generated noise types.
- :class:`Condition`, :class:`RandomCondition` (:mod:`serlib.noise.condition`): ``.key`` + ``.apply(wav,
  utt_id, sr)``, deterministic per utterance, picklable.
- :mod:`serlib.noise.room`: paper 2's smartphone-in-a-booth re-recording (``RoomCondition``),
  simulated with pyroomacoustics (imported on first use).

Example::

    from serlib import noise
    cond = noise.Condition("cafeteria", snr_db=5)        # test sources of the generated bank
    noisy = cond.apply(wav, "utt_0001")                  # same noise for this utterance every time
    y = noise.mix(speech_batch, noise_clip, [0, 5, 10])  # torch or numpy, one SNR per row
"""

from serlib.noise.banks import (BANKS, LAYOUTS, NoiseLayoutError, assign_parts, detect_layout, load_noise, resolve_types,
                                types_for)
from serlib.noise.condition import Condition, RandomCondition, clear_caches, snr_table
from serlib.noise.mix import SNR_MODES, active_frames, measure_snr, mix, noise_segment, signal_power
from serlib.noise.scenes import NOISE_FAMILIES, NOISE_TYPES, VERSION, stable_seed

__all__ = [
    "mix", "measure_snr", "noise_segment", "signal_power", "active_frames", "SNR_MODES",
    "load_noise", "detect_layout", "assign_parts", "LAYOUTS", "BANKS", "NoiseLayoutError", "resolve_types", "types_for",
    "NOISE_FAMILIES", "NOISE_TYPES", "VERSION", "stable_seed",
    "Condition", "RandomCondition", "clear_caches", "snr_table", "RoomCondition",
]


def __getattr__(name: str):
    """Lazy access to :class:`serlib.noise.room.RoomCondition` (pyroomacoustics loads on first use)."""
    if name == "RoomCondition":
        from serlib.noise.room import RoomCondition

        return RoomCondition
    raise AttributeError(f"module 'serlib.noise' has no attribute {name!r}")
