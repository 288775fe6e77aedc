"""Benchmark batched multi-seed training (``torch.func``) against training the seeds one at a time.

    python benchmarks/bench_batched_seeds.py [--kinds ladder] [--seeds 5] [--epochs 4] [--quick]

Several seeds of one model trained on the same data can run as **one** batched model: the seeds'
weights are stacked (``torch.func.stack_module_state``), one ``vmap`` of ``functional_call``
computes every seed's loss on its own batch and one optimiser step updates them all. Each model kind
registers, in :data:`KINDS`, a function ``case(args) -> (one_at_a_time, batched, compare)``: two
callables that train ``args.seeds`` seeds (returning per-seed results) and a function that compares
their results seed by seed. Other model kinds (CNN, DenseNet, EDRL blocks, the TRNet SER module) can
be added the same way; each writes its own entry under ``"kinds"``.

Measured in one run, on one torch thread, for each registered kind and each of its variants:

- ``serial_cpu_s`` / ``batched_cpu_s``: CPU seconds of this process for the same seeds, epochs and
  data, one at a time vs batched -> ``speedup = serial_cpu_s / batched_cpu_s`` (CPU time, not wall
  time, because the machine may be shared; wall seconds are recorded too);
- per seed: the best epoch of both, and the largest absolute difference of the per-epoch
  validation scores and of the test predictions -> ``equal_within`` (the tolerance that held).

``ladder`` (paper 2): Dense, LN, DLN and DLN+he (:func:`serlib.models.ladder.train_model` vs
:func:`serlib.models.ladder.train_batched`) on standardised pseudo-features of the shapes notebook 02
trains on: eGeMAPS (88-d, its ``quick`` profile) and ComParE (6,373-d, ``paper``; ``--quick`` skips
it), 300 labelled, 120 unlabelled, 60 development, 120 test items, batch 32, lr 1e-3.
Results are printed and written to ``results/benchmarks/batched_seeds.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    w, c = time.perf_counter(), _cpu()
    out = fn()
    return out, _cpu() - c, time.perf_counter() - w


# --------------------------------------------------------------------------- kind: ladder (paper 2)
def _ladder_data(d: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Standardised pseudo-functionals whose first 8 columns carry a continuous target."""
    rng = np.random.default_rng(seed)

    def make(n: int, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        X = rng.normal(size=(n, d)).astype(np.float32)
        y = (X[:, :8].mean(1) * 2 + 0.5 * rng.normal(size=n)).astype(np.float32)
        return X + shift, y

    (Xtr, ytr), (Xdev, ydev), (Xte, yte) = make(300), make(60), make(120)
    Xu, _ = make(120, shift=0.3)
    return {"X": Xtr, "y": ytr, "X_dev": Xdev, "y_dev": ydev, "X_u": Xu, "X_test": Xte, "y_test": yte}


def ladder_case(method: str, d: int, args: argparse.Namespace):
    import torch

    from serlib.models import ladder

    data = _ladder_data(d)
    seeds = list(range(args.seeds))
    kw = dict(epochs=args.epochs, lr=1e-3, batch_size=32, device="cpu", patience=None)
    X, y, Xd, yd, Xu = data["X"], data["y"], data["X_dev"], data["y_dev"], data["X_u"]

    def one_at_a_time():
        return [ladder.train_model(method, X, y, Xd, yd, Xu, seed=s, **kw) for s in seeds]

    def batched():
        return ladder.train_batched(method, X, [y] * len(seeds), Xd, [yd] * len(seeds), Xu, seeds=seeds, **kw)

    def compare(a: list, b: list) -> dict[str, Any]:
        Xt = torch.as_tensor(data["X_test"])
        rows = []
        for s, ra, rb in zip(seeds, a, b):
            with torch.no_grad():
                pa, pb = ra.model.eval()(Xt).numpy(), rb.model.eval()(Xt).numpy()
            rows.append({"seed": s, "best_epoch": [int(ra.best_epoch), int(rb.best_epoch)],
                         "val_ccc_max_abs_diff": float(np.abs(ra.history.val_metric - rb.history.val_metric).max()),
                         "test_pred_max_abs_diff": float(np.abs(pa - pb).max()),
                         "test_pred_std": float(pa.std())})
        return {"per_seed": rows, "same_best_epoch": all(r["best_epoch"][0] == r["best_epoch"][1] for r in rows),
                "equal_within": {"val_ccc": max(r["val_ccc_max_abs_diff"] for r in rows),
                                 "test_pred": max(r["test_pred_max_abs_diff"] for r in rows)}}

    return one_at_a_time, batched, compare


def ladder_variants(args: argparse.Namespace) -> list[tuple[str, Callable]]:
    dims = [("egemaps", 88)] + ([] if args.quick else [("compare", 6373)])
    return [(f"{method} on {name} ({d}-d)", lambda a, m=method, d=d: ladder_case(m, d, a))
            for name, d in dims for method in ("Dense", "LN", "DLN", "DLN+he")]


# --------------------------------------------------------------------------- kind: conv (papers 3 and 5)
def _conv_data(frames: int, bins: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Pseudo-spectrograms of 4 classes: each class lifts its own band of bins by 1 (plus unit noise)."""
    rng = np.random.default_rng(seed)

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 4, n)
        x = rng.normal(size=(n, frames, bins)).astype(np.float32)
        for c in range(4):
            x[y == c, :, c * bins // 4:(c + 1) * bins // 4] += 1.0
        return x, y.astype(np.int64)

    (X, y), (Xv, yv), (Xt, yt) = make(256), make(64), make(128)
    return {"X": X, "y": y, "X_val": Xv, "y_val": yv, "X_test": Xt, "y_test": yt}


def _conv_serial(make, data, seeds, epochs, batch):
    """One model per seed, one after the other: ``torch.manual_seed(seed)`` initial weights, Adam 1e-3,
    the batch order of ``torch.Generator().manual_seed(seed)``, validation accuracy after each epoch."""
    import torch
    import torch.nn.functional as F

    X, y, Xv = (torch.as_tensor(data[k]) for k in ("X", "y", "X_val"))
    out = []
    for s in seeds:
        torch.manual_seed(s)
        model, g = make(), torch.Generator().manual_seed(s)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        val = []
        for _ in range(epochs):
            model.train()
            perm = torch.randperm(len(X), generator=g)
            for i in range(0, len(X) - batch + 1, batch):
                idx = perm[i:i + batch]
                opt.zero_grad()
                F.cross_entropy(model(X[idx]), y[idx]).backward()
                opt.step()
            with torch.no_grad():
                val.append(model.eval()(Xv).argmax(1).numpy())
        out.append((model, val))
    return out


def _conv_batched(make, data, seeds, epochs, batch):
    """The same seeds as one batched model: stacked weights and BatchNorm buffers
    (``stack_module_state``), one ``vmap`` of ``functional_call`` over the seeds' own batches, one Adam
    step for all (Adam is elementwise, so each seed's update is its own)."""
    import copy

    import torch
    import torch.nn.functional as F
    from torch.func import functional_call, stack_module_state, vmap

    X, y, Xv = (torch.as_tensor(data[k]) for k in ("X", "y", "X_val"))
    models = []
    for s in seeds:
        torch.manual_seed(s)
        models.append(make())
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    gens = [torch.Generator().manual_seed(s) for s in seeds]
    opt = torch.optim.Adam(list(params.values()), lr=1e-3)
    loss_of = vmap(lambda p, b, xb, yb: F.cross_entropy(functional_call(base, (p, b), (xb,)), yb))
    predict = vmap(lambda p, b, xb: functional_call(base, (p, b), (xb,)), in_dims=(0, 0, None))
    val = [[] for _ in seeds]
    for _ in range(epochs):
        base.train()
        perms = [torch.randperm(len(X), generator=g) for g in gens]
        for i in range(0, len(X) - batch + 1, batch):
            idx = torch.stack([p[i:i + batch] for p in perms])
            opt.zero_grad()
            loss_of(params, buffers, X[idx], y[idx]).sum().backward()
            opt.step()
        base.eval()
        with torch.no_grad():
            pred = predict(params, buffers, Xv).argmax(-1).numpy()
        for k in range(len(seeds)):
            val[k].append(pred[k])
    out = []
    for k, m in enumerate(models):  # the batched weights back into ordinary modules, for the comparison
        m.load_state_dict({n: t[k].detach().clone() for n, t in {**params, **buffers}.items()})
        out.append((m, val[k]))
    return out


def conv_case(name: str, make, frames: int, bins: int, args: argparse.Namespace):
    import torch

    data = _conv_data(frames, bins)
    seeds = list(range(args.seeds))
    batch = 32

    def compare(a: list, b: list) -> dict[str, Any]:
        Xt = torch.as_tensor(data["X_test"])
        rows = []
        for s, (ma, va), (mb, vb) in zip(seeds, a, b):
            with torch.no_grad():
                pa = torch.softmax(ma.eval()(Xt), -1).numpy()
                pb = torch.softmax(mb.eval()(Xt), -1).numpy()
            rows.append({"seed": s, "val_predictions_differing": int(sum((x != z).sum() for x, z in zip(va, vb))),
                         "test_posterior_max_abs_diff": float(np.abs(pa - pb).max()),
                         "test_accuracy": [float((pa.argmax(1) == data["y_test"]).mean()),
                                           float((pb.argmax(1) == data["y_test"]).mean())]})
        return {"per_seed": rows, "same_best_epoch": all(r["val_predictions_differing"] == 0 for r in rows),
                "equal_within": {"val_ccc": float(max(r["val_predictions_differing"] for r in rows)),
                                 "test_pred": max(r["test_posterior_max_abs_diff"] for r in rows)}}

    return (lambda: _conv_serial(make, data, seeds, args.epochs, batch),
            lambda: _conv_batched(make, data, seeds, args.epochs, batch), compare)


def conv_variants(args: argparse.Namespace) -> list[tuple[str, Callable]]:
    from serlib.models import densenet_highway as dh
    from serlib.models import trnet

    # dropout off: a vmapped dropout draws other masks than the serial model, and the check is on the arithmetic
    return [
        ("TRNet SER module (03 quick: 8-64 filters, 150 frames x 80 mels)",
         lambda a: conv_case("sernet", lambda: trnet.SERNet(channels=(8, 16, 32, 64), h_dim=64, dropout=0.0,
                                                            head_dropout=0.0), 150, 80, a)),
        ("CNN (05 quick: small, 64 frames x 32 bins)",
         lambda a: conv_case("cnn", lambda: dh.sized("cnn", "small", n_bins=32, dropout=0.0), 64, 32, a)),
        ("DenseNet (05 quick: small, 64 frames x 32 bins)",
         lambda a: conv_case("densenet", lambda: dh.sized("densenet", "small", n_bins=32, dropout=0.0), 64, 32, a)),
    ]


def lstm_check() -> str:
    """What vmap says about a model with an ``nn.LSTM`` (paper 5's CNN-LSTM, DenseNet-LSTM and proposed
    model; paper 4's CRDNN): checked on every run, since a later torch may add the batching rule."""
    import copy

    import torch
    from torch.func import functional_call, stack_module_state, vmap

    from serlib.models import densenet_highway as dh

    models = [dh.sized("cnn_lstm", "small", n_bins=32) for _ in range(2)]
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")
    try:
        vmap(lambda p, b, x: functional_call(base, (p, b), (x,)), in_dims=(0, 0, None))(params, buffers,
                                                                                          torch.randn(4, 64, 32))
    except RuntimeError as exc:
        return f"not batchable: RuntimeError: {str(exc).splitlines()[0]}"
    return "batchable (vmap ran a CNN-LSTM forward pass)"


KINDS: dict[str, dict[str, Any]] = {
    "ladder": {"variants": ladder_variants,
               "model": "paper 2: Dense / LN / DLN / DLN+he MLPs, 2 x 256 hidden units (serlib.models.ladder)",
               "batched_by": "serlib.models.ladder.train_batched",
               "one_at_a_time_by": "serlib.models.ladder.train_model (serlib.training.fit)"},
    "conv": {"variants": conv_variants,
             "model": "papers 3 and 5: the TRNet SER module and the CNN / DenseNet of paper 5 (conv + BatchNorm), "
                      "at the quick profile's widths and input sizes, dropout off; 256 training, 64 validation, "
                      "128 test pseudo-spectrograms, batch 32, Adam 1e-3",
             "batched_by": "benchmarks/bench_batched_seeds.py:_conv_batched (torch.func vmap, BatchNorm buffers "
                           "stacked)",
             "one_at_a_time_by": "benchmarks/bench_batched_seeds.py:_conv_serial (the same loop per seed)",
             "comparison": "val_ccc here counts validation predictions that differ (0 = identical every epoch); "
                           "test_pred is the largest |difference| of test posteriors"},
}
"""Model kinds: ``variants(args) -> [(name, case)]``, ``case(args) -> (one_at_a_time, batched, compare)``."""


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kinds", nargs="+", default=list(KINDS), choices=list(KINDS))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--quick", action="store_true", help="skip the large-input variants")
    args = ap.parse_args(argv)

    import torch

    from serlib.paths import results_dir

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    load_before = os.getloadavg()
    kinds = {}
    try:
        for kind in args.kinds:
            spec = KINDS[kind]
            entries = []
            for name, make in spec["variants"](args):
                serial_fn, batched_fn, compare = make(args)
                a, serial_cpu, serial_wall = _timed(serial_fn)
                b, batched_cpu, batched_wall = _timed(batched_fn)
                entry = {"variant": name, "seeds": args.seeds, "epochs": args.epochs,
                         "serial_cpu_s": round(serial_cpu, 2), "batched_cpu_s": round(batched_cpu, 2),
                         "serial_wall_s": round(serial_wall, 2), "batched_wall_s": round(batched_wall, 2),
                         "speedup": round(serial_cpu / batched_cpu, 2), **compare(a, b)}
                print(f"{kind}: {name}: speed-up {entry['speedup']} (CPU {entry['serial_cpu_s']} s -> "
                      f"{entry['batched_cpu_s']} s), same best epoch {entry['same_best_epoch']}, "
                      f"max |diff| val {entry['equal_within']['val_ccc']:.2e}, "
                      f"test {entry['equal_within']['test_pred']:.2e}", flush=True)
                entries.append(entry)
            kinds[kind] = {k: v for k, v in spec.items() if k != "variants"} | {"variants": entries}
            if kind == "conv":
                kinds[kind]["lstm_models"] = lstm_check()
                print("conv: LSTM models:", kinds[kind]["lstm_models"])
    finally:
        torch.set_num_threads(threads)
    report = {
        "benchmark": "batched_seeds",
        "definition": "speedup = CPU seconds of training the seeds one at a time / CPU seconds of training them "
                      "as one batched model (torch.func vmap), same data, epochs and seeds, one torch thread; "
                      "equal_within = the largest per-seed difference seen (validation score per epoch, test "
                      "predictions) between the two",
        "kinds": kinds,
        "loadavg_1_5_15_before": [round(v, 2) for v in load_before],
        "loadavg_1_5_15_after": [round(v, 2) for v in os.getloadavg()],
        "note": "CPU time of this process: other jobs on a shared machine slow both sides alike (a load average "
                "above the core count still inflates both through cache and memory contention)",
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0], "cpu_count": os.cpu_count(),
                    "torch": torch.__version__},
    }
    out = results_dir() / "benchmarks" / "batched_seeds.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.is_file():  # keep the kinds not rerun this time
        report["kinds"] = json.loads(out.read_text()).get("kinds", {}) | kinds
    out.write_text(json.dumps(report, indent=2) + "\n")
    print("wrote", out)
    return report


if __name__ == "__main__":
    main()
