"""Tests of serlib.noise: SNR mixing, noise banks and their layouts, deterministic conditions."""

from __future__ import annotations

import os
import pickle
import re
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from serlib import noise
from serlib.audio import AudioError, load_audio
from serlib.noise import banks, scenes
from serlib.noise.mix import ACTIVE_THRESHOLD_DB, FRAME_MS, PEAK_LIMIT

SR = 16000


# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------

def speechlike(seed: int, seconds: float = 3.0, pause: float = 0.5, level: float = 0.1) -> np.ndarray:
    """Syllable-rate modulated noise with silent pauses at both ends (like a real utterance)."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    x = rng.standard_normal(n) * (0.6 + 0.4 * np.sin(2 * np.pi * 4.0 * t)) ** 2
    p = int(pause * SR)
    x[:p] = 0.0
    x[n - p:] = 0.0
    return (level * x).astype(np.float32)


def ref_active_power(x: np.ndarray) -> float:
    """Independent reimplementation of the documented active-speech power (20 ms, 99th pct - 30 dB)."""
    flen = int(SR * FRAME_MS / 1000)
    frames = x[: len(x) // flen * flen].astype(np.float64).reshape(-1, flen)
    e = (frames**2).mean(axis=1)
    keep = (e > np.quantile(e, 0.99) * 10 ** (-ACTIVE_THRESHOLD_DB / 10)) & (e > 1e-10)
    return float(e[keep].mean())


def write_wav(path: Path, seconds: float, sr: int, seed: int, kind: str = "noise") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    x = 0.1 * rng.standard_normal(n) if kind == "noise" else 0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / sr)
    sf.write(str(path), x.astype(np.float32), sr)


# ------------------------------------------------------------------------------------------
# mix
# ------------------------------------------------------------------------------------------

SNRS = np.arange(-10.0, 30.1, 2.5)


@pytest.mark.parametrize("snr_mode", ["utterance", "active"])
@pytest.mark.parametrize("noise_seconds", [1.0, 7.0])  # looped and cut
def test_measured_snr_equals_target(snr_mode, noise_seconds):
    rng = np.random.default_rng(0)
    nz = (0.05 * rng.standard_normal(int(noise_seconds * SR))).astype(np.float32)
    for i, snr in enumerate(SNRS):
        s = speechlike(i)
        y, sp, npart = noise.mix(s, nz, snr, snr_mode=snr_mode, rng=i, return_parts=True)
        assert y.shape == s.shape and y.dtype == np.float32
        ps = np.mean(sp.astype(np.float64) ** 2) if snr_mode == "utterance" else ref_active_power(sp)
        measured = 10 * np.log10(ps / np.mean(npart.astype(np.float64) ** 2))
        assert abs(measured - snr) < 0.1, (snr_mode, snr, measured)
        assert abs(noise.measure_snr(sp, npart, snr_mode) - snr) < 0.1
        np.testing.assert_allclose(y, sp + npart, atol=1e-6)


def test_active_snr_ignores_pauses():
    s = speechlike(1, seconds=4.0, pause=1.0)  # half the utterance is silence
    nz = np.random.default_rng(2).standard_normal(SR * 5).astype(np.float32)
    _, sp, npart = noise.mix(s, nz, 10.0, return_parts=True)
    # same mixture, measured on active speech: about 10*log10(1/0.5) = 3 dB higher
    assert 2.0 < noise.measure_snr(sp, npart, "active") - 10.0 < 4.0


def test_speech_keeps_its_level_and_peak_protection_keeps_snr():
    s = speechlike(3)
    nz = np.random.default_rng(4).standard_normal(SR * 4).astype(np.float32) * 0.1
    y, sp, npart = noise.mix(s, nz, 20.0, return_parts=True)
    np.testing.assert_array_equal(sp, s)  # no clipping risk: speech untouched, only the noise is scaled
    loud = speechlike(3, level=0.6)  # peaks well above 1 once noise is added at -5 dB
    y, sp, npart = noise.mix(loud, nz, -5.0, return_parts=True)
    assert np.abs(y).max() <= PEAK_LIMIT + 1e-6
    assert np.abs(sp).max() < np.abs(loud).max()  # the whole mixture was scaled down ...
    assert abs(noise.measure_snr(sp, npart) + 5.0) < 0.01  # ... so the SNR is unchanged
    nonzero = np.abs(loud) > 1e-3
    ratio = sp[nonzero] / loud[nonzero]
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-4)  # one common factor for the whole utterance


def test_torch_batch_matches_numpy_per_utterance():
    speech = np.stack([speechlike(i) for i in range(6)])
    nz = np.random.default_rng(5).standard_normal((6, SR * 5)).astype(np.float32) * 0.2
    snrs = [-5, 0, 5, 10, 20, 30]
    offsets = [0, 100, 2000, 16000, 30000, 31999]
    for mode in ("utterance", "active"):
        yb, spb, npb = noise.mix(torch.from_numpy(speech), torch.from_numpy(nz), torch.tensor(snrs), snr_mode=mode,
                                 offset=offsets, return_parts=True)
        assert isinstance(yb, torch.Tensor) and yb.shape == speech.shape
        for i in range(6):
            yi = noise.mix(speech[i], nz[i], snrs[i], snr_mode=mode, offset=offsets[i])
            np.testing.assert_allclose(yb[i].numpy(), yi, atol=2e-6)
        assert np.allclose(noise.measure_snr(spb, npb, mode).numpy(), snrs, atol=0.1)


def test_one_noise_shared_by_a_batch_with_random_offsets():
    speech = torch.from_numpy(np.stack([speechlike(i) for i in range(4)]))
    nz = torch.randn(SR * 10, generator=torch.Generator().manual_seed(0))
    a = noise.mix(speech, nz, 5.0, rng=1)
    b = noise.mix(speech, nz, 5.0, rng=1)
    c = noise.mix(speech, nz, 5.0, rng=2)
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_mix_runs_on_the_gpu():
    speech = torch.from_numpy(np.stack([speechlike(i) for i in range(3)])).cuda()
    y, sp, npart = noise.mix(speech, torch.randn(SR * 2), [0, 10, 20], return_parts=True)
    assert y.is_cuda
    assert torch.allclose(noise.measure_snr(sp, npart).cpu(), torch.tensor([0.0, 10, 20], dtype=torch.float64),
                          atol=0.1)


def _mix_on(device: str, mode: str):
    """One batch mixed on ``device`` and on the CPU: four rows from quiet to loud speech (the loudest
    is peak-limited at -5 dB SNR), a long noise read at given offsets and a short one looped."""
    rng = np.random.default_rng(11)
    speech = torch.from_numpy(np.stack([speechlike(i, level=0.1 + 0.3 * i) for i in range(4)]))
    long_noise = torch.from_numpy((0.2 * rng.standard_normal((4, SR * 5))).astype(np.float32))
    short_noise = torch.from_numpy((0.2 * rng.standard_normal((4, SR))).astype(np.float32))
    snrs = [-5.0, 0.0, 10.0, 30.0]
    out = []
    for nz, how in ((long_noise, dict(offset=[0, 100, 2000, 30000])), (short_noise, dict(rng=3))):
        cpu = noise.mix(speech, nz, snrs, snr_mode=mode, return_parts=True, **how)
        dev = noise.mix(speech.to(device), nz.to(device), snrs, snr_mode=mode, return_parts=True, **how)
        out.append((cpu, dev))
    return out


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="GPU-only: compares CUDA mixing with CPU mixing")
@pytest.mark.parametrize("mode", ["utterance", "active"])
def test_gpu_mixing_equals_cpu_mixing(mode):
    """Same inputs on CUDA and on the CPU: every sample of the mixture and of both parts within 1e-5
    (float32 reductions summed in another order), measured SNRs within 1e-3 dB."""
    for cpu, dev in _mix_on("cuda", mode):
        assert all(t.is_cuda for t in dev)
        for c, g in zip(cpu, dev, strict=True):
            torch.testing.assert_close(g.cpu(), c, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(noise.measure_snr(dev[1], dev[2], mode).cpu(),
                                   noise.measure_snr(cpu[1], cpu[2], mode), atol=1e-3, rtol=0)


def test_noise_segment_cut_and_loop():
    nz = np.arange(100, dtype=np.float32)
    seg, offs = noise.noise_segment(nz, 30, offset=7)
    np.testing.assert_array_equal(seg, nz[7:37])
    with pytest.raises(ValueError, match="out of range"):
        noise.noise_segment(nz, 30, offset=80)
    # short noise is looped with a cross-fade: continuous at the seam, same power
    sr = SR
    tone = np.sin(2 * np.pi * 440 * np.arange(int(0.2613 * sr)) / sr + 0.7).astype(np.float32)  # non-integer periods
    looped, _ = noise.noise_segment(tone, sr * 2, offset=0)
    max_step = np.abs(np.diff(tone)).max()
    assert np.abs(np.diff(looped)).max() < 2.5 * max_step  # a hard splice would jump by up to 2
    plain = np.tile(tone, 8)[: sr * 2]
    assert np.abs(np.diff(plain)).max() > 2.5 * max_step  # (and the test can tell the difference)
    assert abs(np.mean(looped**2) / np.mean(tone**2) - 1) < 0.05


@pytest.mark.parametrize("bad", ["speech_silent", "noise_silent", "speech_nan", "noise_inf"])
def test_bad_input_raises_clear_errors(bad):
    s = speechlike(0)
    nz = np.random.default_rng(0).standard_normal(SR * 4).astype(np.float32)
    if bad == "speech_silent":
        s = np.zeros_like(s)
    elif bad == "noise_silent":
        nz = np.zeros_like(nz)
    elif bad == "speech_nan":
        s[100] = np.nan
    else:
        nz[5] = np.inf
    match = {"speech_silent": r"utt7: speech is silent.*SNR is undefined",
             "noise_silent": r"babble_03: noise segment is silent.*SNR is undefined",
             "speech_nan": r"NaN/inf samples in utt7", "noise_inf": r"NaN/inf samples in babble_03"}[bad]
    with pytest.raises(AudioError, match=match):
        noise.mix(s, nz, 5.0, names="utt7", noise_names="babble_03")


def test_mix_argument_errors():
    s = speechlike(0)
    with pytest.raises(ValueError, match="snr_mode"):
        noise.mix(s, s, 5, snr_mode="segmental")
    with pytest.raises(ValueError, match="does not match speech batch"):
        noise.mix(np.stack([s, s]), np.stack([s, s, s]), 5)
    with pytest.raises(ValueError, match="finite"):
        noise.mix(s, s, float("nan"))
    with pytest.raises(ValueError, match="2 SNR values for a batch of 3"):
        noise.mix(np.stack([s, s, s]), s, [1, 2])
    with pytest.raises(AudioError, match="silent \\(no active speech frames\\)"):
        noise.mix(np.zeros(SR, np.float32), s, 5, snr_mode="active", names="u")


# ------------------------------------------------------------------------------------------
# the generated bank
# ------------------------------------------------------------------------------------------

def test_stable_seed_is_pinned():
    # blake2b of the parts, not Python's per-process salted hash(): the pinned value holds in every
    # pytest run (each run has a new random hash salt) and on every machine.
    assert scenes.stable_seed("babble", 3, "utt_0001") == 6410035089762911815
    assert scenes.stable_seed("babble", 3, "utt_0001") != scenes.stable_seed(3, "babble", "utt_0001")
    assert scenes.stable_seed("a", "b") != scenes.stable_seed("a;b") != scenes.stable_seed("ab")  # parts stay apart


def test_families_cover_the_papers_noises():
    fam = noise.NOISE_FAMILIES
    assert set(fam["inoise"]) == {"workplace", "cafeteria", "home", "bus", "street"}
    assert set(fam["demand"]) == {"kitchen", "park", "station", "traffic", "cafeteria"}
    assert set(fam["musan"]) == {"noise", "music", "speech"}
    assert len(fam["esc"]) == 10 and set(fam["stationary"]) == {"white", "pink", "brown"}
    assert {"babble", "music"} <= set(noise.NOISE_TYPES)
    assert set(noise.NOISE_TYPES) == {t for ts in fam.values() for t in ts}
    # generated types share their names with the recorded banks' types
    assert set(fam["esc"]) == set(banks.ESC10_TYPES.values())
    assert set(fam["demand"]) <= set(banks.DEMAND_TYPES.values())
    assert set(fam["inoise"]) <= set(banks.INOISE_TYPES.values())


def test_synthetic_bank_is_generated_once_and_split_by_source(tmp_data):
    df = noise.load_noise("synthetic", types=["white", "clock_tick"], progress=False, n_jobs=1)
    assert list(df.columns) == banks.COLUMNS
    assert len(df) == 2 * scenes.N_SOURCES
    assert df["path"].map(lambda p: Path(p).is_absolute() and Path(p).is_file()).all()
    assert str(tmp_data) in df["path"].iloc[0]
    for row in df.itertuples():
        info = sf.info(row.path)
        assert info.samplerate == SR and abs(info.duration - row.duration) < 1e-3
    counts = df.groupby(["noise_type", "part"]).size().unstack()
    assert (counts["test"] == 2).all() and (counts["train"] == 4).all()
    assert not set(df.loc[df.part == "train", "source_id"]) & set(df.loc[df.part == "test", "source_id"])
    mtimes = {p: os.path.getmtime(p) for p in df["path"]}
    again = noise.load_noise("synthetic", types=["clock_tick", "white"], progress=False)
    pd.testing.assert_frame_equal(df, again)
    assert {p: os.path.getmtime(p) for p in again["path"]} == mtimes  # cached, not regenerated
    # resumable: a missing clip is regenerated, identical to before
    victim = Path(df["path"].iloc[0])
    before = sf.read(str(victim))[0]
    victim.unlink()
    noise.load_noise("synthetic", types=["clock_tick"], progress=False)
    np.testing.assert_array_equal(sf.read(str(victim))[0], before)


def test_generated_clips_are_deterministic_and_differ_by_type():
    a = scenes.generate_clip("dog", 1)
    np.testing.assert_array_equal(a, scenes.generate_clip("dog", 1))
    assert not np.array_equal(a, scenes.generate_clip("dog", 2))
    assert np.all(np.isfinite(a)) and np.abs(a).max() <= 0.95 and abs(np.sqrt(np.mean(a**2)) - 0.05) < 1e-3
    assert scenes.clip_duration("dog", 1) == 5.0

    def low_share(x):  # share of power below 500 Hz
        spec = np.abs(np.fft.rfft(x)) ** 2
        f = np.fft.rfftfreq(len(x), 1 / SR)
        return spec[f < 500].sum() / spec.sum()

    white, brown = scenes.generate_clip("white", 0), scenes.generate_clip("brown", 0)
    assert low_share(brown) > 0.9 and low_share(white) < 0.1
    tick = scenes.generate_clip("clock_tick", 0)
    crest = lambda x: np.abs(x).max() / np.sqrt(np.mean(x**2))  # noqa: E731
    assert crest(tick) > 3 * crest(white)  # impulsive events, not a bed of noise


def test_unknown_generated_type_lists_the_types(tmp_data):
    with pytest.raises(ValueError, match="unknown generated noise types.*babble"):
        noise.load_noise("synthetic", types=["jackhammer"])
    with pytest.raises(ValueError, match="not a generated noise type"):
        noise.Condition("jackhammer", 5)


def test_babble_talkers_are_not_corpus_speakers():
    from serlib.corpora.synthetic import CORPUS_VOICES

    voices = scenes.background_voices()
    assert len(voices) >= 8
    assert not set(voices) & set(CORPUS_VOICES)
    corpus_variants = {v.split("+")[1].lower() for v in CORPUS_VOICES}
    assert not {v.split("+")[1].lower() for v in voices} & corpus_variants


@pytest.mark.slow
def test_every_generated_type_renders(tmp_data):
    for t in noise.NOISE_TYPES:
        x = scenes.generate_clip(t, 0)
        assert np.all(np.isfinite(x)) and np.sqrt(np.mean(x**2)) > 0.01, t
        assert len(x) == int(round(scenes.clip_duration(t, 0) * SR)), t


# ------------------------------------------------------------------------------------------
# recorded banks: fixture trees in the real layouts
# ------------------------------------------------------------------------------------------

@pytest.fixture
def esc50_tree(tmp_path):
    root = tmp_path / "ESC-50-master"
    rows = ["filename,fold,target,category,esc10,src_file,take"]
    k = 0
    for cat, target in (("dog", 0), ("rain", 10)):
        for src in range(6):
            for take in "AB":
                fold = src % 5 + 1
                name = f"{fold}-{1000 + 10 * target + src}-{take}-{target}.wav"
                write_wav(root / "audio" / name, 0.6, 44100, k)
                rows.append(f"{name},{fold},{target},{cat},True,{1000 + 10 * target + src},{take}")
                k += 1
    (root / "meta").mkdir()
    (root / "meta" / "esc50.csv").write_text("\n".join(rows) + "\n")
    return root


def test_esc50_layout(esc50_tree):
    df = noise.load_noise("esc50", esc50_tree)
    assert len(df) == 24 and set(df["noise_type"]) == {"dog", "rain"}
    assert df["source_id"].str.match(r"esc:\d+$").all()
    assert noise.detect_layout(esc50_tree) == "esc50"
    pd.testing.assert_frame_equal(df, noise.load_noise("auto", esc50_tree))
    # both takes of a source land in the same part; no source in both parts
    assert (df.groupby("source_id")["part"].nunique() == 1).all()
    assert not set(df.loc[df.part == "train", "source_id"]) & set(df.loc[df.part == "test", "source_id"])
    assert (df.groupby(["noise_type", "part"])["source_id"].nunique().unstack()["test"] == 2).all()


def test_musan_layout(tmp_path):
    base = tmp_path / "musan"
    for kind, coll in (("music", "fma"), ("music", "jamendo"), ("speech", "librivox"), ("noise", "free-sound")):
        for i in range(3):
            write_wav(base / kind / coll / f"{kind}-{coll}-{i:04d}.wav", 0.5, 16000, i)
        if kind == "music":
            (base / kind / coll / "ANNOTATIONS").write_text(
                "\n".join(f"{kind}-{coll}-{i:04d} pop N artist{i % 2}" for i in range(3)) + "\n")
    for root in (base, tmp_path):  # the musan folder itself or its parent
        df = noise.load_noise("musan", root)
        assert len(df) == 12 and set(df["noise_type"]) == {"music", "speech", "noise"}
    assert noise.detect_layout(tmp_path) == "musan"
    music = df[df.noise_type == "music"]
    assert set(music["source_id"]) == {"musan:music:artist:artist0", "musan:music:artist:artist1"}
    assert (df.groupby("source_id")["part"].nunique() == 1).all()  # one artist never in both parts


def test_demand_layout_resamples(tmp_path):
    for env in ("DKITCHEN", "NPARK", "PSTATION", "STRAFFIC", "PCAFETER", "TBUS"):
        for ch in ("ch01", "ch02"):
            write_wav(tmp_path / env / f"{ch}.wav", 0.5, 48000, len(env) + len(ch))
    df = noise.load_noise("demand", tmp_path)
    assert set(df["noise_type"]) == {"kitchen", "park", "station", "traffic", "cafeteria", "bus"}
    assert len(df) == 6 and (df["part"] == "test").all()  # one recording per environment: test only
    assert noise.detect_layout(tmp_path) == "demand"
    assert len(noise.load_noise("demand", tmp_path, channel="ch02")) == 6
    cond = noise.Condition("kitchen", 0.0, bank="demand", root=tmp_path)
    s = speechlike(0, seconds=1.0, pause=0.1)
    y, sp, npart, info = cond.apply_with_parts(s, "u1")  # 48 kHz clip read at 16 kHz
    assert len(y) == len(s) and abs(noise.measure_snr(sp, npart)) < 0.1
    with pytest.raises(ValueError, match="no train sources"):
        noise.Condition("kitchen", 0.0, bank="demand", root=tmp_path, part="train").apply(s, "u1")


def test_inoise_layout(tmp_path):
    for scene in ("Indoor_workplace", "Indoor_cafeteria", "Indoor_home", "Outdoor_travel-bus", "Outdoor_street"):
        for i in range(3):
            write_wav(tmp_path / scene / f"{scene.lower()}_{i}.wav", 0.5, 16000, i)
    df = noise.load_noise("inoise", tmp_path)
    assert set(df["noise_type"]) == {"workplace", "cafeteria", "home", "bus", "street"}
    assert noise.detect_layout(tmp_path) == "inoise"
    assert (df.groupby(["noise_type", "part"]).size().unstack()["test"] == 1).all()
    only = noise.load_noise("inoise", tmp_path, types=["bus"])
    assert set(only["noise_type"]) == {"bus"}
    with pytest.raises(ValueError, match="no clips of noise types \\['tram'\\]"):
        noise.load_noise("inoise", tmp_path, types=["tram"])


def test_unknown_layout_lists_the_supported_ones(tmp_path):
    (tmp_path / "wav").mkdir()
    write_wav(tmp_path / "wav" / "03a01Wa.wav", 0.2, 16000, 0)  # an EmoDB-like folder: speech, not noise
    with pytest.raises(noise.NoiseLayoutError, match=r"no supported noise layout(.|\n)*musan(.|\n)*esc50(.|\n)*demand"):
        noise.load_noise("auto", tmp_path)
    with pytest.raises(noise.NoiseLayoutError, match="not a esc50 folder.*meta/esc50.csv"):
        noise.load_noise("esc50", tmp_path)
    with pytest.raises(noise.NoiseLayoutError, match="does not exist"):
        noise.load_noise("musan", tmp_path / "nowhere")
    with pytest.raises(ValueError, match="unknown noise bank"):
        noise.load_noise("noisex92")


def test_unreadable_file_is_named(tmp_path):
    scene = tmp_path / "Indoor_home"
    scene.mkdir()
    (scene / "broken.wav").write_bytes(b"RIFF....not audio")
    with pytest.raises(noise.NoiseLayoutError, match="broken.wav: unreadable"):
        noise.load_noise("inoise", tmp_path)


def test_nan_noise_clip_is_named(tmp_path):
    x = np.random.default_rng(0).standard_normal(SR).astype(np.float32)
    x[10] = np.nan
    (tmp_path / "Indoor_home").mkdir()
    sf.write(str(tmp_path / "Indoor_home" / "nan_clip.wav"), x, SR, subtype="FLOAT")
    cond = noise.Condition("home", 5.0, bank="inoise", root=tmp_path, part="all")
    with pytest.raises(AudioError, match="nan_clip.wav.*NaN/inf"):
        cond.apply(speechlike(0), "u1")


# ------------------------------------------------------------------------------------------
# conditions
# ------------------------------------------------------------------------------------------

def test_condition_is_deterministic_per_utterance(tmp_data):
    s = speechlike(0)
    c = noise.Condition("clock_tick", 5.0, seed=0)
    a, b = c.apply(s, "utt_1"), c.apply(s, "utt_1")
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c.apply(s, "utt_2"))
    assert not np.array_equal(a, noise.Condition("clock_tick", 5.0, seed=1).apply(s, "utt_1"))
    # same utterance, other SNR: the same clip and offset (curves over SNR compare like with like)
    i5 = c.apply_with_parts(s, "utt_1")[3]
    i0 = noise.Condition("clock_tick", 0.0).apply_with_parts(s, "utt_1")[3]
    assert (i5["clip_id"], i5["offset"]) == (i0["clip_id"], i0["offset"])
    y, sp, npart, info = c.apply_with_parts(s, "utt_1")
    assert abs(noise.measure_snr(sp, npart) - 5.0) < 0.1
    test_sources = set(c.clips()["source_id"])
    assert info["source_id"] in test_sources
    assert not test_sources & set(noise.Condition("clock_tick", 5.0, part="train").clips()["source_id"])


def _apply_in_worker(args):
    cond, wav, utt = args
    return cond.apply(wav, utt)


def test_condition_pickles_and_gives_the_same_audio_in_workers(tmp_data):
    c = noise.Condition("white", 10.0)
    assert pickle.loads(pickle.dumps(c)) == c
    s = speechlike(1)
    here = [c.apply(s, f"u{i}") for i in range(3)]
    with ProcessPoolExecutor(2) as ex:
        there = list(ex.map(_apply_in_worker, [(c, s, f"u{i}") for i in range(3)]))
    for a, b in zip(here, there, strict=True):
        np.testing.assert_array_equal(a, b)


def test_clean_condition_and_keys(tmp_path):
    s = speechlike(0)
    assert noise.Condition().key == "clean"
    assert noise.Condition().apply(s, "u") is s
    assert noise.Condition("babble", 5).key == "synthetic2-babble-snr5-seed0-test"  # scenes.VERSION 2
    conds = [noise.Condition("babble", 5), noise.Condition("babble", 5.5), noise.Condition("babble", -5),
             noise.Condition("babble", 5, seed=1), noise.Condition("babble", 5, part="train"),
             noise.Condition("music", 5), noise.Condition("babble", 5, snr_mode="active"),
             noise.Condition("babble", 5, bank="musan", root=tmp_path),
             noise.Condition("babble", 5, bank="musan", root=tmp_path / "other"),
             noise.RandomCondition(("noise", "music")), noise.RandomCondition(("noise", "music"), (0, 20)),
             noise.Condition()]
    keys = [c.key for c in conds]
    assert len(set(keys)) == len(keys)
    assert all(re.fullmatch(r"[A-Za-z0-9_.+-]+", k) for k in keys)
    assert noise.Condition("babble", -5).key == "synthetic2-babble-snrm5-seed0-test"
    assert noise.Condition("babble", 5) == noise.Condition("babble", 5.0)


def test_condition_validation():
    with pytest.raises(ValueError, match="snr_db must be a finite number"):
        noise.Condition("babble")
    with pytest.raises(ValueError, match="without a noise_type"):
        noise.Condition(None, 5)
    with pytest.raises(ValueError, match="part='dev'"):
        noise.Condition("babble", 5, part="dev")
    with pytest.raises(ValueError, match="unknown bank"):
        noise.Condition("babble", 5, bank="noisex")


def test_random_condition_draws_types_and_snrs_deterministically(tmp_data):
    rc = noise.RandomCondition(["white", "pink"], snr_range=(5, 35), seed=3)
    assert rc.noise_types == ("white", "pink") and rc.part == "train"
    draws = [rc.draw(f"utt{i}") for i in range(40)]
    assert draws == [rc.draw(f"utt{i}") for i in range(40)]
    assert {d.noise_type for d in draws} == {"white", "pink"}
    snrs = np.array([d.snr_db for d in draws])
    assert snrs.min() >= 5 and snrs.max() <= 35 and snrs.std() > 5
    assert all(d.part == "train" for d in draws)
    s = speechlike(2)
    y, sp, npart, info = rc.apply_with_parts(s, "utt7")
    assert info["noise_type"] == rc.draw("utt7").noise_type
    assert abs(noise.measure_snr(sp, npart) - rc.draw("utt7").snr_db) < 0.1
    np.testing.assert_array_equal(rc.apply(s, "utt7"), y)
    with pytest.raises(ValueError, match="low <= high"):
        noise.RandomCondition(["white"], snr_range=(10, 5))


def test_snr_table_reports_target_and_measured(tmp_data):
    utts = {f"u{i}": speechlike(i) for i in range(3)}
    conds = [noise.Condition("white", snr) for snr in (0, 10, 20)] + [noise.RandomCondition(["pink"], (5, 6))]
    tab = noise.snr_table(utts, conds)
    assert len(tab) == 12 and set(tab["noise_type"]) == {"white", "pink"}
    assert (tab["snr_measured"] - tab["snr_target"]).abs().max() < 0.1
    assert (tab["snr_measured_active"] > tab["snr_measured"]).all()  # pauses excluded: higher speech power


# ------------------------------------------------------------------------------------------
# real ESC-10 clips (../shared/data), skipped when absent
# ------------------------------------------------------------------------------------------

def test_esc10_real_clips(shared_data):
    root = shared_data / "esc10"
    df = noise.load_noise("esc10", root)
    assert len(df) == 400 and df["noise_type"].nunique() == 10
    assert set(df["noise_type"]) == set(noise.NOISE_FAMILIES["esc"])  # same names as the generated ESC-like types
    assert (df.groupby("source_id")["part"].nunique() == 1).all()
    assert not set(df.loc[df.part == "train", "source_id"]) & set(df.loc[df.part == "test", "source_id"])
    assert noise.detect_layout(root) == "esc10"
    # mix a real (22.05 kHz) EmoDB utterance with real (44.1 kHz Ogg) barking at 0 dB
    wav = load_audio(sorted((shared_data / "emodb" / "wav").glob("*.wav"))[0])
    cond = noise.Condition("dog", 0.0, bank="esc10", root=root)
    y, sp, npart, info = cond.apply_with_parts(wav, "03a01Fa")
    assert len(y) == len(wav) and info["source_id"] in set(df.loc[df.part == "test", "source_id"])
    assert abs(noise.measure_snr(sp, npart)) < 0.1
