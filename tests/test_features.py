"""Tests for serlib.features: kinds, shapes, references, cache, resume, bad input, helpers."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pandas as pd
import pytest

from serlib import features as F
from serlib.audio import SR, load_audio, save_wav
from serlib.features import cache as fcache
from serlib.features import functionals, pipeline, spectral

DURATIONS = [1.0, 1.5, 2.0, 1.2, 1.8, 1.05]


def _tone(seed: int, seconds: float) -> np.ndarray:
    """A harmonic tone with vibrato, an amplitude envelope and a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = 110 + 25 * seed
    phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.03 * np.sin(2 * np.pi * 5 * t))) / SR
    x = sum(0.25 / k * np.sin(k * phase) for k in range(1, 7))
    x *= 0.6 + 0.4 * np.sin(2 * np.pi * 1.3 * t) ** 2
    return (x + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


@pytest.fixture(scope="module")
def wav_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("wavs")
    for i, sec in enumerate(DURATIONS):
        save_wav(d / f"utt{i}.wav", _tone(i, sec))
    return d


@pytest.fixture
def manifest(wav_dir):
    return pd.DataFrame({
        "utt_id": [f"utt{i}" for i in range(len(DURATIONS))],
        "path": [str(wav_dir / f"utt{i}.wav") for i in range(len(DURATIONS))],
        "emotion": ["angry", "happy", "neutral", "sad", "angry", "happy"],
    })


class AddHum:
    """A dummy noise condition: adds a 60 Hz hum whose phase depends on the utterance."""

    def __init__(self, level: float = 0.05):
        self.level = level

    @property
    def key(self) -> str:
        return f"hum-{self.level:g}"

    def apply(self, wav, utt_id, sr=16000):
        phase = sum(map(ord, utt_id)) % 7
        t = np.arange(len(wav)) / sr
        return (wav + self.level * np.sin(2 * np.pi * 60 * t + phase)).astype(np.float32)


def _chunks(kind: str, cond: str = "clean"):
    return sorted((fcache.data_dir("features") / F.config_id(F.get_kind(kind)) / cond).glob("chunk-*" + fcache.SUFFIX))


# ---- registry ----------------------------------------------------------------------------
def test_registry_and_unknown_kind(manifest, tmp_data):
    assert set(F.FEATURE_KINDS) == {"egemaps", "compare", "lmfb", "spectrogram"}
    assert {k: v.dim for k, v in F.FEATURE_KINDS.items()} == {"egemaps": 88, "compare": 6373, "lmfb": 80, "spectrogram": 128}
    with pytest.raises(ValueError, match="unknown feature kind 'mfcc'.*compare, egemaps, lmfb, spectrogram"):
        F.extract(manifest, "mfcc")
    cfg = F.get_kind("egemaps").config()
    assert cfg["versions"]["opensmile"] and cfg["versions"]["serlib.features"] == F.VERSION
    assert F.config_id("lmfb").startswith("lmfb-") and F.config_id("lmfb") != F.config_id("spectrogram")


# ---- shapes and references ---------------------------------------------------------------
def test_egemaps_matches_direct_opensmile(manifest, tmp_data):
    import opensmile

    X = F.extract(manifest, "egemaps", n_jobs=1, progress=False)
    assert X.shape == (6, 88) and X.dtypes.unique().tolist() == [np.float32]
    assert list(X.index) == list(manifest.utt_id) and X.index.name == "utt_id"
    smile = opensmile.Smile(opensmile.FeatureSet.eGeMAPSv02, opensmile.FeatureLevel.Functionals)
    ref = smile.process_signal(load_audio(manifest.path[2]), SR)
    assert list(X.columns) == list(ref.columns)
    np.testing.assert_array_equal(X.loc["utt2"].to_numpy(), ref.to_numpy()[0])
    assert X.std().gt(0).sum() > 60  # the utterances differ


def test_compare_shape(manifest, tmp_data):
    X = F.extract(manifest.head(2), "compare", n_jobs=1, progress=False)
    assert X.shape == (2, 6373)
    assert np.isfinite(X.to_numpy()).all()
    assert X.columns[0].startswith("audspec_lengthL1norm")


def test_lmfb_shape_and_kaldi_reference(manifest, tmp_data):
    import torch
    import torchaudio

    seqs = F.extract(manifest, "lmfb", progress=False, device="cpu")
    assert isinstance(seqs, list) and seqs.utt_ids == list(manifest.utt_id)
    for sec, s in zip(DURATIONS, seqs):
        n = int(sec * SR)
        assert s.dtype == np.float32 and s.shape == (1 + (n - 400) // 160, 80) == (F.frame_count(n, "lmfb"), 80)
    assert seqs[0].shape == (98, 80)  # 1 s -> 98 frames (snip_edges)
    # same geometry as Kaldi fbank with the extras (dither, pre-emphasis, DC removal) switched off
    x = load_audio(manifest.path[1])
    ref = torchaudio.compliance.kaldi.fbank(
        torch.from_numpy(x)[None], num_mel_bins=80, frame_length=25, frame_shift=10, dither=0.0,
        preemphasis_coefficient=0.0, remove_dc_offset=False, window_type="hamming",
        low_freq=20, high_freq=8000, sample_frequency=SR, energy_floor=0.0,
    ).numpy()
    assert ref.shape == seqs[1].shape
    assert np.abs(ref - seqs[1]).max() < 0.05  # Kaldi's triangles are drawn in the mel domain


def test_spectrogram_shape_and_scipy_reference(manifest, tmp_data):
    import scipy.signal as ss

    seqs = F.extract(manifest, "spectrogram", progress=False, device="cpu")
    assert [s.shape for s in seqs] == [(F.frame_count(int(d * SR), "spectrogram"), 128) for d in DURATIONS]
    x = load_audio(manifest.path[0])
    win = ss.get_window("hamming", 400, fftbins=False)
    _, _, Z = ss.stft(x, SR, window=win, nperseg=400, noverlap=240, nfft=512, boundary=None, padded=False)
    ref = np.log(np.maximum(np.abs(Z[:128].T * win.sum()), 1e-5))  # undo scipy's 1/sum(win) scaling
    np.testing.assert_allclose(seqs[0], ref, atol=1e-3)


def test_batched_equals_one_at_a_time():
    wavs = [_tone(i, sec) for i, sec in enumerate([0.3, 1.0, 2.2])]
    for kind in ("lmfb", "spectrogram"):
        batched = spectral.compute(wavs, kind, "cpu")
        for w, b in zip(wavs, batched):
            np.testing.assert_allclose(spectral.compute([w], kind, "cpu")[0], b, atol=1e-4)


@pytest.mark.gpu
def test_cuda_matches_cpu():
    import torch

    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU: the GPU path of the spectral kinds is checked on GPU machines only")
    wavs = [_tone(i, sec) for i, sec in enumerate([0.5, 1.3, 2.1])]
    for kind in ("lmfb", "spectrogram"):
        for g, c in zip(spectral.compute(wavs, kind, "cuda"), spectral.compute(wavs, kind, "cpu")):
            assert g.dtype == np.float32 and g.shape == c.shape
            np.testing.assert_allclose(g, c, atol=1e-3)


# ---- cache -------------------------------------------------------------------------------
def test_cache_hit_miss_and_condition_keying(manifest, tmp_data):
    first = F.extract(manifest, "lmfb", progress=False)
    assert first.attrs["extract"]["computed"] == 6 and first.attrs["extract"]["cached"] == 0
    again = F.extract(manifest, "lmfb", progress=False)
    assert again.attrs["extract"]["cached"] == 6 and again.attrs["extract"]["computed"] == 0
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    # a subset in another order reuses the same entries
    sub = F.extract(manifest.iloc[[4, 1]], "lmfb", progress=False)
    assert sub.attrs["extract"]["cached"] == 2 and sub.utt_ids == ["utt4", "utt1"]
    np.testing.assert_array_equal(sub[0], first[4])
    # a condition has its own entries, and changes the features as its apply() says
    hum = AddHum(0.05)
    noisy = F.extract(manifest, "lmfb", hum, progress=False)
    assert noisy.attrs["extract"]["computed"] == 6 and noisy.attrs["extract"]["condition"] == "hum-0.05"
    direct = spectral.compute([hum.apply(load_audio(manifest.path[3]), "utt3")], "lmfb", "cpu")[0]
    np.testing.assert_allclose(noisy[3], direct, atol=1e-4)
    assert not np.allclose(noisy[3], first[3], atol=0.1)
    assert len(_chunks("lmfb", "hum-0.05")) == 1 and len(_chunks("lmfb")) == 1
    assert F.extract(manifest, "lmfb", AddHum(0.1), progress=False).attrs["extract"]["computed"] == 6


def test_cache_off_and_changed_audio(manifest, tmp_data, tmp_path):
    F.extract(manifest, "egemaps", n_jobs=1, progress=False, cache=False)
    assert not _chunks("egemaps")
    m = manifest.copy()
    m["path"] = [str(tmp_path / f"{u}.wav") for u in m.utt_id]
    for src, dst in zip(manifest.path, m.path):
        save_wav(dst, load_audio(src))
    F.extract(m, "egemaps", n_jobs=1, progress=False)
    save_wav(m.path[0], 0.5 * load_audio(m.path[0]))  # rewritten file: new mtime -> new entry key
    os.utime(m.path[0], ns=(1, 1))
    out = F.extract(m, "egemaps", n_jobs=1, progress=False)
    assert out.attrs["extract"]["computed"] == 1 and out.attrs["extract"]["cached"] == 5


def test_resume_after_crash_spectral(manifest, tmp_data, monkeypatch):
    real = spectral.compute
    calls = []

    def crash_on_third(wavs, kind, device=None):
        calls.append(len(wavs))
        if len(calls) == 3:
            raise RuntimeError("killed")
        return real(wavs, kind, device)

    monkeypatch.setattr(spectral, "compute", crash_on_third)
    with pytest.raises(RuntimeError, match="killed"):
        F.extract(manifest, "spectrogram", progress=False, chunk_size=2)
    assert len(_chunks("spectrogram")) == 2  # two whole chunks survived
    assert not [f for f in _chunks("spectrogram")[0].parent.iterdir() if f.name.startswith(".")]  # no temp files
    calls.clear()
    monkeypatch.setattr(spectral, "compute", lambda w, k, d=None: calls.append(len(w)) or real(w, k, d))
    out = F.extract(manifest, "spectrogram", progress=False, chunk_size=2)
    assert calls == [2] and out.attrs["extract"]["cached"] == 4 and out.attrs["extract"]["computed"] == 2
    ref = F.extract(manifest, "spectrogram", progress=False, cache=False)
    for a, b in zip(out, ref):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_resume_after_crash_opensmile(manifest, tmp_data, monkeypatch):
    real = pipeline._functional_one
    done = []

    def crash_after_three(utt_id, path, kind, condition):
        if len(done) == 3:
            raise KeyboardInterrupt  # as if the user stopped the run
        done.append(utt_id)
        return real(utt_id, path, kind, condition)

    monkeypatch.setattr(pipeline, "_functional_one", crash_after_three)
    with pytest.raises(KeyboardInterrupt):
        F.extract(manifest, "egemaps", n_jobs=1, progress=False, chunk_size=2)
    assert len(_chunks("egemaps")) == 1  # utt0, utt1; utt2 was computed but its chunk never completed
    done.clear()
    monkeypatch.setattr(pipeline, "_functional_one", lambda *a: done.append(a[0]) or real(*a))
    out = F.extract(manifest, "egemaps", n_jobs=1, progress=False, chunk_size=2)
    assert done == ["utt2", "utt3", "utt4", "utt5"]
    assert out.attrs["extract"]["cached"] == 2 and out.shape == (6, 88)


def test_unreadable_chunk_is_recomputed(manifest, tmp_data):
    F.extract(manifest, "lmfb", progress=False)
    _chunks("lmfb")[0].write_bytes(b"not a chunk")
    with pytest.warns(UserWarning, match="unreadable"):
        out = F.extract(manifest, "lmfb", progress=False)
    assert out.attrs["extract"]["computed"] == 6
    assert F.extract(manifest, "lmfb", progress=False).attrs["extract"]["cached"] == 6


def test_parallel_equals_serial(manifest, tmp_data, monkeypatch):
    monkeypatch.setattr(pipeline, "MIN_UTTS_PER_WORKER", 1)
    hum = AddHum(0.02)
    serial = F.extract(manifest, "egemaps", hum, n_jobs=1, progress=False, cache=False)
    par = F.extract(manifest, "egemaps", hum, n_jobs=2, progress=False, chunk_size=4)  # condition sent to workers
    pd.testing.assert_frame_equal(serial, par)
    assert par.attrs["extract"]["computed"] == 6 and len(_chunks("egemaps", "hum-0.02")) == 2


def test_worker_errors_are_named(manifest, tmp_data, monkeypatch, tmp_path):
    monkeypatch.setattr(pipeline, "MIN_UTTS_PER_WORKER", 1)
    bad = manifest.copy()
    silent = tmp_path / "silent.wav"
    save_wav(silent, np.zeros(SR, dtype=np.float32))
    bad.loc[4, "path"] = str(silent)
    with pytest.raises(F.FeatureError, match=r"utterance 'utt4'.*silent\.wav.*silent"):
        F.extract(bad, "egemaps", n_jobs=2, progress=False, cache=False)


# ---- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["egemaps", "lmfb"])
def test_bad_utterances_are_named(manifest, tmp_data, tmp_path, kind):
    silent = tmp_path / "silent.wav"
    save_wav(silent, np.zeros(SR, dtype=np.float32))
    m = manifest.copy()
    m.loc[2, "path"] = str(silent)
    with pytest.raises(F.FeatureError, match=r"utterance 'utt2'.*silent\.wav.*silent"):
        F.extract(m, kind, n_jobs=1, progress=False)
    m.loc[2, "path"] = str(tmp_path / "gone.wav")
    with pytest.raises(F.FeatureError, match=r"utterance 'utt2'.*gone\.wav"):
        F.extract(m, kind, n_jobs=1, progress=False)
    with pytest.raises(F.FeatureError, match=r"utterance 'utt2'.*gone\.wav"):
        F.extract(m, kind, n_jobs=1, progress=False, cache=False)


def test_bad_condition_and_short_audio(manifest, tmp_data, tmp_path):
    class Broken(AddHum):
        def apply(self, wav, utt_id, sr=16000):
            return wav * np.nan

    with pytest.raises(F.FeatureError, match=r"utterance 'utt0'.*condition 'hum-0.05'.*NaN"):
        F.extract(manifest, "lmfb", Broken(), progress=False)
    save_wav(tmp_path / "short.wav", _tone(1, 0.02))  # 320 samples < one 400-sample frame
    m = pd.DataFrame({"utt_id": ["tiny"], "path": [str(tmp_path / "short.wav")]})
    with pytest.raises(F.FeatureError, match=r"utterance 'tiny'.*short\.wav.*shorter than one"):
        F.extract(m, "spectrogram", progress=False)

    class BadKey(AddHum):
        key = "../escape"

    with pytest.raises(ValueError, match="filesystem-safe"):
        F.extract(manifest, "lmfb", BadKey(), progress=False)


def test_manifest_validation(manifest, tmp_data):
    with pytest.raises(ValueError, match="duplicate utt_id.*utt1"):
        F.extract(pd.concat([manifest, manifest.iloc[[1]]]), "lmfb", progress=False)
    with pytest.raises(ValueError, match="lacks column.*path"):
        F.extract(manifest.drop(columns="path"), "lmfb", progress=False)
    with pytest.raises(ValueError, match="empty"):
        F.extract(manifest.iloc[:0], "lmfb", progress=False)
    with pytest.raises(ValueError, match="on_nan"):
        F.extract(manifest, "lmfb", on_nan="ignore")
    with pytest.raises(ValueError, match="n_jobs"):
        F.extract(manifest, "lmfb", n_jobs=0)
    import torch

    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            F.extract(manifest, "lmfb", device="cuda")


def test_nan_features_raise_or_drop(manifest, tmp_data, monkeypatch):
    real = functionals.compute

    def nan_for_utt3(wav, kind, sr=16000):
        out = real(wav, kind, sr)
        if len(wav) == int(DURATIONS[3] * SR):
            out = out.copy()
            out[5] = np.nan
        return out

    monkeypatch.setattr(functionals, "compute", nan_for_utt3)
    with pytest.raises(F.FeatureError, match=r"1 of 6 utterances have NaN/inf features: \['utt3'\]"):
        F.extract(manifest, "egemaps", n_jobs=1, progress=False)
    with pytest.warns(UserWarning, match=r"\['utt3'\].*dropped"):
        X = F.extract(manifest, "egemaps", n_jobs=1, progress=False, on_nan="drop")  # from the cache
    assert X.shape == (5, 88) and "utt3" not in X.index
    assert X.attrs["extract"]["nan"] == 1 and X.attrs["extract"]["dropped"] == ["utt3"]

    real_spec = spectral.compute

    def nan_first(wavs, kind, device=None):
        out = real_spec(wavs, kind, device)
        out[0][0, 0] = np.inf
        return out

    monkeypatch.setattr(spectral, "compute", nan_first)
    with pytest.warns(UserWarning, match="1 of 6"):
        seqs = F.extract(manifest, "lmfb", progress=False, on_nan="drop", cache=False)
    assert len(seqs) == 5 and seqs.utt_ids == ["utt1", "utt2", "utt3", "utt4", "utt5"]


# ---- sequence helpers ----------------------------------------------------------------------
def test_stack_repeat_zero_and_truncate():
    a = np.arange(6, dtype=np.float32).reshape(3, 2)
    b = np.ones((7, 2), dtype=np.float32)
    x = F.stack([a, b], max_frames=5)
    assert x.shape == (2, 5, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0], np.concatenate([a, a[:2]]))
    np.testing.assert_array_equal(x[1], b[:5])
    z = F.stack([a], max_frames=5, pad="zero")
    np.testing.assert_array_equal(z[0, 3:], 0)
    np.testing.assert_array_equal(z[0, :3], a)
    with pytest.raises(ValueError, match="different numbers of bins"):
        F.stack([a, np.ones((3, 3))], 4)
    with pytest.raises(ValueError, match="pad must be"):
        F.stack([a], 4, pad="edge")


def test_segment_and_segment_stack():
    seq = np.arange(600 * 2, dtype=np.float32).reshape(600, 2)
    segs = F.segment(seq, 256)
    assert [s.shape for s in segs] == [(256, 2)] * 3
    np.testing.assert_array_equal(segs[1], seq[256:512])
    np.testing.assert_array_equal(segs[2][:88], seq[512:])
    np.testing.assert_array_equal(segs[2][88:176], seq[512:])  # repeat-padded with its own frames
    assert len(F.segment(seq[:512], 256)) == 2  # no segment made only of padding
    assert len(F.segment(seq[:100], 256)) == 1
    assert len(F.segment(seq, 256, hop=128)) == 4  # starts 0, 128, 256, 384 (reaches the end)
    x, owner = F.segment_stack([seq, seq[:100]], 256)
    assert x.shape == (4, 256, 2) and owner.tolist() == [0, 0, 0, 1]


def test_standardizer_plain_robust_and_types():
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    train, test = rng.normal(3, 2, (400, 4)), rng.normal(3, 2, (50, 4))
    ours = F.Standardizer().fit(train)
    np.testing.assert_allclose(ours.transform(test), StandardScaler().fit(train).transform(test), atol=1e-5)
    # robust: one huge outlier barely moves the statistics, and scaled values are clipped to +-10
    spiky = train.copy()
    spiky[0, 0] = 1e6
    rob = F.Standardizer(robust=True, clip=10).fit(spiky)
    assert abs(rob.mean_[0] - 3) < 0.3 and abs(rob.std_[0] - 2) < 0.3
    assert F.Standardizer().fit(spiky).std_[0] > 1e4
    assert rob.transform(spiky)[0, 0] == 10.0
    # the percentile statistics equal mean/std of the kept values
    lo, hi = np.percentile(spiky[:, 1], [0.5, 99.5])
    kept = spiky[(spiky[:, 1] >= lo) & (spiky[:, 1] <= hi), 1]
    assert np.isclose(rob.mean_[1], kept.mean()) and np.isclose(rob.std_[1], kept.std())
    # DataFrames keep their index and columns; sequences pool frames; constant features get std 1
    df = pd.DataFrame(train, columns=list("abcd"), index=[f"u{i}" for i in range(400)])
    out = F.Standardizer().fit_transform(df)
    assert list(out.columns) == list("abcd") and out.index[0] == "u0" and abs(out.to_numpy().mean()) < 1e-6
    seqs = [np.ones((5, 3)) * i for i in range(4)]
    z = F.Standardizer().fit_transform(seqs)
    assert isinstance(z, list) and z[0].shape == (5, 3)
    assert F.Standardizer().fit(np.ones((5, 2))).std_.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="NaN"):
        F.Standardizer().fit(np.array([[1.0], [np.nan]]))
    with pytest.raises(RuntimeError, match="not fitted"):
        F.Standardizer().transform(train)
    with pytest.raises(ValueError, match="3 features.*fitted on 4"):
        ours.transform(np.ones((2, 3)))


# ---- real audio ----------------------------------------------------------------------------
def test_real_emodb_audio(shared_data, tmp_data):
    wavs = sorted((shared_data / "emodb" / "wav").glob("*.wav"))[:3]
    if not wavs:
        pytest.skip(f"no EmoDB wavs under {shared_data / 'emodb' / 'wav'}")
    m = pd.DataFrame({"utt_id": [w.stem for w in wavs], "path": [str(w) for w in wavs]})
    X = F.extract(m, "egemaps", n_jobs=1, progress=False)
    seqs = F.extract(m, "lmfb", progress=False)
    assert X.shape == (3, 88) and np.isfinite(X.to_numpy()).all()
    assert all(s.shape[1] == 80 and s.shape[0] > 50 for s in seqs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert F.extract(m, "egemaps", progress=False).attrs["extract"]["cached"] == 3


class Sleepy:
    """Identity condition that takes its time, so a subprocess can be killed mid-run."""

    key = "sleepy"

    def __init__(self, delay: float = 0.0):
        self.delay = delay

    def apply(self, wav, utt_id, sr=16000):
        import time

        time.sleep(self.delay)
        return wav


KILL_SCRIPT = """
import sys, pandas as pd
sys.path.insert(0, {tests!r})
from test_features import Sleepy
from serlib import features
m = pd.read_json({manifest!r})
features.extract(m, "egemaps", Sleepy(0.4), n_jobs=1, chunk_size=1, progress=False)
"""


@pytest.mark.slow
def test_resume_after_sigkill(manifest, tmp_data, tmp_path):
    """A real kill -9 half-way: whole chunks survive, the rerun computes only the rest."""
    import signal
    import subprocess
    import sys
    import time

    manifest.to_json(tmp_path / "m.json")
    script = KILL_SCRIPT.format(tests=os.path.dirname(__file__), manifest=str(tmp_path / "m.json"))
    proc = subprocess.Popen([sys.executable, "-c", script], env=os.environ.copy())
    deadline = time.time() + 120
    while len(_chunks("egemaps", "sleepy")) < 2 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(_chunks("egemaps", "sleepy"))
    assert 2 <= done < 6, f"kill came too late or too early: {done} chunks"
    out = F.extract(manifest, "egemaps", Sleepy(), n_jobs=1, progress=False)
    assert out.attrs["extract"]["cached"] == done and out.attrs["extract"]["computed"] == 6 - done
    ref = F.extract(manifest, "egemaps", n_jobs=1, progress=False, cache=False)
    pd.testing.assert_frame_equal(out, ref)
