"""serlib.augment: mixup on spectrogram batches and Kaldi-style speed perturbation."""

from __future__ import annotations

import math
import pickle
import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from serlib import augment as A


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def batch(n: int = 8, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 16, 8, generator=g), torch.arange(n) % 4


# --------------------------------------------------------------------------- mixup
def test_mixup_is_a_convex_combination_of_paired_examples():
    x, y = batch()
    m = A.mixup(x, y, alpha=0.2, generator=torch.Generator().manual_seed(1))
    assert 0.0 <= m.lam <= 1.0
    assert torch.equal(m.y_a, y)
    # recover the partner of every example from y_b and check Eq. (3) exactly
    perm = [int(np.flatnonzero(np.isclose(
        m.x[i].numpy(), m.lam * x[i].numpy() + (1 - m.lam) * x.numpy(), atol=1e-6).reshape(len(x), -1).all(1))[0])
        for i in range(len(x))]
    assert sorted(perm) == list(range(len(x)))  # a permutation of the batch
    assert torch.equal(m.y_b, y[perm])
    assert torch.allclose(m.x, m.lam * x + (1 - m.lam) * x[perm], atol=1e-6)


def test_mixup_deterministic_given_generator_or_global_seed():
    x, y = batch()
    a = A.mixup(x, y, 0.2, torch.Generator().manual_seed(3))
    b = A.mixup(x, y, 0.2, torch.Generator().manual_seed(3))
    c = A.mixup(x, y, 0.2, torch.Generator().manual_seed(4))
    assert a.lam == b.lam and torch.equal(a.x, b.x) and torch.equal(a.y_b, b.y_b)
    assert a.lam != c.lam
    torch.manual_seed(5)
    d = A.mixup(x, y)
    torch.manual_seed(5)
    e = A.mixup(x, y)
    assert d.lam == e.lam and torch.equal(d.x, e.x)
    f = A.mixup(x, y, 0.2, np.random.default_rng(0))
    assert 0 <= f.lam <= 1


def test_lambda_follows_beta_alpha():
    x, y = batch(4)
    rng = np.random.default_rng(0)
    lams = np.array([A.mixup(x, y, 0.2, rng).lam for _ in range(2000)])
    assert abs(lams.mean() - 0.5) < 0.03
    # Beta(0.2, 0.2) is U-shaped: most mass near 0 and 1 (P(lam<0.1 or >0.9) ~ 0.74)
    assert 0.65 < np.mean((lams < 0.1) | (lams > 0.9)) < 0.83
    lams2 = np.array([A.mixup(x, y, 2.0, rng).lam for _ in range(2000)])
    assert np.mean((lams2 < 0.1) | (lams2 > 0.9)) < 0.1  # Beta(2, 2) concentrates in the middle


def test_mixup_loss_equals_cross_entropy_on_soft_targets():
    x, y = batch()
    m = A.mixup(x, y, 0.4, torch.Generator().manual_seed(0))
    logits = torch.randn(len(x), 4)
    soft = m.soft_targets(4)
    assert torch.allclose(soft.sum(1), torch.ones(len(x)))
    assert torch.allclose(A.mixup_loss(logits, m), F.cross_entropy(logits, soft), atol=1e-6)


def test_mixup_validates_inputs():
    x, y = batch()
    with pytest.raises(ValueError, match="alpha"):
        A.mixup(x, y, alpha=0)
    with pytest.raises(ValueError, match="8 examples but y has 7"):
        A.mixup(x, y[:7])
    with pytest.raises(TypeError, match="floating point"):
        A.mixup(x.long(), y)
    with pytest.raises(TypeError, match="generator"):
        A.mixup(x, y, 0.2, generator=42)


def test_mixup_train_step_returns_differentiable_scalar():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16 * 8, 4))
    x, y = batch()
    torch.manual_seed(0)
    loss = A.mixup_train_step(model, (x, y), torch.device("cpu"))
    assert loss.ndim == 0 and loss.requires_grad
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(TypeError, match=r"\(x, y\)"):
        A.MixupStep(0.2)(model, (x,), "cpu")
    with pytest.raises(ValueError, match="alpha"):
        A.MixupStep(alpha=-1)


def test_mixup_step_with_fit_is_reproducible(tmp_data):
    from serlib.training import fit

    g = torch.Generator().manual_seed(0)
    x = torch.randn(48, 1, 8, 4, generator=g)
    y = torch.arange(48) % 4
    x[:, 0, 0, 0] += 3 * y  # a learnable signal

    def run(step):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(32, 4))
        res = fit(model, (x, y), (x, y), train_step=step, loss_fn=F.cross_entropy, val_metric="loss",
                  epochs=3, batch_size=16, progress=False, device="cpu", seed=1)
        return res.history["train_loss"].to_numpy()

    h1, h2 = run(A.mixup_train_step), run(A.mixup_train_step)
    assert np.array_equal(h1, h2)
    h3, h4 = run(A.MixupStep(0.4, seed=3)), run(A.MixupStep(0.4, seed=3))
    assert np.array_equal(h3, h4)
    assert not np.array_equal(h1, h3)


# --------------------------------------------------------------------------- speed perturbation
def tone(freq: float = 440.0, seconds: float = 1.0, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_hz(x: np.ndarray, sr: int = 16000) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)), n=8 * len(x)))
    return float(np.argmax(spec) * sr / (8 * len(x)))


@pytest.mark.parametrize("factor", A.SPEED_FACTORS)
def test_speed_perturb_changes_tempo_and_pitch(factor):
    x = tone(440.0)
    y = A.speed_perturb(x, factor, 16000)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - len(x) / factor) <= 2  # duration scales by 1/factor
    assert abs(peak_hz(y) - 440.0 * factor) < 2.0  # pitch scales by factor
    assert abs(np.sqrt(np.mean(y**2)) - np.sqrt(np.mean(x**2))) < 0.01  # level preserved


def test_speed_perturb_identity_and_errors():
    x = tone()
    y = A.speed_perturb(x, 1.0)
    assert np.array_equal(x, y) and y is not x
    with pytest.raises(ValueError, match="speed factor"):
        A.speed_perturb(x, 3.0)
    with pytest.raises(ValueError, match="mono"):
        A.speed_perturb(np.zeros((2, 100), np.float32), 1.1)
    with pytest.raises(ValueError, match="NaN"):
        A.speed_perturb(np.array([0.0, np.nan], np.float32), 1.1)


def test_speed_condition_interface():
    c = A.SpeedPerturbation(0.9)
    assert c.key == "speed0.9" and A.SpeedPerturbation(1.1).key == "speed1.1"
    assert re.fullmatch(r"[A-Za-z0-9._\-+=,]+", c.key)  # filesystem-safe, as the feature cache requires
    x = tone(300.0, 0.5)
    assert np.array_equal(c.apply(x, "utt1", 16000), c.apply(x, "utt2", 16000))
    c2 = pickle.loads(pickle.dumps(c))
    assert c2 == c and np.array_equal(c2.apply(x, "u", 16000), c.apply(x, "u", 16000))
    with pytest.raises(ValueError, match="speed factor"):
        A.SpeedPerturbation(0.0)


def test_with_speed_perturbation_expands_the_training_set():
    items = [(tone(200.0, 0.25), "angry"), (tone(300.0, 0.5), "sad")]
    out = A.with_speed_perturbation(items)
    assert len(out) == 3 * len(items)
    assert [lab for _, lab in out] == ["angry"] * 3 + ["sad"] * 3
    assert [len(w) for w, _ in out[:3]] == [4000, math.ceil(4000 / 0.9), math.ceil(4000 / 1.1)]
    only = A.with_speed_perturbation(items, factors=[1.1], keep_original=False)
    assert len(only) == 2 and len(only[1][0]) == math.ceil(8000 / 1.1)
    with pytest.raises(TypeError, match="item 0"):
        A.with_speed_perturbation([tone()])
