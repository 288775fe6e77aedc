"""Benchmark notebook 10's unit costs: where a leaderboard run spends its CPU time.

    python benchmarks/bench_leaderboard.py [--utterances 16] [--epochs 2]

Measured in one process with one torch thread and ``n_jobs=1`` (so CPU seconds are the process's
own, ``time.process_time``), on the embedded ``quick`` corpus and its first leave-one-session-out fold:

- ``features``: CPU seconds per utterance of each input the leaderboard extracts, cache off
  (``serlib.features.extract(cache=False)``): eGeMAPS clean, under babble at 0 dB and in the
  simulated booth; log-mel and spectrogram under babble; the GTCRN and DeepFilterNet3 enhancers
  (TRNet's front end) on babble-at-0-dB audio.
- ``training``: CPU seconds per training epoch of every method at the ``quick`` model size (and
  at ``tiny`` for the spectrogram/audio networks), ``--epochs`` epochs on the fold's training
  speakers (validation included), no early stopping. TRNet reads the clean log-mel in place of
  its noisy and enhanced inputs (same shapes, hence the same compute; enhancing the training set
  is costed under ``features``). ``five_runs_10_epochs_cpu_s`` = 5 x 10 x the epoch cost: what
  five runs cost if early stopping ended them after ten epochs (the functional models stopped
  after 6-35 epochs at quick's settings).

Writes ``results/benchmarks/leaderboard.json`` (the notebook shows it in "What quick runs").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

import numpy as np
import pandas as pd


def _cpu(fn) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--utterances", type=int, default=16, help="utterances per feature measurement")
    ap.add_argument("--epochs", type=int, default=2, help="epochs per training measurement")
    ap.add_argument("--skip", nargs="*", default=[], help="methods not to time (e.g. 'Joint ASR-SER')")
    args = ap.parse_args(argv)

    import torch

    from serlib import corpora, enhance, features, profiles, protocols
    from serlib import leaderboard as lb
    from serlib.paths import results_dir

    torch.set_num_threads(1)
    cfg = profiles.resolve("10_robustness_leaderboard", profile="quick")
    m = corpora.to_4class(corpora.from_config(cfg))
    split = protocols.auto(m, lb.PAPER_PROTOCOL, limit_folds=1).splits[0]
    tr, va, te = (split.frame(p, m) for p in ("train", "val", "test"))
    sample = lb.stratified(te, args.utterances)
    n = len(sample)
    babble = lb.condition_grid([0], ["babble"], (), xcorpus=False, fgsm=False)[1].audio
    booth = lb.condition_grid([0], [], ["A10_B30"], xcorpus=False, fgsm=False)[1].audio
    booth.prepare()
    babble.prepare()

    feats = []
    for label, kind, cond in (("eGeMAPS, clean", "egemaps", None), ("eGeMAPS, babble 0 dB", "egemaps", babble),
                              ("eGeMAPS, booth A10_B30", "egemaps", booth), ("log-mel, babble 0 dB", "lmfb", babble),
                              ("spectrogram, babble 0 dB", "spectrogram", babble)):
        s = _cpu(lambda: features.extract(sample, kind, cond, n_jobs=1, cache=False, progress=False))
        feats.append({"inputs": label, "cpu_s_per_utt": round(s / n, 4)})
    from serlib.features.pipeline import load_conditioned

    waves = [load_conditioned(u, p, babble) for u, p in zip(sample.utt_id, sample.path)]
    for name in ("gtcrn", "deepfilternet3"):
        enh = enhance.get(name)
        enh(waves[0])  # load the model outside the timing
        s = _cpu(lambda: [enh(w, u) for w, u in zip(waves, sample.utt_id)])
        feats.append({"inputs": f"enhancement ({name}), babble 0 dB", "cpu_s_per_utt": round(s / n, 4)})

    inputs = lb.Inputs(n_jobs=1, progress=False)
    lmfb = (inputs("lmfb", tr), inputs("lmfb", va))
    trip = tuple({k: x for k in ("clean", "noisy", "enhanced")} for x in lmfb)
    train_inputs = {"egemaps": (inputs("egemaps", tr), inputs("egemaps", va)), "lmfb": lmfb,
                    "spectrogram": (inputs("spectrogram", tr), inputs("spectrogram", va)), "trnet-train": trip,
                    "audio": ((tr, None), (va, None))}
    rows = []
    for name in lb.METHODS:
        if name in args.skip:
            continue
        spec = lb.METHODS[name]
        sizes = [cfg.model_size] + (["tiny"] if spec.kind not in ("egemaps",) else [])
        for size in sizes:
            budget = lb.Budget(epochs=args.epochs, patience=None, lr=cfg.lr, batch_size=cfg.batch_size,
                               model_size=size, grid=cfg.grid, device="cpu", n_jobs=1)
            X, Xv = train_inputs[spec.train_inputs]
            extra = {"unlabeled": train_inputs["egemaps"][0]} if name in ("LN", "DLN") else {}
            s = _cpu(lambda: lb.fit(name, X, tr.emotion, Xv, va.emotion, seed=0, budget=budget, **extra))
            per = s / args.epochs
            rows.append({"method": name, "model_size": size, "cpu_s_per_epoch": round(per, 2),
                         "five_runs_10_epochs_cpu_s": round(50 * per)})
            print(rows[-1], flush=True)
    report = {
        "benchmark": "benchmarks/bench_leaderboard.py",
        "definition": (f"CPU seconds (one thread, one process) per utterance of each input (cache off, {n} "
                       f"utterances), and per training epoch of each method on the first fold's {len(tr)} "
                       f"training utterances (validation on {len(va)} included); five_runs_10_epochs_cpu_s = "
                       "50 epochs' worth"),
        "features": feats, "training": rows,
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0], "cpus": os.cpu_count(),
                    "torch": torch.__version__, "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()]},
    }
    out = results_dir() / "benchmarks" / "leaderboard.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(pd.DataFrame(feats).to_string(index=False))
    print(pd.DataFrame(rows).to_string(index=False))
    print("wrote", out)
    return report


if __name__ == "__main__":
    main()
