"""Benchmark serlib.features: x real time per kind on one core vs all cores, and cache-hit speed-up.

    python benchmarks/bench_features.py [--n 100] [--seconds 3] [--audio tones|synthetic]
                                        [--kinds egemaps compare lmfb spectrogram]

x real time (xRT) = seconds of audio processed per second of wall-clock time (higher is
faster), measured on ``extract(..., cache=False)``: reading, resampling and computing,
including worker start-up for parallel openSMILE (the fork server is started beforehand, as
it is once per session). Each measurement also records the CPU seconds used (this process +
its workers) and the load average, since a machine shared with other jobs distorts scaling. The cache speed-up is the wall time of a
first extraction into an empty cache (all cores) over that of the immediate rerun (all hits).
The default test audio is generated here (harmonic tones with vibrato + noise, 16 kHz wav), so
the benchmark needs no corpus; ``--audio synthetic`` uses the embedded eSpeak corpus instead. Results are printed and written to ``results/benchmarks/features.json``.
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

from serlib import features
from serlib.audio import SR, atomic_write, save_wav
from serlib.features.pipeline import resolve_jobs
from serlib.paths import data_dir, results_dir


def make_audio(n: int, seconds: float, folder: Path) -> pd.DataFrame:
    """``n`` utterances of ``seconds`` s: harmonic tones with vibrato, syllable-like envelope, noise."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SR)) / SR
    rows = []
    for i in range(n):
        path = folder / f"bench{i:04d}.wav"
        if not path.exists():
            f0 = rng.uniform(90, 260)
            phase = 2 * np.pi * np.cumsum(f0 * (1 + 0.04 * np.sin(2 * np.pi * rng.uniform(3, 7) * t))) / SR
            x = sum(rng.uniform(0.05, 0.3) / k * np.sin(k * phase) for k in range(1, 9))
            x = x * (0.2 + 0.8 * np.abs(np.sin(2 * np.pi * rng.uniform(1.5, 4) * t)))
            save_wav(path, x + 0.005 * rng.standard_normal(len(t)))
        rows.append({"utt_id": f"bench{i:04d}", "path": str(path), "duration": seconds})
    return pd.DataFrame(rows)


def _cpu() -> float:
    """CPU seconds used by this process and its finished children (worker pools)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def timed_cpu(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of ``fn()``; CPU well below wall x cores means others held the cores."""
    c0, t0 = _cpu(), time.perf_counter()
    fn()
    return time.perf_counter() - t0, _cpu() - c0


def bench_kind(kind: str, manifest: pd.DataFrame, cores: int, audio_s: float) -> dict:
    warm = manifest.head(2)
    features.extract(warm, kind, n_jobs=1, cache=False, progress=False)  # imports, Smile objects, torch init
    row: dict = {"kind": kind}
    for label, jobs in (("1core", 1), ("all", cores)):
        secs, cpu = timed_cpu(lambda: features.extract(manifest, kind, n_jobs=jobs, cache=False, progress=False))
        row[f"seconds_{label}"] = round(secs, 3)
        # openSMILE pool workers are children of the fork server, not of this process: not counted
        row[f"cpu_seconds_{label}"] = round(cpu, 3) if jobs == 1 or kind not in ("egemaps", "compare") else None
        row[f"xrt_{label}"] = round(audio_s / secs, 1)
    with tempfile.TemporaryDirectory() as tmp:  # an empty cache
        os.environ["SERLIB_DATA"] = tmp
        try:
            cold = timed(lambda: features.extract(manifest, kind, n_jobs=cores, progress=False))
            hit_out = {}
            hit = timed(lambda: hit_out.update(r=features.extract(manifest, kind, n_jobs=cores, progress=False)))
            assert hit_out["r"].attrs["extract"]["cached"] == len(manifest), "rerun was not served from the cache"
        finally:
            del os.environ["SERLIB_DATA"]
    row.update(cache_cold_s=round(cold, 3), cache_hit_s=round(hit, 4), cache_speedup=round(cold / hit, 1))
    return row


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="utterances (default 100)")
    ap.add_argument("--seconds", type=float, default=3.0, help="seconds per utterance (default 3)")
    ap.add_argument("--audio", choices=["tones", "synthetic"], default="tones",
                    help="tones: generated here (default); synthetic: the first --n utterances of "
                         "serlib.corpora.load('synthetic', size='quick') (eSpeak speech; --seconds ignored)")
    ap.add_argument("--kinds", nargs="+", default=list(features.FEATURE_KINDS), choices=list(features.FEATURE_KINDS))
    args = ap.parse_args(argv)

    import opensmile
    import torch

    if args.audio == "synthetic":
        from serlib import corpora

        manifest = corpora.load("synthetic", size="quick").head(args.n).reset_index(drop=True)
    else:
        folder = data_dir("benchmarks", "features_audio")
        folder.mkdir(parents=True, exist_ok=True)
        manifest = make_audio(args.n, args.seconds, folder)
    audio_s = float(manifest["duration"].sum())
    cores = resolve_jobs(None)
    load_before = os.getloadavg()
    features.extract(manifest.head(32), "egemaps", n_jobs=cores, cache=False, progress=False)  # start the fork server
    rows = []
    for kind in args.kinds:
        row = bench_kind(kind, manifest, cores, audio_s)
        rows.append(row)
        print(f"{kind:12s} xRT 1 core {row['xrt_1core']:8.1f} | {cores} cores {row['xrt_all']:8.1f} | "
              f"cache: first {row['cache_cold_s']:.2f} s, rerun {row['cache_hit_s']:.4f} s, "
              f"x{row['cache_speedup']:.0f}", flush=True)

    report = {
        "benchmark": "features",
        "definition": "xRT = audio seconds / wall seconds of extract(cache=False); cache_speedup = "
                      "first extraction into an empty cache / rerun from the cache (all cores)",
        "audio": args.audio, "utterances": len(manifest), "audio_seconds": round(audio_s, 2),
        "cores": cores, "loadavg_1_5_15_before": [round(x, 2) for x in load_before],
        "loadavg_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
        "note": "cpu_seconds = CPU time of this process (and its threads) during the run; well below "
                "seconds means other jobs held the cores. None where the work ran in pool workers.",
        "device_spectral": features.spectral.resolve_device(None),
        "machine": {"platform": platform.platform(), "python": sys.version.split()[0],
                    "cpu_count": os.cpu_count(), "torch": torch.__version__, "opensmile": opensmile.__version__,
                    "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None},
        "kinds": rows,
    }
    out = results_dir() / "benchmarks" / "features.json"
    atomic_write(out, lambda tmp: Path(tmp).write_text(json.dumps(report, indent=2) + "\n"))
    print(f"wrote {out}")
    return report


if __name__ == "__main__":
    main()
