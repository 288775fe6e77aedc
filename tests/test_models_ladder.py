"""Unit tests of paper 2's Dense, ladder (LN), decoupled ladder (DLN) and DLN+he models."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from serlib import training
from serlib.metrics import ccc
from serlib.models.ladder import (
    AMLP,
    Dense,
    DecoupledLadder,
    Ladder,
    ccc_loss,
    reconstruction_cost,
    semi_supervised_data,
    train_step,
)

D = 6373  # ComParE_2016
CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _build(kind: str, d: int = D, **kw):
    return {
        "dense": lambda: Dense(d),
        "ln": lambda: Ladder(d, **kw),
        "dln": lambda: DecoupledLadder(d, **kw),
        "dln_he": lambda: DecoupledLadder(d, he=True, **kw),
    }[kind]()


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _toy(n: int = 64, d: int = 48, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, :8].sum(1) / np.sqrt(8)).astype(np.float32)
    return X, y


# --------------------------------------------------------------------------- shapes
@pytest.mark.parametrize("kind", ["dense", "ln", "dln", "dln_he"])
def test_output_shapes_on_compare_sized_input(kind):
    torch.manual_seed(0)
    model = _build(kind)
    x = torch.randn(16, D)
    assert model(x).shape == (16,)
    model.eval()
    assert model(x).shape == (16,)
    with pytest.raises(ValueError, match=r"\(batch, 6373\)"):
        model(torch.randn(4, 10))


def test_reconstructed_layers_per_variant():
    torch.manual_seed(0)
    x = torch.randn(16, D)
    sizes = {}
    for kind in ("ln", "dln", "dln_he"):
        out = _build(kind).train().run(x)
        sizes[kind] = [r.shape[1] for r in out.reconstructions]
        assert len(out.layer_costs) == len(sizes[kind]) and out.recon_cost.ndim == 0
        assert out.y_noisy.shape == out.y_clean.shape == (16,)
    assert sizes["ln"] == [D, 256, 256, 1]  # every layer incl. the last hidden and the output
    assert sizes["dln"] == [D, 256, 128]  # reconstruction half only; no output
    assert sizes["dln_he"] == [D, 256, 256, 1]  # both halves + output
    counts = {k: _n_params(_build(k)) for k in ("dense", "ln", "dln", "dln_he")}
    print("\nparameters (d=6373):", {k: f"{v:,}" for k, v in counts.items()})
    assert counts["dense"] == (D * 256 + 256) + (256 * 256 + 256) + (256 + 1)


def test_dln_output_reads_only_the_emotion_half():
    torch.manual_seed(0)
    model = DecoupledLadder(32).eval()
    x = torch.randn(8, 32)
    before = model(x)
    with torch.no_grad():  # change only the weights that produce the reconstruction half
        model.W[1].weight[128:] += torch.randn(128, 256)
    torch.testing.assert_close(model(x), before)


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("kind", ["dense", "ln", "dln", "dln_he"])
def test_labeled_step_reaches_every_parameter(kind):
    torch.manual_seed(0)
    model = _build(kind, d=64).train()
    loss = train_step(model, ("labeled", (torch.randn(32, 64), torch.randn(32))), CPU)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    assert not missing, f"no gradient reached {missing}"


def test_unlabeled_step_dln_leaves_emotion_path_untouched():
    torch.manual_seed(0)
    model = DecoupledLadder(64).train()
    train_step(model, ("unlabeled", (torch.randn(32, 64),)), CPU).backward()

    def g(p):
        return 0.0 if p.grad is None else p.grad.abs().sum().item()

    # the output layer and the weights/bias making the emotion half learn nothing from reconstruction
    assert g(model.W[2].weight) == g(model.beta[2]) == g(model.gamma) == 0.0
    assert model.W[1].weight.grad[:128].abs().sum() == 0 and model.beta[1].grad[:128].abs().sum() == 0
    # ... while the reconstruction half, the first layer and the decoder do
    assert model.W[1].weight.grad[128:].abs().sum() > 0 and g(model.W[0].weight) > 0
    assert all(g(p) > 0 for p in model.V.parameters()) and all(g(p) > 0 for p in model.g.parameters())


def test_unlabeled_step_dln_he_reconstructs_the_emotion_half():
    torch.manual_seed(0)
    model = DecoupledLadder(64, he=True).train()
    train_step(model, {"x": torch.randn(32, 64)}, CPU).backward()
    assert model.W[1].weight.grad[:128].abs().sum() > 0


def test_dense_refuses_unlabeled_batches():
    with pytest.raises(ValueError, match="supervised"):
        train_step(Dense(16), ("unlabeled", (torch.randn(8, 16),)), CPU)


# --------------------------------------------------------------------------- determinism / learning
@pytest.mark.parametrize("kind", ["dense", "ln", "dln"])
def test_same_seed_same_weights_and_loss(kind):
    def once():
        torch.manual_seed(3)
        model = _build(kind, d=40)
        torch.manual_seed(4)
        batch = (torch.randn(16, 40), torch.randn(16))
        return model, train_step(model.train(), batch, CPU).item()

    (m1, l1), (m2, l2) = once(), once()
    assert l1 == l2
    assert all(torch.equal(a, b) for a, b in zip(m1.state_dict().values(), m2.state_dict().values()))


@pytest.mark.parametrize("kind", ["dense", "ln", "dln", "dln_he"])
def test_overfits_sixteen_examples(kind):
    torch.manual_seed(0)
    X, y = _toy(n=16, d=48)
    x, t = torch.from_numpy(X), torch.from_numpy(y)
    model = _build(kind, d=48).train()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = train_step(model, (x, t), CPU)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:3]), (losses[:3], losses[-5:])
    model.eval()
    with torch.no_grad():
        assert ccc(y, model(x).numpy()) > 0.5  # the clean path at eval time learned the labels


def test_unlabeled_steps_lower_the_reconstruction_cost():
    torch.manual_seed(0)
    model = Ladder(48).train()
    x = torch.randn(64, 48)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    first = None
    for _ in range(40):
        opt.zero_grad()
        loss = train_step(model, ("unlabeled", (x,)), CPU)
        first = loss.item() if first is None else first
        loss.backward()
        opt.step()
    assert loss.item() < 0.8 * first


# --------------------------------------------------------------------------- batch norm paths
def test_batch_norm_statistics_and_eval_independence():
    torch.manual_seed(0)
    model = Ladder(24).train()
    ref = copy.deepcopy(model)
    x = torch.randn(32, 24) * 3 + 1
    model.run(x)  # corrupted + clean pass + decoder
    ref(x)  # one clean pass only
    # the encoder's running statistics moved, exactly as after one clean pass: the corrupted path adds nothing
    for bn, bn_ref in zip(model.bn, ref.bn):
        assert not torch.equal(bn.running_mean, torch.zeros_like(bn.running_mean))
        torch.testing.assert_close(bn.running_mean, bn_ref.running_mean)
        torch.testing.assert_close(bn.running_var, bn_ref.running_var)
    model.eval()
    with torch.no_grad():  # eval: running statistics, so a sample's prediction ignores its batch-mates
        torch.testing.assert_close(model(x)[:4], model(x[:4]))
        assert torch.equal(model(x), model(x))


# --------------------------------------------------------------------------- losses and batches
def test_loss_helpers():
    y = torch.randn(10)
    y = y - y.mean()
    assert ccc_loss(y, y).item() == pytest.approx(0.0, abs=1e-6)
    assert ccc_loss(y.unsqueeze(1), y).item() == pytest.approx(0.0, abs=1e-6)
    assert ccc_loss(-y, y).item() == pytest.approx(2.0, abs=1e-5)
    r = [torch.zeros(4, 3), torch.ones(4, 2)]
    t = [torch.ones(4, 3), torch.ones(4, 2)]
    assert reconstruction_cost(r, t).item() == pytest.approx(1.0)
    assert reconstruction_cost(r, t, [2.0, 1.0]).item() == pytest.approx(2.0)
    with pytest.raises(ValueError, match="lambdas"):
        reconstruction_cost(r, t, [1.0])


def test_ladder_layer_costs_are_mse_with_unit_lambdas():
    torch.manual_seed(0)
    model = DecoupledLadder(20).train()
    out = model.run(torch.randn(16, 20))
    assert out.recon_cost.item() == pytest.approx(sum(c.item() for c in out.layer_costs), rel=1e-6)
    assert model.lambdas == [1.0, 1.0, 1.0]


def test_batch_formats_are_equivalent():
    torch.manual_seed(0)
    model = Ladder(12).eval()  # eval: no dropout, running statistics
    x, y = torch.randn(8, 12), torch.randn(8)
    losses = []
    for batch in [("labeled", (x, y)), {"x": x, "y": y}, (x, y), ["labeled", [x, y]]]:
        torch.manual_seed(1)
        losses.append(train_step(model, batch, CPU).item())
    assert len(set(losses)) == 1
    unl = []
    for batch in [("unlabeled", (x,)), {"x": x}, (x,), x, ("unlabeled", x)]:
        torch.manual_seed(1)
        unl.append(train_step(model, batch, CPU).item())
    assert len(set(unl)) == 1 and unl[0] < losses[0] + 10
    with pytest.raises(ValueError, match="holds no targets"):
        train_step(model, ("labeled", (x,)), CPU)
    with pytest.raises(ValueError, match="neither"):
        train_step(model, ("target", (x,)), CPU)


def test_semi_supervised_data_refuses_missing_unlabeled_and_trains_with_fit():
    X, y = _toy(n=48, d=24)
    with pytest.raises(ValueError, match="no unlabeled data"):
        semi_supervised_data((X, y), None)
    with pytest.raises(ValueError, match="no unlabeled data"):
        semi_supervised_data((X, y), np.zeros((0, 24)))
    data = semi_supervised_data((X[:32], y[:32]), X[32:] + 1.0, batch_size=8)
    tags = [tag for tag, _ in data]
    assert tags[:4] == ["labeled", "unlabeled", "labeled", "unlabeled"] and len(tags) == 8
    torch.manual_seed(0)
    res = training.fit(DecoupledLadder(24), data, (X[32:], y[32:]), train_step=train_step, val_metric="ccc",
                       epochs=2, lr=1e-3, progress=False)
    assert len(res.history) == 2 and np.isfinite(res.history["val_metric"]).all()


# --------------------------------------------------------------------------- Figure 3 probes
def test_figure3_probes():
    torch.manual_seed(0)
    X, y = _toy(n=80, d=24)
    model = DecoupledLadder(24).train()
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for i in range(20):
        opt.zero_grad()
        train_step(model, (torch.from_numpy(X[:64]), torch.from_numpy(y[:64])), CPU).backward()
        opt.step()
    emb = model.embeddings(X)
    assert emb["emotion"].shape == (80, 128) and emb["reconstruction"].shape == (80, 128)
    assert (emb["emotion"] >= 0).all()  # ReLU embeddings
    # (a) literal: the trained output layer fed the emotion embedding is the model's own prediction
    model.eval()
    with torch.no_grad():
        np.testing.assert_allclose(model.predict_from(X, "emotion"), model(torch.from_numpy(X)).numpy(), rtol=1e-5,
                                   atol=1e-6)
    assert model.predict_from(X, "reconstruction").shape == (80,)
    # (a) probe: a fresh linear head on a frozen embedding
    probe = model.fit_probe(X[:64], y[:64], "emotion")
    assert probe.predict(X[64:]).shape == (16,)
    assert ccc(y[:64], probe.predict(X[:64])) > 0.5
    # (b) input reconstruction MSE with either embedding at the decoder top: deterministic, no side effects
    state = {k: v.clone() for k, v in model.state_dict().items()}
    mse_r = model.input_reconstruction_mse(X, "reconstruction", batch_size=32)
    mse_e = model.input_reconstruction_mse(X, "emotion", batch_size=32)
    assert np.isfinite([mse_r, mse_e]).all() and mse_r != mse_e
    assert mse_r == model.input_reconstruction_mse(X, "reconstruction", batch_size=32)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    with pytest.raises(ValueError, match="decoupled"):
        Ladder(24).embeddings(X)
    with pytest.raises(ValueError, match="'emotion' or 'reconstruction'"):
        model.fit_probe(X, y, "both")


def test_amlp_is_per_unit():
    torch.manual_seed(0)
    g = AMLP(5)
    z, u = torch.randn(7, 5), torch.randn(7, 5)
    out = g(z, u)
    assert out.shape == (7, 5)
    z2 = z.clone()
    z2[:, 2] += 1.0  # changing unit 2's inputs changes only unit 2's output
    changed = (g(z2, u) - out).abs().sum(0) > 0
    assert changed.tolist() == [False, False, True, False, False]
    assert sum(p.numel() for p in g.parameters()) == 5 * (3 * 4 + 4 + 4 + 1)


def test_constructor_validation():
    with pytest.raises(ValueError, match="needs decoupled"):
        Ladder(10, reconstruct_emotion=True)
    with pytest.raises(ValueError, match="emotion_units"):
        DecoupledLadder(10, emotion_units=256)
    with pytest.raises(ValueError, match="lambdas"):
        Ladder(10, lambdas=[1.0])


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("kind", ["dense", "ln", "dln", "dln_he"])
def test_trains_on_cuda_with_amp(kind):
    X, y = _toy(n=96, d=64)
    torch.manual_seed(0)
    model = _build(kind, d=64)
    data = (X[:64], y[:64]) if kind == "dense" else semi_supervised_data((X[:64], y[:64]), X[64:], batch_size=16)
    res = training.fit(model, data, (X[64:], y[64:]), train_step=train_step, val_metric="ccc", epochs=2,
                       batch_size=16, device="cuda", progress=False)
    assert np.isfinite(res.history["train_loss"]).all()
    if kind == "dln":
        assert np.isfinite(model.input_reconstruction_mse(X, "emotion", batch_size=32))
        assert model.predict_from(X, "reconstruction").shape == (96,)


# --------------------------------------------------------------------------- a last batch of one item
def test_dense_trains_when_the_last_batch_would_hold_one_item():
    """1 - CCC needs 2 items: with batch*k+1 training items the lone last item is dropped, not crashed on."""
    from serlib.models.ladder import supervised_data, train_model

    batch, k = 8, 3
    X, y = _toy(n=batch * k + 1 + 16, d=24)
    Xtr, ytr, Xdev, ydev = X[:batch * k + 1], y[:batch * k + 1], X[batch * k + 1:], y[batch * k + 1:]
    with pytest.raises(ValueError, match="at least 2 items"):  # the defect: a batch of one item
        ccc_loss(torch.tensor([0.5]), torch.tensor([0.1]))
    res = train_model("Dense", Xtr, ytr, Xdev, ydev, epochs=2, lr=1e-3, batch_size=batch, seed=0)
    assert len(res.history) == 2 and np.isfinite(res.history["train_loss"]).all()
    sizes = [len(b[1]) for b in supervised_data(Xtr, ytr, batch_size=batch, seed=0)]
    assert sizes == [batch] * k  # the lone 25th item is left out of this epoch
    assert [len(b[1]) for b in supervised_data(X[:batch * k + 2], y[:batch * k + 2], batch_size=batch)] == \
        [batch] * k + [2]  # a last batch of 2 is kept
    with pytest.raises(ValueError, match="at least 2"):
        supervised_data(X[:1], y[:1])
