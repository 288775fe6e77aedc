"""Tests of serlib.leaderboard: the condition grid, the split, the adapters, AUC/ranking math."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pandas as pd
import pytest
import torch

from serlib import leaderboard as lb
from serlib.noise import NOISE_FAMILIES, RandomCondition
from serlib.noise.room import RoomCondition

CLASSES = np.array(["angry", "happy", "neutral", "sad"])

pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --------------------------------------------------------------------------- grid
def test_grid_has_every_family_snr_and_extra_condition():
    grid = lb.condition_grid([0, 20, 10, 5])
    keys = [c.key for c in grid]
    assert len(keys) == len(set(keys))
    noisy = [c for c in grid if c.test_condition == "noisy"]
    assert {(c.noise_type, c.snr) for c in noisy} == {(f, s) for f in lb.FAMILIES for s in (0.0, 5.0, 10.0, 20.0)}
    for c in noisy:
        assert isinstance(c.audio, RandomCondition)
        assert c.audio.part == "test"                       # never the training clips
        assert c.audio.snr_range == (c.snr, c.snr)
        assert set(c.audio.noise_types) == set(NOISE_FAMILIES[c.noise_type])
    assert [c.test_condition for c in grid].count("clean") == 1
    rooms = [c for c in grid if c.test_condition == "rerecorded"]
    assert {c.noise_type for c in rooms} == set(lb.ROOM_SETTINGS)
    assert all(isinstance(c.audio, RoomCondition) and c.audio.part == "test" for c in rooms)
    assert {"xcorpus", "fgsm"} <= {c.test_condition for c in grid}
    # audio keys are distinct too (the feature cache is keyed by them)
    audio = [c.audio.key for c in grid if c.audio is not None]
    assert len(audio) == len(set(audio))


def test_grid_options_and_errors():
    grid = lb.condition_grid([5], families={"mine": ["white", "pink"]}, room_settings=(), xcorpus=False, fgsm=False)
    assert [c.key for c in grid] == ["clean", "noisy-mine-5"]
    with pytest.raises(ValueError, match="unknown noise families"):
        lb.condition_grid([5], families=["jazz"])
    with pytest.raises(ValueError, match="snrs is empty"):
        lb.condition_grid([])


# --------------------------------------------------------------------------- split
def _manifest(n_sessions: int = 5, per_speaker: int = 8) -> pd.DataFrame:
    rows = []
    for s in range(1, n_sessions + 1):
        for g in "FM":
            for i in range(per_speaker):
                rows.append({"utt_id": f"S{s}{g}{i}", "speaker": f"Ses0{s}{g}", "session": f"Ses0{s}",
                             "emotion": CLASSES[i % 4]})
    return pd.DataFrame(rows)


def test_split_is_speaker_disjoint_and_session_based():
    m = _manifest()
    for fold in range(5):
        sp = lb.split(m, fold)
        spk = {p: set(m.iloc[getattr(sp, p)].speaker) for p in ("train", "val", "test")}
        assert not spk["train"] & spk["val"] and not spk["train"] & spk["test"] and not spk["val"] & spk["test"]
        assert m.iloc[sp.test].session.nunique() == 1 and m.iloc[sp.val].session.nunique() == 1
        assert len(sp.train) + len(sp.val) + len(sp.test) == len(m)
    with pytest.raises(ValueError, match="fold 7"):
        lb.split(m, 7)


def test_stratified_subsample():
    m = _manifest()
    sub = lb.stratified(m, 20)
    assert len(sub) == 20 and sub.emotion.value_counts().nunique() == 1
    assert lb.stratified(m, None) is m


# --------------------------------------------------------------------------- AUC, drop, ranking
def test_snr_auc_hand_values():
    assert lb.snr_auc([0, 20], [0.4, 0.6]) == pytest.approx(0.5)
    # trapezoids: (5*(0.3+0.4) + 5*(0.4+0.5) + 10*(0.5+0.7)) / 2 / 20 = (3.5 + 4.5 + 12) / 40
    assert lb.snr_auc([20, 0, 5, 10], [0.7, 0.3, 0.4, 0.5]) == pytest.approx(20 / 40)
    assert lb.snr_auc([-5, 0, 20, 30], [0.0, 0.2, 0.2, 0.9]) == pytest.approx(0.2)  # outside [0, 20] ignored
    with pytest.raises(ValueError, match="both ends"):
        lb.snr_auc([5, 20], [0.3, 0.5])
    with pytest.raises(ValueError, match="repeated"):
        lb.snr_auc([0, 0, 20], [0.3, 0.4, 0.5])


def test_relative_drop():
    assert lb.relative_drop(0.6, 0.45) == pytest.approx(0.25)
    np.testing.assert_allclose(lb.relative_drop(np.array([0.5, 0.8]), np.array([0.5, 0.4])), [0.0, 0.5])
    with pytest.raises(ValueError, match="clean score is 0"):
        lb.relative_drop(0.0, 0.1)


def _rows(method, seed, clean, curve, **other):
    rows = [dict(method=method, seed=seed, metric="uar", test_condition="clean", noise_type=None, snr=np.nan,
                 value=clean)]
    for fam, vals in curve.items():
        for snr, v in zip((0.0, 10.0, 20.0), vals):
            rows.append(dict(method=method, seed=seed, metric="uar", test_condition="noisy", noise_type=fam, snr=snr,
                             value=v))
    for cond, v in other.items():
        rows.append(dict(method=method, seed=seed, metric="uar", test_condition=cond, noise_type=None, snr=np.nan,
                         value=v))
    return rows


def test_auc_frame_and_leaderboard_ranking():
    rows = []
    for seed in (0, 1):
        rows += _rows("A", seed, 0.7, {"babble": (0.3, 0.5, 0.7), "music": (0.5, 0.5, 0.5)}, xcorpus=0.4)
        rows += _rows("B", seed, 0.8, {"babble": (0.2, 0.4, 0.6), "music": (0.4, 0.4, 0.4)}, fgsm=0.1)
    rows.append(dict(method="A", seed=0, metric="train_seconds", test_condition="cost", noise_type=None, snr=np.nan,
                     value=12.0))
    df = pd.DataFrame(rows)
    auc = lb.auc_frame(df)
    a = auc[(auc.method == "A") & (auc.seed == 0)].set_index("noise_type")["value"]
    assert a["babble"] == pytest.approx((10 * 0.8 + 10 * 1.2) / 2 / 20)      # 0.5
    assert a["music"] == pytest.approx(0.5) and a["all"] == pytest.approx(0.5)
    table = lb.leaderboard(df)
    assert table["method"].tolist() == ["A", "B"]                            # A: AUC 0.5 > B: 0.4
    assert table["rank"].tolist() == ["1-2", "1-2"]                          # 2 seeds: no test, one group
    assert table.loc[0, "clean"] == "70.0 (n=2: 70.0, 70.0)" and table.loc[1, "clean"] == "80.0 (n=2: 80.0, 80.0)"
    assert table.loc[0, "0 dB"].startswith("40.0")                          # mean of 0.3 and 0.5
    assert table.loc[0, "cross-corpus"].startswith("40.0") and table.loc[0, "FGSM"] == "n/a"
    assert table.loc[1, "FGSM"].endswith("(≤ chance)")                      # 10 % UAR on 4 classes
    assert table.loc[0, "train_seconds"] == 12.0 and np.isnan(table.loc[1, "train_seconds"])
    assert table.attrs["chance"] == 0.25


def _auc_runs(means, n=5, sd=0.01, folds=1):
    """Per-run AUCs whose mean per method is exactly ``means[method]`` (run-to-run noise sd ``sd``)."""
    rng = np.random.default_rng(0)
    rows = []
    for m, mu in means.items():
        z = rng.normal(0, sd, n * folds)
        z -= z.mean()
        rows += [{"method": m, "seed": i // folds, "fold": i % folds, "value": mu + z[i]} for i in range(n * folds)]
    return pd.DataFrame(rows)


def test_rank_groups_share_ranks_until_a_significant_difference():
    g = lb.rank_groups(_auc_runs({"A": 0.60, "B": 0.598, "C": 0.50, "D": 0.499, "E": 0.30}))
    assert g["method"].tolist() == ["A", "B", "C", "D", "E"]
    assert g["rank"].tolist() == ["1-2", "1-2", "3-4", "3-4", "5"] and g["group"].tolist() == [1, 1, 2, 2, 3]
    assert (g["n"] == 5).all()
    assert lb.rank_groups(_auc_runs({"A": 0.6, "B": 0.5}, n=2))["rank"].tolist() == ["1-2", "1-2"]  # no test
    folds = lb.rank_groups(_auc_runs({"A": 0.6, "B": 0.5}, n=2, folds=2))     # 2 seeds x 2 folds = 4 runs
    assert folds["rank"].tolist() == ["1", "2"] and (folds["n"] == 4).all()
    # Holm: five near-ties with the leader stay in its group although one raw p may be small
    many = lb.rank_groups(_auc_runs({k: 0.5 + 0.001 * i for i, k in enumerate("ABCDEF")}, n=4, sd=0.02))
    assert set(many["rank"]) == {"1-6"}
    with pytest.raises(KeyError, match="seed"):
        lb.rank_groups(pd.DataFrame({"method": ["A"], "value": [0.5]}))


# --------------------------------------------------------------------------- adapters
PER_CLASS = 8
BUDGET = lb.Budget(epochs=4, lr=1e-2, patience=None, batch_size=8, model_size="tiny", grid="smoke", n_jobs=1,
                   device="cpu")  # cpu: the same numbers, hence the same margins, on a GPU machine
CONV_BUDGET = dataclasses.replace(BUDGET, lr=1e-3)  # the spectro-temporal CNNs (at 1e-2 SERNet stalls at 2 classes)


def _budget(name: str) -> lb.Budget:
    return CONV_BUDGET if lb.METHODS[name].kind in ("lmfb", "trnet", "spectrogram") else BUDGET


@pytest.fixture(scope="module")
def tiny():
    """Inputs of every kind for 4 classes x 8 utterances (train and validation): every value is shifted
    by 3 x the class index, so each method can learn the classes in a few epochs."""
    rng = np.random.default_rng(0)
    y = np.repeat(CLASSES, PER_CLASS)
    shift = {c: 3.0 * i for i, c in enumerate(CLASSES)}

    def table(labels):
        return (rng.normal(size=(len(labels), 12)) + np.array([[shift[c]] for c in labels])).astype(np.float32)

    def seqs(labels, bins):
        return [(rng.normal(size=(int(rng.integers(60, 300)), bins)) + shift[c]).astype(np.float32) for c in labels]

    def triplets(labels):
        return {k: seqs(labels, 80) for k in ("clean", "noisy", "enhanced")}

    return {"y": y, "egemaps": (table(y), table(y)), "spectrogram": (seqs(y, 128), seqs(y, 128)),
            "lmfb": (seqs(y, 80), seqs(y, 80)), "trnet-train": (triplets(y), triplets(y)), "unlabeled": table(y)}


def _learned(y_true, pred) -> bool:
    """UAR at least twice chance (4 classes): a model predicting one class (UAR 0.25) fails."""
    from serlib.metrics import uar

    return len(pred) == len(y_true) and set(pred) <= set(CLASSES) and uar(y_true, pred) >= 0.5


def test_the_learning_criterion_rejects_a_one_class_model():
    y = np.repeat(CLASSES, PER_CLASS)
    assert _learned(y, y) and not _learned(y, np.full(len(y), "angry")) and not _learned(y, np.roll(y, 8))


@pytest.fixture(scope="module")
def baseline_c(tiny):
    """Baseline-c trained once: its own test case and TRNet's teacher (as in notebook 10)."""
    X, Xv = tiny["lmfb"]
    return lb.fit("Baseline-c", X, tiny["y"], Xv, tiny["y"], seed=0, budget=CONV_BUDGET)


@pytest.mark.parametrize("name", [m for m in lb.CATEGORICAL if m != "Joint ASR-SER"])
def test_adapter_learns_the_classes_and_times_itself(tiny, baseline_c, name):
    spec = lb.METHODS[name]
    X, Xv = tiny[spec.train_inputs]
    y = tiny["y"]
    t0 = time.perf_counter()
    if name == "Baseline-c":
        fitted = baseline_c
    else:
        fitted = lb.fit(name, X, y, Xv, y, seed=0, budget=_budget(name), unlabeled=tiny["unlabeled"],
                        teacher=baseline_c.model)
    fit_wall = time.perf_counter() - t0
    test_inputs = {k: Xv[k] for k in ("noisy", "enhanced")} if name == "TRNet" else Xv
    t0 = time.perf_counter()
    pred, secs = lb.timed_predict(fitted, test_inputs)
    predict_wall = time.perf_counter() - t0
    assert _learned(y, pred), (name, sorted(set(pred)))  # measured: 0.75 (Dense, CNNs) to 1.0 (RF, EDRL-MEA, DLN)
    assert isinstance(secs, float) and 0 < secs <= predict_wall
    assert isinstance(fitted.train_seconds, float) and 0 < fitted.train_seconds
    if name != "Baseline-c":
        assert fitted.train_seconds <= fit_wall
    assert isinstance(fitted.parameters, int) and fitted.parameters > 0
    if fitted.fgsm is not None:
        np.testing.assert_array_equal(fitted.fgsm(Xv, y, 0.0), pred)    # eps 0: the clean predictions
        adv = fitted.fgsm(Xv, y, 0.08)
        assert len(adv) == len(y) and set(adv) <= set(CLASSES)
    else:
        assert spec.no_fgsm and name in ("eGeMAPS + RF", "EDRL-MEA", "TRNet")


def test_joint_adapter_passes_the_budget_and_reads_the_predictions(monkeypatch):
    """The joint model's wiring without training MiniLM (that is test_models_joint_asr_ser's slow test):
    clean (manifest, None) pairs in, the budget passed on, no speed perturbation, ``pred`` out."""
    from serlib.models import joint_asr_ser as ja

    y = np.repeat(CLASSES, 2)
    tr = pd.DataFrame({"utt_id": [f"t{i}" for i in range(8)], "emotion": y})
    va = pd.DataFrame({"utt_id": [f"v{i}" for i in range(8)], "emotion": y})
    calls = {}

    class Trained:
        model, history, best_epoch = torch.nn.Linear(3, 2), [0.1, 0.2, 0.3], 2

    def fake_fit(kind, train, val, **kw):
        calls["fit"] = (kind, list(train["utt_id"]), list(val["utt_id"]), kw)
        return Trained()

    def fake_predict(trained, frame, condition, **kw):
        calls["predict"] = (list(frame["utt_id"]), condition)
        return pd.DataFrame({"utt_id": frame["utt_id"], "pred": frame["emotion"].to_numpy()[::-1]})

    monkeypatch.setattr(ja, "fit", fake_fit)
    monkeypatch.setattr(ja, "predict", fake_predict)
    fitted = lb.fit("Joint ASR-SER", (tr, None), y, (va, None), y, seed=3, budget=BUDGET)
    kind, train_ids, val_ids, kw = calls["fit"]
    assert kind == "joint" and train_ids == list(tr["utt_id"]) and val_ids == list(va["utt_id"])
    assert kw["speed_factors"] == (1.0,) and kw["seed"] == 3 and kw["encoder_size"] == "tiny"
    assert (kw["epochs"], kw["lr"], kw["batch_size"], kw["patience"]) == (4, 1e-2, 8, None)
    pred, _ = lb.timed_predict(fitted, (va, "cond"))
    assert list(pred) == list(y[::-1]) and calls["predict"] == (list(va["utt_id"]), "cond")
    assert fitted.parameters == 3 * 2 + 2 and fitted.fgsm is None
    assert fitted.info == {"epochs": 3, "best_epoch": 2}
    with pytest.raises(ValueError, match="clean audio"):
        lb.fit("Joint ASR-SER", (tr, "noisy"), y, (va, None), y, seed=0, budget=BUDGET)
    with pytest.raises(ValueError, match="emotion columns"):
        lb.fit("Joint ASR-SER", (tr, None), y[::-1], (va, None), y, seed=0, budget=BUDGET)


def test_inputs_audio_and_loaders():
    inputs = lb.Inputs(keep=1)
    frame = pd.DataFrame({"utt_id": ["a"], "path": ["a.wav"]})
    assert inputs("audio", frame, None) == (frame, None)
    calls = []
    inputs.loaders["mine"] = lambda f, c: calls.append(c) or len(calls)
    assert inputs("mine", frame) == 1 and inputs("mine", frame) == 1      # memoised
    inputs("mine", frame.assign(utt_id=["b"]))                            # evicts the first (keep=1)
    assert inputs("mine", frame) == 3


def test_fit_errors(tiny):
    budget = lb.Budget(epochs=1, model_size="tiny", grid="smoke", n_jobs=1)
    X, Xv = tiny["egemaps"]
    with pytest.raises(ValueError, match="unknown leaderboard method"):
        lb.fit("Magic", X, tiny["y"], Xv, tiny["y"], seed=0, budget=budget)
    with pytest.raises(ValueError, match="needs unlabeled"):
        lb.fit("LN", X, tiny["y"], Xv, tiny["y"], seed=0, budget=budget)
    with pytest.raises(ValueError, match="methods: unknown"):
        lb.check_methods(["DLN", "Magic"])
    assert lb.check_methods(["DLN"]) == ["DLN"]
    with pytest.raises(ValueError, match="model_size"):
        lb.Budget(model_size="huge")


def test_ladder_classification_output_shapes():
    from serlib.models import ladder

    for method in ladder.METHODS:
        model = ladder.make_model(method, 10, n_outputs=4)
        x = torch.randn(6, 10)
        model.train()
        loss = ladder.train_step(model, (x, torch.tensor([0, 1, 2, 3, 0, 1])), torch.device("cpu"))
        assert loss.ndim == 0 and torch.isfinite(loss)
        model.eval()
        assert model(x).shape == (6, 4)
    with pytest.raises(ValueError, match="n_outputs"):
        ladder.Dense(10, n_outputs=0)
