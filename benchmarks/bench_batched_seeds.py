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


KINDS: dict[str, dict[str, Any]] = {
    "ladder": {"variants": ladder_variants,
               "model": "paper 2: Dense / LN / DLN / DLN+he MLPs, 2 x 256 hidden units (serlib.models.ladder)",
               "batched_by": "serlib.models.ladder.train_batched",
               "one_at_a_time_by": "serlib.models.ladder.train_model (serlib.training.fit)"},
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
    out.write_text(json.dumps(report, indent=2) + "\n")
    print("wrote", out)
    return report


if __name__ == "__main__":
    main()
