"""Real-corpus loaders on fixture trees written in each corpus's exact on-disk layout.

Each test writes tiny wavs and label files, loads them through ``serlib.corpora.load`` and
checks the manifest, then the bad-input paths: missing root, another layout, a label naming a
missing wav, unreadable / empty / silent / NaN audio. EmoDB is also loaded from the team's
real files in ../shared/data (skipped when absent).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from serlib import corpora
from serlib.audio import AudioError, load_audio
from serlib.corpora import CorpusError, MANIFEST_COLUMNS


def tone(path: Path, seconds: float = 0.25, sr: int = 16000, *, subtype: str = "PCM_16", value=None) -> Path:
    """Write a short sine (or a constant ``value``) to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    n = int(seconds * sr)
    x = 0.1 * np.sin(2 * math.pi * 220 * np.arange(n) / sr) if value is None else np.full(n, value)
    sf.write(str(path), x.astype(np.float32 if subtype == "FLOAT" else np.float64), sr, subtype=subtype)
    return path


# ---------------------------------------------------------------------------------------------
# Fixture trees

def make_iemocap(root: Path, *, with_missing: bool = False) -> Path:
    rel = root / "IEMOCAP_full_release"
    specs = {1: [("Ses01F_impro01", ["Ses01F_impro01_F000", "Ses01F_impro01_M000"], ["neu", "exc"])],
             2: [("Ses02M_script01_1", ["Ses02M_script01_1_F003", "Ses02M_script01_1_M010"], ["ang", "fru"])]}
    vad = ["[2.5000, 2.0000, 2.5000]", "[4.0000, 3.5000, 3.0000]"]
    for n, dialogs in specs.items():
        s = rel / f"Session{n}"
        for dialog, utts, emos in dialogs:
            lines = ["% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]", ""]
            trans = []
            for k, (utt, emo) in enumerate(zip(utts, emos)):
                tone(s / "sentences" / "wav" / dialog / f"{utt}.wav", 0.2 + 0.1 * k)
                lines += [f"[{6.29 + k:.4f} - {8.23 + k:.4f}]\t{utt}\t{emo}\t{vad[k]}",
                          "C-E2:\tNeutral;\t()", "A-E3:\tval 3; act 2; dom  2;\t()", ""]
                trans.append(f"{utt} [{6.29 + k:08.4f}-{8.23 + k:08.4f}]: Words of {utt}.")
            if with_missing and n == 2:
                lines += ["[9.0000 - 10.0000]\tSes02M_script01_1_F099\tsad\t[2.0000, 2.0000, 2.0000]"]
            (s / "dialog" / "EmoEvaluation").mkdir(parents=True, exist_ok=True)
            (s / "dialog" / "EmoEvaluation" / f"{dialog}.txt").write_text("\n".join(lines) + "\n")
            (s / "dialog" / "transcriptions").mkdir(parents=True, exist_ok=True)
            (s / "dialog" / "transcriptions" / f"{dialog}.txt").write_text("\n".join(trans) + "\n")
    return rel


def make_msp_podcast(root: Path, *, audio_dir: str = "Audios", labels: str = "labels_consensus.csv",
                     missing_row: bool = False) -> Path:
    rows = [("MSP-PODCAST_0001_0001.wav", "N", 4.0, 4.2, 4.4, "127", "Female", "Train"),
            ("MSP-PODCAST_0001_0002.wav", "A", 6.0, 2.0, 5.5, "127", "Female", "Development"),
            ("MSP-PODCAST_0002_0001.wav", "H", 2.0, 6.2, 3.0, "Unknown", "Unknown", "Test1"),
            ("MSP-PODCAST_0003_0001.wav", "X", 3.0, 3.8, 3.0, "455", "Male", "Test2")]
    for r in rows:
        tone(root / audio_dir / r[0])
    if missing_row:
        rows.append(("MSP-PODCAST_0009_0009.wav", "S", 2.0, 2.0, 2.0, "455", "Male", "Train"))
    (root / "Labels").mkdir(parents=True, exist_ok=True)
    text = "FileName,EmoClass,EmoAct,EmoVal,EmoDom,SpkrID,Gender,Split_Set\n"
    text += "".join(",".join(map(str, r)) + "\n" for r in rows)
    (root / "Labels" / labels).write_text(text)
    (root / "Transcripts").mkdir(exist_ok=True)
    (root / "Transcripts" / "MSP-PODCAST_0001_0001.txt").write_text("so we went to the shop\n")
    return root


def make_msp_improv(root: Path, *, missing_row: bool = False) -> Path:
    utts = [("S01A", "F01", "P", "FM01", "A", 4.0, 1.5, 4.0), ("S01A", "M01", "R", "MF01", "N", 2.5, 3.0, 3.0),
            ("S02H", "F02", "T", "FM02", "H", 3.5, 4.5, 3.5), ("S03S", "M02", "S", "MF02", "O", 2.0, 2.0, 2.0)]
    lines = []
    for sent, spk, kind, tail, emo, a, v, d in utts:
        stem = f"{sent}-{spk}-{kind}-{tail}"
        tone(root / f"session{int(spk[1:])}" / sent / kind / f"MSP-IMPROV-{stem}.wav")
        lines += [f"UTD-IMPROV-{stem}.avi; {emo}; A:{a:.6f}; V:{v:.6f}; D:{d:.6f} ; N:4;",
                  f"{spk}-{kind}-{tail}-R1;  Angry; Angry;  A:4.000000; V:1.000000; D:4.000000; N:1;", ""]
    if missing_row:
        lines += ["UTD-IMPROV-S05N-F03-P-FM03.avi; N; A:3.000000; V:3.000000; D:3.000000 ; N:5;"]
    (root / "Evaluation.txt").write_text("\n".join(lines) + "\n")
    return root


def make_emodb(root: Path, sr: int = 22050) -> Path:
    for name in ("03a01Wa", "08b02Tb", "09a05Nc", "10b10Fa", "11a02Lb"):
        tone(root / "wav" / f"{name}.wav", 0.3, sr)
    return root


def make_ravdess(root: Path) -> Path:
    for name in ("03-01-05-02-01-01-01", "03-01-01-01-02-02-01", "03-01-03-01-01-01-02", "03-01-04-02-02-01-02"):
        tone(root / f"Actor_{name[-2:]}" / f"{name}.wav", 0.3, 48000)
    tone(root / "Actor_02" / "03-02-03-01-01-01-02.wav", 0.3, 48000)  # a song file
    return root


def make_crema_d(root: Path, demographics: bool = True) -> Path:
    for name in ("1001_DFA_ANG_XX", "1001_IEO_HAP_HI", "1002_TIE_NEU_XX", "1002_IWW_SAD_LO", "1002_TSI_DIS_XX"):
        tone(root / "AudioWAV" / f"{name}.wav")
    if demographics:
        (root / "VideoDemographics.csv").write_text(
            "ActorID,Age,Sex,Race,Ethnicity\n1001,51,Male,Caucasian,Not Hispanic\n1002,21,Female,Caucasian,"
            "Not Hispanic\n")
    return root


# ---------------------------------------------------------------------------------------------
# Loaders

def test_iemocap_fixture(tmp_path):
    rel = make_iemocap(tmp_path)
    df = corpora.load("iemocap", root=rel)
    assert list(df.columns) == MANIFEST_COLUMNS and len(df) == 4
    r = df.set_index("utt_id").loc["Ses01F_impro01_M000"]
    assert (r.speaker, r.gender, r.session, r.emotion) == ("Ses01M", "M", "Session1", "excited")
    assert (r.valence, r.arousal, r.dominance) == (4.0, 3.5, 3.0)  # IEMOCAP writes [V, A, D]
    assert r.transcript == "Words of Ses01F_impro01_M000."
    assert r.duration == pytest.approx(0.3)
    assert set(df.speaker) == {"Ses01F", "Ses01M", "Ses02F", "Ses02M"}
    assert df.attrs["av_scale"] == (1, 5)
    # the parent folder of IEMOCAP_full_release works too
    assert len(corpora.load("iemocap", root=tmp_path)) == 4
    # 4-class: exc -> happy, fru dropped and counted
    with pytest.warns(UserWarning, match="dropped 1"):
        four = corpora.to_4class(df)
    assert sorted(four.emotion) == ["angry", "happy", "neutral"]
    assert four.attrs["dropped"] == {"frustrated": 1}


@pytest.mark.parametrize("audio_dir,labels", [("Audios", "labels_consensus.csv"), ("Audio", "labels_concensus.csv")])
def test_msp_podcast_fixture(tmp_path, audio_dir, labels):
    make_msp_podcast(tmp_path, audio_dir=audio_dir, labels=labels)
    df = corpora.load("msp_podcast", root=tmp_path)
    assert len(df) == 4
    assert list(df.split) == ["Train", "Development", "Test1", "Test2"]
    assert list(df.emotion) == ["neutral", "angry", "happy", None]
    assert list(df.speaker) == ["127", "127", "unknown", "455"]
    assert list(df.gender) == ["F", "F", None, "M"]
    assert df.transcript[0] == "so we went to the shop" and df.transcript[1] is None
    assert df.attrs["av_scale"] == (1, 7)
    # paper 1's threshold 2.5 on 1-5 becomes 3.25 on MSP-Podcast's 1-7
    b = corpora.binary_av(df, threshold=2.5)
    assert list(b.arousal_bin) == [1, 1, 0, 0] and list(b.valence_bin) == [1, 0, 1, 1]


def test_msp_improv_fixture(tmp_path):
    make_msp_improv(tmp_path)
    df = corpora.load("msp_improv", root=tmp_path)
    assert len(df) == 4
    r = df.set_index("utt_id").loc["MSP-IMPROV-S02H-F02-T-FM02"]
    assert (r.speaker, r.gender, r.session, r.emotion) == ("F02", "F", "session2", "happy")
    assert (r.arousal, r.valence, r.dominance) == (3.5, 4.5, 3.5)
    assert list(df.emotion) == ["angry", "neutral", "happy", "other"]


def test_emodb_fixture_not_16k(tmp_path):
    make_emodb(tmp_path, sr=22050)
    df = corpora.load("emodb", root=tmp_path)
    assert list(df.emotion) == ["angry", "sad", "neutral", "happy", "bored"]
    assert list(df.gender) == ["M", "F", "F", "M", "M"]
    assert df.duration.tolist() == pytest.approx([0.3] * 5, abs=1e-4)
    assert df.transcript[0] == "Der Lappen liegt auf dem Eisschrank."
    assert df.arousal.isna().all()
    # no ratings: binary A/V come from the categories (paper 1's mapping)
    av = corpora.binary_av(corpora.to_4class(df, warn=False))
    assert list(zip(av.emotion, av.arousal_bin, av.valence_bin)) == [
        ("angry", 1, 0), ("sad", 0, 0), ("neutral", 0, 1), ("happy", 1, 1)]


def test_emodb_real_shared_data(shared_data):
    root = shared_data / "emodb"
    if not (root / "wav").is_dir():
        pytest.skip(f"{root}/wav is not present in the shared data")
    df = corpora.load("emodb", root=root)
    assert len(df) == 535 and df.speaker.nunique() == 10
    assert df.emotion.value_counts()["angry"] == 127
    assert set(df.gender) == {"F", "M"}
    assert sf.info(df.path[0]).samplerate == 22050  # the shared copy is not 16 kHz
    assert df.duration.min() > 0
    x = load_audio(df.path[0])  # decoded and resampled to 16 kHz on read
    assert x.dtype == np.float32 and abs(x.size - round(df.duration[0] * 16000)) <= 1


def test_ravdess_fixture(tmp_path):
    make_ravdess(tmp_path)
    with pytest.warns(UserWarning, match="excluded 1 song"):
        df = corpora.load("ravdess", root=tmp_path)
    assert len(df) == 4 and len(df.attrs["excluded"]) == 1
    r = df.set_index("utt_id").loc["03-01-05-02-01-01-01"]
    assert (r.speaker, r.gender, r.emotion, r.transcript) == ("Actor_01", "M", "angry", "Kids are talking by the door.")
    assert df.set_index("utt_id").loc["03-01-03-01-01-01-02"].gender == "F"
    assert df.duration.tolist() == pytest.approx([0.3] * 4)


def test_crema_d_fixture(tmp_path):
    make_crema_d(tmp_path)
    df = corpora.load("crema_d", root=tmp_path)
    assert list(df.emotion) == ["angry", "happy", "sad", "neutral", "disgusted"]
    r = df.set_index("utt_id").loc["1001_DFA_ANG_XX"]
    assert (r.speaker, r.gender, r.transcript) == ("1001", "M", "Don't forget a jacket.")
    make_crema_d(tmp_path / "nodemo", demographics=False)
    assert corpora.load("crema_d", root=tmp_path / "nodemo").gender.isna().all()


# ---------------------------------------------------------------------------------------------
# Bad input

MAKERS = {"iemocap": make_iemocap, "msp_podcast": make_msp_podcast, "msp_improv": make_msp_improv,
          "emodb": make_emodb, "ravdess": make_ravdess, "crema_d": make_crema_d}


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_missing_root_names_path_and_fix(tmp_path, name):
    with pytest.raises(CorpusError, match=r"root=.*\n.*<root>"):
        corpora.load(name)
    gone = tmp_path / "not_there"
    with pytest.raises(CorpusError) as err:
        corpora.load(name, root=gone)
    assert str(gone) in str(err.value) and "root=" in str(err.value) and "<root>/" in str(err.value)


@pytest.mark.parametrize("name", sorted(MAKERS))
def test_other_layout_names_expected_layout(tmp_path, name):
    other = "crema_d" if name != "crema_d" else "emodb"
    MAKERS[other](tmp_path)
    with pytest.raises(CorpusError) as err:
        corpora.load(name, root=tmp_path)
    msg = str(err.value)
    assert "not in the expected layout" in msg and "Expected:" in msg and str(tmp_path) in msg


def test_unknown_corpus_lists_names():
    with pytest.raises(ValueError, match="iemocap.*msp_podcast.*crema_d"):
        corpora.load("iemocap2")


@pytest.mark.parametrize("name,maker,needle", [
    ("iemocap", lambda p: make_iemocap(p, with_missing=True), "Ses02M_script01_1_F099"),
    ("msp_podcast", lambda p: make_msp_podcast(p, missing_row=True), "MSP-PODCAST_0009_0009"),
    ("msp_improv", lambda p: make_msp_improv(p, missing_row=True), "MSP-IMPROV-S05N-F03-P-FM03"),
])
def test_label_naming_missing_wav(tmp_path, name, maker, needle):
    root = maker(tmp_path)
    with pytest.raises(CorpusError) as err:
        corpora.load(name, root=root)
    msg = str(err.value)
    assert needle in msg and ", line " in msg and "does not exist" in msg and "missing='skip'" in msg
    label_file = msg.split(",")[0].split(": ", 1)[1]
    assert Path(label_file).is_file()
    with pytest.warns(UserWarning, match="excluded 1 labelled utterances"):
        df = corpora.load(name, root=root, missing="skip")
    assert len(df.attrs["excluded"]) == 1 and needle in df.attrs["excluded"][0]["path"]
    assert needle not in set(df.utt_id)
    with pytest.raises(ValueError, match="missing="):
        corpora.load(name, root=root, missing="ignore")


def test_unreadable_and_empty_wav_fail_at_load(tmp_path):
    make_emodb(tmp_path)
    bad = tmp_path / "wav" / "12a01Wa.wav"
    bad.write_bytes(b"RIFF....not really audio")
    with pytest.raises(AudioError, match="12a01Wa.wav: unreadable"):
        corpora.load("emodb", root=tmp_path)
    sf.write(str(bad), np.zeros(0), 16000)
    with pytest.raises(AudioError, match="12a01Wa.wav: audio is empty"):
        corpora.load("emodb", root=tmp_path)


@pytest.mark.parametrize("kind", ["silent", "nan"])
def test_silent_or_nan_wav_fails_on_read_and_validate(tmp_path, kind):
    make_emodb(tmp_path)
    bad = tmp_path / "wav" / "12a01Wa.wav"
    if kind == "silent":
        tone(bad, value=0.0)
    else:
        tone(bad, value=np.nan, subtype="FLOAT")
    df = corpora.load("emodb", root=tmp_path)  # lazy: headers are fine
    with pytest.raises(AudioError, match="12a01Wa.wav"):
        load_audio(df.set_index("utt_id").loc["12a01Wa", "path"])
    with pytest.raises(AudioError, match=r"1 of 6 audio files are unusable:\n.*12a01Wa.wav.*" +
                       ("silent" if kind == "silent" else "NaN")):
        corpora.load("emodb", root=tmp_path, validate=True)


def test_unparseable_file_name(tmp_path):
    make_emodb(tmp_path)
    tone(tmp_path / "wav" / "notes.wav")
    with pytest.raises(CorpusError, match="notes.wav does not follow the EmoDB naming"):
        corpora.load("emodb", root=tmp_path)


def test_malformed_label_line_names_file_and_line(tmp_path):
    rel = make_iemocap(tmp_path)
    lf = rel / "Session1" / "dialog" / "EmoEvaluation" / "Ses01F_impro01.txt"
    lf.write_text(lf.read_text() + "[1.0 - 2.0]\tSes01F_impro01_F001\tneu\tbroken\n")
    with pytest.raises(CorpusError, match=r"Ses01F_impro01.txt, line \d+: cannot parse"):
        corpora.load("iemocap", root=rel)


# ---------------------------------------------------------------------------------------------
# RAVDESS at 48 kHz with a stereo file, end to end through labels and protocols

def make_ravdess_full(root: Path, actors: int = 8) -> Path:
    """Every actor: each of the 8 emotions once (statement by emotion parity), 48 kHz; one file stereo."""
    for a in range(1, actors + 1):
        for e in range(1, 9):
            name = f"03-01-{e:02d}-01-{1 + e % 2:02d}-01-{a:02d}"
            tone(root / f"Actor_{a:02d}" / f"{name}.wav", 0.2, 48000)
    stereo = root / "Actor_03" / "03-01-05-02-01-02-03.wav"
    x = 0.1 * np.sin(2 * math.pi * 330 * np.arange(9600) / 48000)
    sf.write(str(stereo), np.stack([x, 0.5 * x], axis=1), 48000, subtype="PCM_16")
    return root


def test_ravdess_48k_stereo_through_labels_and_protocols(tmp_path):
    from serlib import protocols

    make_ravdess_full(tmp_path)
    df = corpora.load("ravdess", root=tmp_path)
    assert len(df) == 8 * 8 + 1 and df.speaker.nunique() == 8
    assert set(df.transcript) == {"Kids are talking by the door.", "Dogs are sitting by the door."}
    st = df.set_index("utt_id").loc["03-01-05-02-01-02-03"]
    assert sf.info(st.path).channels == 2 and st.duration == pytest.approx(0.2)
    x = load_audio(st.path)
    assert x.ndim == 1 and x.size == 3200                           # stereo 48 kHz -> mono 16 kHz
    four, report = corpora.to_4class(df, report=True)
    assert report.dropped == {"calm": 8, "fearful": 8, "disgusted": 8, "surprised": 8}
    assert report.kept == {"angry": 9, "happy": 8, "neutral": 8, "sad": 8}
    proto = protocols.auto(four, "loso_speaker")
    assert proto.name == "leave_k_speakers_out" and len(proto) == 4     # 8 actors: 4 folds of 2
    assert all(sorted(s.frame("test", four).gender.unique()) == ["F", "M"] for s in proto)
    assert corpora.binary_av(four).arousal_bin.isin([0, 1]).all()     # paper 1's A-V mapping applies


# ---------------------------------------------------------------------------------------------
# Any labelled folder

def make_folder(root: Path) -> Path:
    for folder, names in {"Angry": ["spk03_a", "spk08_b"], "happiness": ["spk03_c", "spk09_d"],
                          "NEU": ["spk08_e", "spk09_f"], "sadness": ["spk03_g", "spk09_h"]}.items():
        for n in names:
            tone(root / folder / f"{n}.wav", 0.2, 22050)
    return root


def test_folder_layout_emotion_from_parent_speaker_from_regex(tmp_path):
    make_folder(tmp_path)
    df = corpora.load("folder", root=tmp_path, speaker_regex=r"^spk(\d\d)_")
    assert list(df.columns) == MANIFEST_COLUMNS and len(df) == 8
    r = df.set_index("utt_id").loc["happiness/spk09_d"]
    assert (r.speaker, r.emotion, r.corpus) == ("09", "happy", "folder")
    assert sorted(df.emotion.unique()) == ["angry", "happy", "neutral", "sad"]
    assert sorted(df.speaker.unique()) == ["03", "08", "09"]
    assert df.duration.tolist() == pytest.approx([0.2] * 8, abs=1e-4)
    # the speaker from a <speaker>/<emotion>/<file> tree
    tone(tmp_path / "tree" / "s1" / "angry" / "x.wav")
    tone(tmp_path / "tree" / "s2" / "sad" / "y.wav")
    tree = corpora.load("folder", root=tmp_path / "tree", speaker_regex=r"^([^/]+)/")
    assert list(zip(tree.speaker, tree.emotion)) == [("s1", "angry"), ("s2", "sad")]


def test_folder_without_speakers_is_refused_with_the_reason(tmp_path):
    make_folder(tmp_path)
    with pytest.raises(CorpusError) as err:
        corpora.load("folder", root=tmp_path)
    msg = str(err.value)
    assert "no speaker can be derived" in msg and "speaker_regex" in msg and "Speaker-independent" in msg
    with pytest.raises(CorpusError, match=r"finds no speaker in 3 of 8 file names, e.g. \['Angry/spk03_a.wav', "
                                          r"'happiness/spk03_c.wav', 'sadness/spk03_g.wav'\]"):
        corpora.load("folder", root=tmp_path, speaker_regex=r"^spk(0[89])_")
    with pytest.raises(CorpusError, match="has no group"):
        corpora.load("folder", root=tmp_path, speaker_regex=r"^spk\d\d")
    with pytest.raises(CorpusError, match="not a valid regular expression"):
        corpora.load("folder", root=tmp_path, speaker_regex=r"^spk(\d")


def test_folder_bad_layouts(tmp_path):
    tone(tmp_path / "loose" / "spk01_a.wav")
    with pytest.raises(CorpusError, match="lie directly in the root"):
        corpora.load("folder", root=tmp_path / "loose", speaker_regex=r"spk(\d+)")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorpusError, match="no audio files"):
        corpora.load("folder", root=tmp_path / "empty", speaker_regex=r"(.)")
    tone(tmp_path / "odd" / "OAF_angry" / "s1_a.wav")
    with pytest.warns(UserWarning, match=r"categories \['oaf_angry'\] are not emotion names"):
        df = corpora.load("folder", root=tmp_path / "odd", speaker_regex=r"^(s\d)")
    assert df.emotion.tolist() == ["oaf_angry"]


def write_csv(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_folder_csv_layout(tmp_path):
    for n in ("a", "b", "c"):
        tone(tmp_path / "clips" / f"{n}.wav")
    f = write_csv(tmp_path / "labels.csv", "path,Emotion,speaker,transcript,gender\n"
                  "clips/a.wav,ANG,s01,Kids are talking.,female\nclips/b.wav,joy,s02,,M\n"
                  f"{tmp_path / 'clips' / 'c.wav'},Sad,s01,Dogs are sitting.,\n")
    df = corpora.load("folder", root=f)
    assert df.utt_id.tolist() == ["clips/a", "clips/b", "c"] and df.emotion.tolist() == ["angry", "happy", "sad"]
    assert df.speaker.tolist() == ["s01", "s02", "s01"] and df.gender.tolist() == ["F", "M", None]
    assert df.transcript.tolist() == ["Kids are talking.", None, "Dogs are sitting."]
    assert df.attrs["av_scale"] is None
    semi = write_csv(tmp_path / "semi.csv", "path;emotion\nclips/spk7_x.wav;neutral\n")
    tone(tmp_path / "clips" / "spk7_x.wav")
    assert corpora.load("folder", root=semi, speaker_regex=r"spk(\d)").speaker.tolist() == ["7"]
    with pytest.raises(CorpusError, match="no speaker can be derived"):
        corpora.load("folder", root=semi)


def test_folder_csv_missing_files_and_ratings(tmp_path):
    tone(tmp_path / "a.wav")
    f = write_csv(tmp_path / "l.csv", "path,emotion,speaker,arousal,valence,dominance\n"
                  "a.wav,angry,s1,4.5,1.5,4\ngone.wav,sad,s2,1,1,2\n")
    with pytest.raises(CorpusError, match=r"l.csv, line 3, names 'gone' but its audio file .*does not exist"):
        corpora.load("folder", root=f)
    with pytest.warns(UserWarning, match="excluded 1 labelled"):
        df = corpora.load("folder", root=f, missing="skip")
    assert df.attrs["av_scale"] == (1, 5) and df.arousal.tolist() == [4.5]
    assert corpora.require_ratings(df)[1] is False                      # a rated folder works for paper 2
    bad = write_csv(tmp_path / "bad.csv", "path,emotion,speaker,arousal\na.wav,angry,s1,9\n")
    with pytest.raises(CorpusError, match=r"bad.csv, line 2: arousal 9.0 is outside the rating scale"):
        corpora.load("folder", root=bad)
    nohead = write_csv(tmp_path / "nohead.csv", "file,label,speaker\na.wav,angry,s1\n")
    with pytest.raises(CorpusError, match=r"header lacks columns \['path', 'emotion'\]"):
        corpora.load("folder", root=nohead)


# ---------------------------------------------------------------------------------------------
# from_config: combined, subsampled, folder

def cfg(**kw):
    from serlib.profiles import Config

    return Config({"corpus": "synthetic", "corpus_root": None, "corpus_size": "smoke", "seed": 0, **kw})


def test_size_for_maps_named_sizes_on_real_corpora():
    from serlib.corpora import size_for

    assert size_for("smoke", embedded=False) == 40 and size_for("quick", embedded=False) == 1200
    assert size_for("paper", embedded=False) is None and size_for(None, embedded=False) is None
    assert size_for(64, embedded=False) == 64 and size_for(64, embedded=True) == 64
    assert size_for("smoke", embedded=True) == "smoke"
    with pytest.raises(ValueError, match="corpus_size='huge'"):
        size_for("huge", embedded=False)


def test_from_config_subsamples_a_real_corpus_and_combines_corpora(tmp_path):
    make_ravdess_full(tmp_path / "rav")
    make_emodb(tmp_path / "emo")
    full = corpora.from_config(cfg(corpus="ravdess", corpus_root=str(tmp_path / "rav"), corpus_size="paper"))
    assert len(full) == 65 and "subsample" not in full.attrs
    sub = corpora.from_config(cfg(corpus="ravdess", corpus_root=str(tmp_path / "rav"), corpus_size=24, seed=2))
    assert len(sub) == 24 and sub.attrs["subsample"] == {"n": 24, "of": 65, "seed": 2}
    assert sub.speaker.value_counts().tolist() == [3] * 8                  # 3 of each actor's 8 (+1) files
    x = corpora.from_config(cfg(xcorpus="emodb+ravdess", xcorpus_root=[str(tmp_path / "emo"), str(tmp_path / "rav")],
                                corpus_size=10), "xcorpus")
    assert len(x) == 5 + 65 and x.corpus.value_counts().to_dict() == {"ravdess": 65, "emodb": 5}
    assert x.speaker.str.match(r"^(emodb|ravdess):").all() and x.attrs["corpus"] == "emodb+ravdess"
    with pytest.raises(CorpusError, match=r"combines 2 corpora: give xcorpus_root as a list of 2 folders"):
        corpora.from_config(cfg(xcorpus="emodb+ravdess", xcorpus_root=str(tmp_path / "emo")), "xcorpus")
    one = corpora.from_config(cfg(xcorpus="emodb", xcorpus_root=[str(tmp_path / "emo")]), "xcorpus")
    assert len(one) == 5
    with pytest.raises(ValueError, match="'emodbx' is not a corpus"):
        corpora.from_config(cfg(corpus="emodbx", corpus_root=str(tmp_path)))


def test_from_config_passes_speaker_regex_to_the_folder_loader(tmp_path):
    make_folder(tmp_path)
    df = corpora.from_config(cfg(corpus="folder", corpus_root=str(tmp_path), speaker_regex=r"^spk(\d\d)"))
    assert sorted(df.speaker.unique()) == ["03", "08", "09"]
    with pytest.raises(CorpusError, match="no speaker can be derived"):
        corpora.from_config(cfg(corpus="folder", corpus_root=str(tmp_path)))


def test_every_sentence_code_of_emodb_and_crema_d_has_its_transcript(tmp_path):
    from serlib.corpora.real import crema_d, emodb

    assert sorted(emodb.TEXTS) == ["a01", "a02", "a04", "a05", "a07", "b01", "b02", "b03", "b09", "b10"]
    for code in emodb.TEXTS:
        tone(tmp_path / "emo" / "wav" / f"03{code}Wa.wav", 0.1)
    df = corpora.load("emodb", root=tmp_path / "emo")
    assert df.transcript.notna().all() and df.transcript.nunique() == 10
    assert len(crema_d.SENTENCES) == 12
    for code in crema_d.SENTENCES:
        tone(tmp_path / "cre" / "AudioWAV" / f"1001_{code}_ANG_XX.wav", 0.1)
    df = corpora.load("crema_d", root=tmp_path / "cre")
    assert df.transcript.notna().all() and df.transcript.nunique() == 12
    assert corpora.language(df) == "en"
