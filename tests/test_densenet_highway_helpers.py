"""Profile sizes and utterance-level helpers of serlib.models.densenet_highway (paper 5 notebook)."""

import numpy as np
import pytest
import torch

from serlib.models.densenet_highway import MODELS, SIZES, attack_segments, sized, utterance_posteriors


@pytest.mark.parametrize("size", ["tiny", "small"])
def test_sizes_build_every_model_with_paper_input(size):
    torch.manual_seed(0)
    x = torch.randn(1, 1, 32, 128)  # the paper's 128 bins; a short segment is enough for the output shape
    for name in MODELS:
        model = sized(name, size).eval()
        with torch.no_grad():
            assert model(x).shape == (1, 4)


def test_sized_rejects_unknown_size_and_accepts_overrides():
    with pytest.raises(ValueError, match="unknown model size"):
        sized("cnn", "huge")
    assert SIZES["paper"]["proposed"] == {}
    m = sized("proposed", "tiny", n_classes=3).eval()
    assert m(torch.randn(1, 256, 128)).shape == (1, 3)


def test_utterance_posteriors_average_segments():
    torch.manual_seed(0)
    model = sized("cnn", "tiny")
    segs = np.random.default_rng(0).normal(size=(5, 64, 128)).astype(np.float32)
    owner = np.array([0, 0, 1, 2, 2])
    post = utterance_posteriors(model, segs, owner, device="cpu")
    assert post.shape == (3, 4)
    np.testing.assert_allclose(post.sum(1), 1.0, atol=1e-5)
    seg_post = utterance_posteriors(model, segs, np.arange(5), device="cpu")
    np.testing.assert_allclose(post[0], seg_post[:2].mean(0), atol=1e-6)
    with pytest.raises(ValueError, match="no segment"):
        utterance_posteriors(model, segs, np.array([0, 0, 2, 2, 2]), device="cpu")


def test_attack_segments_stays_in_eps_ball():
    torch.manual_seed(0)
    model = sized("proposed", "tiny")
    segs = np.random.default_rng(1).normal(size=(3, 64, 128)).astype(np.float32)
    y = np.array([0, 1, 2])
    for kind in ("fgsm", "bim"):
        adv = attack_segments(model, segs, y, kind, 0.08, batch_size=2, device="cpu")
        assert adv.shape == segs.shape and adv.dtype == np.float32
        assert np.abs(adv - segs).max() <= 0.08 + 1e-5
        assert np.abs(adv - segs).max() > 0.07
    with pytest.raises(ValueError, match="kind"):
        attack_segments(model, segs, y, "pgd", 0.08)


# --------------------------------------------------------------------------- the experiment's task functions
import pandas as pd  # noqa: E402

from serlib import metrics, protocols  # noqa: E402
from serlib.experiment import Context, Experiment, Task  # noqa: E402
from serlib.models import densenet_highway as dh  # noqa: E402


def test_pool_segments_averages_blocks_exactly():
    segs = np.arange(2 * 4 * 6, dtype=np.float32).reshape(2, 4, 6)
    out = dh.pool_segments(segs, 2)
    assert out.shape == (2, 2, 3) and out.dtype == np.float32
    # block (frames 0-1, bins 0-1) of segment 0: values 0, 1, 6, 7
    assert out[0, 0, 0] == pytest.approx(3.5)
    assert out[1, 1, 2] == pytest.approx(np.mean([40, 41, 46, 47]))
    assert dh.pool_segments(segs, 1) is segs
    with pytest.raises(ValueError, match="not divisible by 4"):
        dh.pool_segments(segs, 4)


def test_lr_patience_is_a_quarter_of_patience_at_least_two():
    assert dh.lr_patience(20) == 5            # the paper: halve after 5, stop after 20
    assert dh.lr_patience(4) == 2
    assert dh.lr_patience(1) == 2
    assert dh.lr_patience(None) is None


class _Cfg(dict):
    __getattr__ = dict.__getitem__


def _cfg(**kw):
    base = dict(model_size="tiny", epochs=1, patience=4, lr=1e-3, batch_size=8, input_pool=2, speed_factors=[0.9],
                snrs=[10, 0], noise="synthetic", noise_root=None)
    return _Cfg({**base, **kw})


def test_settings_are_plain_data_and_check_the_pool():
    st = dh.settings(_cfg(), ["sad", "angry"], ["kitchen"])
    assert st["classes"] == ["sad", "angry"] and st["pool"] == 2 and st["lr_patience"] == 2
    assert (st["eps"], st["bim_steps"]) == (0.08, 12) and st["bim_alpha"] == pytest.approx(0.008)
    assert st["noise"] == {"types": ["kitchen"], "snrs": [10.0, 0.0], "bank": "synthetic", "root": None, "seed": 0}
    assert dh.settings(_cfg(input_pool=None), ["a"], ["kitchen"])["pool"] == 1
    with pytest.raises(ValueError, match="input_pool must divide"):
        dh.settings(_cfg(input_pool=3), ["a"], ["kitchen"])


@pytest.fixture(scope="module")
def grid_parts(smoke_corpus):
    m = smoke_corpus
    proto = protocols.auto(m, "loso_speaker", limit_folds=2)
    test_speakers = {m.speaker.iloc[list(s.test)].iloc[0] for s in proto.splits}
    x = m[~m.speaker.isin(test_speakers)].reset_index(drop=True)   # a stand-in cross-corpus set
    return m, proto, x, {"select": x.iloc[:6], "test": x.iloc[6:16]}


def test_tasks_cover_the_grid_with_speaker_disjoint_splits(grid_parts):
    m, proto, _, xparts = grid_parts
    st = dh.settings(_cfg(), sorted(m.emotion.unique()), ["kitchen"])
    grid = dh.tasks(proto, m, st, models=["cnn", "proposed"], aug_models=["proposed"],
                    augmentations=["mixup", "speed_perturbation"], seeds=[0, 1], xparts=xparts)
    runs = {(t.config["model"], t.config["augmentation"]) for t in grid}
    assert runs == {("cnn", "none"), ("proposed", "none"), ("proposed", "mixup"), ("proposed", "speed_perturbation")}
    assert len(grid) == 4 * 2 * len(proto.splits)
    spk = m.set_index("utt_id").speaker
    for t in grid:
        parts = {k: set(spk[ids]) for k, ids in t.config["split"].items()}
        assert not (parts["train"] & parts["test"]) and not (parts["val"] & parts["test"])
        assert t.config["xcorpus"]["select"] == xparts["select"].utt_id.tolist()
    with pytest.raises(ValueError, match="unknown augmentation"):
        dh.tasks(proto, m, st, models=["cnn"], aug_models=["cnn"], augmentations=["cutout"], seeds=[0])


@pytest.fixture(scope="module")
def one_fit(grid_parts, tmp_path_factory):
    """One tiny fit of the proposed model with speed perturbation + mixup (and one without), in a temporary
    data folder: features extracted first, as the notebook does."""
    m, proto, x, xparts = grid_parts
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SERLIB_DATA", str(tmp_path_factory.mktemp("dh-data")))
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        st = dh.settings(_cfg(), sorted(m.emotion.unique()), ["kitchen", "traffic"])
        grid = dh.tasks(proto, m, st, models=["proposed"], aug_models=["proposed"],
                        augmentations=["speed_perturbation+mixup"], seeds=[0], xparts=xparts)[:2]
        extracted = dh.extract_features(m, x, grid, n_jobs=1)
        ctx = Context(key="test", manifests={"main": m, "xcorpus": x}, deps={}, device="cpu", threads=1)
        outs = [dh.run_task(t.config, ctx) for t in grid]
        again = dh.run_task(grid[0].config, ctx)
        torch.set_num_threads(threads)
    return m, grid, extracted, outs, again


def test_extract_features_names_every_condition(one_fit):
    _, _, extracted, _, _ = one_fit
    assert extracted.condition.tolist() == ["clean", "xcorpus clean", "noisy 10 dB", "noisy 0 dB", "speed0.9"]


def test_run_task_predicts_every_test_condition(one_fit):
    m, grid, _, (plain, _), _ = one_fit
    cfg = grid[0].config
    p = plain.predictions
    n_test, classes = len(cfg["split"]["test"]), cfg["settings"]["classes"]
    label = (p.test_condition + p.snr.map(lambda s: "" if pd.isna(s) else f" {s:g} dB")
             + p.part.map(lambda s: "" if pd.isna(s) else f" {s}"))
    assert label.value_counts().to_dict() == {"clean": n_test, "noisy 10 dB": n_test, "noisy 0 dB": n_test,
                                              "fgsm": n_test, "bim": n_test, "xcorpus select": 6, "xcorpus test": 10}
    post = p[[f"p_{c}" for c in classes]].to_numpy()
    np.testing.assert_allclose(post.sum(1), 1.0, atol=1e-5)
    assert (np.asarray(classes)[post.argmax(1)] == p.y_pred.to_numpy()).all()
    truth = m.set_index("utt_id").emotion
    assert (p.y_true.to_numpy() == truth[p.utt_id].to_numpy()).all()
    clean, fgsm = (p[p.test_condition == k][[f"p_{c}" for c in classes]].to_numpy() for k in ("clean", "fgsm"))
    assert np.abs(clean - fgsm).max() > 1e-4        # the attack changed the posteriors
    assert plain.meta["epochs"] == 1 and plain.meta["best_epoch"] == 1 and plain.meta["n_parameters"] > 0


def test_run_task_speed_perturbation_adds_training_segments(one_fit):
    _, grid, _, (plain, augmented), _ = one_fit
    assert grid[1].config["augmentation"] == "speed_perturbation+mixup"
    assert augmented.meta["train_segments"] >= 2 * plain.meta["train_segments"]


def test_run_task_is_deterministic(one_fit):
    _, _, _, (plain, _), again = one_fit
    pd.testing.assert_frame_equal(plain.predictions, again.predictions)


def test_run_task_refuses_utterances_of_another_corpus(grid_parts):
    m, proto, x, xparts = grid_parts
    st = dh.settings(_cfg(), sorted(m.emotion.unique()), ["kitchen"])
    cfg = dh.tasks(proto, m, st, models=["cnn"], aug_models=[], augmentations=[], seeds=[0])[0].config
    cfg["split"]["train"] = cfg["split"]["train"] + ["nowhere_001"]
    ctx = Context(key="k", manifests={"main": m}, deps={}, device="cpu", threads=1)
    with pytest.raises(KeyError, match="split train: 1 utt_id.*nowhere_001.*another corpus"):
        dh.run_task(cfg, ctx)


def _preds(model, aug, seed, fold, cond, snr, part, y_true, y_pred):
    return pd.DataFrame({"model": model, "augmentation": aug, "seed": seed, "fold": fold, "utt_id": [
        f"u{i}" for i in range(len(y_true))], "test_condition": cond, "snr": snr, "part": part,
        "y_true": y_true, "y_pred": y_pred})


def test_result_rows_score_each_condition_and_label_tables():
    yt = ["a", "a", "b", "b"]
    preds = pd.concat([
        _preds("proposed", "none", 0, "f1", "clean", None, None, yt, ["a", "a", "b", "a"]),
        _preds("proposed", "none", 0, "f1", "noisy", 10.0, None, yt, ["a", "b", "b", "a"]),
        _preds("proposed", "none", 0, "f1", "bim", None, None, yt, ["b", "b", "a", "a"]),
        _preds("proposed", "none", 0, "f1", "xcorpus", None, "test", yt, yt),
    ], ignore_index=True)
    rows = dh.result_rows(preds).set_index("test_condition", drop=False)
    assert set(rows.method) == {"Proposed"}
    assert rows.loc["noisy", "value"] == pytest.approx(0.5) and rows.loc["noisy", "table"] == "2"
    assert rows.loc["noisy", "noise_type"] == "DEMAND" and rows.loc["noisy", "snr"] == 10.0
    assert rows.loc["bim", "value"] == 0.0 and rows.loc["bim", "table"] == "3"
    clean = rows[rows.table == "1"].iloc[0]
    assert clean.value == pytest.approx(metrics.uar(yt, ["a", "a", "b", "a"])) and clean.corpus == "IEMOCAP"
    x = rows[rows.table == "4"].iloc[0]
    assert (x.test_condition, x.part, x.corpus, x.value) == ("clean", "test", "MSP-IMPROV", 1.0)


def test_xcorpus_choice_looks_at_the_selection_part_only():
    yt = ["a", "b"] * 3
    good, bad = yt, ["a"] * 6
    preds = pd.concat([
        _preds("cnn", "none", 0, "f1", "xcorpus", None, "select", yt, bad),
        _preds("cnn", "none", 0, "f1", "xcorpus", None, "test", yt, good),     # best on test: must not matter
        _preds("cnn", "mixup", 0, "f1", "xcorpus", None, "select", yt, good),
        _preds("cnn", "mixup", 0, "f1", "xcorpus", None, "test", yt, bad),
    ], ignore_index=True)
    assert dh.xcorpus_choice(dh.result_rows(preds)).to_dict() == {"CNN": "mixup"}
    with pytest.raises(ValueError, match="no cross-corpus selection rows"):
        dh.xcorpus_choice(dh.result_rows(preds[preds.part == "test"]))


def test_fit_summary_flags_fits_that_stopped_improving():
    class Out:
        def __init__(self, best, epochs):
            self.config = {"model": "cnn", "augmentation": "none", "seed": 0, "fold": "f"}
            self.meta, self.cached = {"best_epoch": best, "epochs": epochs}, False

    s = dh.fit_summary([Out(3, 7), Out(7, 7), None])
    assert s.ended_early.tolist() == [True, False]


def test_grid_runs_through_the_engine_and_is_cached(grid_parts, tmp_data):
    m, proto, x, xparts = grid_parts
    st = dh.settings(_cfg(snrs=[0]), sorted(m.emotion.unique()), ["kitchen"])
    grid = dh.tasks(proto, m, st, models=["cnn"], aug_models=[], augmentations=[], seeds=[0], xparts=xparts)[:1]
    dh.extract_features(m, x, grid, n_jobs=1)
    exp = Experiment("05_test", manifest={"main": m, "xcorpus": x}, workers=1, progress=False)
    first, = exp.run(grid)
    second, = exp.run([Task(dh.run_task, grid[0].config)])
    assert not first.cached and second.cached
    pd.testing.assert_frame_equal(first.predictions, second.predictions)
    assert dh.result_rows(first.predictions.assign(**{k: first.config[k] for k in ("model", "augmentation", "seed",
                                                                                   "fold")})).shape[0] == 6


def test_dry_run_caps_bim_and_batches_but_keeps_every_branch(grid_parts, monkeypatch):
    from serlib import profiles

    m, proto, _, xparts = grid_parts
    paper = dict(models=list(dh.MODELS), aug_models=["cnn_lstm", "densenet", "densenet_lstm", "proposed"],
                 augmentations=list(dh.AUGMENTATIONS[1:]), seeds=[0])
    full = dh.tasks(proto, m, dh.settings(_cfg(batch_size=32), ["a"], ["kitchen"]), **paper)
    monkeypatch.setenv(profiles.DRY_ENV, "1")
    st = dh.settings(_cfg(batch_size=32), ["a"], ["kitchen"])
    assert (st["bim_steps"], st["batch_size"]) == (profiles.DRY_BATCHES, dh.DRY_BATCH_SIZE)
    dry = dh.tasks(proto, m, st, **paper)
    runs = {(t.config["model"], t.config["augmentation"]) for t in dry}
    assert len(full) == 17 * len(proto.splits) and len(dry) == 8 * len(proto.splits)
    assert {k for k, _ in runs} == set(dh.MODELS) and {a for _, a in runs} == set(dh.AUGMENTATIONS)
    assert {k for k, a in runs if a != "none"} == {"proposed"}
    assert dh.settings(_cfg(batch_size=4), ["a"], ["kitchen"])["batch_size"] == 4     # a cap, never a raise
