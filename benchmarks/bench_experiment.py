"""Benchmark serlib.experiment: the same grid of real fits on 1 vs N workers, and a fully cached rerun.

    python benchmarks/bench_experiment.py [--workers 2] [--seeds 4] [--folds 2] [--epochs 60] [--patience 15]

The grid: ``seeds x folds`` (default 4 x 2 = 8) small MLPs (88 -> 256 -> 4, Adam, early stopping on
validation UAR, ``serlib.training.fit``) on the eGeMAPS functionals of the embedded ``quick`` corpus,
leave-one-session-out folds (validation speakers from the other sessions). Each task reads the
features from the feature cache (extracted once before timing) and returns per-utterance
predictions with posteriors, as the notebooks' tasks do.

Measured in one run, into empty temporary task stores:

- ``serial_s``: ``workers=1`` (in this process, one torch thread per task);
- ``dask_s``: ``workers=N`` on a fresh ``LocalCluster`` (start-up and the workers' imports included;
  ``dask_startup_s`` is the cluster start alone) -> ``speedup = serial_s / dask_s``;
- ``cached_s``: the serial grid again, every task read from the store -> ``cached_ratio = cached_s /
  serial_s``.

The predictions of the serial and the Dask runs are compared (they must be identical). The load
average before and after is recorded: the machine may be shared, and other jobs distort scaling.
Results are printed and written to ``results/benchmarks/experiment.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time

import numpy as np
import pandas as pd

from serlib.experiment import Context, Experiment, Task, TaskOutput, default_workers, stack

TASK = "bench_experiment:fit_mlp"


def fit_mlp(config: dict, ctx: Context) -> TaskOutput:
    """One MLP on eGeMAPS, fold = test session ``config["fold"]`` (a task function)."""
    import torch

    from serlib import features, protocols, training

    m = ctx.manifest
    X = features.extract(m, "egemaps", n_jobs=1, progress=False).to_numpy()
    classes = sorted(m.emotion.unique())
    y = m.emotion.map({c: i for i, c in enumerate(classes)}).to_numpy()
    split = next(s for s in protocols.leave_one_session_out(m, seed=0) if s.name == f"session={config['fold']}")
    sc = features.Standardizer().fit(X[split.train])
    t = lambda idx: torch.from_numpy(sc.transform(X[idx]).astype(np.float32))  # noqa: E731
    model = torch.nn.Sequential(torch.nn.Linear(X.shape[1], config["hidden"]), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                torch.nn.Linear(config["hidden"], len(classes)))
    fr = training.fit(model, (t(split.train), torch.from_numpy(y[split.train])),
                      (t(split.val), torch.from_numpy(y[split.val])), loss_fn=torch.nn.functional.cross_entropy,
                      val_metric="uar", epochs=config["epochs"], patience=config["patience"], lr=1e-3, batch_size=32,
                      seed=config["seed"], device=ctx.device, progress=False)
    post = torch.softmax(torch.from_numpy(training.predict(fr.model, t(split.test), device=ctx.device)), 1).numpy()
    preds = pd.DataFrame({"utt_id": m.utt_id.iloc[split.test].to_numpy(), "test_condition": "clean",
                          "y_true": [classes[i] for i in y[split.test]], "y_pred": [classes[i] for i in post.argmax(1)]})
    for i, c in enumerate(classes):
        preds[f"p_{c}"] = post[:, i]
    return TaskOutput(predictions=preds, history=fr.history, meta={"best_epoch": fr.best_epoch})


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--folds", type=int, default=2, help="test sessions (Ses01, Ses02, ...)")
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--patience", type=int, default=15)
    args = ap.parse_args(argv)

    import torch

    from serlib import corpora, features
    from serlib.paths import results_dir

    m = corpora.load("synthetic", size="quick")
    features.extract(m, "egemaps", progress=False)  # warm the feature cache (not timed)
    sessions = sorted(m.session.unique())[: args.folds]
    tasks = [Task(TASK, {"seed": s, "fold": f, "hidden": 256, "epochs": args.epochs,
                        "patience": args.patience})
             for s in range(args.seeds) for f in sessions]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        exp = lambda name, w: Experiment("bench", manifest=m, workers=w, root=f"{tmp}/{name}")  # noqa: E731
        t0 = time.perf_counter()
        serial = exp("serial", 1).run(tasks)
        serial_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with exp("dask", args.workers) as ex:
            ex.client()
            startup_s = time.perf_counter() - t0
            dask = ex.run(tasks)
        dask_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        cached = exp("serial", 1).run(tasks)
        cached_s = time.perf_counter() - t0
    assert sum(o.cached for o in cached) == len(tasks), "the rerun computed tasks"
    pd.testing.assert_frame_equal(stack(serial), stack(dask))  # identical predictions on both backends
    fit_s = [o.record["seconds"] for o in serial]
    report = {
        "benchmark": "experiment",
        "definition": "speedup = serial_s / dask_s (same grid, empty stores, Dask start-up included); "
                      "cached_ratio = cached_s / serial_s (every task read from the store)",
        "grid": {"fits": len(tasks), "task": TASK, "seeds": args.seeds, "folds": sessions, "epochs_max": args.epochs,
                 "model": "MLP 88-256-4 on eGeMAPS, quick embedded corpus", "patience": args.patience, "utterances": len(m),
                 "mean_epochs_run": round(float(np.mean([len(o.history) for o in serial])), 1)},
        "workers": args.workers, "cores": default_workers(),
        "serial_s": round(serial_s, 2), "dask_s": round(dask_s, 2), "dask_startup_s": round(startup_s, 2),
        "cached_s": round(cached_s, 3),
        "speedup": round(serial_s / dask_s, 2),
        "speedup_without_startup": round(serial_s / (dask_s - startup_s), 2),
        "cached_ratio": round(cached_s / serial_s, 4),
        "fit_seconds_serial_mean": round(float(np.mean(fit_s)), 2),
        "identical_predictions": True,
        "loadavg_1_5_15_before": [round(x, 2) for x in load_before],
        "loadavg_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
        "note": "the machine is shared with other jobs: a load average above the core count means the "
                "workers competed for the cores, and the speed-up understates an idle machine's",
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0], "cpu_count": os.cpu_count(),
                    "torch": torch.__version__},
    }
    out = results_dir() / "benchmarks" / "experiment.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("serial_s", "dask_s", "dask_startup_s", "cached_s", "speedup",
                                              "speedup_without_startup", "cached_ratio", "loadavg_1_5_15_before",
                                              "loadavg_1_5_15_after")}, indent=1))
    print("wrote", out)
    return report


if __name__ == "__main__":
    main()
