"""The real EmoDB in ../shared/data end to end through the library (skipped when absent).

EmoDB has what most free corpora have and IEMOCAP-shaped code lacks: speakers but no sessions,
categories but no ratings, a sample rate that is not 16 kHz, German text. Checked: load,
subsample, 4-class report, the protocol auto picks, paper 2's refusal, the generic folder
loader on a symlinked copy, and corpora.from_config + protocols.auto + features.extract.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from serlib import corpora, protocols
from serlib.corpora import CorpusError
from serlib.profiles import Config

# EmoDB's emotion letters -> folder names spelled as other corpora spell them (normalised by the loader)
FOLDER_NAMES = {"W": "Anger", "L": "boredom", "E": "DIS", "A": "fear", "F": "happiness", "T": "Sadness",
                "N": "neu"}


@pytest.fixture(scope="module")
def emodb_root():
    from serlib import paths

    shared = paths.shared_data_dir()
    root = shared / "emodb" if shared else None
    if root is None or not (root / "wav").is_dir():
        pytest.skip("../shared/data/emodb/wav (the team's real EmoDB copy) is not present")
    return root


@pytest.fixture(scope="module")
def emodb(emodb_root):
    return corpora.load("emodb", root=emodb_root)


def test_emodb_subsample_to_64_is_stratified(emodb):
    sub = corpora.subsample(emodb, 64, seed=0)
    assert len(sub) == 64 and sub.speaker.nunique() == 10 and sub.emotion.nunique() == 7
    for col in ("speaker", "emotion"):
        want = emodb[col].value_counts() * 64 / len(emodb)
        got = sub[col].value_counts().reindex(want.index, fill_value=0)
        assert (got - want).abs().max() < 1.0, col
    assert sub.utt_id.tolist() == corpora.subsample(emodb, 64, seed=0).utt_id.tolist()
    four, report = corpora.to_4class(sub, report=True)
    assert set(report.dropped) == {"bored", "fearful", "disgusted"} and "stratified subsample of 535" in str(report)
    proto = protocols.auto(four, "loso_speaker", seed=0)
    assert len(proto) == 5 and all(s.frame("test", four).speaker.nunique() == 2 for s in proto)


def test_emodb_auto_protocol_is_five_folds_of_two_test_speakers(emodb):
    four, report = corpora.to_4class(emodb, report=True)
    assert report.dropped == {"bored": 81, "fearful": 69, "disgusted": 46}
    assert report.kept == {"angry": 127, "happy": 71, "neutral": 79, "sad": 62}
    assert "dropped 196 of other categories: bored 81, fearful 69, disgusted 46" in str(report)
    for paper in ("loso_speaker", "loso_session"):
        proto = protocols.auto(four, paper)
        assert proto.name == "leave_k_speakers_out" and not proto.paper_protocol and len(proto) == 5
        assert "because emodb has no sessions" in proto.reason
        for split in proto:
            test = split.frame("test", four)
            assert test.speaker.nunique() == 2 and sorted(test.gender.unique()) == ["F", "M"]
            assert not set(split.frame("val", four).speaker) & set(test.speaker)
    holdout = protocols.auto(four, "holdout")
    assert holdout.name == "speaker_holdout" and holdout.paper_protocol


def test_emodb_paper2_refusal_is_immediate(emodb_root):
    t = time.perf_counter()
    m = corpora.from_config(Config(corpus="emodb", corpus_root=str(emodb_root), corpus_size="smoke", seed=0))
    refusal = r"emodb has no arousal/dominance ratings \(0 of 40 .*ratings_from_categories true"
    with pytest.raises(CorpusError, match=refusal):
        corpora.require_ratings(m, ["arousal", "dominance"])
    assert time.perf_counter() - t < 10.0          # load (headers only) + refusal, before any feature extraction
    t = time.perf_counter()
    with pytest.raises(CorpusError):
        corpora.require_ratings(m)
    assert time.perf_counter() - t < 1.0


def test_emodb_transcripts_language_and_overlap(emodb):
    assert emodb.transcript.notna().all() and emodb.transcript.nunique() == 10
    assert corpora.language(emodb) == "de" and "German" in corpora.language_warning(emodb)
    split = protocols.auto(corpora.to_4class(emodb, warn=False), "loso_speaker").splits[0]
    four = corpora.to_4class(emodb, warn=False)
    ov = corpora.lexical_overlap(split.frame("train", four), split.frame("test", four))
    assert ov.distinct_sentences == 10 and ov.test_share_seen == 1.0   # every sentence said by every speaker
    assert ov.text_only_uar < 0.5                                      # the words say little about the emotion


def test_folder_loader_reads_a_symlinked_copy_of_emodb(emodb, tmp_path):
    for path in emodb.path:
        name = os.path.basename(path)
        link = tmp_path / FOLDER_NAMES[name[5]] / name
        link.parent.mkdir(exist_ok=True)
        link.symlink_to(path)
    df = corpora.load("folder", root=tmp_path, speaker_regex=r"^(\d\d)")
    assert len(df) == len(emodb)
    got = dict(zip(df.utt_id.str.split("/").str[1], zip(df.speaker, df.emotion)))
    want = dict(zip(emodb.utt_id, zip(emodb.speaker, emodb.emotion)))
    assert got == want                                 # same speakers and (normalised) emotions as the EmoDB loader


def test_from_config_auto_and_egemaps_on_40_emodb_utterances(emodb_root, tmp_data):
    from serlib import features

    cfg = Config(corpus="emodb", corpus_root=str(emodb_root), corpus_size=40, seed=0, protocol="auto")
    m = corpora.from_config(cfg)
    assert len(m) == 40 and m.attrs["subsample"]["of"] == 535
    proto = protocols.auto(m, "loso_speaker", protocol=cfg.protocol, limit_folds=1, seed=cfg.seed)
    assert proto.name == "leave_k_speakers_out" and len(proto) == 1
    X = features.extract(m, "egemaps", None, n_jobs=1, progress=False)
    assert X.shape == (40, 88) and np.isfinite(X.to_numpy()).all()
    assert list(X.index) == list(m.utt_id)
    train = X.loc[proto.splits[0].frame("train", m).utt_id]
    assert len(train) == len(proto.splits[0].train)
