"""The one training loop for every torch model in the repository.

:func:`fit` trains on ``train_data``, scores the validation data after every epoch, halves
the learning rate and stops early on that score, and restores the best-on-validation
weights. It has no test argument: test data is only ever seen by :func:`predict`.

Data may be given as

- a ``torch.utils.data.Dataset`` (a shuffled ``DataLoader`` is built, seeded),
- a tuple of equally long arrays/tensors ``(X, y)`` or ``(X1, X2, y)`` (a ``TensorDataset``),
- a ``DataLoader`` or any re-iterable of batches (a list, :class:`Interleave`, ...), used as is.

Batch convention (default step and default validation): a batch is a tuple/list whose
**last element is the target** and whose other elements are the model's inputs:
``loss_fn(model(*inputs), target)``. Hooks replace this where a paper needs more:

- ``train_step(model, batch, device) -> loss`` (batch already on ``device``): multi-term
  losses, mixup, alternating labelled/unlabelled batches (:class:`Interleave`).
- ``predict_fn(model, batch, device) -> (y_true, y_pred)`` for validation; the default takes
  ``model(*inputs)`` and, when the target is an integer class index and the output has one
  more dimension (logits), the argmax over the last axis.
- ``val_metric``: ``(y_true, y_pred) -> float`` (e.g. :func:`serlib.metrics.uar`), a name from
  :data:`serlib.metrics.METRICS`, ``"loss"`` (mean validation loss, minimised), or a callable
  ``(model) -> float`` (one required argument) for anything else; then ``val_data`` may be None.

Mixed precision runs on CUDA only: bf16 autocast where the GPU supports it (no loss scaling
needed), else fp16 autocast with a ``GradScaler``. On CPU everything is float32. Recurrent
layers (``nn.LSTM``/``GRU``/``RNN`` and their cells, wherever they sit in the model, SpeechBrain's
wrappers included) always run in float32: :func:`fp32_recurrent` wraps them in an
autocast-disabled region (autocast would otherwise run them in fp16/bf16 through cuDNN).

Devices and determinism: :func:`configure` caps torch's CPU threads (on CPU only; a GPU run
keeps them for data loading and the host-side work) and sets the ``deterministic`` default of
this process and of the worker processes it starts. ``deterministic=None`` means on for CPU, off
on CUDA (cuDNN picks the fastest kernels, ``cudnn.benchmark``); :func:`seed_everything` and
:func:`fit` honour it and :func:`run_flags` reports it for the run metadata.

Dry runs (``SERLIB_DRY=1``, :mod:`serlib.profiles`): every epoch of :func:`fit` stops after
:data:`serlib.profiles.DRY_BATCHES` training batches.
"""

from __future__ import annotations

import copy
import inspect
import os
import random
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from serlib import metrics as _metrics
from serlib import profiles as _profiles

__all__ = ["FitResult", "Interleave", "configure", "deterministic_for", "fit", "fp32_recurrent", "predict",
           "resolve_device", "run_flags", "seed_everything", "to_device"]

DETERMINISTIC_ENV = "SERLIB_DETERMINISTIC"
"""``1``/``0``: the process-wide ``deterministic`` choice (set by :func:`configure`, inherited by
worker processes); unset = by device (on for CPU, off on CUDA)."""


# --------------------------------------------------------------------------- utilities
def deterministic_for(device: str | torch.device | None = None, deterministic: bool | None = None) -> bool:
    """Whether runs on ``device`` use deterministic kernels.

    An explicit ``deterministic`` wins; else ``$SERLIB_DETERMINISTIC`` (``1``/``0``, set by
    :func:`configure`); else True on CPU and False on CUDA (``device=None`` = the auto device).
    """
    if deterministic is not None:
        return bool(deterministic)
    env = os.environ.get(DETERMINISTIC_ENV, "")
    if env in ("0", "1"):
        return env == "1"
    if env:
        raise ValueError(f"${DETERMINISTIC_ENV}={env!r}: use 1 (deterministic), 0 (fastest) or leave it unset")
    return resolve_device(device).type != "cuda"


def seed_everything(seed: int, *, deterministic: bool | None = None,
                    device: str | torch.device | None = None) -> bool:
    """Seed Python, NumPy and torch (CPU and all GPUs) and set cuDNN's kernel choice.

    Deterministic (:func:`deterministic_for` ``(device, deterministic)``; default: on for CPU,
    off on CUDA): cuDNN deterministic kernels, no benchmarking. Otherwise cuDNN benchmarks and
    picks the fastest kernels (reruns on a GPU may then differ in the last digits). Call it before
    building a model so that its initial weights depend on the seed; :func:`fit` calls it again
    before training. Returns the deterministic setting applied.
    """
    det = deterministic_for(device, deterministic)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)  # for worker processes started later
    torch.backends.cudnn.deterministic = det
    torch.backends.cudnn.benchmark = not det
    return det


def configure(device: str | torch.device | None = None, *, threads: int | None = None,
              deterministic: bool | None = None) -> dict[str, Any]:
    """Set up this process for training on ``device`` (a notebook calls it once, after its settings).

    - ``threads``: on CPU, torch uses at most this many threads (never more than it has now);
      on CUDA the cap is not applied, the host threads feed the GPU. None leaves them as they are.
    - ``deterministic``: the default of :func:`seed_everything` / :func:`fit` in this process and
      in worker processes started later (``$SERLIB_DETERMINISTIC``); None = by device.

    Returns ``{"device", "threads", "deterministic"}`` as in effect. Example::

        training.configure(cfg.device, threads=2, deterministic=cfg.get("deterministic"))
    """
    dev = resolve_device(device)
    if threads is not None:
        if isinstance(threads, bool) or int(threads) < 1:
            raise ValueError(f"threads must be a positive int or None, got {threads!r}")
        if dev.type == "cpu":
            torch.set_num_threads(max(1, min(int(threads), torch.get_num_threads())))
    if deterministic is None:
        os.environ.pop(DETERMINISTIC_ENV, None)
    else:
        os.environ[DETERMINISTIC_ENV] = "1" if deterministic else "0"
    return {"device": str(dev), "threads": torch.get_num_threads(), "deterministic": deterministic_for(dev)}


def run_flags(device: str | torch.device | None = None) -> dict[str, bool]:
    """``{"dry", "deterministic"}`` of this process for the run metadata (:mod:`serlib.results`)."""
    return {"dry": _profiles.is_dry(), "deterministic": deterministic_for(device)}


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``None``/``"auto"`` -> CUDA when available, else CPU; an explicit CUDA request without a
    GPU raises with the fix instead of failing deep inside torch."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device={device!r} was requested but torch sees no CUDA GPU; use device=None or 'cpu'")
    return dev


def to_device(batch: Any, device: torch.device) -> Any:
    """Move every tensor inside (nested) tuples, lists and dicts to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        moved = [to_device(v, device) for v in batch]
        return type(batch)(*moved) if hasattr(batch, "_fields") else type(batch)(moved)
    return batch


def _seed_worker(worker_id: int) -> None:
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def _as_tensor(a: Any) -> torch.Tensor:
    t = a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))
    if t.is_floating_point():
        return t.float()
    return t.long() if t.dtype in (torch.int8, torch.int16, torch.int32, torch.uint8) else t


def _tensor_dataset(arrays: tuple, name: str) -> TensorDataset:
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) != 1:
        raise ValueError(
            f"{name}: the arrays differ in length {lengths}; inputs and targets must have one row per item"
        )
    if lengths[0] == 0:
        raise ValueError(f"{name} is empty (0 items)")
    return TensorDataset(*(_as_tensor(a) for a in arrays))


def _is_arrays(data: Any) -> bool:
    return isinstance(data, tuple) and len(data) > 0 and all(isinstance(a, (np.ndarray, torch.Tensor)) for a in data)


def _loader(
    data: Any, name: str, *, batch_size: int, shuffle: bool, collate_fn: Callable | None, num_workers: int, seed: int
) -> Iterable:
    """Turn any accepted data form into something that yields batches when iterated."""
    if data is None:
        raise ValueError(f"{name} is None")
    if _is_arrays(data):
        data = _tensor_dataset(data, name)
    if isinstance(data, Dataset) and not isinstance(data, torch.utils.data.IterableDataset):
        if len(data) == 0:  # type: ignore[arg-type]
            raise ValueError(f"{name} is empty (0 items)")
        gen = torch.Generator().manual_seed(seed)
        return DataLoader(
            data,
            batch_size=batch_size,
            shuffle=shuffle,
            collate_fn=collate_fn,
            num_workers=num_workers,
            generator=gen,
            worker_init_fn=_seed_worker if num_workers else None,
            pin_memory=torch.cuda.is_available(),
        )
    if isinstance(data, (DataLoader, Iterable)):
        if isinstance(data, Iterator):
            raise TypeError(
                f"{name} is a one-shot iterator (generator); it would be empty from the second epoch on. "
                "Pass a list of batches, a DataLoader or an object whose __iter__ returns a fresh iterator"
            )
        return data
    raise TypeError(
        f"{name} must be a Dataset, a tuple of arrays (X, y), a DataLoader or a re-iterable of batches; "
        f"got {type(data).__name__}"
    )


class Interleave:
    """Alternate batches from several loaders, tagged with their name (semi-supervised training).

    ``Interleave(labeled=dl_a, unlabeled=dl_b)`` yields ``("labeled", batch_a0)``,
    ``("unlabeled", batch_b0)``, ``("labeled", batch_a1)``, ... The first loader defines the
    epoch: it is run through once; the others restart whenever they run out. A custom
    ``train_step`` receives the ``(name, batch)`` pairs.
    """

    def __init__(self, **loaders: Iterable) -> None:
        if not loaders:
            raise ValueError("Interleave needs at least one named loader, e.g. Interleave(labeled=dl, unlabeled=dl2)")
        for key, dl in loaders.items():
            if isinstance(dl, Iterator):
                raise TypeError(f"Interleave: loader {key!r} is a one-shot iterator; pass a DataLoader or a list")
        self.loaders = loaders

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        names = list(self.loaders)
        first = iter(self.loaders[names[0]])
        iters = {n: iter(self.loaders[n]) for n in names[1:]}
        for batch in first:
            yield names[0], batch
            for n in names[1:]:
                try:
                    item = next(iters[n])
                except StopIteration:
                    iters[n] = iter(self.loaders[n])
                    try:
                        item = next(iters[n])
                    except StopIteration:
                        raise ValueError(f"Interleave: loader {n!r} yields no batches") from None
                yield n, item

    def __len__(self) -> int:
        return len(self.loaders[next(iter(self.loaders))]) * len(self.loaders)  # type: ignore[arg-type]


def _split_batch(batch: Any) -> tuple[tuple, Any]:
    if not isinstance(batch, (tuple, list)) or len(batch) < 2:
        raise TypeError(
            "the default train step / validation expects batches (inputs..., target), got "
            f"{type(batch).__name__}{'' if not isinstance(batch, (tuple, list)) else f' of length {len(batch)}'}; "
            "pass train_step= / predict_fn= for other batch layouts"
        )
    return tuple(batch[:-1]), batch[-1]


def _output_tensor(out: Any) -> torch.Tensor:
    if not isinstance(out, torch.Tensor):
        raise TypeError(
            f"the model returned {type(out).__name__}, not a tensor; pass predict_fn= (fit) or forward= (predict) "
            "to pick the output to score"
        )
    return out


def _default_predictions(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Logits -> class indices when the target holds class indices; else the raw output."""
    if not y.is_floating_point() and out.is_floating_point() and out.ndim == y.ndim + 1:
        return out.argmax(dim=-1)
    if out.ndim == y.ndim + 1 and out.shape[-1] == 1:
        return out.squeeze(-1)
    return out


def _n_required_args(fn: Callable) -> int | None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(1 for p in sig.parameters.values() if p.kind in kinds and p.default is inspect.Parameter.empty)


# --------------------------------------------------------------------------- AMP
_RECURRENT = (nn.RNNBase, nn.RNNCellBase)


def _float32(x: Any) -> Any:
    """Floating tensors (and PackedSequences) in float32; nested tuples/lists followed; the rest as is."""
    if isinstance(x, torch.nn.utils.rnn.PackedSequence):
        return x.float() if x.data.is_floating_point() else x
    if isinstance(x, torch.Tensor):
        return x.float() if x.is_floating_point() else x
    if isinstance(x, (tuple, list)):
        return type(x)(_float32(v) for v in x)
    return x


def _device_type(x: Any) -> str | None:
    if isinstance(x, torch.nn.utils.rnn.PackedSequence):
        return x.data.device.type
    if isinstance(x, torch.Tensor):
        return x.device.type
    if isinstance(x, (tuple, list)):
        return next((t for t in map(_device_type, x) if t is not None), None)
    return None


def _fp32_enter(module: nn.Module, args: tuple, kwargs: dict) -> tuple | None:
    """Forward pre-hook: leave autocast for this module and give it float32 inputs."""
    dev = _device_type(args) or _device_type(list(kwargs.values()))
    if dev is None or not torch.is_autocast_enabled(dev):
        module._fp32_regions.append(None)
        return None
    region = torch.autocast(device_type=dev, enabled=False)
    region.__enter__()
    module._fp32_regions.append(region)
    return _float32(args), {k: _float32(v) for k, v in kwargs.items()}


def _fp32_exit(module: nn.Module, args: tuple, output: Any) -> None:
    """Forward hook (also called when the forward raises): re-enter the caller's autocast state."""
    region = module._fp32_regions.pop() if module._fp32_regions else None
    if region is not None:
        region.__exit__(None, None, None)


def fp32_recurrent(model: nn.Module) -> nn.Module:
    """Make every recurrent submodule of ``model`` (``nn.LSTM``, ``GRU``, ``RNN``, their cells) run in
    float32 under autocast; returns ``model`` (changed in place, idempotent).

    Autocast casts recurrent layers to fp16/bf16 (on CUDA through cuDNN, on CPU through oneDNN).
    Each recurrent module gets a forward pre-hook that disables autocast and casts its floating
    inputs (and initial states) to float32, and a forward hook that restores autocast afterwards,
    also when the forward raises. Outside autocast the hooks change nothing. Weights, state dict and
    the outputs' dtype (float32) are as without autocast; the layers around them still run in
    reduced precision.
    """
    for module in model.modules():
        if isinstance(module, _RECURRENT) and not hasattr(module, "_fp32_regions"):
            module._fp32_regions = []
            module.register_forward_pre_hook(_fp32_enter, with_kwargs=True)
            module.register_forward_hook(_fp32_exit, always_call=True)
    return model


class _Precision:
    """Autocast context and loss scaling for one device (CUDA only; a no-op elsewhere)."""

    def __init__(self, device: torch.device, enabled: bool) -> None:
        self.device = device
        self.dtype: torch.dtype | None = None
        if enabled and device.type == "cuda":
            self.dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda") if self.dtype == torch.float16 else None

    @property
    def name(self) -> str:
        return {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]

    def autocast(self):
        if self.dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.dtype)

    def backward_step(
        self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, params: list, grad_clip: float | None
    ) -> None:
        """Backward pass, optional gradient clipping (on unscaled gradients) and optimizer step."""
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            if grad_clip is not None:
                self.scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(params, grad_clip)
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(params, grad_clip)
            optimizer.step()


# --------------------------------------------------------------------------- fit
@dataclass
class FitResult:
    """What :func:`fit` returns. ``model`` holds the best-on-validation weights."""

    model: nn.Module
    history: pd.DataFrame
    """One row per epoch: epoch (1-based), train_loss, val_metric, val_loss, lr, seconds, best."""
    best_epoch: int
    best_score: float
    seconds: float
    stopped_early: bool = False
    device: str = "cpu"
    precision: str = "fp32"
    deterministic: bool = True
    dry: bool = False
    """A dry run (``SERLIB_DRY``): every epoch stopped after :data:`serlib.profiles.DRY_BATCHES` batches."""


def _make_optimizer(model: nn.Module, optimizer: Any, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no trainable parameters (all requires_grad=False)")
    if optimizer is None:
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if isinstance(optimizer, torch.optim.Optimizer):
        return optimizer
    if callable(optimizer):
        return optimizer(params)
    raise TypeError(f"optimizer must be None, a torch Optimizer or a factory params -> Optimizer, got {optimizer!r}")


class _Validator:
    """Scores the model on validation data with the chosen metric, once per epoch."""

    def __init__(self, val_metric: Any, val_loader: Iterable | None, loss_fn: Callable | None,
                 predict_fn: Callable | None, precision: _Precision, device: torch.device) -> None:
        self.model_metric: Callable | None = None
        self.metric: Callable | None = None
        self.use_loss = False
        if isinstance(val_metric, str):
            if val_metric == "loss":
                if loss_fn is None or predict_fn is not None:
                    raise ValueError("val_metric='loss' needs loss_fn and the default validation (no predict_fn)")
                self.use_loss = True
            else:
                self.metric = _metrics.get(val_metric)
        elif callable(val_metric):
            if _n_required_args(val_metric) == 1:
                self.model_metric = val_metric
            else:
                self.metric = val_metric
        else:
            raise TypeError(f"val_metric must be a callable or a metric name, got {val_metric!r}")
        if self.model_metric is None and val_loader is None:
            raise ValueError("val_data is required unless val_metric is a callable (model) -> float")
        self.loader, self.loss_fn, self.predict_fn = val_loader, loss_fn, predict_fn
        self.precision, self.device = precision, device

    @torch.no_grad()
    def __call__(self, model: nn.Module) -> tuple[float, float]:
        """Return (score, mean validation loss or nan)."""
        if self.model_metric is not None:
            model.eval()
            return float(self.model_metric(model)), float("nan")
        model.eval()
        trues, preds, loss_sum, n_items, n_batches = [], [], 0.0, 0, 0
        for batch in self.loader:  # type: ignore[union-attr]
            batch = to_device(batch, self.device)
            n_batches += 1
            with self.precision.autocast():
                if self.predict_fn is not None:
                    y, p = self.predict_fn(model, batch, self.device)
                else:
                    inputs, y = _split_batch(batch)
                    out = _output_tensor(model(*inputs))
                    if self.loss_fn is not None:
                        n = len(y)
                        loss_sum += float(self.loss_fn(out, y)) * n
                        n_items += n
                    p = _default_predictions(out, y)
            trues.append(_np(y))
            preds.append(_np(p))
        if n_batches == 0:
            raise ValueError("val_data yielded no batches; it is empty")
        val_loss = loss_sum / n_items if n_items else float("nan")
        if self.use_loss:
            return val_loss, val_loss
        y_true, y_pred = np.concatenate(trues), np.concatenate(preds)
        if len(y_true) != len(y_pred):
            raise ValueError(
                f"validation produced {len(y_pred)} predictions for {len(y_true)} targets; "
                "predict_fn must return (y_true, y_pred) of equal length"
            )
        return float(self.metric(y_true, y_pred)), val_loss  # type: ignore[misc]


def _np(x: Any) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().float().cpu() if x.is_floating_point() else x.detach().cpu()
        return x.numpy()
    return np.asarray(x)


def _improved(score: float, best: float, mode: str) -> bool:
    if np.isnan(score):
        return False
    if np.isnan(best):
        return True
    return score > best if mode == "max" else score < best


def fit(
    model: nn.Module,
    train_data: Any,
    val_data: Any = None,
    *,
    loss_fn: Callable | None = None,
    val_metric: Any,
    mode: str | None = None,
    epochs: int,
    lr: float = 1e-3,
    batch_size: int = 32,
    patience: int | None = 10,
    lr_patience: int | None = 5,
    lr_factor: float = 0.5,
    min_lr: float = 1e-6,
    optimizer: Any = None,
    weight_decay: float = 0.0,
    grad_clip: float | None = None,
    collate_fn: Callable | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
    amp: bool = True,
    progress: bool = True,
    train_step: Callable | None = None,
    predict_fn: Callable | None = None,
    num_workers: int = 0,
    deterministic: bool | None = None,
) -> FitResult:
    """Train ``model`` and return it with the weights of its best validation epoch.

    Every epoch: one pass over ``train_data`` (optimizer step per batch), then the
    validation score. ``mode`` is ``"max"`` (default) or ``"min"`` (default for
    ``val_metric="loss"``). The LR is multiplied by ``lr_factor`` (not below ``min_lr``)
    after ``lr_patience`` consecutive epochs without improvement (``ReduceLROnPlateau``);
    training stops after ``patience`` such epochs (``None`` disables either). An epoch
    improves when its score is strictly better than the best so far; a NaN score never does.
    A non-finite training loss raises immediately (lower ``lr`` or check the inputs).

    ``optimizer``: None (Adam with ``lr`` and ``weight_decay`` on the trainable parameters),
    an optimizer instance, or a factory ``params -> optimizer``. ``seed`` re-seeds
    everything (:func:`seed_everything`, with ``deterministic``: None = the process default of
    :func:`configure`, else on for CPU and off on CUDA) and fixes the shuffling order.
    ``amp`` (CUDA only): bf16 or fp16 autocast with loss scaling; recurrent layers stay float32
    (:func:`fp32_recurrent`). In a dry run each epoch stops after
    :data:`serlib.profiles.DRY_BATCHES` batches.
    """
    t_start = time.perf_counter()
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    mode = mode or ("min" if val_metric == "loss" else "max")
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
    for name, value in (("patience", patience), ("lr_patience", lr_patience)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be >= 1 or None, got {value}")
    if train_step is None and loss_fn is None:
        raise ValueError("pass loss_fn (used by the default step: loss_fn(model(*inputs), target)) or train_step")

    dev = resolve_device(device)
    det = seed_everything(seed, deterministic=deterministic, device=dev)
    precision = _Precision(dev, amp)
    if precision.dtype is not None:
        fp32_recurrent(model)
    max_batches = _profiles.DRY_BATCHES if _profiles.is_dry() else None
    model.to(dev)
    kw = dict(batch_size=batch_size, collate_fn=collate_fn, num_workers=num_workers, seed=seed)
    train_loader = _loader(train_data, "train_data", shuffle=True, **kw)
    val_loader = None if val_data is None else _loader(val_data, "val_data", shuffle=False, **kw)
    validate = _Validator(val_metric, val_loader, loss_fn, predict_fn, precision, dev)
    opt = _make_optimizer(model, optimizer, lr, weight_decay)
    params = [p for g in opt.param_groups for p in g["params"]]
    scheduler = None
    if lr_patience is not None:
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode=mode, factor=lr_factor, patience=lr_patience - 1, threshold=0.0, min_lr=min_lr
        )

    def step(batch: Any) -> torch.Tensor:
        if train_step is not None:
            return train_step(model, batch, dev)
        inputs, y = _split_batch(batch)
        return loss_fn(model(*inputs), y)  # type: ignore[misc]

    rows: list[dict] = []
    best_score, best_epoch, best_state, bad = float("nan"), 0, None, 0
    stopped = False
    bar = _progress(range(1, epochs + 1), progress)
    for epoch in bar:
        t0 = time.perf_counter()
        lr_now = opt.param_groups[0]["lr"]
        model.train()
        losses = []
        for i, batch in enumerate(train_loader):
            batch = to_device(batch, dev)
            opt.zero_grad(set_to_none=True)
            with precision.autocast():
                loss = step(batch)
            if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
                raise TypeError(f"the training step must return a scalar loss tensor, got {loss!r:.80}")
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"training loss is {loss.item()} at epoch {epoch}, batch {i}; lower lr, check inputs for "
                    "NaN/inf, or enable grad_clip"
                )
            precision.backward_step(loss.float(), opt, params, grad_clip)
            losses.append(loss.item())
            if max_batches is not None and i + 1 >= max_batches:
                break
        if not losses:
            raise ValueError(f"train_data yielded no batches in epoch {epoch}; it is empty or was consumed")
        score, val_loss = validate(model)
        if np.isnan(score):
            warnings.warn(f"validation score is NaN at epoch {epoch}; counted as no improvement", RuntimeWarning)
        is_best = _improved(score, best_score, mode)
        if is_best:
            best_score, best_epoch, bad = score, epoch, 0
            best_state = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        else:
            bad += 1
        if scheduler is not None:
            scheduler.step(score if not np.isnan(score) else (-np.inf if mode == "max" else np.inf))
        rows.append(dict(epoch=epoch, train_loss=float(np.mean(losses)), val_metric=score, val_loss=val_loss,
                         lr=lr_now, seconds=time.perf_counter() - t0, best=is_best))
        if progress:
            bar.set_postfix(
                loss=f"{rows[-1]['train_loss']:.4f}", val=f"{score:.4f}", best=f"{best_score:.4f}", lr=f"{lr_now:.1e}"
            )
        if patience is not None and bad >= patience:
            stopped = epoch < epochs
            break
    if best_state is None:
        raise RuntimeError("the validation score was NaN in every epoch; no weights can be selected (check val_metric)")
    model.load_state_dict(best_state)
    model.eval()
    return FitResult(model, pd.DataFrame(rows), best_epoch, float(best_score), time.perf_counter() - t_start,
                     stopped_early=stopped, device=str(dev), precision=precision.name, deterministic=det,
                     dry=max_batches is not None)


def _progress(it: Iterable, enabled: bool):
    if not enabled:
        return it
    from serlib.progress import bar as progress_bar

    return progress_bar(it, desc="epochs", unit="epoch", leave=False)


# --------------------------------------------------------------------------- predict
@torch.no_grad()
def predict(
    model: nn.Module,
    data: Any,
    *,
    batch_size: int = 256,
    device: str | torch.device | None = None,
    collate_fn: Callable | None = None,
    forward: Callable | None = None,
    amp: bool = True,
    num_workers: int = 0,
) -> np.ndarray:
    """Run ``model`` in eval mode without gradients over ``data``; outputs concatenated (float32
    for floating outputs) along the first axis, in data order.

    ``data``: an array/tensor of inputs, a tuple of arrays, a Dataset, DataLoader or
    re-iterable of batches. A bare tensor batch is the single input; a tuple/list batch
    follows the training convention (inputs..., target) and its last element is dropped.
    ``forward(model, batch) -> tensor`` overrides both (unlabelled multi-input data, models
    returning tuples).
    """
    dev = resolve_device(device)
    precision = _Precision(dev, amp)
    if isinstance(data, (np.ndarray, torch.Tensor)):
        if len(data) == 0:
            raise ValueError("predict: data is empty (0 items)")
        data = TensorDataset(_as_tensor(data))
        single_input = True
    else:
        single_input = False
    loader = _loader(data, "data", batch_size=batch_size, shuffle=False, collate_fn=collate_fn,
                     num_workers=num_workers, seed=0)
    if precision.dtype is not None:
        fp32_recurrent(model)
    model.to(dev).eval()
    outs = []
    for batch in loader:
        batch = to_device(batch, dev)
        with precision.autocast():
            if forward is not None:
                out = forward(model, batch)
            elif isinstance(batch, torch.Tensor):
                out = model(batch)
            elif single_input:
                out = model(batch[0])
            else:
                inputs, _ = _split_batch(batch)
                out = model(*inputs)
        outs.append(_np(_output_tensor(out)))
    if not outs:
        raise ValueError("predict: data yielded no batches; it is empty")
    return np.concatenate(outs)
