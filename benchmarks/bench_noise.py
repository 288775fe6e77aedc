"""Benchmark: mixing 1,000 utterances (~3 s) at 5 SNRs, batched torch vs a per-utterance numpy loop.

Prints utterances/s (one "utterance" = one mixture at one SNR) and writes
``results/benchmarks/noise.json``. Variants:

- ``numpy_loop``: a plain per-utterance numpy implementation of the same formula (what one would write
  without serlib; the reference the batched path must agree with);
- ``serlib_numpy``: :func:`serlib.noise.mix` called per utterance on numpy arrays (its numpy path);
- ``torch_cpu_batched``: :func:`serlib.noise.mix` on a (batch, time) tensor per SNR, CPU;
- ``torch_gpu_batched``: the same on the GPU with the data already there (when CUDA is available);
  ``torch_gpu_batched_with_transfer`` also counts host -> device -> host copies;
- ``room``: :class:`serlib.noise.room.RoomCondition` per utterance (convolutions + mixing), for scale,
  plus the booth's calibration table (paper's SNRs beside the simulated ones).

Usage: ``python benchmarks/bench_noise.py [--n-utts 1000] [--seconds 3] [--batch 500] [--no-room]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch

from serlib import paths
from serlib.audio import atomic_write
from serlib.noise import mix

SR = 16000
SNRS = (0.0, 5.0, 10.0, 15.0, 20.0)


def numpy_mix(speech: np.ndarray, noise: np.ndarray, snr_db: float, offset: int) -> np.ndarray:
    """Reference per-utterance mixing (whole-utterance power, noise scaled, peak protection)."""
    seg = noise[offset:offset + len(speech)]
    p_speech = np.mean(speech.astype(np.float64) ** 2)
    p_noise = np.mean(seg.astype(np.float64) ** 2)
    gain = np.sqrt(p_speech / (p_noise * 10 ** (snr_db / 10)))
    y = speech + gain * seg
    peak = np.abs(y).max()
    return (y * (0.99 / peak) if peak > 0.99 else y).astype(np.float32)


def make_data(n_utts: int, seconds: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    env = (0.6 + 0.4 * np.sin(2 * np.pi * 4.0 * t)) ** 2
    speech = (0.1 * rng.standard_normal((n_utts, n)) * env).astype(np.float32)
    speech[:, : SR // 5] = 0.0  # leading silence as in real utterances
    noise = (0.05 * rng.standard_normal(60 * SR)).astype(np.float32)
    return speech, noise


def _write_text(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def timed(fn, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-utts", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--batch", type=int, default=500, help="rows per batched call")
    ap.add_argument("--no-room", action="store_true", help="skip the room-simulation timing")
    args = ap.parse_args()

    speech, noise = make_data(args.n_utts, args.seconds)
    n_mix = args.n_utts * len(SNRS)
    rng = np.random.default_rng(1)
    offsets = rng.integers(0, len(noise) - speech.shape[1], size=(len(SNRS), args.n_utts))
    results: dict[str, dict] = {}

    def record(name: str, seconds: float, note: str = "") -> None:
        results[name] = {"seconds": round(seconds, 4), "utterances_per_s": round(n_mix / seconds, 1), "note": note}
        print(f"{name:34s} {seconds:8.3f} s  {n_mix / seconds:10.1f} utt/s  {note}", flush=True)

    def numpy_loop():
        for k, snr in enumerate(SNRS):
            for i in range(args.n_utts):
                numpy_mix(speech[i], noise, snr, int(offsets[k, i]))

    def serlib_numpy():
        for k, snr in enumerate(SNRS):
            for i in range(args.n_utts):
                mix(speech[i], noise, snr, offset=int(offsets[k, i]))

    def batched(s_t, n_t):
        outs = []
        for k, snr in enumerate(SNRS):
            for b in range(0, s_t.shape[0], args.batch):
                outs.append(mix(s_t[b:b + args.batch], n_t, snr, offset=offsets[k, b:b + args.batch]))
        return outs

    print(f"mixing {args.n_utts} utterances x {len(SNRS)} SNRs ({args.seconds:g} s each) = {n_mix} mixtures; "
          f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads", flush=True)
    record("numpy_loop", timed(numpy_loop), "plain numpy, one utterance at a time")
    record("serlib_numpy", timed(serlib_numpy), "serlib.noise.mix per utterance (numpy path)")
    s_cpu, n_cpu = torch.from_numpy(speech), torch.from_numpy(noise)
    batched(s_cpu[: args.batch], n_cpu)  # warm-up
    record("torch_cpu_batched", timed(lambda: batched(s_cpu, n_cpu), repeat=2), f"batch {args.batch}")

    # agreement of the batched path with the numpy reference
    check = mix(s_cpu[:20], n_cpu, SNRS[2], offset=offsets[2, :20]).numpy()
    ref = np.stack([numpy_mix(speech[i], noise, SNRS[2], int(offsets[2, i])) for i in range(20)])
    max_diff = float(np.abs(check - ref).max())
    print(f"max |torch batched - numpy reference| = {max_diff:.2e}")

    gpu = None
    if torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(0)
        s_gpu, n_gpu = s_cpu.cuda(), n_cpu.cuda()
        batched(s_gpu[: args.batch], n_gpu)
        torch.cuda.synchronize()

        def on_gpu():
            batched(s_gpu, n_gpu)
            torch.cuda.synchronize()

        def with_transfer():
            outs = batched(s_cpu.cuda(), n_cpu.cuda())
            [o.cpu() for o in outs]

        record("torch_gpu_batched", timed(on_gpu, repeat=3), f"{gpu}, data on the GPU")
        record("torch_gpu_batched_with_transfer", timed(with_transfer, repeat=2), f"{gpu}, incl. host<->device copies")

    room_info = None
    if not args.no_room:
        from serlib.noise.room import RoomCondition

        n_room = min(200, args.n_utts)
        conds = [RoomCondition(s) for s in ("A5_B35", "A10_B30", "A15_B25")]
        for c in conds:
            c.apply(speech[0], "warmup")  # simulate the rooms, generate/load the radio bank
        t0 = time.perf_counter()
        for c in conds:
            for i in range(n_room):
                c.apply(speech[i], f"utt{i}")
        dt = time.perf_counter() - t0
        from serlib.noise.room import calibration_table

        cal = calibration_table()
        room_info = {"utterances": n_room * len(conds), "seconds": round(dt, 3),
                     "utterances_per_s": round(n_room * len(conds) / dt, 1),
                     "calibration": cal.round(3).to_dict(orient="records")}
        print(f"{'room (RoomCondition.apply)':34s} {dt:8.3f} s  {n_room * len(conds) / dt:10.1f} utt/s  "
              f"{n_room} utterances x 3 settings, per utterance", flush=True)
        print("room SNRs (dB), paper vs simulated booth:")
        print(cal.round(2).to_string(index=False), flush=True)

    out = {
        "benchmark": "noise mixing",
        "n_utterances": args.n_utts, "seconds_per_utterance": args.seconds, "snrs_db": list(SNRS),
        "n_mixtures": n_mix, "batch": args.batch, "results": results, "room": room_info,
        "max_abs_diff_batched_vs_numpy": max_diff,
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(), "torch": torch.__version__, "gpu": gpu},
    }
    path = paths.results_dir() / "benchmarks" / "noise.json"
    atomic_write(path, lambda tmp: _write_text(tmp, json.dumps(out, indent=2) + "\n"))
    print(f"wrote {path}")
    return out


if __name__ == "__main__":
    main()
