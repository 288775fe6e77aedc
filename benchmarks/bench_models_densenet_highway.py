"""Usage: python benchmarks/bench_models_densenet_highway.py [THREADS]

Parameter counts and CPU forward+backward time (batch 32, 256x128 segments) of paper 5's models."""
import json
import platform
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from serlib import paths
from serlib.models.densenet_highway import MODELS, build, n_parameters

threads = int(sys.argv[1]) if len(sys.argv) > 1 else torch.get_num_threads()
torch.set_num_threads(threads)
rows = {}
for name in MODELS:
    torch.manual_seed(0)
    model = build(name).train()
    x, y = torch.randn(32, 1, 256, 128), torch.randint(0, 4, (32,))
    times = []
    for rep in range(3):  # first = warm-up
        t = time.perf_counter()
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        times.append(time.perf_counter() - t)
    rows[name] = dict(params=n_parameters(model), fwd_bwd_s_batch32=round(statistics.median(times[1:]), 3))
    print(name, rows[name], flush=True)
out = dict(threads=threads, torch=torch.__version__, cpu=platform.processor(), load=open('/proc/loadavg').read().split()[:3], models=rows)
print(json.dumps(out))
dest = paths.results_dir() / 'benchmarks' / f'models_densenet_highway_{threads}threads.json'
dest.parent.mkdir(parents=True, exist_ok=True)
dest.write_text(json.dumps(out, indent=1))
print('wrote', dest)
