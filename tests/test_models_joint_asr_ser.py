"""serlib.models.joint_asr_ser: paper 4's ASR / SER / joint models and their fit/predict API."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from serlib.models import joint_asr_ser as J


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small LSTMs: one thread is as fast, and two per process thrash on a shared 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _model(kind: str, text_dim: int = 8) -> J.JointASRSER:
    torch.manual_seed(0)
    return J.JointASRSER(kind, J.CompactEncoder(n_mels=80, size="tiny"), text_dim=text_dim, hidden=16)


@pytest.mark.parametrize("kind", J.KINDS)
def test_shapes_of_every_kind(kind):
    model = _model(kind).eval()
    x, lens = torch.randn(3, 101, 80), torch.tensor([1.0, 0.8, 0.5])
    h = model.encode(x, lens)
    assert h.shape == (3, 50, model.encoder.dim)  # frame stacking x2
    if kind in ("asr", "joint"):
        lp = model.ctc(h)
        assert lp.shape == (3, 50, len(J.ALPHABET) + 1)
        assert torch.allclose(lp.exp().sum(-1), torch.ones(3, 50), atol=1e-5)
    else:
        assert not hasattr(model, "ctc_head")
    if kind in ("ser", "joint"):
        logits = model.ser(h, lens, torch.randn(3, 8) if kind == "joint" else None)
        assert logits.shape == (3, len(J.EMOTIONS))
    if kind == "joint":
        with pytest.raises(ValueError, match="text embeddings"):
            model.ser(h, lens, None)


def test_masked_mean_ignores_padding():
    h = torch.tensor([[[1.0], [3.0], [100.0], [100.0]]])
    assert J._masked_mean(h, torch.tensor([0.5])).item() == pytest.approx(2.0)


def test_ctc_loss_decreases_on_a_tiny_overfit_batch():
    from speechbrain.nnet.losses import ctc_loss

    chars = J.char_encoder()
    model = _model("asr")
    x = torch.randn(2, 120, 80)
    lens = torch.ones(2)
    targets, t_lens = J._pad([torch.tensor(J._encode_chars(chars, s)) for s in ("the cat", "a dog sat")])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = ctc_loss(model.ctc(model.encode(x, lens)), targets, lens, t_lens, blank_index=0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_greedy_decoding_of_a_known_alignment():
    chars = J.char_encoder()
    assert chars.get_blank_index() == 0 and len(chars) == len(J.ALPHABET) + 1
    ids = [chars.encode_label(c) for c in "hi yo"]
    # h h <b> i i <space> y <b> y o  -> "hi yyo" collapses repeats only without a blank between
    path = [ids[0], ids[0], 0, ids[1], ids[1], ids[2], ids[3], 0, ids[3], ids[4]]
    lp = torch.full((1, len(path) + 3, len(chars)), -10.0)
    for t, k in enumerate(path):
        lp[0, t, k] = 0.0
    lp[0, len(path):, chars.encode_label("z")] = 0.0  # padding frames beyond the relative length
    rel = torch.tensor([len(path) / (len(path) + 3)])
    assert J.greedy_decode(lp, rel, chars) == ["hi yyo"]


def test_normalize_text():
    assert J.normalize_text("Don't you DARE, Sam!  Now.") == "don't you dare sam now"
    with pytest.raises(TypeError):
        J.normalize_text(None)


def test_joint_loss_mixes_with_alpha():
    ser, ctc = torch.tensor(2.0), torch.tensor(10.0)
    assert J.joint_loss(ser, ctc).item() == pytest.approx(0.1 * 2 + 0.9 * 10)
    assert J.joint_loss(ser, ctc, alpha=1.0).item() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="alpha"):
        J.joint_loss(ser, ctc, alpha=1.5)


def test_joint_train_loss_is_the_alpha_mix_of_its_parts():
    from speechbrain.nnet.losses import ctc_loss

    chars = J.char_encoder()
    model = _model("joint").eval()
    emb = torch.randn(2, 8)
    x, lens = torch.randn(2, 60, 80), torch.ones(2)
    cs, c_lens = J._pad([torch.tensor(J._encode_chars(chars, s)) for s in ("ab", "cd e")])
    emo = torch.tensor([0, 3])
    batch = (x, lens, cs, c_lens, emo, torch.arange(2))
    h = model.encode(x, lens)
    lp, logits = model.ctc(h), model.ser(h, lens, emb)
    got = J._loss(model, batch, lp, logits, chars, alpha=0.25)
    want = 0.25 * torch.nn.functional.cross_entropy(logits, emo) + 0.75 * ctc_loss(lp, cs, lens, c_lens, 0)
    assert got.item() == pytest.approx(want.item(), rel=1e-5)


class _FakeST:
    """Stands in for a SentenceTransformer: counts the strings it is asked to encode."""

    def __init__(self):
        self.seen = []

    def get_embedding_dimension(self):
        return 4

    def encode(self, texts, **kw):
        self.seen.extend(texts)
        return torch.tensor([[len(t), t.count("a"), 1.0, 0.0] for t in texts])


def test_text_embedding_cache_encodes_each_string_once():
    fake = _FakeST()
    te = J.TextEncoder(fake, "fake")
    a = te.embed(["aa", "b", "aa"])
    b = te.embed(["b", "aa", "ccc"])
    assert a.shape == (3, 4) and b.shape == (3, 4)
    assert sorted(fake.seen) == ["aa", "b", "ccc"] and te.calls == 3
    assert torch.equal(a[0], a[2]) and torch.equal(a[1], b[0])
    assert te.embed([]).shape == (0, 4)


def test_missing_wav2vec2_path_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no_such_w2v"):
        J.make_encoder(str(tmp_path / "no_such_w2v"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="config.json"):
        J.Wav2Vec2Encoder(tmp_path / "empty")


def test_missing_text_encoder_path_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no_bert"):
        J.load_text_encoder(tmp_path / "no_bert")


def test_relative_improvement_as_the_paper_prints_it():
    assert J.relative_improvement("wer", 0.168, 0.150) == pytest.approx(10.714, abs=1e-3)  # Table 1: 10.7
    assert J.relative_improvement("accuracy", 0.719, 0.742) == pytest.approx(2.3)  # Table 1: 2.3 (points)
    with pytest.raises(ValueError):
        J.relative_improvement("ccc", 0.5, 0.6)


def test_then_condition_chains_keys_and_audio():
    from serlib.augment import SpeedPerturbation

    cond = J.Then(None, SpeedPerturbation(1.05))
    assert cond.key == "speed1.05"
    assert J.Then(None, None).key == "clean"
    out = cond.apply(np.ones(1600, dtype=np.float32), "u")
    assert abs(len(out) - 1600 / 1.05) < 3


# ---------------------------------------------------------------- fit / predict on a tiny corpus
@pytest.fixture(scope="module")
def tiny(smoke_corpus):
    from serlib import protocols

    m = smoke_corpus
    split = protocols.leave_one_speaker_out(m, limit_folds=1)[0]
    fr = split.frames(m)
    return {k: v.head(12) if k == "train" else v for k, v in fr.items()}


def test_transcript_less_manifest_is_refused_for_asr_and_joint(tiny, tmp_data):
    no_text = tiny["train"].assign(transcript=np.nan)
    for kind in ("asr", "joint"):
        with pytest.raises(J.TranscriptError, match="no transcript.*'ser' baseline"):
            J.fit(kind, no_text, tiny["val"], epochs=1, encoder_size="tiny", progress=False)
    with pytest.raises(J.TranscriptError):
        J.fit("asr", tiny["train"].drop(columns="transcript"), tiny["val"], epochs=1, progress=False)


# the joint variant loads MiniLM (~10 s); it is also exercised by the notebook's smoke run (nbval)
@pytest.mark.parametrize("kind", ["asr", "ser", pytest.param("joint", marks=pytest.mark.slow)])
def test_fit_predict_score_on_a_tiny_set(tiny, kind, tmp_data):
    train = tiny["train"]
    if kind == "ser":  # the SER baseline needs no transcript
        train = train.assign(transcript=np.nan)
    trained = J.fit(kind, train, tiny["val"], epochs=2, encoder_size="tiny", batch_size=8, progress=False,
                    speed_factors=(1.0, 1.05), seed=1)
    assert trained.kind == kind and len(trained.history) == 2 and 1 <= trained.best_epoch <= 2
    pred = J.predict(trained, tiny["test"])
    assert list(pred["utt_id"]) == list(tiny["test"]["utt_id"])
    s = J.score(pred)
    if kind in ("asr", "joint"):
        assert pred["hypothesis"].map(type).eq(str).all() and 0.0 <= s["wer"]
    if kind in ("ser", "joint"):
        probs = pred[[f"p_{e}" for e in J.EMOTIONS]].to_numpy()
        assert np.allclose(probs.sum(1), 1.0, atol=1e-5)
        assert set(pred["pred"]) <= set(J.EMOTIONS) and 0.0 <= s["accuracy"] <= 1.0
    if kind == "ser":
        assert "hypothesis" not in pred and "wer" not in s
    if kind == "joint":
        assert trained.text_encoder is not None and len(trained.text_encoder.cache) > 0
    # deterministic given the seed
    again = J.fit(kind, train, tiny["val"], epochs=2, encoder_size="tiny", batch_size=8, progress=False,
                  speed_factors=(1.0, 1.05), seed=1)
    pd.testing.assert_frame_equal(J.predict(again, tiny["test"]), pred)


# ---------------------------------------------------------------- Table 1 / Figure 2 helpers
def test_table1_reproduces_the_papers_rel_imp_from_its_own_numbers():
    from serlib import results

    ref = results.load_reference("4_joint_asr_ser", tables=["1"])
    tab = J.table1(ref, unit="%")
    assert tab.shape == (7, 12)
    assert tab.loc["clean", ("wer", "clean", "Baseline")] == 16.8
    assert tab.loc["SNR 5 speech", ("accuracy", "noisy", "Joint")] == 62.3
    stated = ref.dropna(subset=["stated_improvement"])
    for r in stated.itertuples():
        got = tab.loc[J.scenario_label(r.noise_type, r.snr), (r.metric, r.train_condition, "Rel Imp")]
        assert abs(got - r.stated_improvement) <= 0.25, r  # the yaml notes four WER cells off by <= 0.2 (rounding)


def test_relative_change_is_signed_so_that_positive_is_better():
    rows = []
    for method, train, wer, acc in [("Baseline", "clean", 0.20, 0.50), ("Baseline", "noisy", 0.10, 0.60),
                                    ("Joint", "clean", 0.30, 0.40), ("Joint", "noisy", 0.20, 0.50)]:
        rows += [dict(method=method, train_condition=train, noise_type=None, snr=None, metric="wer", value=wer),
                 dict(method=method, train_condition=train, noise_type=None, snr=None, metric="accuracy", value=acc)]
    rel = J.relative_change(pd.DataFrame(rows)).set_index(["metric", "model"])["change"]
    assert len(rel) == 6  # 3 model types x 2 metrics, the clean-trained baseline is the reference
    assert rel[("wer", "Baseline (noisy-trained)")] == pytest.approx(50.0)
    assert rel[("wer", "Joint (clean-trained)")] == pytest.approx(-50.0)
    assert rel[("accuracy", "Baseline (noisy-trained)")] == pytest.approx(20.0)
    assert rel[("accuracy", "Joint (noisy-trained)")] == pytest.approx(0.0)


def test_pooled_scores_pool_folds_and_name_methods():
    base = dict(seed=0, test_condition="clean", noise_type=None, snr=None, train_condition="clean")
    preds = pd.DataFrame([
        dict(base, fold="a", kind="asr", method="Baseline", utt_id="u1", emotion="sad", reference="a b",
             hypothesis="a b"),
        dict(base, fold="b", kind="asr", method="Baseline", utt_id="u2", emotion="sad", reference="c d",
             hypothesis="c x"),
        dict(base, fold="a", kind="ser", method="Baseline", utt_id="u1", emotion="sad", pred="sad"),
        dict(base, fold="b", kind="ser", method="Baseline", utt_id="u2", emotion="happy", pred="sad"),
    ])
    sc = J.pooled_scores(preds).set_index(["kind", "metric"])
    assert sc.loc[("asr", "wer"), "value"] == pytest.approx(0.25)  # 1 error / 4 reference words, pooled
    assert sc.loc[("ser", "accuracy"), "value"] == pytest.approx(0.5)
    assert set(sc["folds"]) == {2} and sc["noise_type"].isna().all()


def test_run_fold_caches_every_model_and_resumes(tmp_path, monkeypatch):
    from types import SimpleNamespace

    monkeypatch.setenv("SERLIB_DATA", str(tmp_path))
    fits = []

    def fake_fit(kind, train, val, **kw):
        fits.append((kind, kw["condition"]))
        return SimpleNamespace(kind=kind, best_epoch=2, seconds=1.0, seconds_per_epoch=0.5)

    def fake_predict(trained, frame, condition=None):
        out = pd.DataFrame({"utt_id": frame["utt_id"], "emotion": frame["emotion"]})
        if trained.kind != "ser":
            out["reference"], out["hypothesis"] = "a b", ""  # an empty hypothesis must survive the cache
        if trained.kind != "asr":
            out["pred"] = "sad"
        return out

    monkeypatch.setattr(J, "fit", fake_fit)
    monkeypatch.setattr(J, "predict", fake_predict)
    fr = pd.DataFrame({"utt_id": ["a1", "a2"], "emotion": ["sad", "happy"]})
    frames = {"train": fr, "val": fr, "test": fr}
    train = {"clean": None}
    tests = [dict(test_condition="clean", noise_type=None, snr=None, condition=None)]
    first = J.run_fold(frames, fold="f", seed=0, train=train, tests=tests, epochs=3)
    assert [k for k, _ in fits] == list(J.KINDS) and len(first) == 6
    again = J.run_fold(frames, fold="f", seed=0, train=train, tests=tests, epochs=3)
    assert len(fits) == 3  # everything came from the cache
    assert (again.loc[again.kind != "ser", "hypothesis"] == "").all()
    sc = J.pooled_scores(again).set_index(["kind", "metric"])["value"]
    assert sc[("asr", "wer")] == 1.0 and sc[("joint", "accuracy")] == 0.5
    J.run_fold(frames, fold="f", seed=0, train=train, tests=tests, epochs=4)  # other settings: trained anew
    assert len(fits) == 6


def test_a_local_wav2vec2_folder_is_fine_tuned_with_its_conv_front_end_frozen(tmp_path, tiny):
    """A tiny randomly initialised wav2vec2 saved locally stands in for a real checkpoint (no hub)."""
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    cfg = Wav2Vec2Config(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                         conv_dim=(8,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2)
    Wav2Vec2Model(cfg).save_pretrained(tmp_path / "w2v")
    enc = J.make_encoder(str(tmp_path / "w2v"))
    assert isinstance(enc, J.Wav2Vec2Encoder) and enc.frontend == "waveform" and enc.dim == 16
    assert not any(p.requires_grad for p in enc.w2v.feature_extractor.parameters())
    assert any(p.requires_grad for p in enc.w2v.encoder.parameters())
    assert enc(torch.randn(2, 16000), torch.tensor([1.0, 0.5])).shape == (2, 49, 16)
    trained = J.fit("asr", tiny["train"].head(6), tiny["val"], epochs=1, encoder=str(tmp_path / "w2v"),
                    batch_size=3, speed_factors=(1.0,), progress=False)
    assert trained.standardizer is None and "hypothesis" in J.predict(trained, tiny["test"])
