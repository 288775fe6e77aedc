"""Benchmark paper 4's costs on CPU: the text encoder per hypothesis, the acoustic encoder per utterance.

    python benchmarks/bench_joint_asr_ser.py [--strings 256] [--batch 8] [--steps 6]

What ``quick`` has to choose between, measured in one run (CPU time of this process, one torch thread,
as each engine task gets):

- ``text``: seconds per string of the bundled all-MiniLM-L6-v2 (``full``) and of its static word-piece
  embeddings (``static``, :class:`serlib.models.joint_asr_ser.StaticEmbedding`), on distinct strings
  shaped like greedy CTC hypotheses of a model trained from scratch (near-miss words: every one is a
  cache miss, as almost all are during training). The joint model embeds the hypothesis of every
  training utterance in every epoch, so ``full`` costs ``epochs x training utterances x s/string``.
- ``encoder``: seconds per training utterance (forward, CTC loss, backward, Adam step) of the compact
  encoder sizes ``micro``, ``tiny`` and ``small`` at the embedded corpus's median length (253 frames of
  10 ms) and batch ``--batch``, with the ratio to ``micro``.

Writes ``results/benchmarks/joint_asr_ser.json``. The load average before and after is recorded: on a
shared machine CPU time is the fair measure, wall time is not.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time

import torch

from serlib import paths
from serlib.models import joint_asr_ser as J

WORDS = ("the cofe mashin is on th secnd flor turn lft at trafic lite we hd sop and slad for diner meting "
         "strts tomorow mornin gardn empty withot him").split()


def hypotheses(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 9))) + f" {i}" for i in range(n)]


def text_cost(n: int) -> dict:
    out = {}
    for name, path in (("full", None), ("static", J.STATIC)):
        enc = J.load_text_encoder(path).fresh()
        enc.embed(hypotheses(8, seed=1))  # warm-up (first call allocates)
        t0 = time.process_time()
        enc.embed(hypotheses(n))
        out[name] = {"seconds_per_string": (time.process_time() - t0) / n, "strings": n}
    out["ratio_full_to_static"] = out["full"]["seconds_per_string"] / out["static"]["seconds_per_string"]
    return out


def encoder_cost(batch: int, steps: int, frames: int = 253) -> dict:
    chars = J.char_encoder()
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, frames, 80, generator=gen)
    lens = torch.ones(batch)
    cs, c_lens = J._pad([torch.randint(1, len(chars), (37,), generator=gen) for _ in range(batch)])
    data = (x, lens, cs, c_lens, torch.zeros(batch, dtype=torch.long), torch.arange(batch))
    out = {}
    for size in ("micro", "tiny", "small"):
        torch.manual_seed(0)
        model = J.JointASRSER("asr", J.CompactEncoder(size=size), n_chars=len(chars)).train()
        opt = torch.optim.Adam(model.parameters(), 1e-3)

        def step() -> None:
            lp, _, _ = J._forward((None, chars), model, data, "cpu")
            loss = J._loss(model, data, lp, None, chars, J.ALPHA)
            opt.zero_grad()
            loss.backward()
            opt.step()

        step()
        t0 = time.process_time()
        for _ in range(steps):
            step()
        out[size] = {"seconds_per_utterance": (time.process_time() - t0) / (steps * batch),
                     "parameters": sum(p.numel() for p in model.parameters())}
    for size in ("tiny", "small"):
        out[size]["ratio_to_micro"] = out[size]["seconds_per_utterance"] / out["micro"]["seconds_per_utterance"]
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--strings", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=6)
    args = ap.parse_args(argv)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        load = os.getloadavg()[0]
        result = {"text": text_cost(args.strings), "encoder": encoder_cost(args.batch, args.steps),
                  "frames": 253, "batch": args.batch, "threads": 1, "load_before": load,
                  "load_after": os.getloadavg()[0], "cpu": platform.processor() or platform.machine(),
                  "torch": torch.__version__}
    finally:
        torch.set_num_threads(threads)
    out = paths.results_dir() / "benchmarks" / "joint_asr_ser.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
