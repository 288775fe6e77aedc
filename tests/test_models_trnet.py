"""Tests of serlib.models.trnet (paper 3: TRNet, its SER module and the ablation flags)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from serlib.models import trnet
from serlib.models.trnet import (
    FiLMBridge,
    SERNet,
    SNRAwareModule,
    TRNet,
    TripletDataset,
    count_parameters,
    fix_length,
    make_trnet,
    predict_fn,
    train_step,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


SMALL = dict(channels=(8, 16, 16, 32), h_dim=32)  # CPU-sized SER module for the training tests


def _batch(n: int = 4, t: int = 60, f: int = 80, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    clean = torch.randn(n, t, f, generator=g) - 5.0  # log-mel-like offset
    noise = torch.randn(n, t, f, generator=g)
    return dict(noisy=clean + noise, enhanced=clean + 0.3 * noise, clean=clean,
                y=torch.arange(n) % 4)


# --------------------------------------------------------------------------- SER module
def _expected_sernet_params(n_mels=80, channels=(32, 64, 128, 256), k=5, deltas=True, h_dim=256, n_classes=4):
    """Parameter count of the documented architecture, written out independently of the code."""
    c_in = 3 if deltas else 1
    total = 2 * c_in * n_mels  # input BatchNorm (weight + bias per channel x bin)
    prev = c_in
    for c in channels:
        total += prev * c * k * k + 2 * c  # conv1 + bn1
        total += c * c * k * k + 2 * c  # conv2 + bn2
        total += prev * c + 2 * c  # 1x1 projection shortcut + bn
        prev = c
    total += 2 * (prev * h_dim + h_dim)  # attention logits + values (1x1 convs)
    total += h_dim * (h_dim // 2) + h_dim // 2 + (h_dim // 2) * n_classes + n_classes  # classifier
    return total


def test_sernet_shapes_and_parameter_count_at_paper_size():
    torch.manual_seed(0)
    net = SERNet().eval()
    n_params = count_parameters(net)
    print(f"SERNet (paper size, deltas): {n_params:,} parameters")
    assert n_params == _expected_sernet_params()
    x = torch.randn(1, trnet.N_FRAMES, trnet.N_MELS)  # one paper-size input: the downsampling below
    with torch.no_grad():
        z = net.encoder(net.features(x))
        h = net.pool(z.mean(dim=3))
        logits = net.classify(h)
    assert z.shape == (1, 256, 32, 5)  # 500x80 -> 250x40 -> 125x20 -> 63x10 -> 32x5
    assert logits.shape == (1, 4) and h.shape == (1, 256)
    assert torch.isfinite(logits).all()
    assert count_parameters(SERNet(deltas=False)) == _expected_sernet_params(deltas=False)


def test_sernet_accepts_other_lengths_and_rejects_bad_shapes():
    net = SERNet(**SMALL).eval()
    with torch.no_grad():
        assert net(torch.randn(3, 37, 80)).shape == (3, 4)
        assert net(torch.randn(1, 1, 80)).shape == (1, 4)
    with pytest.raises(ValueError, match=r"frames and mel bins swapped"):
        net(torch.randn(2, 80, 500))
    with pytest.raises(ValueError, match=r"\(batch, frames, 80\)"):
        net(torch.randn(500, 80))
    with pytest.raises(ValueError, match="kernel_size must be odd"):
        SERNet(kernel_size=4)


def test_sernet_deltas_channels_are_the_torchaudio_deltas():
    net = SERNet(**SMALL)
    net.input_bn.eval()  # fresh running stats (mean 0, var 1): features() = its stacked input
    x = torch.randn(2, 20, 80)
    z = net.features(x)
    assert z.shape == (2, 3, 20, 80)
    from torchaudio.functional import compute_deltas

    d1 = compute_deltas(x.transpose(1, 2)).transpose(1, 2)
    eps = net.input_bn.eps
    torch.testing.assert_close(z[:, 0], x / np.sqrt(1 + eps))
    torch.testing.assert_close(z[:, 1], d1 / np.sqrt(1 + eps))


def test_sernet_is_deterministic_under_a_seed():
    x = torch.randn(2, 50, 80)
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        net = SERNet(**SMALL).eval()
        with torch.no_grad():
            outs.append(net(x))
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)
    torch.manual_seed(124)
    assert not torch.equal(SERNet(**SMALL).eval()(x), outs[0])


def test_sernet_overfits_a_tiny_set():
    torch.manual_seed(0)
    net = SERNet(**SMALL)
    x, y = torch.randn(16, 24, 80), torch.arange(16) % 4
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    first = None
    for _ in range(30):
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    net.eval()
    with torch.no_grad():
        acc = (net(x).argmax(-1) == y).float().mean().item()
    assert loss.item() < 0.3 * first, (first, loss.item())
    assert acc >= 0.9


# --------------------------------------------------------------------------- SNR-aware module and bridge
def test_snr_module_matches_equations_1_to_4():
    mod = SNRAwareModule(80)
    b = _batch(3, t=25)
    x_tilde, c, d = mod(b["noisy"], b["enhanced"])
    xn, xe = b["noisy"].numpy().astype(np.float64), b["enhanced"].numpy().astype(np.float64)
    manual = (xn * xe).sum(1) / (np.linalg.norm(xn, axis=1) * np.linalg.norm(xe, axis=1))  # per bin, over time
    assert d.shape == (3, 80)
    np.testing.assert_allclose(d.detach().numpy(), manual, rtol=1e-5)
    np.testing.assert_allclose(c.detach().numpy(), 0.5)  # documented start: c = 0.5
    with torch.no_grad():
        mod.fc.weight.normal_()
        mod.fc.bias.zero_()
        x_tilde, c, d = mod(b["noisy"], b["enhanced"])
        raw = (d @ mod.fc.weight.T + mod.fc.bias).squeeze(-1)
        torch.testing.assert_close(c, raw.clamp(0, 1))
        w = c[:, None, None]
        torch.testing.assert_close(x_tilde, w * b["noisy"] + (1 - w) * b["enhanced"])
        mod.fc.bias.fill_(100.0)  # Hardtanh saturates: c = 1 -> X~ = X
        x_tilde, c, _ = mod(b["noisy"], b["enhanced"])
        assert torch.all(c == 1) and torch.equal(x_tilde, b["noisy"])
        mod.fc.bias.fill_(-100.0)  # c = 0 -> X~ = X_e
        x_tilde, c, _ = mod(b["noisy"], b["enhanced"])
        assert torch.all(c == 0) and torch.equal(x_tilde, b["enhanced"])
    with pytest.raises(ValueError, match="differ in shape"):
        mod(b["noisy"], b["enhanced"][:, :-1])


def test_film_bridge_starts_at_identity_and_follows_equation_6():
    film = FiLMBridge(16)
    h, c = torch.randn(5, 16), torch.rand(5)
    torch.testing.assert_close(film(h, c), h)
    with torch.no_grad():
        for p in film.parameters():
            p.normal_()
    expected = (c[:, None] * film.scale.weight.T + film.scale.bias) * h + (c[:, None] * film.shift.weight.T + film.shift.bias)
    torch.testing.assert_close(film(h, c), expected)


# --------------------------------------------------------------------------- TRNet
def test_trnet_forward_outputs_and_paper_size_parameter_count():
    torch.manual_seed(0)
    teacher = SERNet()
    model = make_trnet("trnet", teacher)
    extra = 80 + 1 + 2 * (256 + 256)  # SNR Linear(80->1) + FiLM Linear(1->256) x 2
    n_train = count_parameters(model)
    print(f"TRNet (paper size): {n_train:,} trainable, {count_parameters(model, False):,} with the frozen teacher")
    assert n_train == count_parameters(teacher) + extra
    assert count_parameters(model, trainable_only=False) == 2 * count_parameters(teacher) + extra
    b = _batch(2, t=40)  # paper-size model, short clips: the output shapes do not need 500 frames
    model.eval()
    with torch.no_grad():
        out = model(b["noisy"], b["enhanced"], return_all=True)
        logits = model(b["noisy"], b["enhanced"])
    assert out.logits.shape == (2, 4) and out.c.shape == (2,) and out.x_tilde.shape == (2, 40, 80)
    assert out.h.shape == out.h_tilde.shape == (2, 256)
    torch.testing.assert_close(logits, out.logits)
    assert torch.all((out.c >= 0) & (out.c <= 1))


def test_trnet_gradients_reach_every_trainable_parameter_and_never_the_teacher():
    torch.manual_seed(0)
    teacher = SERNet()  # paper-size architecture, shorter clips to stay fast
    model = make_trnet("trnet", teacher).train()
    assert not model.teacher.training and model.student.training
    teacher_before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    terms = model.loss_terms(_batch(2, t=32))
    torch.testing.assert_close(terms["loss"].detach(), terms["task"] + 0.5 * terms["low"] + 0.5 * terms["high"])
    terms["loss"].backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and (p.grad is None or p.grad.abs().sum() == 0)]
    assert not missing, f"no gradient reaches {missing}"
    assert all(p.grad is None and not p.requires_grad for p in model.teacher.parameters())
    # BatchNorm running statistics of the teacher did not move in the training-mode forward pass
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, teacher_before[k]), k
    # the caller's Baseline-c was copied, not frozen in place
    assert all(p.requires_grad for p in teacher.parameters()) and model.teacher is not teacher


def test_teacher_weights_do_not_change_when_training_with_fit():
    from serlib.training import fit

    torch.manual_seed(0)
    model = make_trnet("trnet", SERNet(**SMALL))
    teacher_before = {k: v.clone() for k, v in model.teacher.state_dict().items()}
    student_before = {k: v.clone() for k, v in model.student.state_dict().items()}
    b = _batch(12, t=24)
    train = TripletDataset(list(b["noisy"].numpy()), list(b["enhanced"].numpy()), list(b["clean"].numpy()),
                           b["y"].numpy(), n_frames=24)
    val = TripletDataset(list(b["noisy"].numpy()), list(b["enhanced"].numpy()), None, b["y"].numpy(), n_frames=24)
    res = fit(model, train, val, train_step=train_step, predict_fn=predict_fn, val_metric="uar",
              epochs=2, batch_size=5, lr=1e-3, grad_clip=10.0, progress=False, device="cpu")
    assert len(res.history) == 2 and np.isfinite(res.history["train_loss"]).all()
    for k, v in model.teacher.state_dict().items():
        assert torch.equal(v, teacher_before[k]), f"teacher tensor {k} changed during training"
    assert any(not torch.equal(v, student_before[k]) for k, v in model.student.state_dict().items())
    assert not model.teacher.training


def test_ablation_flags():
    torch.manual_seed(0)
    teacher = SERNet(**SMALL)
    b = _batch(4, t=30)
    wo_low = make_trnet("wo_low", teacher)
    terms = wo_low.loss_terms(b)
    assert wo_low.alpha == 0 and wo_low.bridge is not None
    torch.testing.assert_close(terms["loss"].detach(), terms["task"] + 0.5 * terms["high"])
    terms["loss"].backward()
    assert wo_low.snr.fc.weight.grad.abs().sum() > 0  # c still learns through the task and L_high

    wo_high = make_trnet("w/o L_high", teacher)
    assert wo_high.beta == 0 and wo_high.bridge is None and wo_high.teacher is None
    assert wo_high.student.config == teacher.config
    terms = wo_high.loss_terms(b)
    assert terms["high"] == 0
    torch.testing.assert_close(terms["loss"].detach(), terms["task"] + 0.5 * terms["low"])
    out = wo_high(b["noisy"], b["enhanced"], return_all=True)
    assert torch.equal(out.h, out.h_tilde)

    no_aux = TRNet(teacher, alpha=0.0, beta=0.0)
    terms = no_aux.loss_terms(b)
    torch.testing.assert_close(terms["loss"].detach(), terms["task"])
    assert terms["low"] > 0 and terms["high"] > 0  # still reported for logging

    with pytest.raises(ValueError, match="needs the teacher"):
        TRNet(None, beta=0.5)
    with pytest.raises(ValueError, match="unknown TRNet variant"):
        make_trnet("trnet_plus", teacher)
    with pytest.raises(ValueError, match="copies the teacher's architecture"):
        TRNet(teacher, channels=(4, 4))
    with pytest.raises(KeyError, match="clean"):
        make_trnet("trnet", teacher).loss_terms({k: v for k, v in b.items() if k != "clean"})


def test_init_from_teacher_copies_weights():
    torch.manual_seed(0)
    teacher = SERNet(**SMALL)
    model = TRNet(teacher, init_from_teacher=True)
    for k, v in teacher.state_dict().items():
        assert torch.equal(model.student.state_dict()[k], v)
    assert not torch.equal(TRNet(teacher).student.pool.att.weight, teacher.pool.att.weight)


def test_trnet_is_deterministic_under_a_seed():
    b = _batch(2, t=30)
    outs = []
    for _ in range(2):
        torch.manual_seed(7)
        model = make_trnet("trnet", SERNet(**SMALL)).eval()
        with torch.no_grad():
            outs.append(model(b["noisy"], b["enhanced"]))
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)


def test_trnet_overfits_a_tiny_set_and_learns_c():
    torch.manual_seed(0)
    teacher = SERNet(**SMALL).eval()
    model = make_trnet("trnet", teacher).train()
    b = _batch(16, t=24, seed=1)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=5e-3)
    history = []
    for _ in range(30):
        opt.zero_grad()
        terms = model.loss_terms(b)
        terms["loss"].backward()
        opt.step()
        history.append({k: v.item() for k, v in terms.items()})
    first, last = history[0], history[-1]
    assert last["loss"] < 0.3 * first["loss"], (first, last)
    assert last["task"] < 0.3 * first["task"]
    # X~ moves toward X_e, which is closer to X_s here: L_low falls below its c = 0.5 start
    assert last["low"] < first["low"]
    model.eval()
    with torch.no_grad():
        acc = (model(b["noisy"], b["enhanced"]).argmax(-1) == b["y"]).float().mean().item()
    assert acc >= 0.9


def test_predict_c_and_embed():
    torch.manual_seed(0)
    model = make_trnet("trnet", SERNet(**SMALL)).train()
    with torch.no_grad():
        model.snr.fc.weight.normal_(0, 0.05)
    b = _batch(5, t=30)
    c = model.predict_c(b["noisy"].numpy(), b["enhanced"].numpy(), batch_size=2)
    assert c.shape == (5,) and c.dtype == np.float32 and np.all((c >= 0) & (c <= 1))
    assert model.training  # mode restored
    with torch.no_grad():
        expected = model.snr(b["noisy"], b["enhanced"])[1].numpy()
    np.testing.assert_allclose(c, expected, rtol=1e-6)
    # lists of variable-length pairs: each pair is cut to its common length
    lists = model.predict_c([b["noisy"][0].numpy(), b["noisy"][1, :20].numpy()],
                            [b["enhanced"][0, :29].numpy(), b["enhanced"][1, :20].numpy()])
    with torch.no_grad():
        ref0 = model.snr(b["noisy"][:1, :29], b["enhanced"][:1, :29])[1].item()
    assert lists.shape == (2,) and lists[0] == pytest.approx(ref0, rel=1e-6)
    model.eval()
    with torch.no_grad():
        h = model.embed(b["noisy"], b["enhanced"])
    assert h.shape == (5, 32)


def test_predict_fn_and_train_step_accept_dicts_and_tuples():
    torch.manual_seed(0)
    model = make_trnet("trnet", SERNet(**SMALL)).eval()
    b = _batch(3, t=20)
    y, p = predict_fn(model, b, None)
    y2, p2 = predict_fn(model, (b["noisy"], b["enhanced"], b["y"]), None)
    assert torch.equal(y, b["y"]) and torch.equal(p, p2) and p.shape == (3,)
    loss_dict = train_step(model, b, None)
    loss_tuple = train_step(model, (b["noisy"], b["enhanced"], b["clean"], b["y"]), None)
    torch.testing.assert_close(loss_dict, loss_tuple)
    with pytest.raises(TypeError, match="TRNet batch"):
        train_step(model, (b["noisy"], b["y"]), None)
    with pytest.raises(TypeError, match="is for TRNet"):
        train_step(SERNet(**SMALL), b, None)


# --------------------------------------------------------------------------- data helpers
def test_fix_length_tiles_and_truncates():
    x = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.testing.assert_array_equal(fix_length(x, 7)[:, 0], [0, 2, 4, 0, 2, 4, 0])
    np.testing.assert_array_equal(fix_length(x, 2), x[:2])
    assert fix_length(torch.from_numpy(x), 5).shape == (5, 2)
    with pytest.raises(ValueError, match="non-empty"):
        fix_length(np.zeros((0, 80)), 10)


def test_triplet_dataset_items():
    rng = np.random.default_rng(0)
    noisy = [rng.normal(size=(t, 80)) for t in (30, 70)]
    enhanced = [rng.normal(size=(t, 80)) for t in (31, 70)]  # the enhancer added a frame
    clean = [rng.normal(size=(t, 80)) for t in (30, 70)]
    ds = TripletDataset(noisy, enhanced, clean, [1, 3], n_frames=50)
    item = ds[0]
    assert set(item) == {"noisy", "enhanced", "clean", "y"}
    assert item["noisy"].shape == item["enhanced"].shape == (50, 80) and item["noisy"].dtype == torch.float32
    np.testing.assert_allclose(item["enhanced"][30].numpy(), enhanced[0][0], rtol=1e-6)  # tiled at 30, not 31
    assert int(item["y"]) == 1 and ds[1]["clean"].shape == (50, 80)
    assert "clean" not in TripletDataset(noisy, enhanced, None, [1, 3])[0]
    with pytest.raises(ValueError, match="differ in length"):
        TripletDataset(noisy, enhanced[:1], clean, [1, 3])
    with pytest.raises(ValueError, match="one width"):
        TripletDataset([np.zeros((5, 80))], [np.zeros((5, 40))], None, [0])[0]


# --------------------------------------------------------------------------- experiment glue
TINY = dict(epochs=2, channels=(4, 8), h_dim=16, n_frames=40, batch_size=8)


def _split(n: int, seed: int) -> dict[str, np.ndarray]:
    """Fixed-length spectrograms whose class shows in the clean part (so training can learn something)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 4
    clean = rng.normal(size=(n, 40, 80)).astype(np.float32) - 5.0
    clean[:, :, :20] += y[:, None, None]  # class-dependent low-band level
    noise = rng.normal(size=(n, 40, 80)).astype(np.float32)
    return dict(clean=clean, noisy=clean + noise, enhanced=clean + 0.3 * noise, y=y)


@pytest.fixture(scope="module")
def tiny_data():
    return _split(24, 0), _split(8, 1)


@pytest.fixture(scope="module")
def teacher(tiny_data):
    return trnet.fit_system("Baseline-c", *tiny_data, seed=0, **TINY).model


@pytest.mark.parametrize("system", trnet.SYSTEMS)
def test_fit_system_trains_every_system_and_predicts(system, tiny_data, teacher):
    train, val = tiny_data
    res = trnet.fit_system(system, train, val, teacher=teacher, seed=0, **TINY)
    assert len(res.history) == 2 and 1 <= res.best_epoch <= 2
    is_trnet = system.startswith("TRNet")
    assert isinstance(res.model, TRNet) == is_trnet
    if system in ("TRNet", "TRNet w/o L_low"):  # the frozen Baseline-c is the teacher, unchanged
        assert res.model.teacher is not teacher and res.model.teacher is not None
        for a, b in zip(res.model.teacher.parameters(), teacher.parameters()):
            assert torch.equal(a, b) and not a.requires_grad
    if system == "TRNet w/o L_high":
        assert res.model.bridge is None and res.model.teacher is None
    post = trnet.predict_system(res.model, system, val["noisy"], val["enhanced"], n_frames=40)
    assert post.shape == (8, 4) and np.allclose(post.sum(1), 1, atol=1e-5)
    emb = trnet.embed_system(res.model, system, val["noisy"], val["enhanced"], n_frames=40)
    assert emb.shape == (8, 16) and np.isfinite(emb).all()


def test_systems_read_their_own_input(tiny_data, teacher):
    """Baseline-c/-n read X, Baseline-e reads X_e: predictions change with that input only."""
    _, val = tiny_data
    swapped = val["enhanced"][::-1].copy()
    p = trnet.predict_system(teacher, "Baseline-c", val["noisy"], val["enhanced"], n_frames=40)
    np.testing.assert_array_equal(p, trnet.predict_system(teacher, "Baseline-c", val["noisy"], swapped, n_frames=40))
    pe = trnet.predict_system(teacher, "Baseline-e", val["noisy"], val["enhanced"], n_frames=40)
    np.testing.assert_allclose(pe, trnet.predict_system(teacher, "Baseline-c", val["enhanced"], n_frames=40), rtol=1e-6)


def test_fit_system_is_reproducible_per_seed(tiny_data):
    a = trnet.fit_system("Baseline-n", *tiny_data, seed=3, **TINY).history.train_loss.to_numpy()
    b = trnet.fit_system("Baseline-n", *tiny_data, seed=3, **TINY).history.train_loss.to_numpy()
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_fit_system_errors(tiny_data):
    train, val = tiny_data
    with pytest.raises(ValueError, match="needs teacher=.*Baseline-c"):
        trnet.fit_system("TRNet", train, val, **TINY)
    with pytest.raises(ValueError, match="unknown system 'trnet'.*Baseline-c"):
        trnet.fit_system("trnet", train, val, **TINY)
    with pytest.raises(KeyError, match="lacks 'enhanced'"):
        trnet.fit_system("Baseline-e", {"clean": train["clean"], "y": train["y"]}, val, **TINY)
    with pytest.raises(ValueError, match="needs the enhanced"):
        trnet.predict_system(SERNet(channels=(4,), h_dim=8), "Baseline-e", val["noisy"])


def test_inputs_of_variable_length_are_tiled_to_n_frames(teacher):
    rng = np.random.default_rng(0)
    seqs = [rng.normal(size=(t, 80)).astype(np.float32) for t in (13, 40, 77)]
    post = trnet.predict_system(teacher, "Baseline-c", seqs, n_frames=40)
    ref = trnet.predict_system(teacher, "Baseline-c", np.stack([fix_length(s, 40) for s in seqs]), n_frames=40)
    np.testing.assert_allclose(post, ref, rtol=1e-6)


def test_training_levels_are_deterministic_and_cover_clean_and_every_snr():
    ids = [f"u{i}" for i in range(300)]
    a = trnet.training_levels(ids, (20, 10, 0), seed=0)
    assert a == trnet.training_levels(ids, (20, 10, 0), seed=0)
    assert set(a) == {None, 20.0, 10.0, 0.0}
    assert min(a.count(v) for v in set(a)) > 300 / 4 * 0.6  # roughly uniform
    assert a != trnet.training_levels(ids, (20, 10, 0), seed=1)
    assert a != trnet.training_levels(ids, (20, 10, 0), seed=0, draw=1)


def test_select_picks_the_items_of_given_utterances():
    data = {"row": np.array([0, 1, 2, 0, 1, 2]), "y": np.arange(6), "clean": np.zeros((6, 3, 80))}
    got = trnet.select(data, [2, 0])
    np.testing.assert_array_equal(got["y"], [0, 2, 3, 5])
    assert got["clean"].shape == (4, 3, 80)


def test_centre_spread_is_scale_free_and_orders_separations():
    rng = np.random.default_rng(0)
    g = np.repeat([0, 1, 2], 50)
    near = rng.normal(size=(150, 8)) + g[:, None] * 0.2
    far = rng.normal(size=(150, 8)) + g[:, None] * 3.0
    assert trnet.centre_spread(far, g) > 3 * trnet.centre_spread(near, g)
    assert trnet.centre_spread(10 * far, g) == pytest.approx(trnet.centre_spread(far, g))
    with pytest.raises(ValueError, match="two groups"):
        trnet.centre_spread(far, np.zeros(150))


def test_baseline_c_sees_each_clean_utterance_once_with_train_copies(tiny_data, monkeypatch):
    """train_copies=2 repeats every clean spectrogram; Baseline-c trains and validates on one copy of each."""
    import serlib.training

    train, val = tiny_data

    def copies(d, k=2):  # what training_set(copies=2) returns: copy after copy, `row` = the utterance
        out = {key: np.concatenate([d[key]] * k) for key in ("clean", "noisy", "enhanced", "y")}
        out["noisy"] = out["noisy"] + np.repeat(np.arange(k), len(d["y"]))[:, None, None]  # each copy its own draw
        return {**out, "row": np.tile(np.arange(len(d["y"])), k)}

    seen = {}

    def spy(model, tr, va, **kw):
        seen[len(seen)] = (tr, va)
        return "fitted"

    monkeypatch.setattr(serlib.training, "fit", spy)
    trnet.fit_system("Baseline-c", copies(train), copies(val), seed=0, **TINY)
    tr, va = seen[0]
    assert len(tr[0]) == 24 and len(va[0]) == 8  # once each, not 48 / 16
    np.testing.assert_array_equal(tr[0].numpy(), train["clean"])
    np.testing.assert_array_equal(tr[1].numpy(), train["y"])
    trnet.fit_system("Baseline-n", copies(train), copies(val), seed=0, **TINY)  # control: noisy copies differ
    assert len(seen[1][0][0]) == 48
    same = trnet.first_copies(train)  # no `row`: unchanged
    assert same is train


def test_sernet_features_run_in_float32_under_autocast():
    """The deltas (a conv1d on raw log-mel) and the input normalisation stay float32 under bf16 autocast."""
    from torchaudio.functional import compute_deltas

    x = torch.randn(2, 30, 80) * 6 - 10  # raw log-mel range
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert compute_deltas(x.transpose(1, 2)).dtype == torch.bfloat16  # what autocast would do
        torch.manual_seed(0)
        net = SERNet(channels=(4,), h_dim=8).eval()
        z = net.features(x)
        logits = net(x)
    assert z.dtype == torch.float32 and logits.dtype == torch.bfloat16  # the convolutions after it still autocast
    np.testing.assert_allclose(z.detach().numpy(), net.features(x).detach().numpy(), rtol=0, atol=0)


# --------------------------------------------------------------------------- the notebook's grid (experiment engine)
def _wav(path, seed: int, sr: int = 16000) -> None:
    import soundfile as sf

    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), 0.1 * np.random.default_rng(seed).standard_normal(sr // 2), sr)


@pytest.fixture(scope="module")
def esc_bank(tmp_path_factory):
    """A recorded noise bank in the ESC-10 layout: three classes, three source recordings each."""
    root = tmp_path_factory.mktemp("esc10")
    for k, cls in enumerate(["001 - Dog bark", "002 - Rain", "010 - Fire crackling"]):
        for s in range(3):
            _wav(root / cls / f"{s + 1}-{1000 * (k + 1) + s}-A.wav", 10 * k + s)
    return str(root)


def _grid_config(labels, esc_bank, **over):
    return dict(labels=labels, matched_types=["dog", "rain"], noise="esc10", noise_root=esc_bank,
                unmatched_types=["crackling_fire"], unmatched_noise="esc10", unmatched_noise_root=esc_bank,
                snrs=[0], train_snrs=[0], train_copies=1, data_seed=0, enhancer="gtcrn", enhancer_checkpoint=None,
                n_frames=30, epochs=2, patience=None, lr=1e-3, batch_size=8, channels=[2, 4], h_dim=4) | over


@pytest.fixture(scope="module")
def mini_corpus(smoke_corpus):
    """Two utterances per speaker of the smoke corpus (20 utterances, 10 speakers in 5 sessions)."""
    return smoke_corpus.groupby("speaker", sort=False).head(2).reset_index(drop=True)


def test_grid_declares_every_system_with_its_teacher(mini_corpus, esc_bank):
    from serlib import protocols

    m = mini_corpus
    splits = protocols.auto(m, "loso_speaker", limit_folds=2).splits
    config = _grid_config(sorted(m.emotion.unique()), esc_bank)
    tasks = trnet.grid(m, splits, [0, 1], config)
    assert len(tasks) == 2 * 2 * len(trnet.SYSTEMS)
    assert [t.config["system"] for t in tasks[:6]] == list(trnet.SYSTEMS)
    teacher = tasks[0]
    for t in tasks[:6]:
        assert (t.config["seed"], t.config["fold"]) == (0, splits[0].name)
        assert t.config["test"] == m.utt_id.iloc[splits[0].test].tolist()
        assert set(t.config["train"]).isdisjoint(t.config["test"]) and set(t.config["val"]).isdisjoint(t.config["test"])
        assert t.deps == ({"teacher": teacher} if t.config["system"] in trnet.TEACHER_SYSTEMS else {})
    assert tasks[6].config["fold"] == splits[1].name and tasks[12].config["seed"] == 1
    only = trnet.grid(m, splits[:1], [0], config, systems=["TRNet"])
    assert len(only) == 1 and only[0].deps["teacher"].config["system"] == "Baseline-c"
    with pytest.raises(KeyError, match=r"lacks \['snrs'\]"):
        trnet.grid(m, splits, [0], {k: v for k, v in config.items() if k != "snrs"})
    with pytest.raises(ValueError, match="unknown system 'CNN'"):
        trnet.grid(m, splits, [0], config, systems=["CNN"])


def test_grid_runs_end_to_end_and_reruns_identically(tmp_data, tmp_path, mini_corpus, esc_bank):
    """prepare -> Experiment.run -> tables, on 20 utterances; a second store recomputes every fit:
    the per-utterance predictions are identical (the notebook's reruns reproduce)."""
    from serlib import experiment, metrics, protocols

    m = mini_corpus
    labels = sorted(m.emotion.unique())
    splits = protocols.auto(m, "loso_speaker", limit_folds=1).splits
    config = _grid_config(labels, esc_bank)
    sizes = trnet.prepare(m, splits, config, n_jobs=1, progress=False)
    assert sizes == {"training utterances": 18, "test utterances": 2, "test conditions": 3}
    tasks = trnet.grid(m, splits, [0], config)
    outs = experiment.Experiment("t03", manifest=m, workers=1, root=tmp_path / "a", progress=False).run(tasks)
    again = experiment.Experiment("t03", manifest=m, workers=1, root=tmp_path / "b", progress=False).run(tasks)
    assert not any(o.cached for o in again)
    preds = trnet.predictions(outs)
    pd.testing.assert_frame_equal(preds, trnet.predictions(again))
    assert len(preds) == 6 * 2 * 3 and set(preds.method) == set(trnet.SYSTEMS)
    assert set(preds.y_pred) <= set(labels) and {f"p_{c}" for c in labels} <= set(preds.columns)
    is_trnet = preds.method.str.startswith("TRNet")
    assert preds.c[is_trnet].between(0, 1).all() and preds.c[~is_trnet].isna().all()
    by = {o.config["system"]: o for o in outs}
    assert by["Baseline-c"].load_weights() is not None and by["TRNet"].load_weights() is None
    assert by["TRNet"].meta["teacher"] == by["TRNet w/o L_low"].meta["teacher"] == by["Baseline-c"].key
    assert by["TRNet"].meta["n_train"] == len(splits[0].train) and by["TRNet"].meta["n_test"] == 2
    emb = trnet.embeddings(outs)
    assert {k[0] for k in emb} == set(trnet.EMBED_SYSTEMS) and all(v.shape == (2, 4) for v in emb.values())
    rows = trnet.table1_rows(preds)
    assert len(rows) == 6 * 3 * 2 and set(rows.train_condition) == {"clean", "clean+ESC-like"}
    g = preds[(preds.method == "TRNet") & (preds.noise_type == "MUSAN-like")]
    got = rows[(rows.method == "TRNet") & (rows.noise_type == "MUSAN-like") & (rows.metric == "uar")].value
    assert got.item() == pytest.approx(metrics.uar(g.y_true, g.y_pred))


def test_run_task_refuses_utterances_outside_the_manifest(mini_corpus, esc_bank):
    from serlib.experiment import Context

    m = mini_corpus
    cfg = _grid_config(sorted(m.emotion.unique()), esc_bank) | dict(system="Baseline-n", seed=0, fold="f",
                                                                     train=["nope"], val=[], test=[])
    ctx = Context(key="k", manifests={"main": m}, deps={}, device="cpu", threads=1)
    with pytest.raises(KeyError, match=r"1 utterance\(s\) of the task are not in the manifest, e.g. \['nope'\]"):
        trnet.run_task(cfg, ctx)


def _fake_output(system, seed, fold, snrs=(20.0, 0.0), n=4, d=3, best=2, epochs=3):
    from serlib.experiment import TaskOutput

    rng = np.random.default_rng([seed, len(system)])
    rows = []
    for cond in [(None, None), *[("ESC-like", s) for s in snrs]]:
        for i in range(n):
            rows.append(dict(utt_id=f"u{i}", test_condition="clean" if cond[0] is None else "noisy",
                             noise_type=cond[0], snr=np.nan if cond[1] is None else cond[1],
                             y_true=["a", "b"][i % 2], y_pred=["a", "b"][(i // 2) % 2],
                             c=float(rng.random()) if system.startswith("TRNet") else np.nan))
    extra = {}
    if system in trnet.EMBED_SYSTEMS:
        extra = {"embeddings": rng.normal(size=(len(snrs), n, d)).astype(np.float32),
                 "embed_snrs": np.asarray(snrs, float), "embed_utts": np.asarray([f"u{i}" for i in range(n)][::-1])}
    hist = pd.DataFrame({"epoch": range(1, epochs + 1), "seconds": [1.0] * epochs})
    return TaskOutput(predictions=pd.DataFrame(rows), history=hist, extra=extra,
                      meta=dict(best_epoch=best, epochs_run=epochs, best_val_uar=0.5),
                      config={"system": system, "seed": seed, "fold": fold}, key=f"{system}-{seed}-{fold}")


def test_output_tables_from_constructed_outputs():
    outs = [_fake_output(s, 0, f, best=3 if s == "Baseline-n" else 2) for f in ("F1", "F2") for s in trnet.SYSTEMS]
    preds = trnet.predictions(outs)
    assert list(preds.columns[:3]) == ["method", "seed", "fold"] and "system" not in preds
    rows = trnet.table1_rows(preds)
    assert len(rows) == 2 * 6 * 3 * 2 and "n" not in rows and (rows.table == "1").all()
    assert rows.value.eq(0.5).all()  # y_pred agrees with y_true on half of each class: UAR = WAR = 0.5
    cv = trnet.c_values(preds)
    assert set(cv.method) == {"TRNet", "TRNet w/o L_low", "TRNet w/o L_high"} and len(cv) == 2 * 3 * 3 * 4
    cr = trnet.c_rows(cv)
    one = cv[(cv.method == "TRNet") & (cv.fold == "F2") & (cv.snr == 0.0)].c.mean()
    assert cr[(cr.method == "TRNet") & (cr.fold == "F2") & (cr.snr == 0.0)].value.item() == pytest.approx(one)
    assert (cr.metric == "c").all() and len(cr) == 2 * 3 * 3
    with pytest.raises(KeyError, match="no 'c' column"):
        trnet.c_values(preds.drop(columns="c"))
    fits = trnet.fit_summary(outs)
    assert fits.best_before_last.sum() == 10 and not fits[fits.system == "Baseline-n"].best_before_last.any()


def test_embedding_tables_follow_the_stored_order():
    outs = [_fake_output(s, 0, "F1") for s in trnet.SYSTEMS] + [_fake_output("TRNet", 1, "F1", snrs=(0.0,))]
    emb = trnet.embeddings(outs)
    assert len(emb) == 3 * 2 + 1 and emb[("TRNet", 0.0, 1, "F1")].shape == (4, 3)
    al = trnet.alignment_rows(emb)
    assert len(al) == 3 and set(al.method) == set(trnet.EMBED_SYSTEMS)  # the one-SNR run has no spread
    x = np.concatenate([emb[("TRNet", 0.0, 0, "F1")], emb[("TRNet", 20.0, 0, "F1")]])
    assert al[al.method == "TRNet"].value.item() == pytest.approx(trnet.centre_spread(x, [0] * 4 + [20] * 4))
    m = pd.DataFrame({"utt_id": [f"u{i}" for i in range(4)], "emotion": ["w", "x", "y", "z"]})
    ts = trnet.tsne_inputs(outs, m, seed=0, fold="F1")
    assert list(ts) == list(trnet.EMBED_SYSTEMS)
    x, snr, emo = ts["Baseline-e"]
    assert x.shape == (8, 3) and list(snr) == ["20 dB"] * 4 + ["0 dB"] * 4
    assert list(emo) == ["z", "y", "x", "w"] * 2  # embed_utts are stored in reverse order
    np.testing.assert_array_equal(x[4:], outs[2].extra["embeddings"][1])
    assert trnet.tsne_inputs(outs, m, seed=1, fold="F1") == {}


def test_dry_splits_cut_every_part_evenly_and_keep_the_rest():
    from serlib.protocols import Split

    s = Split("F1", train=np.arange(100, 140), val=np.arange(5), test=np.arange(200, 220), source_id="x")
    (d,) = trnet.dry_splits([s], {"train": 8, "val": 6, "test": 3})
    assert list(d.train) == [100, 106, 111, 117, 122, 128, 133, 139]  # evenly spaced, first and last kept
    assert list(d.val) == [0, 1, 2, 3, 4] and list(d.test) == [200, 210, 219]
    assert (d.name, d.source_id) == ("F1", "x") and len(s.train) == 40  # the input is left as it was
    (dflt,) = trnet.dry_splits([s])
    assert {k: len(getattr(dflt, k)) for k in ("train", "val", "test")} == {"train": 6, "val": 2, "test": 3}
    (only,) = trnet.dry_splits([s], {"test": 2})
    assert len(only.train) == 40 and len(only.test) == 2
    with pytest.raises(ValueError, match=r"got \{'test': 0\}"):
        trnet.dry_splits([s], {"test": 0})
    with pytest.raises(ValueError, match="got {'select': 3}"):
        trnet.dry_splits([s], {"select": 3})


def test_tsne_inputs_cap_the_utterances_alike_at_every_snr():
    outs = [_fake_output(s, 0, "F1", n=10) for s in trnet.EMBED_SYSTEMS]
    m = pd.DataFrame({"utt_id": [f"u{i}" for i in range(10)], "emotion": list("abcdefghij")})
    ts = trnet.tsne_inputs(outs, m, seed=0, fold="F1", max_utts=3)
    x, snr, emo = ts["TRNet"]
    assert x.shape == (6, 3) and list(snr) == ["20 dB"] * 3 + ["0 dB"] * 3
    assert list(emo) == ["j", "f", "a"] * 2  # embed_utts are reversed: stored rows 0, 4, 9 are u9, u5, u0
    np.testing.assert_array_equal(x[3:], outs[2].extra["embeddings"][1][[0, 4, 9]])
    assert trnet.tsne_inputs(outs, m, seed=0, fold="F1", max_utts=None)["TRNet"][0].shape == (20, 3)
