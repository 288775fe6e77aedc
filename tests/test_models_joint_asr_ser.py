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


def test_micro_encoder_pools_mel_bands_and_stacks_three_frames():
    torch.manual_seed(0)
    enc = J.CompactEncoder(n_mels=80, size="micro").eval()
    assert (enc.stack, enc.mel_pool) == (3, 2)
    h = enc(torch.randn(2, 100, 80), torch.ones(2))
    assert h.shape == (2, 33, enc.dim)  # 100 frames // 3
    lstm = [m for m in enc.modules() if isinstance(m, torch.nn.LSTM)]
    assert len(lstm) == 1 and lstm[0].input_size == 40 * 3 and lstm[0].num_layers == 1
    # pooling averages adjacent bands: swapping the two bands of each pair changes nothing, swapping
    # bands across pairs does
    x = torch.randn(1, 30, 80)
    within = x.reshape(1, 30, 40, 2).flip(-1).reshape(1, 30, 80)
    across = x.roll(1, dims=-1)
    assert torch.allclose(enc(x, torch.ones(1)), enc(within, torch.ones(1)), atol=1e-6)
    assert not torch.allclose(enc(x, torch.ones(1)), enc(across, torch.ones(1)), atol=1e-3)
    with pytest.raises(ValueError, match="divide"):
        J.CompactEncoder(n_mels=81, size="micro")
    with pytest.raises(ValueError, match="not one of"):
        J.CompactEncoder(size="huge")


def test_dry_run_cuts_every_input_to_dry_seconds(monkeypatch):
    """A dry run (paper encoder on CPU) feeds the model at most DRY_SECONDS of each utterance; a real run
    the whole utterance."""
    from serlib import features, profiles

    seqs = [np.zeros((250, 80), np.float32), np.zeros((30, 80), np.float32)]
    monkeypatch.setattr(features, "extract", lambda *a, **k: iter(seqs))
    frame = pd.DataFrame({"utt_id": ["a", "b"], "path": ["a.wav", "b.wav"]})
    monkeypatch.setenv(profiles.DRY_ENV, "0")
    assert [len(x) for x in J._inputs(frame, "lmfb", None, 1, False)] == [250, 30]
    monkeypatch.setenv(profiles.DRY_ENV, "1")
    assert [len(x) for x in J._inputs(frame, "lmfb", None, 1, False)] == [int(100 * J.DRY_SECONDS), 30]


def test_an_esc10_folder_named_esc50_is_read_as_esc10(tmp_path):
    (tmp_path / "esc10" / "001 - Dog bark").mkdir(parents=True)
    (tmp_path / "esc10" / "001 - Dog bark" / "1-100032-A.ogg").write_bytes(b"")
    bank, why = J.noise_bank("esc50", str(tmp_path / "esc10"))
    assert bank == "esc10" and "ESC-10" in why
    assert J.noise_bank("esc50", None)[0] == "esc50" and J.noise_bank(None, None)[0] == "synthetic"
    assert J.noise_bank("musan", str(tmp_path / "esc10"))[0] == "musan"   # only the esc50 name is mapped


def test_length_batches_cover_every_utterance_with_little_padding():
    rng = np.random.default_rng(0)
    lengths = rng.integers(100, 400, size=203)
    ev = list(J.LengthBatches(lengths, 8, shuffle=False))
    assert [i for b in ev for i in b] == np.argsort(lengths, kind="stable").tolist() and len(ev) == 26
    tr = J.LengthBatches(lengths, 8, shuffle=True, seed=3, pool=4)
    e1, e2 = list(tr), list(tr)
    for epoch in (e1, e2):
        assert sorted(i for b in epoch for i in b) == list(range(203)) and len(epoch) == len(tr) == 26
    assert e1 != e2                                            # a new order every epoch
    assert list(J.LengthBatches(lengths, 8, shuffle=True, seed=3, pool=4)) == e1   # reproducible from the seed

    def padding(batches):
        return sum(max(lengths[b]) * len(b) - lengths[b].sum() for b in batches) / lengths.sum()

    random_batches = [list(b) for b in np.array_split(rng.permutation(203), 26)]
    assert padding(e1) < 0.5 * padding(random_batches)


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
    # German (EmoDB) and accented letters are spelled in the CTC alphabet instead of splitting words
    assert J.normalize_text("Heute abend könnte ich es ihm sagen. Tür, Straße, Café") == \
        "heute abend koennte ich es ihm sagen tuer strasse cafe"
    with pytest.raises(TypeError):
        J.normalize_text(None)


def test_character_error_rate_is_corpus_level_on_normalised_text():
    assert J.character_error_rate(["the cat", "a dog"], ["", "a dg"]) == pytest.approx(8 / 12)
    assert J.character_error_rate(["Tür!"], ["tuer"]) == 0.0
    with pytest.raises(ValueError, match="equal"):
        J.character_error_rate(["a"], [])


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
    assert te.requests == 6 and te.seconds >= 0.0
    new = te.fresh()  # same model, empty cache: what one fit starts from
    assert new.model is fake and new.cache == {} and new.calls == new.requests == 0
    new.embed(["aa"])
    assert fake.seen.count("aa") == 2 and te.cache.keys() == {"aa", "b", "ccc"}


def test_static_embedding_is_the_normalised_mean_of_word_piece_vectors():
    class Tok:
        all_special_ids = [0, 1]

        def __call__(self, texts, **kw):
            return {"input_ids": [[0] + [2 + (ord(c) - 97) % 3 for c in t.replace(" ", "")] + [1] for t in texts]}

    weight = torch.tensor([[9.0, 9.0], [9.0, 9.0], [1.0, 0.0], [0.0, 2.0], [3.0, 4.0]])
    st = J.StaticEmbedding(Tok(), weight)
    assert st.get_embedding_dimension() == 2
    out = st.encode(["ab", "", "c", "a a"])
    want_ab = torch.tensor([0.5, 1.0]) / torch.tensor([0.5, 1.0]).norm()   # mean of rows 2 and 3, specials ignored
    assert torch.allclose(out[0], want_ab) and torch.equal(out[1], torch.zeros(2))   # empty hypothesis -> zeros
    assert torch.allclose(out[2], torch.tensor([0.6, 0.8])) and torch.allclose(out[3], torch.tensor([1.0, 0.0]))


def test_bundled_static_text_encoder_knows_words():
    te = J.load_text_encoder(J.STATIC)
    e = te.embed(["i am so happy today", "i am very glad today", "this is terrible and sad", ""])
    assert e.shape == (4, 384) and torch.allclose(e[:3].norm(dim=1), torch.ones(3))
    assert float(e[0] @ e[1]) > float(e[0] @ e[2])   # lexical meaning: happy ~ glad, not ~ terrible
    assert "static" in te.name and J.load_text_encoder(J.STATIC) is te


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
    h = trained.history
    # the epoch is selected by the model's own objective: validation CTC / joint loss (min), UAR for ser (max)
    best = h.val_metric.idxmax() if kind == "ser" else h.val_metric.idxmin()
    assert trained.best_epoch == h.epoch[best] and trained.best_score == pytest.approx(h.val_metric[best])
    if kind == "ser":
        assert h.val_cer.isna().all() and (h.val_metric == h.val_uar).all()
    else:
        assert (h.val_metric == h.val_objective).all() and h.val_cer.between(0, 5).all()
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


def _preds():
    base = dict(seed=0, test_condition="clean", noise_type=None, snr=None, train_condition="clean")
    return pd.DataFrame([
        dict(base, fold="a", kind="asr", method="Baseline", utt_id="u1", emotion="sad", reference="a b",
             hypothesis="a b"),
        dict(base, fold="b", kind="asr", method="Baseline", utt_id="u2", emotion="sad", reference="c d",
             hypothesis="c x"),
        dict(base, fold="a", kind="ser", method="Baseline", utt_id="u1", emotion="sad", pred="sad"),
        dict(base, fold="b", kind="ser", method="Baseline", utt_id="u2", emotion="happy", pred="sad"),
    ])


def test_run_scores_keep_seed_and_fold_and_pooled_scores_pool_folds():
    runs = J.run_scores(_preds()).set_index(["kind", "fold", "metric"])["value"]
    assert runs[("asr", "a", "wer")] == 0.0 and runs[("asr", "b", "wer")] == 0.5
    assert runs[("ser", "a", "accuracy")] == 1.0 and runs[("ser", "b", "accuracy")] == 0.0
    assert ("ser", "a", "wer") not in runs and ("asr", "a", "accuracy") not in runs
    sc = J.pooled_scores(_preds()).set_index(["kind", "metric"])
    assert sc.loc[("asr", "wer"), "value"] == pytest.approx(0.25)  # 1 error / 4 reference words, pooled
    assert sc.loc[("ser", "accuracy"), "value"] == pytest.approx(0.5)
    assert set(sc["folds"]) == {2} and sc["noise_type"].isna().all() and "fold" not in sc


def test_ledger_predictions_give_emotions_for_ser_and_words_for_wer():
    preds = pd.concat([_preds(), pd.DataFrame([dict(seed=0, fold="a", kind="joint", method="Joint", utt_id="u1",
                                                    train_condition="clean", test_condition="clean",
                                                    noise_type=None, snr=None, emotion="sad", pred="happy",
                                                    reference="a b", hypothesis="a")])], ignore_index=True)
    lp = J.ledger_predictions(preds)
    assert list(lp.columns) == J.LEDGER_COLUMNS
    joint = lp[lp.method == "Joint"].set_index("metric")
    assert joint.loc["wer", ["y_true", "y_pred"]].tolist() == ["a b", "a"]
    assert joint.loc["accuracy", ["y_true", "y_pred"]].tolist() == ["sad", "happy"]
    assert sorted(lp[lp.method == "Baseline"].metric.unique()) == ["accuracy", "uar", "wer"]
    assert len(lp) == 2 + 2 * 2 + 3   # asr: wer; ser: accuracy + uar; joint: all three


def test_with_transcripts_refuses_a_corpus_without_any_and_drops_the_missing():
    m = pd.DataFrame({"utt_id": ["a", "b", "c"], "corpus": "msp_improv", "transcript": [None, None, None]})
    with pytest.raises(J.TranscriptError, match="msp_improv: none of its 3 utterances.*emodb"):
        J.with_transcripts(m)
    with pytest.raises(J.TranscriptError):
        J.with_transcripts(m.drop(columns="transcript"))
    kept, text = J.with_transcripts(m.assign(transcript=["Hallo Welt", None, "!!"]))
    assert kept.utt_id.tolist() == ["a"] and "1 of 3" in text and "other 2 are dropped" in text


def test_noise_config_is_plain_data_and_fails_early():
    cfg = J.noise_config(noise_types=("noise", "speech"), snr_range=(5, 35), snrs=(5,))
    assert cfg == dict(noise="synthetic", noise_root=None, noise_types=["noise", "speech"], snr_range=[5.0, 35.0],
                       snrs=[5.0])
    train, tests = J.conditions(cfg)
    assert list(train) == ["clean", "noisy"] and train["clean"] is None and train["noisy"].part == "train"
    assert [(t["noise_type"], t["snr"]) for t in tests] == [(None, None), ("noise", 5.0), ("speech", 5.0)]
    assert all(t["condition"].part == "test" for t in tests[1:])
    with pytest.raises(ValueError, match="jackhammer.*not a generated noise type"):
        J.noise_config(noise_types=("jackhammer",))
    with pytest.raises(ValueError, match="unknown settings"):
        J.conditions({**cfg, "snr": 3})


def test_tasks_declare_the_grid_with_every_fit_setting_in_the_config():
    noise = J.noise_config(snrs=(5,))
    grid = J.tasks(["f1", "f2"], seeds=[0, 1], noise=noise, fit=dict(epochs=3, speed_factors=(1.0,)))
    assert len(grid) == 2 * 2 * len(J.TRAIN_SETS) * len(J.KINDS)
    keys = {(t.config["seed"], t.config["fold"], t.config["train_condition"], t.config["kind"]) for t in grid}
    assert len(keys) == len(grid) and all(t.fn == J.TASK_FN for t in grid)
    assert grid[0].config["fit"] == {"epochs": 3, "speed_factors": [1.0]} and grid[0].config["noise"] == noise
    assert grid[0].config["split"] == J.split_config()
    with pytest.raises(ValueError, match="not settings of joint_asr_ser.fit"):
        J.tasks(["f1"], seeds=[0], noise=noise, fit=dict(epochs=3, n_jobs=2))
    with pytest.raises(ValueError, match="kind must be"):
        J.tasks(["f1"], seeds=[0], noise=noise, fit={}, kinds=["tts"])


def test_fold_frames_rebuild_the_notebooks_split(smoke_corpus):
    from serlib import protocols

    m = smoke_corpus
    proto = protocols.auto(m, "loso_speaker")
    first = proto.splits[0]
    fr = J.fold_frames(m, first.name)
    for part, frame in first.frames(m).items():
        assert fr[part].utt_id.tolist() == frame.utt_id.tolist()
    with pytest.raises(KeyError, match="not a fold"):
        J.fold_frames(m, "speaker=nobody")


def test_run_task_through_the_engine_maps_truth_per_kind_and_resumes(smoke_corpus, tmp_path, monkeypatch):
    """One fold x 3 kinds x 2 training sets, with fit/predict replaced by fakes (the engine runs serially in
    this process): predictions carry y_true/y_pred per kind, meta the fit facts; a rerun recomputes nothing."""
    from types import SimpleNamespace

    from serlib import experiment, protocols

    fits = []

    def fake_fit(kind, train, val, *, condition=None, seed=0, **kw):
        fits.append((kind, getattr(condition, "key", "clean"), len(train), len(val)))
        te = SimpleNamespace(requests=10, calls=4, seconds=0.5) if kind == "joint" else None
        return SimpleNamespace(kind=kind, best_epoch=2, history=pd.DataFrame({"epoch": [1, 2, 3]}),
                               stopped_early=True, seconds_per_epoch=0.1, text_encoder=te)

    def fake_predict(trained, frame, condition=None, **kw):
        out = pd.DataFrame({"utt_id": frame["utt_id"].to_numpy(), "emotion": frame["emotion"].to_numpy()})
        if trained.kind != "ser":
            out["reference"], out["hypothesis"] = "a b", ""  # an empty hypothesis must survive the store
        if trained.kind != "asr":
            out["pred"] = "sad"
        return out

    monkeypatch.setattr(J, "fit", fake_fit)
    monkeypatch.setattr(J, "predict", fake_predict)
    m = smoke_corpus
    fold = protocols.auto(m, "loso_speaker").splits[0]
    grid = J.tasks([fold.name], seeds=[0], noise=J.noise_config(snrs=(5,)), fit=dict(epochs=3))
    exp = experiment.Experiment("04_test", manifest=m, workers=1, root=tmp_path, progress=False)
    outs = exp.run(grid)
    assert len(fits) == 6 and {f[1] for f in fits} == {"clean", fits[-1][1]} and fits[-1][1] != "clean"
    preds = J.predictions(outs)
    n_test = len(fold.test)
    assert len(preds) == 6 * n_test * 4  # clean + 3 noise types at one SNR
    asr, ser = preds[preds.kind == "asr"], preds[preds.kind == "ser"]
    assert (asr.y_true == "a b").all() and (asr.y_pred == "").all()
    assert (ser.y_true == ser.emotion).all() and (ser.y_pred == "sad").all() and (ser.method == "Baseline").all()
    ft = J.fit_table(outs)
    assert len(ft) == 6 and (ft.best_epoch == 2).all() and (ft.epochs_run == 3).all() and ft.stopped_early.all()
    assert ft.set_index("kind").loc["joint", "text_encoded"].tolist() == [4, 4] and not ft.cached.any()
    again = exp.run(grid)
    assert len(fits) == 6 and all(o.cached for o in again)
    pd.testing.assert_frame_equal(J.predictions(again), preds)


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
