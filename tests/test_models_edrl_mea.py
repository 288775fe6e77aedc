"""Unit tests of paper 1's EDRL blocks, MEA (multiblock PLS) and the EDRL-MEA pipeline."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from serlib.models.edrl_mea import (
    EDRL,
    EDRLMEA,
    MEA,
    BlockBatches,
    cosine_loss,
    edrl_train_step,
    kl_softmax,
    kl_sparsity,
)

N = 88  # eGeMAPS


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _data(n: int = 90, n_features: int = 12, n_classes: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % n_classes
    centers = rng.normal(size=(n_classes, n_features)) * 2
    X = (centers[y] + rng.normal(size=(n, n_features))).astype(np.float32)
    return X, y


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --------------------------------------------------------------------------- architecture
def test_shapes_and_setup3_sizes():
    model = EDRL(N, 2)
    assert (model.hidden, model.latent) == (2 * N, 4 * N)  # setup-3 with 2N: E = D = 2N, L = 4N
    x = torch.randn(32, N)
    assert model(x).shape == (32, 2, N)
    assert model(x, block=1).shape == (32, N)
    assert EDRL(N, 4)(x).shape == (32, 4, N)
    with pytest.raises(ValueError, match=r"\(batch, 88\)"):
        model(torch.randn(4, 10))
    with pytest.raises(IndexError, match="blocks 0..1"):
        model(x, block=2)


def test_inter_latent_is_tied_and_intra_is_not():
    model = EDRL(N, 3)
    b0, b1, b2 = model.blocks
    assert b0.inter_L is b1.inter_L is b2.inter_L is model.shared_latent
    assert b0.intra_L is not b1.intra_L and b0.inter_E is not b1.inter_E
    # parameter count: shared L counted once; per block E, L, D (intra) + E, D (inter) + output
    h, l = 2 * N, 4 * N
    lin = lambda i, o: i * o + o  # noqa: E731
    per_block = lin(N, h) + lin(h, l) + lin(l, h) + lin(N, h) + lin(l, h) + lin(2 * h, N)
    expected = 3 * per_block + lin(h, l)
    assert _n_params(model) == expected
    print(f"\nEDRL parameters (N=88, C=2): {_n_params(EDRL(N, 2)):,}; (N=88, C=4): {_n_params(EDRL(N, 4)):,}")


def test_gradients_reach_block_and_shared_latent_only():
    torch.manual_seed(0)
    model = EDRL(N, 2)
    model.block_loss(torch.randn(16, N), 0).backward()
    own = {id(p) for p in model.blocks[0].parameters()}
    for name, p in model.named_parameters():
        if id(p) in own:
            assert p.grad is not None and p.grad.abs().sum() > 0, f"{name} got no gradient"
        else:
            assert p.grad is None, f"{name} (block 1) got a gradient from a block-0 batch"


def test_training_a_block_leaves_other_blocks_unchanged():
    torch.manual_seed(0)
    model = EDRL(16, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for _ in range(3):
        opt.zero_grad(set_to_none=True)
        edrl_train_step(model, (0, torch.randn(16, 16)), torch.device("cpu")).backward()
        opt.step()
    after = model.state_dict()
    assert torch.equal(before["blocks.1.intra_E.weight"], after["blocks.1.intra_E.weight"])
    assert torch.equal(before["blocks.1.out.weight"], after["blocks.1.out.weight"])
    assert not torch.equal(before["blocks.0.intra_E.weight"], after["blocks.0.intra_E.weight"])
    assert not torch.equal(before["shared_latent.weight"], after["shared_latent.weight"])


# --------------------------------------------------------------------------- losses
def test_loss_terms():
    x = torch.randn(8, N)
    assert cosine_loss(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert cosine_loss(-x, x).item() == pytest.approx(2.0, abs=1e-6)
    assert kl_softmax(x, x).item() == pytest.approx(0.0, abs=1e-6)
    assert kl_softmax(x + torch.randn(8, N), x).item() > 0
    rho = 0.05
    at_target = torch.full((8, 20), float(np.arctanh(rho)))  # tanh(code) == rho for every unit
    assert kl_sparsity([at_target], rho).item() == pytest.approx(0.0, abs=1e-6)
    assert kl_sparsity([torch.ones(8, 20)], rho).item() > 0.5
    with pytest.raises(ValueError, match="rho"):
        kl_sparsity([at_target], 1.5)


@pytest.mark.parametrize("kl", ["sparsity", "softmax", None])
def test_block_loss_adds_the_chosen_kl(kl):
    torch.manual_seed(0)
    model = EDRL(N, 2, kl=kl, kl_weight=0.5)
    x = torch.randn(16, N)
    out, zi, ze = model.blocks[0](x)
    extra = {"sparsity": 0.5 * kl_sparsity([zi, ze]), "softmax": 0.5 * kl_softmax(out, x), None: 0.0}[kl]
    assert model.block_loss(x, 0).item() == pytest.approx((cosine_loss(out, x) + extra).item(), rel=1e-5)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="kl must be"):
        EDRL(N, 2, kl="l1")
    with pytest.raises(ValueError, match="at least 2 classes"):
        EDRL(N, 1)


# --------------------------------------------------------------------------- training
def test_block_batches_alternate_classes_and_cover_every_row_once():
    X, y = _data(n=50, n_classes=2)
    batches = BlockBatches(X, y, classes=[0, 1], batch_size=8)
    seen = list(batches)
    order = [c for c, _ in seen]
    assert order == sorted(order) and order[0] == 0 and order[-1] == 1  # block 0's batches, then block 1's
    assert len(seen) == len(batches) == 2 * 4  # 25 rows per class, batch 8 -> 4 batches each
    for c, xb in seen:  # every batch holds rows of its own class only
        assert all((X[y == c] == row.numpy()).all(1).any() for row in xb)
    rows = np.concatenate([xb.numpy() for _, xb in seen])
    assert len(rows) == len(X) and len(np.unique(rows, axis=0)) == len(X)


def test_overfits_a_small_batch():
    torch.manual_seed(0)
    model = EDRL(16, 2)
    x = torch.randn(16, 16)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    first = model.block_loss(x, 0).item()
    for _ in range(60):
        opt.zero_grad()
        model.block_loss(x, 0).backward()
        opt.step()
    last = model.block_loss(x, 0).item()
    assert last < 0.5 * first, (first, last)


def test_fit_blocks_is_deterministic_and_selects_the_lowest_validation_loss():
    X, y = _data(n=120, n_features=12)

    def train(seed):
        torch.manual_seed(seed)
        model = EDRL(12, 2)
        res = model.fit_blocks(X[:90], y[:90], X[90:], y[90:], epochs=4, patience=2, batch_size=16, seed=seed)
        return model, res

    m1, r1 = train(0)
    m2, r2 = train(0)
    assert r1.history["val_metric"].tolist() == r2.history["val_metric"].tolist()
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))
    assert r1.best_score == r1.history["val_metric"].min()
    assert m1.validation_loss(X[90:], y[90:]) == pytest.approx(r1.best_score, rel=1e-5)
    assert list(m1.classes_) == [0, 1]
    _, r3 = train(1)
    assert r3.history["val_metric"].tolist() != r1.history["val_metric"].tolist()


def test_fit_blocks_stops_early_without_lr_halving_and_restores_the_best_epoch(monkeypatch):
    """The real validation loss falls for many epochs on this data, so a scripted one drives the
    stop: best at epoch 2, then `patience` = 3 worse epochs -> 5 of 10 epochs run, the LR is never
    halved (Keras EarlyStopping only) and the model holds the weights it had after epoch 2."""
    X, y = _data(n=120, n_features=12)
    torch.manual_seed(0)
    model = EDRL(12, 2)
    losses, snaps = iter([1.0, 0.8, 0.9, 0.85, 0.95, 0.1, 0.1, 0.1, 0.1, 0.1]), []

    def scripted(X_val, y_val):
        snaps.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return next(losses)

    monkeypatch.setattr(model, "validation_loss", scripted)
    res = model.fit_blocks(X[:90], y[:90], X[90:], y[90:], epochs=10, patience=3, batch_size=16, seed=0)
    assert res.stopped_early and len(res.history) == 5 and res.best_epoch == 2 and res.best_score == 0.8
    assert res.history["lr"].nunique() == 1
    assert all(torch.equal(v, snaps[1][k]) for k, v in model.state_dict().items())
    assert not all(torch.equal(v, snaps[-1][k]) for k, v in model.state_dict().items())


def test_fit_blocks_refuses_bad_labels():
    X, y = _data(n=60, n_features=12)
    model = EDRL(12, 2)
    with pytest.raises(ValueError, match="3 classes"):
        model.fit_blocks(X, np.arange(60) % 3, X, y, epochs=1)
    with pytest.warns(UserWarning, match=r"no samples of class\(es\) \[1\]: early stopping monitors"):
        model.fit_blocks(X, y, X[y == 0], y[y == 0], epochs=1)      # a validation speaker of one class
    with pytest.raises(ValueError, match="none of the classes"):
        model.fit_blocks(X, y, X[:5], np.full(5, 7), epochs=1)


# --------------------------------------------------------------------------- MEA
def test_mea_recovers_a_linear_relation_and_checks_inputs():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 6)) * [1, 10, 100, 1, 1, 1]
    blocks = [X @ rng.normal(size=(6, 6)), X @ rng.normal(size=(6, 6))]
    mea = MEA(n_components=6).fit(blocks, X)
    Xp = mea.transform(blocks)
    assert Xp.shape == X.shape
    np.testing.assert_allclose(Xp, X, atol=1e-6 * np.abs(X).max())  # full rank: X' reproduces X in X's units
    assert mea.block_importances_.shape == (2, 6)
    low = MEA(n_components=1).fit(blocks, X).transform(blocks)
    assert np.abs(low - X).mean() > 0.01 * np.abs(X).mean()  # rank-1 projection is not the identity
    with pytest.raises(ValueError, match="same samples"):
        MEA(2).fit([blocks[0], blocks[1][:-1]], X)
    with pytest.raises(ValueError, match="n_components"):
        MEA(200).fit(blocks, X)
    with pytest.raises(ValueError, match="column counts"):
        mea.transform([blocks[0], blocks[1][:, :3]])
    with pytest.raises(RuntimeError, match="not fitted"):
        MEA(2).transform(blocks)


# --------------------------------------------------------------------------- pipeline
def test_edrlmea_pipeline_end_to_end_deterministic_any_labels():
    X, y = _data(n=150, n_features=10, n_classes=3)
    labels = np.array(["angry", "neutral", "sad"])[y]
    kw = dict(epochs=3, n_components=5, batch_size=16, seed=0)
    a = EDRLMEA(**kw).fit(X[:100], labels[:100], X[100:125], labels[100:125])
    b = EDRLMEA(**kw).fit(X[:100], labels[:100], X[100:125], labels[100:125])
    Xa, Xb = a.transform(X[125:]), b.transform(X[125:])
    assert Xa.shape == (25, 10) and np.isfinite(Xa).all()
    np.testing.assert_array_equal(Xa, Xb)
    assert list(a.classes_) == ["angry", "neutral", "sad"] and a.edrl_.n_classes == 3
    assert len(a.history_) >= 1
    # X' lives in X's units: its per-feature means follow the input's
    np.testing.assert_allclose(a.transform(X[:100]).mean(0), X[:100].mean(0), atol=1e-3 * np.abs(X).max())


def test_edrlmea_refuses_bad_input():
    X, y = _data(n=60, n_features=10)
    bad = X.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="row 3, column 4"):
        EDRLMEA(epochs=1).fit(bad, y, X, y)
    with pytest.raises(ValueError, match="single class"):
        EDRLMEA(epochs=1).fit(X, np.zeros(60), X, y)
    with pytest.raises(RuntimeError, match="not fitted"):
        EDRLMEA().transform(X)
    model = EDRLMEA(epochs=1, n_components=3).fit(X[:40], y[:40], X[40:], y[40:])
    with pytest.raises(ValueError, match="expected 10"):
        model.transform(X[:, :5])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_edrlmea_runs_on_cuda_with_amp():
    X, y = _data(n=120, n_features=10)
    model = EDRLMEA(epochs=2, n_components=4, device="cuda").fit(X[:80], y[:80], X[80:100], y[80:100])
    assert model.fit_result_.device.startswith("cuda")
    assert np.isfinite(model.transform(X[100:])).all()


# --------------------------------------------------------------------------- the two systems
def test_fit_systems_undersamples_train_and_predicts_both():
    from serlib.models.edrl_mea import SYSTEMS, fit_systems

    X, y = _data(n=160, n_features=10)
    y = np.where(np.arange(160) % 4 == 0, 1, 0)  # imbalanced: 25 % positives
    X = X + y[:, None] * 1.5
    sys_ = fit_systems(X[:120], y[:120], X[120:], y[120:], grid="smoke", seed=0, epochs=2, n_components=4,
                       batch_size=16, n_jobs=1)
    assert sys_.n_train == 2 * int((y[:120] == 1).sum())  # RandomUnderSampler: majority cut to minority
    pred = sys_.predict(X[120:])
    assert list(pred) == list(SYSTEMS) and all(len(v) == 40 for v in pred.values())
    assert sys_.embed(X[120:]).shape == (40, 10)
    again = fit_systems(X[:120], y[:120], X[120:], y[120:], grid="smoke", seed=0, epochs=2, n_components=4,
                        batch_size=16, n_jobs=1).predict(X[120:])
    for k in SYSTEMS:
        np.testing.assert_array_equal(pred[k], again[k])
    with pytest.raises(ValueError, match="features"):
        sys_.predict(X[120:, :5])


# --------------------------------------------------------------------------- the notebook's grid of fits (engine tasks)
def _manifest(n_speakers: int = 6, per_speaker: int = 12, corpus: str = "toy", prefix: str = "u") -> "pd.DataFrame":
    import pandas as pd

    emotions = ["angry", "happy", "neutral", "sad"]
    rows = []
    for s in range(n_speakers):
        for i in range(per_speaker):
            emo = emotions[i % 4]
            rows.append({"utt_id": f"{prefix}{s}_{i}", "path": f"/nowhere/{prefix}{s}_{i}.wav", "corpus": corpus,
                         "speaker": f"{corpus}{s}", "gender": "F" if s % 2 else "M", "emotion": emo,
                         "arousal_bin": int(emo in ("angry", "happy")), "valence_bin": int(emo in ("happy", "neutral"))})
    return pd.DataFrame(rows)


def _fake_extract(calls: list | None = None, n_features: int = 10, signal: float = 3.0):
    """A stand-in for serlib.features.extract: a fixed vector per utterance and condition, shifted by the
    arousal and valence of the utterance's emotion (so there is something to learn), no audio read."""
    import hashlib

    import pandas as pd

    def extract(manifest, kind, condition=None, **_):
        key = "clean" if condition is None else condition.key
        if calls is not None:
            calls.append((key, len(manifest)))
        rows = []
        for u, emo in zip(manifest.utt_id, manifest.emotion):
            a, v = emo in ("angry", "happy"), emo in ("happy", "neutral")
            rng = np.random.default_rng(int(hashlib.md5(f"{u}|{key}".encode()).hexdigest()[:8], 16))
            x = rng.normal(size=n_features)
            x[:3] += signal * a
            x[3:6] += signal * v
            rows.append(x)
        return pd.DataFrame(np.asarray(rows, dtype=np.float32), index=manifest.utt_id.to_numpy())

    return extract


NOISE = {"types": ["cafeteria", "street"], "snrs": [10.0, 0.0], "per_utterance": 1, "seed": 0, "bank": "synthetic",
         "root": None}


def test_noisy_design_full_balanced_and_seeded():
    from serlib.models.edrl_mea import noisy_design

    m = _manifest()
    full = noisy_design(m, ["a", "b"], [10, 0])
    assert len(full) == 4 * len(m) and (full.groupby("utt_id").size() == 4).all()
    one = noisy_design(m, ["a", "b", "c"], [20, 10, 0], per_utterance=1, seed=0)
    assert len(one) == len(m) and one.utt_id.is_unique            # each utterance once
    counts = one.merge(m[["utt_id", "speaker"]]).groupby(["speaker", "noise_type", "snr"]).size()
    per_speaker = counts.groupby("speaker").agg(["min", "max"])
    assert (per_speaker["max"] - per_speaker["min"] <= 1).all()     # every speaker spread evenly over 9 conditions
    two = noisy_design(m, ["a", "b", "c"], [20, 10, 0], per_utterance=2, seed=0)
    assert (two.groupby("utt_id").size() == 2).all() and not two.duplicated().any()
    again = noisy_design(m, ["a", "b", "c"], [20, 10, 0], per_utterance=1, seed=0)
    other = noisy_design(m, ["a", "b", "c"], [20, 10, 0], per_utterance=1, seed=1)
    assert one.equals(again) and not one.equals(other)
    with pytest.raises(ValueError, match="per_utterance"):
        noisy_design(m, ["a"], [0, 5], per_utterance=0)
    with pytest.raises(ValueError, match="no noise conditions"):
        noisy_design(m, [], [0])


def test_runs_pair_one_seed_per_fold_and_every_seed_on_one_holdout():
    from types import SimpleNamespace

    from serlib.models.edrl_mea import runs

    a, b = SimpleNamespace(name="a"), SimpleNamespace(name="b")
    assert runs([0, 1, 2], [a]) == [(0, a), (1, a), (2, a)]
    assert runs([3, 4], [a, b]) == [(3, a), (4, b)]
    with pytest.raises(ValueError, match="-p seeds \\[0, 1\\]"):
        runs([0, 1, 2], [a, b])


def test_tasks_declare_one_fit_per_system_attribute_and_run():
    from serlib import protocols
    from serlib.models.edrl_mea import TASK, runs, tasks

    m = _manifest()
    splits = protocols.make(m, "leave_k_speakers_out", seed=0)
    grid = tasks(m, runs([0, 1, 2], splits), noise=NOISE, grid="smoke", edrl={"epochs": 3})
    assert len(grid) == 2 * 2 * 3 and all(t.fn == TASK for t in grid)
    t = grid[0]
    assert (t.config["method"], t.config["attribute"], t.config["seed"], t.config["fold"]) == \
        ("Baseline", "arousal", 0, splits[0].name)
    assert t.config["split"]["test"] == m.utt_id.iloc[splits[0].test].tolist()
    assert t.config["edrl"] == {} and grid[-1].config["edrl"] == {"epochs": 3}   # EDRL settings: EDRL-MEA only
    with pytest.raises(ValueError, match="unknown system"):
        tasks(m, runs([0], splits[:1]), noise=NOISE, grid="smoke", systems=["SVM"])


def test_run_task_predicts_every_test_item_and_reruns_identically(tmp_data, monkeypatch):
    import pandas as pd

    from serlib import experiment, features, protocols
    from serlib.models import edrl_mea

    monkeypatch.setattr(features, "extract", _fake_extract())
    m = _manifest(8, 12)
    x = pd.concat([_manifest(2, 8, corpus="emodb", prefix="e"), _manifest(2, 8, corpus="ravdess", prefix="r")],
                  ignore_index=True)                                 # a combined cross-corpus set
    split = protocols.speaker_holdout(m, seed=0)
    grid = edrl_mea.tasks(m, edrl_mea.runs([0], [split]), attributes=["arousal"], noise=NOISE, grid="smoke",
                          edrl={"epochs": 3, "n_components": 4, "batch_size": 16})
    exp = experiment.Experiment("01_test", manifest={"main": m, "xcorpus": x}, workers=1, progress=False)
    outs = exp.run(grid)
    test_ids = set(m.utt_id.iloc[split.test])
    for out in outs:
        p = out.predictions
        intra, cross = p[p.table == "1"], p[p.table == "2"]
        assert set(intra.utt_id) == test_ids and set(cross.utt_id) == set(x.utt_id)
        assert len(intra) == 2 * len(test_ids) and len(cross) == 2 * len(x)      # clean + one noisy version each
        assert set(cross.corpus) == {"emodb+ravdess"} and set(intra.corpus) == {"toy"}
        truth = pd.concat([m, x]).set_index("utt_id").arousal_bin
        assert (p.y_true.to_numpy() == truth.loc[p.utt_id].to_numpy()).all()
        clean = intra[intra.test_condition == "clean"]
        floor = 0.9 if out.config["method"] == "Baseline" else 0.7      # chance: 0.5
        assert (clean.y_true == clean.y_pred).mean() > floor           # the labels' signal is learned
        assert out.meta["n_train"] == 2 * min(np.bincount(m.arousal_bin.iloc[split.train]))  # undersampled
    em = outs[1]
    assert em.config["method"] == "EDRL-MEA" and em.meta["epochs_run"] == len(em.history) <= 3
    assert em.extra["xprime"].shape == em.extra["x_std"].shape == (len(em.predictions), 10)
    again = experiment.Experiment("01_test", manifest={"main": m, "xcorpus": x}, workers=1, progress=False).run(grid)
    assert all(o.cached for o in again)
    for a, b in zip(outs, again):
        pd.testing.assert_frame_equal(a.predictions, b.predictions)


def test_run_task_negative_control_features_without_signal_score_chance(tmp_data, monkeypatch):
    from serlib import experiment, features, protocols
    from serlib.models import edrl_mea

    monkeypatch.setattr(features, "extract", _fake_extract(signal=0.0))   # features say nothing about the labels
    m = _manifest(8, 16)
    split = protocols.speaker_holdout(m, seed=0)
    run = edrl_mea.runs([0], [split])
    grid = edrl_mea.tasks(m, run, attributes=["arousal"], noise=NOISE, grid="smoke", systems=["Baseline"])
    x = _manifest(4, 16, corpus="x", prefix="x")
    exp = experiment.Experiment("01_test", manifest={"main": m, "xcorpus": x}, workers=1, progress=False)
    p = exp.run(grid)[0].predictions
    cross = p[(p.table == "2") & (p.test_condition == "clean")]        # nothing to learn: no label leaks in
    assert abs((cross.y_true == cross.y_pred).mean() - 0.5) < 0.2


def test_extract_features_fills_every_item_the_tasks_read(tmp_data, monkeypatch):
    from serlib import features
    from serlib.models import edrl_mea

    calls = []
    monkeypatch.setattr(features, "extract", _fake_extract(calls))
    m, x = _manifest(), _manifest(2, 8, corpus="x", prefix="x")
    test_ids = m.utt_id.iloc[:20].tolist()
    counts = edrl_mea.extract_features(m, x, test_ids, NOISE, n_jobs=1, progress=False)
    assert counts == {"clean (all utterances)": len(m), "test items": 40, "cross-corpus items": 2 * len(x)}
    noisy = [c for c in calls if c[0] != "clean"]
    assert {k for k, _ in noisy} <= {edrl_mea._condition(NOISE, t, s).key for t in NOISE["types"] for s in NOISE["snrs"]}
    assert sum(n for _, n in noisy) == 20 + len(x)                       # one noisy version per test utterance


def test_noise_bank_loads_an_esc10_folder_asked_for_as_esc50_and_nothing_else(tmp_path):
    from serlib.models.edrl_mea import noise_bank

    esc10 = tmp_path / "esc10"
    (esc10 / "001 - Dog").mkdir(parents=True)
    name, why = noise_bank("esc50", esc10)
    assert name == "esc10" and "ESC-10" in why and str(esc10) in why
    assert noise_bank("esc10", esc10) == ("esc10", "")          # given right: unchanged
    assert noise_bank("musan", esc10) == ("musan", "")          # other mismatches: load_noise refuses them
    assert noise_bank(None, None) == ("synthetic", "")
    (tmp_path / "other" / "x").mkdir(parents=True)                # no known layout: left to load_noise
    assert noise_bank("esc50", tmp_path / "other") == ("esc50", "")


def test_dry_run_tests_every_noisy_condition_on_a_few_utterances(tmp_data, monkeypatch):
    from serlib import features, profiles
    from serlib.models import edrl_mea

    monkeypatch.setattr(features, "extract", _fake_extract())
    m = _manifest()
    noise = {**NOISE, "per_utterance": None}                           # the paper's design: 2 types x 2 SNRs
    design = edrl_mea.noisy_design(m, noise["types"], noise["snrs"])
    monkeypatch.setenv(profiles.DRY_ENV, "0")
    full, _ = edrl_mea.test_items(m, design, noise)
    assert (full.test_condition == "noisy").sum() == 4 * len(m)
    monkeypatch.setenv(profiles.DRY_ENV, "1")
    dry, X = edrl_mea.test_items(m, design, noise)
    cap = edrl_mea.DRY_ITEMS_PER_CONDITION
    noisy = dry[dry.test_condition == "noisy"]
    assert len(X) == len(dry) and (dry.test_condition == "clean").sum() == len(m)   # clean keeps every utterance
    assert (noisy.groupby(["noise_type", "snr"]).size() == cap).all() and noisy.groupby(["noise_type", "snr"]).ngroups == 4
    assert noisy.utt_id.nunique() == 4 * cap                          # rotated: no utterance tested twice here
