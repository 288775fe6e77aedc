"""serlib.training.fit / predict on a tiny synthetic 3-class problem (CPU, seconds)."""

from __future__ import annotations

import inspect
import time

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from serlib import metrics as M
from serlib import training as T


def blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian classes in 8-d, separable but not trivially (about 80-90 % reachable)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    X = rng.normal(size=(n, 8)).astype(np.float32)
    X[:, :3] += 1.5 * np.eye(3, dtype=np.float32)[y]
    return X, y


pytestmark = pytest.mark.usefixtures("one_torch_thread")


TRAIN = blobs(240, 0)
VAL = blobs(90, 1)


def make_model(seed: int = 0, dropout: float = 0.0) -> nn.Module:
    T.seed_everything(seed)
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 3))


def scripted(scores, snapshots=None):
    """A (model) -> float validation metric returning fixed scores, optionally saving weights."""
    it = iter(scores)

    def metric(model):
        if snapshots is not None:
            snapshots.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return next(it)

    return metric


def run(model=None, **kw):
    train, val = kw.pop("train", TRAIN), kw.pop("val", VAL)
    args = dict(loss_fn=F.cross_entropy, val_metric=M.uar, epochs=8, lr=1e-2, progress=False)
    args.update(kw)
    return T.fit(model if model is not None else make_model(), train, val, **args)


# --------------------------------------------------------------------------- learning
def test_loss_falls_and_validation_is_above_chance():
    t0 = time.perf_counter()
    res = run()
    wall = time.perf_counter() - t0
    h = res.history
    assert list(h.columns) == ["epoch", "train_loss", "val_metric", "val_loss", "lr", "seconds", "best"]
    assert list(h["epoch"]) == list(range(1, 9))
    assert h["train_loss"].iloc[-1] < 0.7 * h["train_loss"].iloc[0]
    assert h["val_loss"].iloc[-1] < h["val_loss"].iloc[0]
    assert res.best_score > 0.6  # chance is 1/3
    assert res.best_score == pytest.approx(h["val_metric"].max())
    assert res.device == "cpu" and res.precision == "fp32"
    # timings: seconds, not ms or a start time; the total covers every epoch and no more than the call
    assert isinstance(res.seconds, float) and h["seconds"].dtype == np.float64 and (h["seconds"] > 0).all()
    assert h["seconds"].sum() <= res.seconds <= wall
    assert not res.model.training  # returned in eval mode


def test_metric_by_name_and_loss_as_metric():
    res = run(val_metric="uar", epochs=3)
    assert res.best_score == pytest.approx(res.history["val_metric"].max())
    res = run(val_metric="loss", epochs=4)  # mode defaults to "min"
    h = res.history
    assert res.best_score == pytest.approx(h["val_loss"].min())
    assert (h["val_metric"] == h["val_loss"]).all()


# --------------------------------------------------------------------------- early stopping / LR
def test_early_stopping_triggers_after_patience_bad_epochs():
    res = run(val_metric=scripted([0.5, 0.7, 0.6, 0.65, 0.69, 0.9, 0.9]), epochs=7, patience=3, lr_patience=None)
    assert res.stopped_early
    assert len(res.history) == 5  # epochs 3, 4, 5 without improvement on 0.7
    assert res.best_epoch == 2 and res.best_score == pytest.approx(0.7)
    assert list(res.history["best"]) == [True, True, False, False, False]


def test_min_mode_early_stopping():
    res = run(val_metric=scripted([3.0, 2.0, 2.5, 1.0, 1.5, 1.6]), mode="min", epochs=6, patience=2)
    assert res.best_epoch == 4 and len(res.history) == 6 and not res.stopped_early


def test_lr_halves_on_plateau_down_to_min_lr():
    res = run(val_metric=scripted([0.5] * 10), epochs=10, lr=1e-2, patience=None, lr_patience=2, min_lr=2e-3)
    lrs = res.history["lr"].to_numpy()
    expected = [1e-2] * 3 + [5e-3] * 2 + [2.5e-3] * 2 + [2e-3] * 3
    np.testing.assert_allclose(lrs, expected)
    assert not res.stopped_early and len(res.history) == 10


def test_improvement_resets_the_lr_plateau_counter():
    res = run(val_metric=scripted([0.5, 0.4, 0.6, 0.5, 0.7, 0.6, 0.5]), epochs=7, patience=None, lr_patience=2)
    # never two bad epochs in a row before epoch 7 -> the LR halves only after epoch 7
    np.testing.assert_allclose(res.history["lr"].to_numpy(), [1e-2] * 7)


def test_best_weights_are_restored_not_the_last():
    snaps: list = []
    res = run(val_metric=scripted([0.2, 0.5, 0.9, 0.4, 0.3, 0.1], snaps), epochs=6, patience=None)
    assert res.best_epoch == 3
    final = res.model.state_dict()
    for k in final:
        torch.testing.assert_close(final[k], snaps[2][k])
    assert any(not torch.equal(final[k], snaps[-1][k]) for k in final)


def test_nan_validation_score_never_counts_as_best():
    with pytest.warns(RuntimeWarning, match="NaN at epoch 2"):
        res = run(val_metric=scripted([0.3, float("nan"), 0.2]), epochs=3, patience=None)
    assert res.best_epoch == 1


# --------------------------------------------------------------------------- determinism
def test_same_seed_same_result_other_seed_differs():
    a = run(make_model(0, dropout=0.3), epochs=3, seed=5, batch_size=16)
    b = run(make_model(0, dropout=0.3), epochs=3, seed=5, batch_size=16)
    c = run(make_model(0, dropout=0.3), epochs=3, seed=6, batch_size=16)
    np.testing.assert_array_equal(a.history["train_loss"], b.history["train_loss"])
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k])
    assert not np.array_equal(a.history["train_loss"], c.history["train_loss"])


# --------------------------------------------------------------------------- hooks and data forms
def test_custom_train_step_with_interleaved_labelled_and_unlabelled_batches():
    X, y = TRAIN
    labelled = DataLoader(TensorDataset(torch.tensor(X), torch.tensor(y)), batch_size=32, shuffle=True)
    unlabelled = [(torch.tensor(X[i : i + 50]),) for i in range(0, 150, 50)]  # 3 batches, cycled
    seen = {"labelled": 0, "unlabelled": 0}

    def step(model, batch, device):
        name, b = batch
        seen[name] += 1
        assert b[0].device.type == device.type
        if name == "labelled":
            return F.cross_entropy(model(b[0]), b[1])
        p = model(b[0]).softmax(-1)  # entropy minimisation on unlabelled data
        return 0.1 * -(p * p.clamp_min(1e-8).log()).sum(-1).mean()

    data = T.Interleave(labelled=labelled, unlabelled=unlabelled)
    assert len(data) == 2 * len(labelled)
    res = T.fit(make_model(), data, VAL, train_step=step, val_metric=M.uar, epochs=4, lr=1e-2, progress=False)
    assert seen["labelled"] == seen["unlabelled"] == 4 * len(labelled)
    assert res.best_score > 0.6


def test_custom_predict_fn_and_multi_input_batches():
    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 3), nn.Linear(4, 3)

        def forward(self, xa, xb):
            return self.a(xa) + self.b(xb)

    X, y = TRAIN
    Xv, yv = VAL
    T.seed_everything(0)
    res = T.fit(TwoInputs(), (X[:, :4], X[:, 4:], y), (Xv[:, :4], Xv[:, 4:], yv), loss_fn=F.cross_entropy,
                val_metric=M.war, epochs=4, lr=1e-2, progress=False)
    assert res.best_score > 0.65  # chance 1/3; 0.37 with shuffled training labels, 0.76 with the true ones
    calls = []

    def predict_fn(model, batch, device):
        calls.append(1)
        xa, xb, target = batch
        return target, model(xa, xb).argmax(-1)

    res2 = T.fit(TwoInputs(), (X[:, :4], X[:, 4:], y), (Xv[:, :4], Xv[:, 4:], yv), loss_fn=F.cross_entropy,
                 val_metric=M.war, predict_fn=predict_fn, epochs=2, progress=False)
    assert calls and res2.history["val_loss"].isna().all()
    out = T.predict(res.model, (Xv[:, :4], Xv[:, 4:], yv))
    assert out.shape == (90, 3)


def test_regression_with_ccc():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5)).astype(np.float32)
    y = (X[:, 0] - 0.5 * X[:, 1]).astype(np.float32)
    T.seed_everything(0)
    model = nn.Sequential(nn.Linear(5, 1))
    res = T.fit(model, (X[:150], y[:150, None]), (X[150:], y[150:, None]), loss_fn=M.ccc_loss, val_metric=M.ccc,
                epochs=20, lr=5e-2, progress=False)
    assert res.best_score > 0.9


def test_dataset_and_dataloader_inputs():
    """Both data forms learn (UAR well above chance = 1/3); labels shuffled, the same runs stay below
    the threshold (negative control: the threshold is not reachable without learning the labels)."""
    X, y = TRAIN
    val = TensorDataset(*map(torch.tensor, VAL))

    def both(labels):
        ds = TensorDataset(torch.tensor(X), torch.tensor(labels))
        kw = dict(loss_fn=F.cross_entropy, val_metric=M.uar, epochs=4, lr=1e-2, progress=False)
        r1 = T.fit(make_model(), ds, DataLoader(val, batch_size=64), **kw)
        r2 = T.fit(make_model(), DataLoader(ds, batch_size=32), list(DataLoader(val)), **kw)
        return r1.best_score, r2.best_score

    assert min(both(y)) > 0.65                                           # measured 0.79, 0.80
    assert max(both(np.random.default_rng(0).permutation(y))) < 0.65      # measured 0.51, 0.46


def test_progress_bar_shows_epochs_and_scores_only_when_asked(capsys):
    res = run(epochs=2, progress=True)
    err = capsys.readouterr().err
    assert "epoch" in err and f"best={res.best_score:.4f}" in err
    run(epochs=2, progress=False)
    assert capsys.readouterr() == ("", "")


# --------------------------------------------------------------------------- bad input
def test_empty_validation_data_is_refused():
    X, y = VAL
    with pytest.raises(ValueError, match="val_data is empty"):
        run(val=(X[:0], y[:0]))
    with pytest.raises(ValueError, match="val_data yielded no batches"):
        run(val=[])


def test_mismatched_validation_arrays_name_both_lengths():
    X, y = VAL
    with pytest.raises(ValueError, match=r"val_data: the arrays differ in length \[90, 89\]"):
        run(val=(X, y[:-1]))


def test_predict_fn_with_mismatched_lengths_is_refused():
    def bad(model, batch, device):
        x, target = batch
        return target, model(x).argmax(-1)[:-1]

    with pytest.raises(ValueError, match="predictions for .* targets|len\\(y_true\\)=\\d+, len\\(y_pred\\)=\\d+"):
        run(predict_fn=bad, epochs=1)


def test_one_shot_generator_is_refused():
    X, y = TRAIN
    gen = ((torch.tensor(X[i : i + 32]), torch.tensor(y[i : i + 32])) for i in range(0, 240, 32))
    with pytest.raises(TypeError, match="one-shot iterator"):
        run(train=gen)


def test_nan_loss_stops_with_a_clear_error():
    X, y = TRAIN
    Xn = X.copy()
    Xn[5, 0] = np.nan
    with pytest.raises(FloatingPointError, match="training loss is nan at epoch 1"):
        run(train=(Xn, y), batch_size=240)


def test_argument_errors():
    with pytest.raises(ValueError, match="pass loss_fn"):
        run(loss_fn=None)
    with pytest.raises(ValueError, match="val_data is required"):
        T.fit(make_model(), TRAIN, None, loss_fn=F.cross_entropy, val_metric=M.uar, epochs=1, progress=False)
    with pytest.raises(ValueError, match="unknown metric"):
        run(val_metric="auc")
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        run(epochs=0)
    with pytest.raises(TypeError, match="batches \\(inputs..., target\\)"):
        run(train=[torch.tensor(TRAIN[0])])


def test_model_returning_a_tuple_needs_predict_fn():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(8, 3)

        def forward(self, x):
            return self.lin(x), x

    def step(model, batch, device):
        return F.cross_entropy(model(batch[0])[0], batch[1])

    with pytest.raises(TypeError, match="returned tuple, not a tensor"):
        T.fit(Two(), TRAIN, VAL, train_step=step, val_metric=M.uar, epochs=1, progress=False)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when no GPU is present")
def test_cuda_request_without_gpu_is_explained():
    with pytest.raises(RuntimeError, match="sees no CUDA GPU"):
        run(device="cuda")


def test_fit_has_no_test_argument():
    assert not any("test" in p for p in inspect.signature(T.fit).parameters)


# --------------------------------------------------------------------------- predict
def test_predict_eval_mode_no_grad_and_input_forms():
    model = make_model(dropout=0.5)
    X, y = VAL
    model.train()
    a = T.predict(model, X, batch_size=7)
    b = T.predict(model, torch.tensor(X))
    c = T.predict(model, (X, y))  # the target is dropped
    d = T.predict(model, TensorDataset(torch.tensor(X)), forward=lambda m, batch: m(batch[0]))
    assert a.shape == (90, 3) and a.dtype == np.float32
    # batches of 7 vs the default: a matrix product over another batch size may round otherwise (seen: 4.5e-8 on
    # outputs near 0.01, a relative 9e-5 on the smallest), so the check is absolute as well as relative
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(a, c, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(a, d, rtol=1e-6, atol=1e-6)
    assert not model.training
    with pytest.raises(ValueError, match="empty"):
        T.predict(model, X[:0])


def test_to_device_is_recursive():
    batch = {"x": torch.zeros(2), "meta": ["a", (torch.ones(1), 3)]}
    moved = T.to_device(batch, torch.device("cpu"))
    assert moved["meta"][0] == "a" and moved["meta"][1][1] == 3 and torch.equal(moved["x"], batch["x"])


# --------------------------------------------------------------------------- GPU-safe training, dry runs (issue 18)
class _Recurrent(nn.Module):
    """Linear -> LSTM -> GRUCell -> Linear, recording the dtype each stage returns."""

    def __init__(self) -> None:
        super().__init__()
        self.inp, self.lstm = nn.Linear(8, 8), nn.LSTM(8, 6, batch_first=True)
        self.cell, self.out = nn.GRUCell(6, 6), nn.Linear(6, 3)
        self.dtypes: dict[str, torch.dtype] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        seq, _ = self.lstm(h, (torch.zeros(1, len(x), 6), torch.zeros(1, len(x), 6)))
        c = self.cell(seq[:, -1])
        y = self.out(c)
        self.dtypes = {"inp": h.dtype, "lstm": seq.dtype, "cell": c.dtype, "out": y.dtype}
        return y


def test_recurrent_layers_run_in_float32_under_cpu_bf16_autocast():
    torch.manual_seed(0)
    x = torch.randn(4, 5, 8)
    lstm = nn.LSTM(8, 6, batch_first=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the defect: autocast runs an LSTM in reduced precision
        assert lstm(nn.Linear(8, 8)(x))[0].dtype == torch.bfloat16
    model = _Recurrent()
    assert T.fp32_recurrent(T.fp32_recurrent(model)) is model
    assert len(model.lstm._forward_pre_hooks) == 1  # idempotent
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(x)
        assert torch.is_autocast_enabled("cpu")  # restored after each recurrent layer
    assert model.dtypes == {"inp": torch.bfloat16, "lstm": torch.float32, "cell": torch.float32, "out": torch.bfloat16}
    y.float().sum().backward()
    assert model.lstm.weight_hh_l0.grad.dtype == torch.float32 and torch.isfinite(model.lstm.weight_hh_l0.grad).all()
    with torch.autocast("cpu", dtype=torch.bfloat16):  # a forward that raises leaves the caller's autocast on
        with pytest.raises(RuntimeError):
            model.lstm(torch.randn(4, 5, 7))
        assert torch.is_autocast_enabled("cpu") and model.lstm._fp32_regions == []
    y32 = model(x)  # outside autocast nothing changes
    assert model.dtypes["inp"] == torch.float32 and y32.dtype == torch.float32


def test_fit_stops_every_epoch_after_two_batches_in_a_dry_run(monkeypatch):
    from serlib import profiles

    calls = []

    def step(model, batch, device):
        calls.append(len(batch[0]))
        return F.cross_entropy(model(batch[0]), batch[1])

    monkeypatch.setenv(profiles.DRY_ENV, "1")
    res = run(train_step=step, epochs=3, batch_size=24, patience=None)  # 240 items = 10 batches per epoch
    assert len(calls) == 3 * profiles.DRY_BATCHES and res.dry and len(res.history) == 3
    monkeypatch.delenv(profiles.DRY_ENV)
    calls.clear()
    res = run(train_step=step, epochs=1, batch_size=24)
    assert len(calls) == 10 and not res.dry


@pytest.fixture
def restore_torch_state(monkeypatch):
    monkeypatch.delenv(T.DETERMINISTIC_ENV, raising=False)
    before = (torch.get_num_threads(), torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    yield
    torch.set_num_threads(before[0])
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[1:]


def test_deterministic_knob_by_device_env_and_argument(restore_torch_state, monkeypatch):
    assert T.deterministic_for("cpu") is True
    assert T.deterministic_for("cpu", False) is False
    assert T.seed_everything(0, deterministic=False) is False
    assert not torch.backends.cudnn.deterministic and torch.backends.cudnn.benchmark  # fastest kernels
    assert T.seed_everything(0, device="cpu") is True
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
    monkeypatch.setenv(T.DETERMINISTIC_ENV, "0")
    assert T.deterministic_for("cpu") is False and run(epochs=1).deterministic is False
    assert run(epochs=1, deterministic=True).deterministic is True  # the argument wins
    monkeypatch.setenv(T.DETERMINISTIC_ENV, "yes")
    with pytest.raises(ValueError, match="SERLIB_DETERMINISTIC"):
        T.deterministic_for("cpu")


def test_configure_caps_threads_on_cpu_and_sets_the_process_default(restore_torch_state):
    torch.set_num_threads(2)
    got = T.configure("cpu", threads=1, deterministic=False)
    assert got == {"device": "cpu", "threads": 1, "deterministic": False} and torch.get_num_threads() == 1
    assert T.configure("cpu", threads=4)["threads"] == 1  # never raises the count
    import os

    assert T.DETERMINISTIC_ENV not in os.environ  # deterministic=None: by device again
    assert T.run_flags("cpu") == {"dry": False, "deterministic": True}
    with pytest.raises(ValueError, match="threads"):
        T.configure("cpu", threads=0)


def test_fit_on_cpu_leaves_recurrent_layers_alone():
    """AMP is CUDA-only: a CPU fit neither autocasts nor hooks the LSTM (the CUDA case: tests/test_gpu.py)."""
    model = _Recurrent()
    res = run(model, epochs=1, amp=True, train=(TRAIN[0][:, None, :].repeat(5, 1), TRAIN[1]),
              val=(VAL[0][:, None, :].repeat(5, 1), VAL[1]))
    assert res.precision == "fp32" and not hasattr(model.lstm, "_fp32_regions")


def test_fit_with_autocast_hooks_the_recurrent_layers(monkeypatch):
    """fit's AMP path, with CPU bf16 autocast standing in for CUDA's: the LSTM trains in float32."""
    init = T._Precision.__init__

    def bf16_on_cpu(self, device, enabled):
        init(self, device, enabled)
        self.dtype = torch.bfloat16 if enabled else None

    monkeypatch.setattr(T._Precision, "__init__", bf16_on_cpu)
    model = _Recurrent()
    res = run(model, epochs=1, train=(TRAIN[0][:, None, :].repeat(5, 1), TRAIN[1]),
              val=(VAL[0][:, None, :].repeat(5, 1), VAL[1]))
    assert res.precision == "bf16" and model.dtypes["lstm"] == torch.float32 and model.dtypes["inp"] == torch.bfloat16
    assert np.isfinite(res.history.train_loss).all()
