"""The embedded synthetic corpora, the eSpeak NG wrapper, manifest checks and label helpers.

The smoke corpus (40 utterances) is generated once per module into a temporary folder
(about 2 s); determinism is checked bit-exact.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from serlib import corpora, tts
from serlib.audio import SR, load_audio
from serlib.corpora import CorpusError, MANIFEST_COLUMNS, synthetic
from serlib.corpora.sentences import LEXICAL_VALENCE


def md5(path) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    return corpora.load("synthetic", root=root, size="smoke", seed=0, progress=False)


@pytest.fixture(scope="module")
def xsmoke(tmp_path_factory):
    root = tmp_path_factory.mktemp("xcorpus")
    return corpora.load("synthetic_xcorpus", root=root, size="smoke", seed=0, progress=False)


# ---------------------------------------------------------------------------------------------
# eSpeak NG wrapper

def test_tts_is_deterministic_whatever_came_before():
    args = dict(rate=160, pitch=55, range=60, volume=110)
    a = tts.synthesize("The weather will change later this week.", "en-us+m1", **args)
    tts.synthesize("Something else entirely, with another voice!", "en-gb-x-rp+f3", rate=250, pitch=90)
    b = tts.synthesize("The weather will change later this week.", "en-us+m1", **args)
    assert a.dtype == np.float32 and a.ndim == 1 and np.array_equal(a, b)
    assert 1.0 < a.size / SR < 5.0 and np.abs(a).max() > 0.05
    assert tts.native_rate() == tts.NATIVE_SR == 22050


def test_tts_prosody_parameters_change_the_audio():
    slow = tts.synthesize("The windows face the courtyard.", "en-us+f2", rate=110)
    fast = tts.synthesize("The windows face the courtyard.", "en-us+f2", rate=260)
    assert slow.size > 1.6 * fast.size
    assert tts.synthesize("Hello.", "en-us+f2", sr=8000).size < tts.synthesize("Hello.", "en-us+f2").size


def test_tts_bad_requests():
    with pytest.raises(tts.TTSError, match="does not know the voice 'xx-nope\\+m1'.*serlib.tts.VOICES"):
        tts.synthesize("Hello.", "xx-nope+m1")
    with pytest.raises(ValueError, match="rate=20 is outside"):
        tts.synthesize("Hello.", "en-us+m1", rate=20)
    with pytest.raises(ValueError, match="non-empty"):
        tts.synthesize("  ", "en-us+m1")


def test_corpus_voices_exist_and_leave_room_for_babble():
    assert set(synthetic.CORPUS_VOICES) <= set(tts.VOICES)
    assert len(set(tts.VOICES) - set(synthetic.CORPUS_VOICES)) >= 100
    assert not set(synthetic.SPEAKER_VOICES) & set(synthetic.XCORPUS_SPEAKER_VOICES)


# ---------------------------------------------------------------------------------------------
# Synthetic corpus

def test_smoke_corpus_schema_and_coverage(smoke):
    assert list(smoke.columns) == MANIFEST_COLUMNS and len(smoke) == synthetic.SIZES["smoke"] == 40
    corpora.validate_manifest(smoke)
    assert smoke.speaker.nunique() == 10 and smoke.session.nunique() == 5
    assert set(smoke.emotion) == set(corpora.EMOTIONS_4)
    # every speaker says every emotion in the smoke set
    assert (pd.crosstab(smoke.speaker, smoke.emotion) >= 1).all().all()
    assert set(zip(smoke.speaker.str[-1], smoke.gender)) == {("F", "F"), ("M", "M")}
    assert smoke.arousal.between(1, 5).all() and smoke.valence.between(1, 5).all()
    assert smoke.attrs["av_scale"] == (1.0, 5.0) and smoke.split.isna().all()
    assert smoke.transcript.map(lambda t: isinstance(t, str) and len(t) > 5).all()
    assert (smoke.corpus == "synthetic").all()
    assert corpora.validate_audio(smoke) is smoke  # every file decodes, none silent or NaN


def test_smoke_audio_is_16k_mono_with_noise_floor_not_digital_silence(smoke):
    for path, dur in zip(smoke.path[:8], smoke.duration[:8]):
        info = sf.info(path)
        assert (info.samplerate, info.channels) == (SR, 1)
        assert info.frames / SR == pytest.approx(dur)
        x = load_audio(path)
        assert np.mean(x == 0.0) < 0.01  # no runs of exact digital silence
        lead = x[: int(0.03 * SR)]
        floor_db = 20 * np.log10(np.sqrt(np.mean(lead.astype(np.float64) ** 2)))
        assert -66 < floor_db < -54, floor_db
        assert np.abs(x).max() < 0.99  # never clipped


def test_emotions_differ_in_ratings_and_prosody(smoke):
    means = smoke.groupby("emotion")[["arousal", "valence"]].mean()
    assert means.loc["angry", "arousal"] > means.loc["neutral", "arousal"] > means.loc["sad", "arousal"]
    assert means.loc["happy", "valence"] > means.loc["neutral", "valence"] > means.loc["angry", "valence"]
    specs = synthetic.utterance_specs("synthetic", 400, seed=0)
    rate = specs.groupby("emotion")["rate"].mean()
    assert rate["angry"] > rate["neutral"] > rate["sad"]
    # per-utterance randomness: the same speaker x emotion is not rendered identically
    grp = specs.groupby(["speaker", "emotion"])[["rate", "pitch", "volume"]].std()
    assert (grp > 0).all().all()
    assert specs.intensity.std() > 0.1 and specs.blend_with.notna().mean() > 0.15


def test_sentences_mix_shared_neutral_and_congruent_lines():
    specs = synthetic.utterance_specs("synthetic", 800, seed=0)
    lex = specs.lexical_valence
    plain = specs.transcript.isin(list(LEXICAL_VALENCE))
    assert plain.mean() > 0.9 and (specs.transcript[plain].map(LEXICAL_VALENCE) == lex[plain]).all()
    share_neutral = (lex == 0).groupby(specs.emotion).mean()
    assert share_neutral["neutral"] > 0.8 and 0.3 < share_neutral["angry"] < 0.7
    assert lex[specs.emotion == "happy"].mean() > 0.2 > lex[specs.emotion == "sad"].mean()
    # the same neutral sentence is said in every emotion
    neutral_lines = specs.loc[lex == 0].groupby("transcript").emotion.nunique()
    assert (neutral_lines == 4).sum() >= 10


def test_sizes_are_nested_and_specs_depend_only_on_seed_and_index():
    small = synthetic.utterance_specs("synthetic", "smoke", seed=3)
    big = synthetic.utterance_specs("synthetic", 120, seed=3)
    pd.testing.assert_frame_equal(small, big.iloc[:40])
    other = synthetic.utterance_specs("synthetic", "smoke", seed=4)
    assert not small.transcript.equals(other.transcript) or not small.rate.equals(other.rate)
    assert synthetic.resolve_size("quick") == 1200 and synthetic.resolve_size("paper") == 5500
    with pytest.raises(ValueError, match="size='huge' is not valid"):
        synthetic.resolve_size("huge")
    with pytest.raises(ValueError, match="positive"):
        synthetic.resolve_size(0)


def test_same_seed_gives_bit_identical_audio_in_any_order(smoke, tmp_path):
    # regenerate a few utterances in another folder, in reverse order, after other synthesis
    specs = synthetic.utterance_specs("synthetic", "smoke", seed=0).iloc[[7, 3, 21]]
    tts.synthesize("Unrelated warm-up sentence.", "en-029+m4", rate=300, pitch=10)
    for _, spec in specs.iloc[::-1].iterrows():
        path = tmp_path / f"{spec.utt_id}.wav"
        synthetic._render_to(spec.to_dict(), str(path))
        original = smoke.set_index("utt_id").loc[spec.utt_id, "path"]
        assert md5(path) == md5(original)


def test_generation_resumes_only_missing_files(smoke):
    paths = list(smoke.path)
    before = {p: (os.stat(p).st_mtime_ns, md5(p)) for p in paths}
    os.unlink(paths[5]), os.unlink(paths[30])
    wav_dir = os.path.dirname(paths[0])
    stale, fresh = os.path.join(wav_dir, ".x.wav.abc.tmp.wav"), os.path.join(wav_dir, ".y.wav.abc.tmp.wav")
    for t in (stale, fresh):
        open(t, "wb").close()
    os.utime(stale, (0, 0))  # left by a generation killed long ago
    again = corpora.load("synthetic", root=smoke.attrs["cache"], size="smoke", seed=0, progress=False)
    assert list(again.path) == paths
    for p in paths:
        assert md5(p) == before[p][1]
        if p not in (paths[5], paths[30]):
            assert os.stat(p).st_mtime_ns == before[p][0]  # untouched
    assert os.path.isfile(os.path.join(smoke.attrs["cache"], "manifest-40.csv"))
    assert not os.path.exists(stale) and os.path.exists(fresh)  # a fresh one may belong to a running job
    os.unlink(fresh)


def test_cache_folder_of_another_seed_is_refused(smoke):
    with pytest.raises(CorpusError, match="cannot be reused"):
        corpora.load("synthetic", root=smoke.attrs["cache"], size="smoke", seed=1, progress=False)
    with pytest.raises(CorpusError, match="cannot be reused"):
        corpora.load("synthetic_xcorpus", root=smoke.attrs["cache"], size="smoke", progress=False)


def test_default_cache_folder_has_version_and_seed(tmp_data):
    folder = synthetic.cache_folder("synthetic", seed=7)
    assert folder.name == f"synthetic-v{synthetic.VERSION}-seed7" and folder.parent.name == "corpora"
    assert str(folder).startswith(str(tmp_data))


def test_xcorpus_is_disjoint_and_recorded_differently(smoke, xsmoke):
    assert (xsmoke.corpus == "synthetic_xcorpus").all() and len(xsmoke) == 40
    assert set(xsmoke.emotion) == set(corpora.EMOTIONS_4) and xsmoke.speaker.nunique() == 10
    assert not set(xsmoke.speaker) & set(smoke.speaker)
    assert not set(xsmoke.transcript.str.rstrip("!.")) & set(smoke.transcript.str.rstrip("!."))

    def hf_share(paths):  # energy share above 6 kHz (the cross-corpus chain is band-limited)
        out = []
        for p in paths:
            spec = np.abs(np.fft.rfft(load_audio(p))) ** 2
            freqs = np.fft.rfftfreq(2 * (spec.size - 1), 1 / SR)
            out.append(spec[freqs > 6000].sum() / spec.sum())
        return np.median(out)

    assert hf_share(xsmoke.path[:8]) < 0.2 * hf_share(smoke.path[:8])


def test_unknown_synthetic_variant():
    with pytest.raises(ValueError, match="unknown synthetic corpus"):
        synthetic.cache_folder("synthetic_other")


# ---------------------------------------------------------------------------------------------
# Manifest schema and label helpers

def frame(emotions, arousal=None, valence=None, scale=(1, 5)):
    n = len(emotions)
    rows = [dict(utt_id=f"u{i}", path=f"/x/u{i}.wav", speaker="s1", emotion=e,
                 arousal=np.nan if arousal is None else arousal[i],
                 valence=np.nan if valence is None else valence[i], duration=1.0) for i, e in enumerate(emotions)]
    return corpora.make_manifest(rows, corpus="toy", av_scale=scale if arousal is not None else None)


def test_validate_manifest_rejects_bad_frames():
    good = frame(["angry", "sad"])
    with pytest.raises(CorpusError, match="lacks columns \\['duration'\\]"):
        corpora.validate_manifest(good.drop(columns="duration"))
    dup = pd.concat([good, good], ignore_index=True)
    with pytest.raises(CorpusError, match="duplicated utt_id"):
        corpora.validate_manifest(dup)
    upper = good.copy()
    upper.loc[0, "emotion"] = "Angry"
    with pytest.raises(CorpusError, match="lower-case"):
        corpora.validate_manifest(upper)
    neg = good.copy()
    neg.loc[1, "duration"] = 0.0
    with pytest.raises(CorpusError, match="non-positive durations.*'u1'"):
        corpora.validate_manifest(neg)
    with pytest.raises(CorpusError, match="empty"):
        corpora.validate_manifest(good.iloc[:0])


def test_to_4class_merges_excited_and_reports_drops():
    df = frame(["angry", "excited", "frustrated", "neutral", None, "sad", "happy"])
    with pytest.warns(UserWarning, match="dropped 2"):
        out = corpora.to_4class(df)
    assert list(out.emotion) == ["angry", "happy", "neutral", "sad", "happy"]
    assert out.attrs["dropped"] == {"frustrated": 1, "<none>": 1}
    assert list(corpora.to_4class(df, merge_excited=False, warn=False).emotion) == ["angry", "neutral", "sad",
                                                                                      "happy"]
    with pytest.raises(CorpusError, match="no utterance of"):
        corpora.to_4class(frame(["bored", "fearful"]), warn=False)


def test_binary_av_threshold_and_scale():
    df = frame(["angry"] * 4, arousal=[2.49, 2.5, 4.0, 1.0], valence=[3.0, 2.0, 2.5, 5.0])
    out = corpora.binary_av(df, threshold=2.5)
    assert list(out.arousal_bin) == [0, 1, 1, 0] and list(out.valence_bin) == [1, 0, 1, 1]
    seven = frame(["angry"] * 2, arousal=[3.2, 3.25], valence=[4.0, 1.0], scale=(1, 7))
    assert list(corpora.binary_av(seven, threshold=2.5).arousal_bin) == [0, 1]  # 2.5 on 1-5 = 3.25 on 1-7
    with pytest.raises(CorpusError, match="no arousal/valence rating"):
        corpora.binary_av(frame(["angry"]), source="ratings")
    rated = frame(["angry", "sad"], arousal=[1.0, 5.0], valence=[5.0, 1.0])  # ratings ignored on request
    by_cat = corpora.binary_av(rated, source="category")
    assert list(by_cat.arousal_bin) == [1, 0] and list(by_cat.valence_bin) == [0, 0]


def test_category_to_av_mapping_and_error():
    out = corpora.category_to_av(frame(["angry", "happy", "sad", "neutral", "excited"]))
    assert list(out.arousal_bin) == [1, 1, 0, 0, 1] and list(out.valence_bin) == [0, 1, 0, 1, 1]
    with pytest.raises(CorpusError, match=r"no mappable category.*'bored': 1.*to_4class"):
        corpora.category_to_av(frame(["angry", "bored"]))
    with pytest.raises(CorpusError, match="no arousal/valence rating and no mappable category"):
        corpora.binary_av(frame(["angry", "bored"]))


def test_registry_names():
    assert corpora.names() == ["synthetic", "synthetic_xcorpus", "iemocap", "msp_podcast", "msp_improv",
                               "emodb", "ravdess", "crema_d"]
