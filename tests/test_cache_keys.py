"""Cache identity: when the feature cache must start afresh and when it may be reused.

A feature is stored under ``<kind config id>/<condition key>/<entry key>``
(:mod:`serlib.features.cache`). Each part must change with everything that changes the
values, or a cache silently serves features of another definition:

- the kind's config id: its parameters, serlib's feature ``VERSION``, the library versions;
- the condition key: noise type, SNR, seed, part, SNR mode, the bank *and its contents*
  (a recorded bank edited in place), and the version of the mixing code;
- and it must not change when nothing did (generated banks keep the keys of existing caches).
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from serlib import features as F
from serlib import noise
from serlib.audio import SR, save_wav
from serlib.features import kinds
from serlib.noise import condition as C
from serlib.noise import room


# --------------------------------------------------------------------------- feature kinds
def test_config_id_changes_with_parameters_version_and_libraries(monkeypatch):
    base = kinds.config_id("lmfb")
    assert base.startswith("lmfb-") and base == kinds.config_id(kinds.get_kind("lmfb"))
    spec = kinds.get_kind("lmfb")
    wider = kinds.FeatureKind(spec.name, spec.backend, spec.output, spec.dim, {**spec.params, "n_fft": 1024})
    assert kinds.config_id(wider) != base
    ids = {base}
    monkeypatch.setattr(kinds, "VERSION", "2")
    ids.add(kinds.config_id("lmfb"))
    monkeypatch.undo()
    import torch
    import torchaudio

    monkeypatch.setattr(torch, "__version__", "99.0.0")
    ids.add(kinds.config_id("lmfb"))
    monkeypatch.undo()
    monkeypatch.setattr(torchaudio, "__version__", "99.0.0+cpu")
    ids.add(kinds.config_id("lmfb"))
    monkeypatch.undo()
    assert len(ids) == 4 and kinds.config_id("lmfb") == base  # and back when nothing differs


def test_opensmile_kinds_depend_on_the_opensmile_version(monkeypatch):
    import opensmile

    base = kinds.config_id("egemaps")
    monkeypatch.setattr(opensmile, "__version__", "9.9.9")
    assert kinds.config_id("egemaps") != base
    assert kinds.config_id("egemaps") != kinds.config_id("compare")


# --------------------------------------------------------------------------- condition keys
def test_generated_bank_keys_name_its_version():
    """The generated bank's keys carry ``scenes.VERSION`` (2: seeded eSpeak talkers), so features mixed with a
    version-1 bank (which differed from machine to machine) are never reused."""
    from serlib.noise import scenes

    assert scenes.VERSION == 2
    assert noise.Condition("babble", 5).key == "synthetic2-babble-snr5-seed0-test"
    assert noise.Condition("babble", 2.5, seed=3, part="train", snr_mode="active").key == \
        "synthetic2-babble-snr2p5-seed3-train-active"
    assert noise.RandomCondition(("noise", "music")).key == "random-synthetic2-noise+music-snr5to35-seed0-train"
    assert room.RoomCondition("A10_B30").key == "room1-A10_B30-synthetic2-radio-seed0-test"


def test_every_setting_that_changes_the_audio_changes_the_key(tmp_path):
    conds = [noise.Condition("babble", 5), noise.Condition("babble", 10), noise.Condition("babble", 5, seed=1),
             noise.Condition("babble", 5, part="train"), noise.Condition("babble", 5, snr_mode="active"),
             noise.Condition("music", 5), noise.Condition("babble", 5, bank="inoise", root=tmp_path),
             noise.RandomCondition(("babble",), (5, 5)), noise.RandomCondition(("babble",), (5, 10))]
    keys = [c.key for c in conds]
    assert len(set(keys)) == len(keys), keys


def test_mixing_code_version_enters_every_key(monkeypatch):
    conds = [noise.Condition("babble", 5), noise.RandomCondition(("noise", "music")), room.RoomCondition("A5_B35")]
    before = [c.key for c in conds]
    monkeypatch.setattr(C, "MIX_VERSION", 2)
    after = [c.key for c in conds]
    assert all(a != b for a, b in zip(before, after)), after
    assert all(k.endswith("-mix2") for k in after)


def _inoise_bank(root, clips: dict[str, np.ndarray]) -> None:
    """A recorded bank in the iNoise layout: <scene>/<clip>.wav."""
    for name, x in clips.items():
        save_wav(root / "Indoor_workplace" / f"{name}.wav", x)


def _noise_clip(seed: int, seconds: float = 3.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (0.1 * rng.standard_normal(int(seconds * SR))).astype(np.float32)


def _speech(seed: int, seconds: float = 1.2) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    x = sum(0.2 / k * np.sin(2 * np.pi * k * (120 + 20 * seed) * t) for k in range(1, 6))
    return (x * (0.6 + 0.4 * np.sin(2 * np.pi * 1.5 * t) ** 2)).astype(np.float32)


@pytest.fixture
def recorded(tmp_path, tmp_data):
    """A one-clip recorded bank and three utterances, all in temporary folders."""
    bank = tmp_path / "noisebank"
    _inoise_bank(bank, {"office": _noise_clip(0)})
    rows = []
    for i in range(3):
        path = tmp_path / "speech" / f"u{i}.wav"
        save_wav(path, _speech(i))
        rows.append({"utt_id": f"u{i}", "path": str(path)})
    yield bank, pd.DataFrame(rows)
    noise.clear_caches()


def test_editing_a_recorded_noise_clip_in_place_recomputes_the_features(recorded):
    """The stale-cache bug: a noise folder edited in place must not serve the old features."""
    bank, manifest = recorded
    cond = noise.Condition("workplace", 5.0, bank="inoise", root=bank)
    first = F.extract(manifest, "lmfb", cond, progress=False, n_jobs=1)
    assert first.attrs["extract"]["computed"] == 3
    assert F.extract(manifest, "lmfb", cond, progress=False, n_jobs=1).attrs["extract"]["cached"] == 3
    clip = bank / "Indoor_workplace" / "office.wav"
    save_wav(clip, _noise_clip(1))                                  # same name, other noise
    st = os.stat(clip)
    os.utime(clip, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))     # at least a second later, as an edit is
    noise.clear_caches()                                            # a new process (the rerun) starts clean
    cond = noise.Condition("workplace", 5.0, bank="inoise", root=bank)
    again = F.extract(manifest, "lmfb", cond, progress=False, n_jobs=1)
    assert again.attrs["extract"]["computed"] == 3, "features mixed with the old noise clip were reused"
    fresh = F.extract(manifest, "lmfb", cond, progress=False, n_jobs=1, cache=False)
    for a, b, old in zip(again, fresh, first):
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(a, old, atol=1e-3)


def test_recorded_bank_key_is_stable_until_a_file_changes(recorded):
    bank, _ = recorded
    key = noise.Condition("workplace", 5.0, bank="inoise", root=bank).key
    noise.clear_caches()
    assert noise.Condition("workplace", 5.0, bank="inoise", root=bank).key == key   # nothing changed
    save_wav(bank / "Indoor_workplace" / "printer.wav", _noise_clip(2))             # a clip added
    noise.clear_caches()
    added = noise.Condition("workplace", 5.0, bank="inoise", root=bank).key
    assert added != key
    (bank / "Indoor_workplace" / "printer.wav").unlink()                            # and removed again
    noise.clear_caches()
    assert noise.Condition("workplace", 5.0, bank="inoise", root=bank).key == key
    rnd = noise.RandomCondition(("workplace",), (5, 5), bank="inoise", root=bank, part="all")
    booth = room.RoomCondition("A5_B35", bank="inoise", root=bank, noise_type="workplace")
    before = rnd.key, booth.key
    save_wav(bank / "Indoor_workplace" / "office.wav", _noise_clip(3))   # edited in place
    os.utime(bank / "Indoor_workplace" / "office.wav", ns=(1, 10**9))
    noise.clear_caches()
    assert rnd.key != before[0] and booth.key != before[1]


def test_cache_folder_name_is_the_condition_key(recorded):
    from serlib.features.cache import condition_key

    bank, _ = recorded
    cond = noise.Condition("workplace", 5.0, bank="inoise", root=bank)
    assert condition_key(cond) == cond.key and condition_key(None) == "clean"


# --------------------------------------------------------------------------- the mixtures behind MIX_VERSION
def _pinned_speech() -> np.ndarray:
    quiet = (1e-4 * np.random.default_rng(9).standard_normal(6400)).astype(np.float32)  # 0.4 s pauses
    return np.concatenate([quiet, _speech(0), quiet])


@pytest.mark.parametrize("mode, noise_len, how, energy, samples", [
    ("utterance", None, dict(offset=1234), 498.942630770936,
     [-0.013945217244327068, -0.08223922550678253, 0.011927498504519463, -0.07614915072917938]),
    ("active", None, dict(offset=1234), 579.4130993482324,
     [-0.017999496310949326, -0.10617037117481232, 0.015398331917822361, -0.09832683205604553]),
    ("utterance", 8000, dict(rng=0), 496.78274888743454,  # noise shorter than the speech: looped
     [-0.039117153733968735, 0.005314393900334835, -0.04424293339252472, -0.052790410816669464]),
])
def test_mixtures_are_those_of_mix_version_1(mode, noise_len, how, energy, samples):
    """Pinned output of serlib.noise.mix. If this fails because the mixing changed on purpose, bump
    serlib.noise.condition.MIX_VERSION (so caches of the old mixtures are not reused) and update the values."""
    from serlib.noise.mix import mix

    assert C.MIX_VERSION == 1
    y = mix(_pinned_speech(), _noise_clip(0)[:noise_len], 5.0, snr_mode=mode, **how)
    assert float(np.sum(y.astype(np.float64) ** 2)) == pytest.approx(energy, rel=1e-5)
    np.testing.assert_allclose(y[[100, 9000, 20000, 30000]], samples, rtol=1e-4, atol=1e-7)


def test_condition_draws_are_those_of_mix_version_1(tmp_path):
    """Pinned clip choice, offset and mixture of a Condition (see the test above for what to do)."""
    _inoise_bank(tmp_path, {"office": _noise_clip(0), "printer": _noise_clip(4)})
    cond = noise.Condition("workplace", 0.0, bank="inoise", root=tmp_path, part="all")
    try:
        got = [cond.apply_with_parts(_pinned_speech(), u) for u in ("u0", "u1")]
    finally:
        noise.clear_caches()
    for (y, _, _, info), offset, energy, first in zip(got, (13743, 9636), (749.0568570001374, 749.6218861161337),
                                                      (0.09307140111923218, 0.11791908740997314)):
        assert (info["clip_id"], info["offset"]) == ("Indoor_workplace-office", offset)
        assert float(np.sum(y.astype(np.float64) ** 2)) == pytest.approx(energy, rel=1e-5)
        assert float(y[100]) == pytest.approx(first, rel=1e-4)
