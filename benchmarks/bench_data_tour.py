"""Benchmark the data tour's difficulty check: where its CPU time goes, and what one fit per fold saves.

    python benchmarks/bench_data_tour.py [--n 60] [--trees 300]

Measured in one run on the embedded quick corpus (generated on first use):

- **features**: CPU seconds per utterance of eGeMAPS, clean and in one noisy condition (the
  check's ``cafeteria`` at 0 dB), computed in this process (``n_jobs=1``, no cache) on ``--n``
  utterances; scaled to the notebook's quick run (whole corpus x conditions).
- **forest**: the leave-one-session-out forests (``--trees`` trees, A/V regressors) on the whole
  corpus with 3 test conditions (clean features reused as stand-ins for the noisy ones: the
  cost does not depend on the values), as three :func:`serlib.models.forest.cross_validate`
  calls (one fit per fold and condition, the notebook before) vs one
  :func:`~serlib.models.forest.cross_validate_conditions` call (one fit per fold), each with
  ``n_jobs`` 1 and 2: CPU and wall seconds, and the ratios.

CPU seconds are ``os.times()`` of this process (threads included); wall seconds depend on the
load of a shared machine (the load average is recorded). Results are printed and written to
``results/benchmarks/data_tour.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from serlib import corpora, features, protocols  # noqa: E402
from serlib.audio import atomic_write  # noqa: E402
from serlib.models import forest  # noqa: E402
from serlib.noise import Condition  # noqa: E402
from serlib.paths import results_dir  # noqa: E402


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def measure(fn) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of ``fn()``."""
    c0, w0 = _cpu(), time.perf_counter()
    fn()
    return round(_cpu() - c0, 3), round(time.perf_counter() - w0, 3)


def feature_costs(m, n: int) -> dict:
    """CPU seconds per utterance of eGeMAPS, clean and at cafeteria 0 dB, computed afresh (no cache)."""
    sub = m.groupby("emotion", group_keys=False).head(n // 4).reset_index(drop=True)
    out = {"utterances": len(sub), "audio_s": round(float(sub.duration.sum()), 2)}
    for name, cond in (("clean", None), ("cafeteria_0dB", Condition("cafeteria", 0))):
        cpu, wall = measure(lambda: features.extract(sub, "egemaps", cond, n_jobs=1, cache=False, progress=False))
        out[name] = {"cpu_s": cpu, "wall_s": wall, "cpu_s_per_utt": round(cpu / len(sub), 4),
                     "x_real_time_per_core": round(out["audio_s"] / cpu, 1)}
    return out


def forest_costs(m, X, trees: int) -> dict:
    splits = protocols.leave_one_session_out(m, val=None)
    tests = {"clean": X, "noisy_a": X.copy(), "noisy_b": X.copy()}
    kw = dict(regress=("arousal", "valence"), trees=trees, seed=0)
    out = {}
    for n_jobs in (1, 2):
        per = lambda: [forest.cross_validate(m, X, splits, Xt, n_jobs=n_jobs, **kw) for Xt in tests.values()]  # noqa: E731
        once = lambda: forest.cross_validate_conditions(m, X, splits, tests, n_jobs=n_jobs, **kw)  # noqa: E731
        out[f"n_jobs={n_jobs}"] = {"fit_per_condition": dict(zip(("cpu_s", "wall_s"), measure(per))),
                                   "fit_once_per_fold": dict(zip(("cpu_s", "wall_s"), measure(once)))}
        r = out[f"n_jobs={n_jobs}"]
        r["cpu_ratio_per_condition_over_once"] = round(r["fit_per_condition"]["cpu_s"] / r["fit_once_per_fold"]["cpu_s"], 2)
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=60, help="utterances for the per-utterance feature cost")
    ap.add_argument("--trees", type=int, default=300)
    args = ap.parse_args(argv)
    m = corpora.load("synthetic", size="quick", seed=0)
    load_before = os.getloadavg()
    feats = feature_costs(m, args.n)
    X = features.extract(m, "egemaps", None, progress=False).to_numpy()  # cached after a quick run of 00 or 01
    forests = forest_costs(m, X, args.trees)
    per_utt = (feats["clean"]["cpu_s_per_utt"] + 2 * feats["cafeteria_0dB"]["cpu_s_per_utt"])
    out = {
        "benchmark": "data_tour",
        "definition": "CPU seconds (os.times of this process, threads included) and wall seconds; features in-process "
                      "(n_jobs=1, no cache); forests on the whole quick corpus, 5 leave-one-session-out folds",
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count()},
        "loadavg_1_5_15_before": [round(x, 2) for x in load_before],
        "loadavg_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
        "features": feats,
        "forest": forests,
        "quick_estimate_cpu_s": {
            "features_clean_plus_2_noisy": round(len(m) * per_utt, 1),
            "forest_fit_once_per_fold": forests["n_jobs=2"]["fit_once_per_fold"]["cpu_s"],
        },
    }
    text = json.dumps(out, indent=1)
    print(text)
    path = results_dir() / "benchmarks" / "data_tour.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text + "\n"))
    return out


if __name__ == "__main__":
    main()
