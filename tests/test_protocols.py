"""serlib.protocols: every split speaker-independent, complete, deterministic; clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from serlib import protocols as P

COLUMNS = ["utt_id", "path", "corpus", "speaker", "gender", "session", "emotion",
           "arousal", "valence", "dominance", "transcript", "split", "duration"]


def manifest(n_sessions: int = 5, corpus: str = "toy", seed: int = 0, per_speaker=(8, 15)) -> pd.DataFrame:
    """IEMOCAP-like: ``n_sessions`` sessions x 2 speakers (F/M), unequal utterance counts."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(1, n_sessions + 1):
        for g in "FM":
            spk = f"Ses{s:02d}{g}"
            for i in range(int(rng.integers(*per_speaker))):
                rows.append({
                    "utt_id": f"{corpus}_{spk}_{i:03d}", "path": f"/data/{spk}_{i:03d}.wav", "corpus": corpus,
                    "speaker": spk, "gender": g, "session": f"Ses{s:02d}",
                    "emotion": ["angry", "happy", "neutral", "sad"][i % 4], "arousal": 3.0, "valence": 3.0,
                    "dominance": 3.0, "transcript": "words", "split": None, "duration": 2.0,
                })
    m = pd.DataFrame(rows, columns=COLUMNS)
    # shuffle rows and give a non-positional index: indices must be positional anyway
    return m.sample(frac=1.0, random_state=seed).set_index(pd.Index(np.arange(len(m)) * 10 + 7))


def speakers(frame: pd.DataFrame) -> set:
    return set(frame["speaker"])


def check_partition(m: pd.DataFrame, split: P.Split) -> None:
    """Every row in at most one part, no speaker in two parts."""
    parts = [split.train, split.val, split.test]
    allrows = np.concatenate(parts)
    assert np.unique(allrows).size == allrows.size
    frames = split.frames(m)
    assert not speakers(frames["train"]) & speakers(frames["val"])
    assert not speakers(frames["train"]) & speakers(frames["test"])
    assert not speakers(frames["val"]) & speakers(frames["test"])


# --------------------------------------------------------------------------- leave-one-speaker-out
def test_loso_speaker_folds_partner_validation_and_full_coverage():
    m = manifest()
    splits = P.leave_one_speaker_out(m)
    assert len(splits) == 10
    tested = []
    for sp in splits:
        check_partition(m, sp)
        f = sp.frames(m)
        (test_spk,) = speakers(f["test"])
        (val_spk,) = speakers(f["val"])
        assert val_spk[:5] == test_spk[:5] and val_spk != test_spk  # the session partner
        assert len(speakers(f["train"])) == 8
        assert sp.sizes()["train"] + sp.sizes()["val"] + sp.sizes()["test"] == len(m)
        assert sp.name == f"speaker={test_spk}"
        tested.extend(f["test"]["utt_id"])
    assert sorted(tested) == sorted(m["utt_id"])  # every utterance tested exactly once


def test_loso_speaker_without_validation_and_limit_folds():
    m = manifest()
    splits = P.leave_one_speaker_out(m, val=None, limit_folds=3)
    assert len(splits) == 3
    assert all(sp.val.size == 0 and sp.train.size + sp.test.size == len(m) for sp in splits)


def test_loso_speaker_session_without_partner_is_an_error():
    m = manifest()
    m = m[m["speaker"] != "Ses03M"]
    with pytest.raises(ValueError, match="'toy/Ses03F' has no partner speaker in session"):
        P.leave_one_speaker_out(m)


def test_loso_speaker_needs_sessions_for_partner_validation():
    m = manifest().assign(session=None)
    with pytest.raises(ValueError, match="needs a 'session' column"):
        P.leave_one_speaker_out(m)
    assert len(P.leave_one_speaker_out(m, val=None)) == 10


# --------------------------------------------------------------------------- leave-one-session-out
def test_loso_session_folds_with_speaker_disjoint_validation():
    m = manifest()
    splits = P.leave_one_session_out(m, val_frac=0.1, seed=0)
    assert [sp.name for sp in splits] == [f"session=Ses{s:02d}" for s in range(1, 6)]
    for sp in splits:
        check_partition(m, sp)
        f = sp.frames(m)
        assert {s[:5] for s in speakers(f["test"])} == {sp.name.split("=")[1]}
        assert len(speakers(f["test"])) == 2 and len(speakers(f["val"])) >= 1
        frac = len(f["val"]) / (len(f["val"]) + len(f["train"]))
        assert 0.05 < frac < 0.2
    # deterministic for a seed
    again = P.leave_one_session_out(m, val_frac=0.1, seed=0)
    assert all(np.array_equal(a.val, b.val) for a, b in zip(splits, again))


def test_loso_session_next_session_validation():
    m = manifest()
    for k, sp in enumerate(P.leave_one_session_out(m, val="next_session")):
        check_partition(m, sp)
        assert set(sp.frame("val", m)["session"]) == {f"Ses{(k + 1) % 5 + 1:02d}"}


def test_loso_session_refuses_speakers_spanning_sessions():
    m = manifest()
    m.loc[m["speaker"] == "Ses02F", "session"] = np.where(
        np.arange((m["speaker"] == "Ses02F").sum()) % 2 == 0, "Ses02", "Ses03")
    with pytest.raises(P.SpeakerLeakError, match="Ses02F"):
        P.leave_one_session_out(m)


# --------------------------------------------------------------------------- holdout
def test_speaker_holdout_fractions_and_disjointness():
    m = manifest(n_sessions=15, per_speaker=(20, 40))  # 30 speakers
    sp = P.speaker_holdout(m, test_size=0.2, val_size=0.1, seed=0)
    check_partition(m, sp)
    n = len(m)
    assert sp.train.size + sp.val.size + sp.test.size == n
    assert sp.test.size / n == pytest.approx(0.2, abs=0.03)
    assert sp.val.size / (n - sp.test.size) == pytest.approx(0.1, abs=0.02)


def test_speaker_holdout_deterministic_per_seed_and_varies_with_seed():
    m = manifest(n_sessions=15, per_speaker=(20, 40))
    a, b = P.speaker_holdout(m, seed=3), P.speaker_holdout(m, seed=3)
    assert np.array_equal(a.test, b.test) and np.array_equal(a.val, b.val)
    tests = {tuple(sorted(speakers(P.speaker_holdout(m, seed=s).frame("test", m)))) for s in range(5)}
    assert len(tests) > 1


def test_speaker_holdout_on_few_speakers():
    m = manifest(n_sessions=1)  # two speakers
    with pytest.raises(ValueError, match="at least 3 speakers"):
        P.speaker_holdout(m)
    with pytest.warns(UserWarning, match="test part holds"):
        sp = P.speaker_holdout(m, val_size=0)  # 2 speakers are enough without validation
    assert len(speakers(sp.frame("test", m))) == 1
    m3 = pd.concat([m, manifest(n_sessions=2, seed=1).query("session == 'Ses02'").head(10)])
    m3 = m3[m3["speaker"] != "Ses02M"]  # three speakers: each part gets one, fractions are far off
    with pytest.warns(UserWarning, match="whole speakers"):
        sp = P.speaker_holdout(m3)
    assert all(len(speakers(f)) == 1 for f in sp.frames(m3).values())


# --------------------------------------------------------------------------- cross-corpus
def test_cross_corpus_index_semantics():
    src = manifest(corpus="iemocap_like")
    tgt = manifest(n_sessions=6, corpus="improv_like", seed=1)
    sp = P.cross_corpus(src, tgt, select_frac=0.3, seed=0)
    assert sp.cross_corpus and sp.name == "cross:iemocap_like->improv_like-seed0"
    f = sp.frames(src, tgt)
    assert set(f) == {"train", "val", "select", "test"}
    assert set(f["train"]["corpus"]) == set(f["val"]["corpus"]) == {"iemocap_like"}
    assert set(f["select"]["corpus"]) == set(f["test"]["corpus"]) == {"improv_like"}
    assert sp.train.size + sp.val.size == len(src) and sp.select.size + sp.test.size == len(tgt)
    assert not speakers(f["select"]) & speakers(f["test"])
    assert not speakers(f["train"]) & speakers(f["val"])
    assert sp.select.size / len(tgt) == pytest.approx(0.3, abs=0.05)
    # same speaker names in both corpora do not count as leakage: corpus-qualified
    assert speakers(f["train"]) & speakers(f["test"])
    with pytest.raises(ValueError, match="frames\\(source_manifest, target_manifest\\)"):
        sp.frames(src)
    # the target's selection/test split does not depend on the source's validation size
    assert np.array_equal(P.cross_corpus(src, tgt, val_size=0.2, seed=0).select, sp.select)
    assert P.cross_corpus(src, tgt, val_size=0).val.size == 0


def test_cross_corpus_needs_two_target_speakers():
    src = manifest()
    tgt = manifest(n_sessions=1, corpus="other")
    tgt = tgt[tgt["speaker"] == "Ses01F"]
    with pytest.raises(ValueError, match="selection speakers of the test corpus"):
        P.cross_corpus(src, tgt)


# --------------------------------------------------------------------------- predefined
def test_predefined_uses_split_column():
    m = manifest()
    part = {"Ses01": "Test1", "Ses02": "Development"}
    m["split"] = m["session"].map(part).fillna("Train")
    sp = P.predefined(m)
    check_partition(m, sp)
    assert set(sp.frame("test", m)["session"]) == {"Ses01"}
    assert set(sp.frame("val", m)["session"]) == {"Ses02"}
    m.loc[m["session"] == "Ses05", "split"] = "Test2"
    sp2 = P.predefined(m, test="test2")
    assert set(sp2.frame("test", m)["session"]) == {"Ses05"}
    assert sp2.train.size + sp2.val.size + sp2.test.size < len(m)  # Test1 rows left out


def test_predefined_detects_leaks_and_missing_column():
    m = manifest()
    with pytest.raises(ValueError, match="needs a 'split' column"):
        P.predefined(m)
    m["split"] = np.where(m["session"] == "Ses01", "test", "train")
    m.loc[m.index[m["speaker"] == "Ses02M"][:2], "split"] = "test"
    with pytest.raises(P.SpeakerLeakError, match=r"train&test: \['toy/Ses02M'\]"):
        P.predefined(m)
    m["split"] = "train"
    with pytest.raises(ValueError, match="no rows for the test part"):
        P.predefined(m)


def test_predefined_ignores_unknown_speakers_with_a_warning():
    m = manifest()
    m["split"] = np.where(m["session"] == "Ses01", "test", "train")
    m.loc[m.index[:4], "speaker"] = "Unknown"
    with pytest.warns(UserWarning, match="4 row\\(s\\) have no known speaker"):
        P.predefined(m)


# --------------------------------------------------------------------------- checks
def test_assert_speaker_disjoint_names_leaking_speakers():
    m = manifest()
    keys = m["speaker"].to_numpy()
    train = np.flatnonzero(keys != "Ses01F")
    test = np.flatnonzero(keys == "Ses01F")
    leak = P.Split("bad", train[2:], np.zeros(0, dtype=np.int64), np.concatenate([test, train[:2]]))
    leaked = sorted({f"toy/{s}" for s in keys[train[:2]]})
    with pytest.raises(P.SpeakerLeakError, match="train&test: " + str(leaked).replace("[", r"\[").replace("]", r"\]")):
        P.assert_speaker_disjoint(m, leak)
    overlap = P.Split("dup", train, np.zeros(0, dtype=np.int64), np.concatenate([test, train[:1]]))
    with pytest.raises(ValueError, match="in both train and test"):
        P.assert_speaker_disjoint(m, overlap)
    out = P.Split("oob", np.array([0, len(m)]), np.zeros(0, dtype=np.int64), np.array([1]))
    with pytest.raises(IndexError, match="out of range"):
        P.assert_speaker_disjoint(m, out)


def test_missing_speakers_are_refused():
    m = manifest()
    m.loc[m.index[3], "speaker"] = None
    with pytest.raises(ValueError, match="1 row\\(s\\) have no speaker"):
        P.leave_one_speaker_out(m)


def test_split_refuses_another_manifest():
    m = manifest()
    sp = P.speaker_holdout(m)
    with pytest.raises(ValueError, match="made from a different manifest"):
        sp.frames(m.sample(frac=1.0, random_state=1))
    assert len(sp.frame("test", m.copy())) == sp.test.size  # same rows, same order: fine


def test_summary_lists_speakers():
    m = manifest()
    s = P.leave_one_speaker_out(m)[0].summary(m)
    assert list(s.index) == ["train", "val", "test"]
    assert s.loc["test", "speaker_ids"] == "Ses01F" and s.loc["val", "speaker_ids"] == "Ses01M"


def test_make_dispatches_by_name():
    m = manifest()
    assert len(P.make(m, "loso_speaker")) == 10
    assert len(P.make(m, "leave_one_session_out", limit_folds=2)) == 2
    assert len(P.make(m, "holdout", seed=1)) == 1
    assert len(P.make(speakers_only(), "lkso")) == 5 and len(P.make(m, "loso_speaker", validation=False)) == 10
    with pytest.raises(ValueError, match="unknown protocol 'kfold'"):
        P.make(m, "kfold")


# --------------------------------------------------------------------------- leave-k-speakers-out
def speakers_only(genders: str = "FFFFFMMMMM", corpus: str = "toy", per_speaker=(6, 12), seed: int = 0,
                  names=None) -> pd.DataFrame:
    """EmoDB/RAVDESS-like: one speaker per letter of ``genders`` (``?`` = unknown), no sessions."""
    rng = np.random.default_rng(seed)
    rows = []
    for s, g in enumerate(genders):
        spk = names[s] if names else f"{s + 1:02d}"
        for i in range(int(rng.integers(*per_speaker))):
            rows.append({"utt_id": f"{corpus}_{spk}_{i:03d}", "path": f"/d/{spk}_{i}.wav", "corpus": corpus,
                         "speaker": spk, "gender": None if g == "?" else g, "session": None,
                         "emotion": ["angry", "happy", "neutral", "sad"][i % 4], "arousal": np.nan,
                         "valence": np.nan, "dominance": np.nan, "transcript": "words", "split": None,
                         "duration": 2.0})
    return pd.DataFrame(rows, columns=COLUMNS)


def gender_of(frame: pd.DataFrame) -> list:
    return sorted(frame.groupby("speaker")["gender"].first().tolist())


def test_leave_k_speakers_out_emodb_shape_five_gender_balanced_folds():
    m = speakers_only()
    folds = P.leave_k_speakers_out(m, seed=0)
    assert len(folds) == 5
    tested = []
    for f in folds:
        check_partition(m, f)
        fr = f.frames(m)
        assert gender_of(fr["test"]) == ["F", "M"]                 # 2 test speakers: one of each gender
        assert fr["val"].speaker.nunique() >= 1 and len(fr["train"])
        assert len(f.train) + len(f.val) + len(f.test) == len(m)    # every row placed
        tested += sorted(speakers(fr["test"]))
    assert sorted(tested) == sorted(m.speaker.unique())             # each speaker tested exactly once
    again = P.leave_k_speakers_out(m, seed=0)
    assert [f.name for f in again] == [f.name for f in folds]
    assert all(np.array_equal(a.val, b.val) for a, b in zip(again, folds))
    assert [f.name for f in P.leave_k_speakers_out(m, seed=1)] != [f.name for f in folds]


def test_leave_k_speakers_out_ravdess_shape_and_unbalanced_genders():
    m = speakers_only("FM" * 12, per_speaker=(3, 5))
    folds = P.leave_k_speakers_out(m)
    assert len(folds) == 6 and all(gender_of(f.frame("test", m)) == ["F", "F", "M", "M"] for f in folds)
    un = speakers_only("FFFFFFFMMM")
    folds = P.leave_k_speakers_out(un)
    assert [f.frame("test", un).speaker.nunique() for f in folds] == [2] * 5
    assert sum("M" in gender_of(f.frame("test", un)) for f in folds) == 3   # males spread over 3 folds
    unknown = speakers_only("??????")
    assert len(P.leave_k_speakers_out(unknown)) == 3


def test_leave_k_speakers_out_refuses_few_speakers_and_bad_folds():
    with pytest.raises(ValueError, match=r"at least 4 speakers .* has 3: \['01', '02', '03'\]"):
        P.leave_k_speakers_out(speakers_only("FMF"))
    m = speakers_only()
    with pytest.raises(ValueError, match="n_folds must be in 2..10"):
        P.leave_k_speakers_out(m, n_folds=11)
    assert len(P.leave_k_speakers_out(m, n_folds=10)) == 10          # explicit: leave-one-speaker-out
    assert all(len(f.val) == 0 for f in P.leave_k_speakers_out(m, val=None))


# --------------------------------------------------------------------------- auto
def with_split(m: pd.DataFrame) -> pd.DataFrame:
    out = m.copy()
    spk = sorted(out.speaker.unique())
    part = {s: ("Train" if i < len(spk) - 3 else "Development" if i < len(spk) - 2 else "Test1")
            for i, s in enumerate(spk)}
    out["split"] = out.speaker.map(part)
    return out


def test_auto_uses_the_papers_protocol_when_the_corpus_has_sessions():
    m = manifest()
    p = P.auto(m, "loso_speaker")
    assert p.name == "leave_one_speaker_out" and p.paper_protocol and len(p) == 10
    assert p.reason.startswith("leave_one_speaker_out, the paper's protocol: one fold per speaker (10 folds)")
    assert P.auto(m, "loso_session").name == "leave_one_session_out"
    h = P.auto(m, "holdout", seed=3)
    assert h.name == "speaker_holdout" and h.splits[0].name == "holdout-seed3"
    assert set(p.metadata()) == {"protocol", "protocol_reason", "paper_protocol", "folds"}


def test_auto_falls_back_to_leave_k_speakers_out_without_sessions():
    m = speakers_only()
    p = P.auto(m, "loso_speaker", limit_folds=2, seed=0)
    assert p.name == "leave_k_speakers_out" and not p.paper_protocol and len(p.splits) == 2
    assert "instead of the paper's leave_one_speaker_out, because toy has no sessions" in p.reason
    assert "5 folds of 2 test speakers, the first 2 run, gender-balanced" in p.reason
    table = p.table(m)
    assert list(table.columns) == ["train", "val", "test", "test speakers"] and len(table) == 2
    # sessions of one speaker each: no session partner to validate on
    solo = speakers_only().assign(session=lambda d: "S" + d.speaker)
    p = P.auto(solo, "loso_speaker")
    assert p.name == "leave_k_speakers_out" and "have a single speaker" in p.reason
    # paper 1's holdout needs no sessions: it stays the paper's
    assert P.auto(m, "holdout").paper_protocol


def test_auto_prefers_a_predefined_partition():
    m = with_split(speakers_only())
    p = P.auto(m, "loso_speaker")
    assert p.name == "predefined" and "its own speaker-independent partition" in p.reason
    frames = p.splits[0].frames(m)
    assert set(frames["test"].speaker) == {"09", "10"} and set(frames["val"].speaker) == {"08"}


def test_auto_explicit_protocol_and_refusals_name_what_fits():
    m = speakers_only()
    p = P.auto(m, "loso_speaker", protocol="holdout")
    assert p.name == "speaker_holdout" and "set by the protocol knob" in p.reason and not p.paper_protocol
    with pytest.raises(P.ProtocolError, match=r"protocol='loso_session' does not fit toy .*Protocols that fit it: "
                                              r".*speaker_holdout.*leave_k_speakers_out"):
        P.auto(m, "loso_speaker", protocol="loso_session")
    few = speakers_only("FMF")
    with pytest.raises(P.ProtocolError, match=r"leave_k_speakers_out \(chosen because toy has no sessions\) does "
                                              r"not fit toy \(\d+ utterances, 3 speakers\): .*at least 4 speakers.*"
                                              r"Protocols that fit it: leave_one_speaker_out \(validation=False\), "
                                              r"speaker_holdout \(set the knob, e.g. -p protocol speaker_holdout\)"):
        P.auto(few, "loso_speaker")
    two = speakers_only("FM")
    with pytest.raises(P.ProtocolError, match=r"Only leave_one_speaker_out \(validation=False\), speaker_holdout "
                                              r"\(validation=False\) fit it, which the notebooks do not offer"):
        P.auto(two, "holdout")
    with pytest.raises(P.ProtocolError, match="No speaker-independent protocol fits it"):
        P.auto(speakers_only("F"), "holdout")
    with pytest.raises(ValueError, match="unknown protocol 'kfold'"):
        P.auto(m, "kfold")


def test_auto_without_validation():
    for m, paper in ((manifest(), "loso_speaker"), (speakers_only(), "loso_speaker"), (speakers_only(), "holdout")):
        p = P.auto(m, paper, validation=False)
        assert all(len(s.val) == 0 for s in p.splits) and "validat" not in p.reason.split(":", 1)[1]


# --------------------------------------------------------------------------- the registry
def shapes() -> dict[str, pd.DataFrame]:
    """Corpus shapes every registered protocol must handle (build speaker-independently or refuse)."""
    two_corpora = pd.concat([speakers_only("FMFM", corpus="a"), speakers_only("MFMF", corpus="b", seed=1)],
                            ignore_index=True)  # same speaker names in both corpora
    return {
        "sessions": manifest(),
        "sessions_one_speaker_each": speakers_only().assign(session=lambda d: "S" + d.speaker),
        "speakers_only": speakers_only(),
        "ravdess_like": speakers_only("FM" * 12, per_speaker=(2, 4)),
        "predefined": with_split(speakers_only()),
        "predefined_unknown_speakers": with_split(speakers_only()).assign(
            speaker=lambda d: d.speaker.where(d.speaker != "10", "unknown")),
        "unbalanced": speakers_only("FFFFFFFFMM", per_speaker=(1, 40), seed=3),
        "no_gender": speakers_only("????????"),
        "few_speakers": speakers_only("FMF"),
        "two_speakers": speakers_only("FM"),
        "two_corpora_same_speaker_names": two_corpora,
    }


def independent(m: pd.DataFrame, split: P.Split) -> None:
    """The test's own leakage check (not serlib's): rows in range and in one part, speakers in one part."""
    parts = {p: np.asarray(getattr(split, p)) for p in ("train", "val", "test")}
    everything = np.concatenate(list(parts.values()))
    assert everything.min(initial=0) >= 0 and everything.max(initial=0) < len(m)
    assert np.unique(everything).size == everything.size, f"{split.name}: a row in two parts"
    corpus, speaker = m["corpus"].to_numpy(dtype=object), m["speaker"].to_numpy(dtype=object)
    who = {p: {(corpus[i], speaker[i]) for i in idx if str(speaker[i]).lower() != "unknown"}
           for p, idx in parts.items()}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not who[a] & who[b], f"{split.name}: speakers {who[a] & who[b]} in {a} and {b}"
    assert len(parts["train"]) and len(parts["test"])


def test_every_registered_protocol_is_speaker_independent_on_every_shape():
    assert set(P.NO_VALIDATION) == set(P.PROTOCOLS)     # a new protocol must say how to drop validation
    built = {}
    for shape, m in shapes().items():
        for name in P.PROTOCOLS:
            for validation in (True, False):
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # fractions off on tiny shapes, unknown speakers
                        splits = P.make(m, name, validation=validation, seed=1)
                except (ValueError, P.SpeakerLeakError) as exc:
                    assert str(exc), f"{name} on {shape}: an error without a message"
                    continue
                assert splits, f"{name} on {shape} built no split"
                for s in splits:
                    independent(m, s)
                    assert validation or len(s.val) == 0
                built.setdefault(shape, set()).add(name)
        # auto either chooses a protocol or refuses naming what fits
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p = P.auto(m, "loso_speaker", seed=1)
            for s in p.splits:
                independent(m, s)
        except P.ProtocolError as exc:
            assert "fit" in str(exc)
    assert built["sessions"] == set(P.PROTOCOLS) - {"predefined"}
    assert built["speakers_only"] == {"speaker_holdout", "leave_k_speakers_out", "leave_one_speaker_out"}
    assert "predefined" in built["predefined"] and "predefined" in built["predefined_unknown_speakers"]
    assert "leave_k_speakers_out" not in built["few_speakers"]
    assert "leave_k_speakers_out" in built["two_corpora_same_speaker_names"]


def test_the_registry_check_catches_a_leaky_protocol():
    m = speakers_only()
    rows = np.arange(len(m))
    leaky = P.Split("random-rows", rows[rows % 3 != 0], np.zeros(0, dtype=np.int64), rows[rows % 3 == 0])
    with pytest.raises(AssertionError, match="in train and test"):
        independent(m, leaky)
    with pytest.raises(P.SpeakerLeakError):
        P.assert_speaker_disjoint(m, leaky)
