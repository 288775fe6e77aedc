"""serlib.attacks: FGSM and BIM stay inside the eps ball and hurt a trained model."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from serlib.attacks import PAPER_EPS, bim, bim_defaults, fgsm
from serlib.models.densenet_highway import build


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def trained():
    """A small MLP (with batch norm and dropout) trained on 4 overlapping Gaussian classes."""
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(4, 20, generator=g) * 0.6
    y = torch.arange(400) % 4
    x = centres[y] + 0.5 * torch.randn(400, 20, generator=g)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Dropout(0.3), nn.Linear(64, 4))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()
    model.zero_grad(set_to_none=True)
    return model, x[:200], y[:200]


def loss_acc(model, x, y):
    with torch.no_grad():
        out = model(x)
    return F.cross_entropy(out, y).item(), (out.argmax(1) == y).float().mean().item()


def test_toy_model_is_trained(trained):
    model, x, y = trained
    assert loss_acc(model, x, y)[1] > 0.9


@pytest.mark.parametrize("eps", [0.02, PAPER_EPS, 0.3])
def test_fgsm_stays_in_ball_and_raises_loss(trained, eps):
    model, x, y = trained
    adv = fgsm(model, x, y, eps)
    delta = (adv - x).abs()
    assert delta.max() <= eps + 1e-6
    assert torch.allclose(delta.max(), torch.tensor(float(eps)), atol=1e-6)  # FGSM uses the whole budget
    assert not adv.requires_grad and adv.shape == x.shape
    assert loss_acc(model, adv, y)[0] > loss_acc(model, x, y)[0]


@pytest.mark.parametrize("eps", [PAPER_EPS, 0.3])
def test_bim_stays_in_ball_and_beats_fgsm(trained, eps):
    model, x, y = trained
    adv_b = bim(model, x, y, eps)
    assert (adv_b - x).abs().max() <= eps + 1e-6
    clean_loss, clean_acc = loss_acc(model, x, y)
    f_loss, f_acc = loss_acc(model, fgsm(model, x, y, eps), y)
    b_loss, b_acc = loss_acc(model, adv_b, y)
    assert b_loss > clean_loss
    assert b_loss >= f_loss - 1e-4 and b_acc <= f_acc  # the iterative attack does at least as much damage


def test_strong_attack_breaks_the_model(trained):
    model, x, y = trained
    assert loss_acc(model, bim(model, x, y, 1.0, alpha=0.1, steps=20), y)[1] < 0.3


def test_bim_with_large_steps_is_projected(trained):
    model, x, y = trained
    adv = bim(model, x, y, 0.05, alpha=1.0, steps=3)  # every raw step leaves the ball
    assert torch.allclose((adv - x).abs().amax(), torch.tensor(0.05), atol=1e-6)
    assert (adv - x).abs().max() <= 0.05 + 1e-6


def test_clamp_range_respected(trained):
    model, x, y = trained
    lo, hi = float(x.min()), float(x.max())
    for adv in (fgsm(model, x, y, 0.5, clamp=(lo, hi)), bim(model, x, y, 0.5, clamp=(lo, hi))):
        assert adv.min() >= lo and adv.max() <= hi
        assert (adv - x).abs().max() <= 0.5 + 1e-6


def test_eval_mode_used_and_restored_parameters_untouched(trained):
    model, x, y = trained
    model.train()
    try:
        a1, a2 = fgsm(model, x, y, 0.1), fgsm(model, x, y, 0.1)
        b1, b2 = bim(model, x, y, 0.1), bim(model, x, y, 0.1)
        assert model.training  # restored
        assert torch.equal(a1, a2) and torch.equal(b1, b2)  # no dropout / batch statistics during the attack
        assert all(p.grad is None for p in model.parameters())
    finally:
        model.eval()
    fgsm(model, x, y, 0.1)
    assert not model.training


def test_zero_eps_and_defaults(trained):
    model, x, y = trained
    assert torch.equal(fgsm(model, x, y, 0.0), x)
    assert torch.equal(bim(model, x, y, 0.0), x)
    alpha, steps = bim_defaults(PAPER_EPS)
    assert steps == 12 and alpha == pytest.approx(0.008)


def test_errors(trained):
    model, x, y = trained
    with pytest.raises(ValueError, match="eps"):
        fgsm(model, x, y, -0.1)
    with pytest.raises(ValueError, match="200 examples but y has 10"):
        bim(model, x, y[:10])
    with pytest.raises(ValueError, match="steps"):
        bim(model, x, y, 0.1, steps=0)
    with pytest.raises(ValueError, match="clamp"):
        fgsm(model, x, y, 0.1, clamp=(1.0, 0.0))
    with pytest.raises(ValueError, match="scalar"):
        fgsm(model, x, y, 0.1, loss_fn=lambda o, t: F.cross_entropy(o, t, reduction="none"))


def test_attacks_on_the_proposed_spectrogram_model():
    torch.manual_seed(0)
    model = build("proposed", n_bins=16, layers=2, growth=4, lstm_hidden=8, skip_dim=8, highway_units=8).eval()
    x, y = torch.randn(4, 1, 32, 16), torch.tensor([0, 1, 2, 3])
    for adv in (fgsm(model, x, y), bim(model, x, y)):
        assert adv.shape == x.shape
        assert (adv - x).abs().max() <= PAPER_EPS + 1e-6
        assert F.cross_entropy(model(adv), y) > F.cross_entropy(model(x), y)
