"""Tests of serlib.models.trnet (paper 3: TRNet, its SER module and the ablation flags)."""

from __future__ import annotations

import numpy as np
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
