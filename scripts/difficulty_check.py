"""How hard is the embedded corpus? Clean 4-class UAR with eGeMAPS + random forest, A/V CCC.

The quality bar of issue 3: under leave-one-session-out, clean 4-class UAR must land in
55-75 % (real IEMOCAP: ~55-60 %), confusions should be angry<->happy and neutral<->sad, and
arousal must be easier than valence (CCC of a simple regressor). A corpus where this plain
baseline scores ~100 % is a defect.

It also measures generation speed (utterances/s, x real time: synthesis in one process,
and the parallel generator making ``--speed-n`` utterances afresh in a temporary folder),
disk per hour of audio, and optionally UAR under noise (``--noisy white:0,babble:0``),
both trained on clean speech and tested noisy ("clean_train", the usual robustness test)
and trained and tested noisy ("matched"). Prints everything and saves
``results/benchmarks/difficulty.json``.

Usage::

    python scripts/difficulty_check.py                 # quick size (1,200 utterances), seed 0
    python scripts/difficulty_check.py --size smoke    # a fast sanity run
    python scripts/difficulty_check.py --corpus synthetic_xcorpus --noisy white:0,babble:0
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from serlib import corpora, features, protocols  # noqa: E402
from serlib.audio import atomic_write  # noqa: E402
from serlib.corpora import synthetic  # noqa: E402
from serlib.models import forest  # noqa: E402
from serlib.paths import results_dir  # noqa: E402

LABELS = corpora.EMOTIONS_4


def evaluate(df: pd.DataFrame, X: np.ndarray, X_test: np.ndarray | None = None, *, trees: int, n_jobs: int,
             seed: int) -> dict:
    """Leave-one-session-out RF classifier (UAR, confusion) and RF regressors (A/V CCC).

    Trained on ``X`` and tested on ``X_test`` (default ``X``): clean training with noisy testing is
    ``evaluate(df, X_clean, X_noisy)``. The work is :func:`serlib.models.forest.cross_validate`.
    """
    splits = protocols.leave_one_session_out(df, val=None)
    cv = forest.cross_validate(df, X, splits, X_test, regress=("arousal", "valence"), trees=trees,
                               n_jobs=n_jobs, seed=seed)
    s = cv.summary(df, labels=LABELS)
    fold_uar = cv.folds["uar"].to_numpy()
    cm = s["confusion"]
    return {
        "uar": s["uar"], "war": s["war"],
        "fold_uar": cv.folds.to_dict("records"), "fold_uar_mean": float(fold_uar.mean()),
        "fold_uar_std": float(fold_uar.std(ddof=1)),
        "fold_uar_min": float(fold_uar.min()), "fold_uar_max": float(fold_uar.max()),
        "confusion": {t: {p: int(cm.loc[t, p]) for p in LABELS} for t in LABELS},
        "ccc_arousal": s["ccc_arousal"], "ccc_valence": s["ccc_valence"],
    }


def disk_stats(df: pd.DataFrame) -> dict:
    size = sum(os.path.getsize(p) for p in df["path"])
    hours = float(df["duration"].sum()) / 3600
    return {"audio_hours": hours, "disk_mb": size / 1e6, "mb_per_hour": size / 1e6 / hours,
            "mean_duration_s": float(df["duration"].mean())}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpus", default="synthetic", choices=["synthetic", "synthetic_xcorpus"])
    ap.add_argument("--size", default="quick", help="smoke | quick | paper | number of utterances")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--trees", type=int, default=300)
    ap.add_argument("--speed-n", type=int, default=200, help="utterances generated afresh to time the generator")
    ap.add_argument("--noisy", default="", help="comma-separated noise_type:snr_db conditions, e.g. white:0,babble:0")
    ap.add_argument("--out", default=None, help="JSON path (default results/benchmarks/difficulty.json)")
    args = ap.parse_args(argv)
    size = int(args.size) if args.size.isdigit() else args.size

    out: dict = {"corpus": args.corpus, "size": size, "seed": args.seed, "version": synthetic.VERSION,
                 "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "n_jobs": args.n_jobs}}

    speed = synthetic.generation_speed(n=60, seed=args.seed)
    out["generation_single_process"] = speed
    print(f"synthesis, 1 process: {speed['utt_per_s']:.1f} utt/s, {speed['x_real_time']:.0f}x real time")
    with tempfile.TemporaryDirectory() as tmp:  # the parallel generator, cache writes included
        t0 = time.perf_counter()
        fresh = corpora.load(args.corpus, root=tmp, size=args.speed_n, seed=args.seed, n_jobs=args.n_jobs,
                             progress=False)
        gen_s = time.perf_counter() - t0
    par = {"utterances": len(fresh), "audio_s": float(fresh["duration"].sum()), "wall_s": gen_s,
           "utt_per_s": len(fresh) / gen_s, "x_real_time": float(fresh["duration"].sum()) / gen_s,
           "n_jobs": args.n_jobs}
    out["generation_parallel"] = par
    print(f"generator with {args.n_jobs} processes (pool start-up and wav writes included): "
          f"{par['utt_per_s']:.1f} utt/s, {par['x_real_time']:.0f}x real time")

    df = corpora.load(args.corpus, size=size, seed=args.seed, n_jobs=args.n_jobs)
    out["disk"] = disk_stats(df)
    d = out["disk"]
    print(f"{len(df)} utterances, {d['audio_hours']:.2f} h, {d['disk_mb']:.0f} MB -> {d['mb_per_hour']:.0f} MB/h "
          f"(16-bit PCM wav), mean duration {d['mean_duration_s']:.2f} s")

    conditions = [("clean", None)]
    for item in filter(None, args.noisy.split(",")):
        from serlib import noise
        ntype, snr = item.split(":")
        conditions.append((item, noise.Condition(ntype, snr_db=float(snr))))
    out["conditions"] = {}
    X_clean = None
    for name, cond in conditions:
        t0 = time.perf_counter()
        feats = features.extract(df, "egemaps", cond, n_jobs=args.n_jobs)
        t_feat = time.perf_counter() - t0
        X = feats.loc[df["utt_id"]].to_numpy(dtype=np.float32)
        runs = [("matched", X, X)] if cond is None else [("clean_train", X_clean, X), ("matched", X, X)]
        for mode, X_train, X_test in runs:
            res = evaluate(df, X_train, X_test, trees=args.trees, n_jobs=args.n_jobs, seed=args.seed)
            res["features_s"] = t_feat
            key = name if cond is None else f"{name} ({mode})"
            out["conditions"][key] = res
            print(f"\n[{key}] 4-class UAR {100 * res['uar']:.1f} % (WAR {100 * res['war']:.1f} %), per session "
                  + ", ".join(f"{f['fold'].split('=')[1]} {100 * f['uar']:.1f}" for f in res["fold_uar"])
                  + f"; mean {100 * res['fold_uar_mean']:.1f} +- {100 * res['fold_uar_std']:.1f} (sd), range "
                  f"{100 * res['fold_uar_min']:.1f}-{100 * res['fold_uar_max']:.1f}")
            print(pd.DataFrame(res["confusion"]).T.loc[LABELS, LABELS].rename_axis("true \\ predicted").to_string())
            print(f"CCC (RF regressor, LOSO): arousal {res['ccc_arousal']:.3f}, valence {res['ccc_valence']:.3f}")
        if cond is None:
            X_clean = X

    clean = out["conditions"]["clean"]
    out["checks"] = {
        "uar_in_55_75": bool(0.55 <= clean["uar"] <= 0.75),
        "arousal_easier_than_valence": bool(clean["ccc_arousal"] > clean["ccc_valence"]),
        "angry_mostly_confused_with_happy": bool(clean["confusion"]["angry"]["happy"]
                                                 >= max(clean["confusion"]["angry"]["neutral"],
                                                        clean["confusion"]["angry"]["sad"])),
        "sad_mostly_confused_with_neutral": bool(clean["confusion"]["sad"]["neutral"]
                                                 >= max(clean["confusion"]["sad"]["angry"],
                                                        clean["confusion"]["sad"]["happy"])),
    }
    print("\nchecks:", ", ".join(f"{k}={'ok' if v else 'FAILED'}" for k, v in out["checks"].items()))
    path = Path(args.out) if args.out else results_dir() / "benchmarks" / "difficulty.json"
    text = json.dumps(out, indent=2, default=float)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    print(f"saved {path}")
    return out


if __name__ == "__main__":
    main()
