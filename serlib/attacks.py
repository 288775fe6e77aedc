"""White-box adversarial attacks on a model's input: FGSM and BIM (paper 5, Sec. 5.3).

- **FGSM** (Goodfellow et al., ICLR 2015): ``x_adv = x + eps * sign(grad_x loss(model(x), y))``.
- **BIM** (Kurakin et al., 2017, "Adversarial examples in the physical world"): FGSM steps of
  size ``alpha`` repeated ``steps`` times, each followed by a projection onto the L-inf ball of
  radius ``eps`` around the clean input: ``x_{k+1} = clip_{x, eps}(x_k + alpha * sign(grad))``.

**Input scale.** ``eps`` is in the units of whatever tensor the model consumes. Paper 5 uses
eps = 0.08 (:data:`PAPER_EPS`) and does not say on which scale; in this repository the models
consume per-bin standardized log-magnitude spectrogram segments (``serlib.features``
``Standardizer`` fitted on the training set), so eps = 0.08 means 0.08 training-set standard
deviations per time-frequency cell. ``clamp=(lo, hi)`` optionally keeps the adversarial input
inside a valid range (e.g. the training data's min/max); by default nothing is clamped. The
clamp is applied after the projection onto the eps ball, so the result stays inside the ball
whenever the clean input itself lies inside ``clamp``.

**BIM step size and iterations.** The paper gives neither. We follow Kurakin et al.'s rule:
step ``alpha = eps / 10`` (their alpha = 1 intensity level for eps in levels) and
``steps = floor(min(eps / alpha + 4, 1.25 * eps / alpha))`` = 12 for any eps with that alpha,
enough iterations to reach the edge of the ball and move along it. Both are arguments.

Both attacks run the model in eval mode (batch-norm running statistics, no dropout), restore
its previous train/eval mode afterwards, compute gradients with respect to the input only
(``torch.autograd.grad``; the parameters' ``.grad`` are left untouched) and return a detached
tensor. Recurrent layers on CUDA cannot back-propagate through cuDNN in eval mode, so for
models containing an RNN on a CUDA device cuDNN is disabled for the attack's passes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from contextlib import contextmanager, nullcontext

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["PAPER_EPS", "bim", "bim_defaults", "fgsm"]

PAPER_EPS = 0.08
"""The paper's perturbation size for FGSM and BIM (Sec. 5.3)."""

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def bim_defaults(eps: float) -> tuple[float, int]:
    """Kurakin et al.'s BIM schedule for ``eps``: ``(alpha, steps) = (eps / 10, 12)``."""
    alpha = eps / 10.0
    steps = int(math.floor(min(eps / alpha + 4, 1.25 * eps / alpha) + 1e-9))
    return alpha, steps


@contextmanager
def _eval_mode(model: nn.Module):
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _cudnn_guard(model: nn.Module, x: torch.Tensor):
    if x.is_cuda and any(isinstance(m, nn.RNNBase) for m in model.modules()):
        return torch.backends.cudnn.flags(enabled=False)
    return nullcontext()


def _check(x: torch.Tensor, y: torch.Tensor, eps: float, clamp: tuple[float, float] | None) -> None:
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError(f"attacks expect torch tensors, got x: {type(x).__name__}, y: {type(y).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"the attacked input must be floating point, got {x.dtype}")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} examples but y has {len(y)}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    if clamp is not None:
        lo, hi = clamp
        if not lo < hi:
            raise ValueError(f"clamp must be (low, high) with low < high, got {clamp}")


def _input_grad(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: LossFn) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        loss = loss_fn(model(x), y)
        if loss.ndim != 0:
            raise ValueError(f"loss_fn must return a scalar (use reduction='mean' or 'sum'), got shape {tuple(loss.shape)}")
        (grad,) = torch.autograd.grad(loss, x)
    return grad


def _clamp(x: torch.Tensor, clamp: tuple[float, float] | None) -> torch.Tensor:
    return x if clamp is None else x.clamp(clamp[0], clamp[1])


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float = PAPER_EPS, *,
         loss_fn: LossFn = F.cross_entropy, clamp: tuple[float, float] | None = None) -> torch.Tensor:
    """Fast Gradient Sign Method: one step of size ``eps`` along the sign of the input gradient.

    Args:
        model: classifier returning logits; it is evaluated in eval mode and then restored.
        x: model inputs (batch, ...), on the model's device.
        y: true class indices (batch,).
        eps: L-inf size of the perturbation, in the units of ``x`` (see the module docstring).
        loss_fn: loss to increase (cross-entropy on logits by default).
        clamp: optional (low, high) range the adversarial input is clipped to.

    Returns:
        ``x_adv`` (detached, same shape/dtype) with ``|x_adv - x|_inf <= eps``.
    """
    _check(x, y, eps, clamp)
    with _eval_mode(model), _cudnn_guard(model, x):
        grad = _input_grad(model, x, y, loss_fn)
    return _clamp(x.detach() + eps * grad.sign(), clamp).detach()


def bim(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float = PAPER_EPS, alpha: float | None = None,
        steps: int | None = None, *, loss_fn: LossFn = F.cross_entropy,
        clamp: tuple[float, float] | None = None) -> torch.Tensor:
    """Basic Iterative Method: ``steps`` FGSM steps of size ``alpha``, each projected onto the
    L-inf ball of radius ``eps`` around ``x`` (and into ``clamp`` when given).

    ``alpha``/``steps`` default to :func:`bim_defaults` (eps / 10 and 12). Other arguments as
    in :func:`fgsm`. Returns a detached ``x_adv`` with ``|x_adv - x|_inf <= eps``.
    """
    _check(x, y, eps, clamp)
    d_alpha, d_steps = bim_defaults(eps) if eps > 0 else (0.0, 1)
    alpha = d_alpha if alpha is None else alpha
    steps = d_steps if steps is None else steps
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha < 0:
        raise ValueError(f"alpha (BIM step size) must be a number >= 0, got {alpha!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps (BIM iterations) must be a positive integer, got {steps!r}")
    x0 = x.detach()
    lo, hi = x0 - eps, x0 + eps
    x_adv = x0.clone()
    with _eval_mode(model), _cudnn_guard(model, x):
        for _ in range(steps):
            grad = _input_grad(model, x_adv, y, loss_fn)
            x_adv = torch.minimum(torch.maximum(x_adv + alpha * grad.sign(), lo), hi)
            x_adv = _clamp(x_adv, clamp).detach()
    return x_adv
