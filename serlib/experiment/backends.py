"""Running one task (seeded, fixed threads) and the two backends: in-process and Dask."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sys
import time
import traceback
import uuid
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .store import _check_output, _load_output, _write_output
from .task import Context, _resolve


@contextlib.contextmanager
def _task_state(seed: int, threads: int, deterministic: bool) -> Iterator[None]:
    """Seed everything and fix the thread counts for one task; restore all of it afterwards."""
    import random

    import torch
    from threadpoolctl import threadpool_limits

    saved = (random.getstate(), np.random.get_state(), torch.get_rng_state(), torch.get_num_threads(),
             torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    cuda_rng = torch.cuda.get_rng_state_all() if cuda else None
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        with threadpool_limits(threads):
            yield
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        torch.set_rng_state(saved[2])
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        torch.set_num_threads(saved[3])
        if deterministic:
            torch.use_deterministic_algorithms(saved[4], warn_only=saved[5])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[6], saved[7]


def _worker_device(device: str | None) -> str:
    """The device for a task on this process: CPU, or a GPU (Dask workers spread over the GPUs)."""
    import torch

    if device not in (None, "auto"):
        return str(device)
    if not torch.cuda.is_available():
        return "cpu"
    try:
        from distributed import get_worker

        name = get_worker().name
        index = int(name) if str(name).isdigit() else zlib.crc32(str(name).encode())
    except (ImportError, ValueError):
        index = 0
    return f"cuda:{index % torch.cuda.device_count()}"


@contextlib.contextmanager
def _dry(dry: bool) -> Iterator[None]:
    """The notebook's dry-run flag (``SERLIB_DRY``) inside the task, also on a remote worker."""
    from serlib import profiles

    before = os.environ.get(profiles.DRY_ENV)
    os.environ[profiles.DRY_ENV] = "1" if dry else "0"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(profiles.DRY_ENV, None)
        else:
            os.environ[profiles.DRY_ENV] = before


def _execute(job: dict, manifests: Mapping[str, pd.DataFrame]) -> dict:
    """Run one task where this is called (here or on a Dask worker) and store its output.

    Returns ``{"status": "done" | "failed", ...}``; exceptions of the task become a traceback."""
    root, key = Path(job["root"]), job["key"]
    if (root / key / "task.json").is_file():  # finished meanwhile (another run sharing the cache)
        return {"status": "done", "key": key}
    t0, started = time.perf_counter(), time.strftime("%Y-%m-%dT%H:%M:%S%z")
    try:
        fn = _resolve(job["fn"])
        deps = {name: _load_output(root / k) for name, k in job["deps"].items()}
        device = _worker_device(job["device"])
        ctx = Context(key=key, manifests={n: manifests[n] for n in job["manifests"]}, deps=deps, device=device,
                      threads=job["threads"])
        seed = job["config"].get("seed", 0)
        seed = seed if isinstance(seed, int) else 0
        deterministic = job["deterministic"]
        if deterministic is None:  # on for CPU, off on CUDA (cuDNN's deterministic kernels are slow)
            deterministic = not device.startswith("cuda")
        with _task_state(seed, job["threads"], deterministic), _dry(job.get("dry", False)):
            out = _check_output(fn(json.loads(json.dumps(job["config"])), ctx), job["fn"])
        run = {"seconds": round(time.perf_counter() - t0, 3), "started": started, "device": device,
               "host": socket.gethostname(), "pid": os.getpid(), "threads": job["threads"],
               "deterministic": deterministic}
        _write_output(out, dict(job["record"], run=run), root, key)
        return {"status": "done", "key": key, "seconds": run["seconds"]}
    except Exception:  # noqa: BLE001 - reported with its traceback, the other tasks continue
        return {"status": "failed", "key": key, "traceback": traceback.format_exc()}


# --------------------------------------------------------------------------- backends
class _Serial:
    """Runs the submitted jobs one after another in this process."""

    def __init__(self, manifests: Mapping[str, pd.DataFrame]):
        self.manifests, self.queue = manifests, []

    def submit(self, job: dict) -> None:
        self.queue.append(job)

    def next_done(self) -> tuple[dict, dict]:
        job = self.queue.pop(0)
        return job, _execute(job, self.manifests)


class _Dask:
    """Submits jobs to a Dask client; :meth:`next_done` returns them as they finish."""

    def __init__(self, client: Any, manifests: Mapping[str, pd.DataFrame]):
        from distributed import as_completed

        self.client, self.jobs = client, {}
        client.wait_for_workers(1)  # a batch-queue cluster (dask-jobqueue) may still be waiting for nodes
        [self.manifests] = client.scatter([dict(manifests)], broadcast=True, hash=False)  # later workers fetch it
        self.done = as_completed(loop=client.loop)

    def submit(self, job: dict) -> None:
        fut = self.client.submit(_execute, job, self.manifests, key=f"serlib-task-{job['key']}-{uuid.uuid4().hex[:6]}",
                                 pure=False, priority=-job["index"], retries=0)
        self.jobs[fut.key] = job
        self.done.add(fut)

    def next_done(self) -> tuple[dict, dict]:
        fut = next(self.done)
        job = self.jobs.pop(fut.key)
        try:
            return job, fut.result()
        except Exception as exc:  # noqa: BLE001 - a worker died (KilledWorker) or the result was lost
            return job, {"status": "failed", "key": job["key"],
                         "traceback": f"Dask could not run the task: {type(exc).__name__}: {exc}"}


@contextlib.contextmanager
def _file_backed_main() -> Iterator[None]:
    """Spawned processes re-run ``__main__`` from its file; hide a file that does not exist (stdin)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    hide = path is not None and not os.path.isfile(path)
    if hide:
        del main.__file__
    try:
        yield
    finally:
        if hide:
            main.__file__ = path


def default_workers() -> int:
    """The number of CPU cores this process may use; ``min(cores, 4)`` on a CUDA machine."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    import torch

    return min(cores, 4) if torch.cuda.is_available() else cores


WORKER_PRELOAD = ["distributed", "numpy", "pandas", "torch", "torch._dynamo", "serlib.training", "serlib.features"]
"""Modules a LocalCluster's fork server imports once, so that its worker processes start with them
loaded instead of each importing them (where there is no fork server, workers are spawned).
``torch._dynamo`` is imported by the first torch optimizer and by ``use_deterministic_algorithms``:
about 11 s per process on a loaded 2-core CPU."""


def _start_cluster(workers: int) -> tuple[Any, Any]:
    """A LocalCluster of ``workers`` single-threaded worker processes, and a client of it.

    Workers are forked from a fork server (a clean process that has only imported
    :data:`WORKER_PRELOAD`; no torch threads or CUDA context exist in it when it forks)."""
    import multiprocessing as mp

    import dask
    from distributed import Client, LocalCluster

    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    with dask.config.set({"distributed.worker.multiprocessing-method": method}), _file_backed_main():
        if method == "forkserver":
            from distributed.utils import get_mp_context

            get_mp_context().set_forkserver_preload(WORKER_PRELOAD)
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.ERROR)
    return Client(cluster, set_as_default=False), cluster
