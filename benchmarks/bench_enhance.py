"""Benchmark: the speech-enhancement front ends (serlib.enhance), speed and an SI-SNR sanity check.

Speed, as "x real time" (seconds of audio enhanced per wall-clock second; also per CPU second, which a
busy shared machine disturbs less), for each enhancer with
1 worker process and with ``--jobs`` processes (:func:`serlib.enhance.render`, the path the
notebooks use; the pool's start-up is included: fork-server start, imports and a ~2.6 s first-call warm-up of
torch/torchaudio per worker, so small jobs gain little from processes). The audio cache is
pointed at a temporary folder so every clip is really enhanced. Both runtimes (DeepFilterNet's Rust
``tract`` runtime, onnxruntime's CPU provider) are CPU-only here, so there is no GPU timing.

Sanity check: SI-SNR (least-squares scaled projection on the clean utterance) of the noisy input and
of the enhanced output, per input SNR (20 / 10 / 0 dB) and noise family (ESC-like events,
MUSAN-like noise/music/speech; test-part noise sources) on embedded-corpus utterances.

Writes ``results/benchmarks/enhance.json``.
Usage: ``python benchmarks/bench_enhance.py [--n-utts 16] [--jobs 2] [--check-utts 12] [--enhancers deepfilternet3 gtcrn]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time

import numpy as np


def _cpu_seconds() -> float:
    """CPU time of this process and its finished children (in-process rendering; see the n-process note)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-utts", type=int, default=16, help="utterances timed per setting")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes of the parallel setting")
    ap.add_argument("--check-utts", type=int, default=12, help="utterances of the SI-SNR check")
    ap.add_argument("--snrs", type=float, nargs="+", default=[20.0, 10.0, 0.0])
    ap.add_argument("--enhancers", nargs="+", default=["deepfilternet3", "gtcrn"])
    args = ap.parse_args()

    from serlib import corpora, enhance, paths
    from serlib.audio import atomic_write
    from serlib.noise import NOISE_FAMILIES, RandomCondition

    m = corpora.load("synthetic", size="quick", progress=False)
    timed_m = m.iloc[: args.n_utts]
    audio_s = float(timed_m["duration"].sum())
    machine = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
               "load_average_1min_at_start": round(os.getloadavg()[0], 2)}  # other work on the machine slows all numbers
    out: dict = {"machine": machine,
                 "n_utts": args.n_utts, "audio_seconds": round(audio_s, 2), "speed": {}, "snr_check": []}
    print(f"{args.n_utts} utterances, {audio_s:.1f} s of audio; {os.cpu_count()} CPUs", flush=True)

    real_data = os.environ.get("SERLIB_DATA")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SERLIB_DATA"] = tmp  # an empty audio cache: every clip is enhanced (corpus paths stay absolute)
        for name in args.enhancers:
            cond = enhance.EnhancedCondition(None, name)
            for jobs in sorted({1, args.jobs}):
                sub = timed_m
                t0, c0 = time.perf_counter(), _cpu_seconds()
                stats = enhance.render([(sub, cond)], n_jobs=jobs, progress=False)
                wall, cpu = time.perf_counter() - t0, _cpu_seconds() - c0
                if stats["rendered"] != len(sub):
                    raise RuntimeError(f"expected {len(sub)} renders, got {stats}")
                key = f"{name}/{jobs}proc"
                if jobs > 1:
                    cpu = None  # pool workers are children of the fork server, not of this process
                out["speed"][key] = {"wall_s": round(wall, 2), "x_real_time": round(audio_s / wall, 2),
                                     "s_per_utt": round(wall / len(sub), 3),
                                     "cpu_s": None if cpu is None else round(cpu, 2),
                                     "x_real_time_per_cpu_second": None if cpu is None else round(audio_s / cpu, 2),
                                     "version": cond.get_enhancer().version}
                per_core = "" if cpu is None else f"| {cpu:6.1f} CPU s = {audio_s / cpu:4.1f} x real time per busy core"
                print(f"{key:24s} {wall:7.1f} s wall  {audio_s / wall:5.1f} x real time  {wall / len(sub):.2f} s/utt  "
                      f"{per_core}", flush=True)
                for f in paths.data_dir("enhanced").rglob("*.npy"):
                    f.unlink()  # the next setting starts from an empty cache again
    if real_data is None:
        os.environ.pop("SERLIB_DATA", None)
    else:
        os.environ["SERLIB_DATA"] = real_data

    # SI-SNR sanity check on test speakers' utterances (cached renders are reused by the notebook)
    check_m = m[m.speaker == sorted(m.speaker.unique())[0]].iloc[: args.check_utts]
    conds = {(fam, s): RandomCondition(tuple(NOISE_FAMILIES[fam]), (s, s), part="test")
             for fam in ("esc", "musan") for s in args.snrs}
    for name in args.enhancers:
        t = enhance.snr_check(check_m, conds, name, n_jobs=args.jobs)
        summary = t.groupby(["family", "snr_db"])[["si_snr_in", "si_snr_out", "gain"]].mean().round(2).reset_index()
        summary.insert(0, "enhancer", name)
        out["snr_check"] += summary.to_dict("records")
        print(summary.to_string(index=False), flush=True)

    out["machine"]["load_average_1min_at_end"] = round(os.getloadavg()[0], 2)
    path = paths.results_dir() / "benchmarks" / "enhance.json"
    atomic_write(path, lambda tmp: open(tmp, "w").write(json.dumps(out, indent=1)))
    print("wrote", path)
    return out


if __name__ == "__main__":
    main()
