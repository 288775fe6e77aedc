"""The :class:`Experiment`: keys, scheduling over a backend, progress, failures, the index."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from serlib import paths
from serlib.progress import bar

from .backends import _Dask, _Serial, _start_cluster, default_workers
from .keys import ENGINE_VERSION, _digest, _env_versions, code_modules, manifest_fingerprint
from .store import _clean_stale, _load_output
from .task import ExperimentError, Failure, Task, TaskOutput

SCHEDULER_ENV = "SERLIB_SCHEDULER"
"""Environment variable with the address of a Dask scheduler to run on (``tcp://host:8786``)."""


class Experiment:
    """A notebook's grid of tasks, run on one backend with one progress line.

    Args:
        notebook: the notebook's name (for the index and messages; not part of any key).
        manifest: a DataFrame (named ``"main"``) or ``{name: DataFrame}`` the tasks read.
        workers: worker processes; 1 = in-process; None = :func:`default_workers`.
        scheduler: a Dask scheduler address (``tcp://host:8786``) or a ``distributed.Client`` to run on
            (``workers`` is then ignored); None = ``$SERLIB_SCHEDULER`` or, if unset, local.
        device: what task functions get as ``ctx.device``; None/"auto" = a GPU when present, else CPU.
        threads: torch/BLAS threads per task (default 1, also in-process).
        deterministic: torch deterministic algorithms (None = on for CPU, off on CUDA).
        root: the task store (default ``data_dir("runs")``).
        progress: show the progress line.

    Use it as a context manager to keep a LocalCluster up across several :meth:`run` calls and
    :func:`joblib_backend`; otherwise each :meth:`run` starts and stops its own.
    """

    def __init__(self, notebook: str, *, manifest: pd.DataFrame | Mapping[str, pd.DataFrame] | None = None,
                 workers: int | None = None, scheduler: Any = None, device: str | None = None,
                 threads: int | None = None, deterministic: bool | None = None, root: str | Path | None = None,
                 progress: bool = True):
        self.notebook = str(notebook).removesuffix(".ipynb")
        if manifest is None:
            manifest = {}
        self.manifests = {"main": manifest} if isinstance(manifest, pd.DataFrame) else dict(manifest)
        self._fingerprints = {n: manifest_fingerprint(m) for n, m in self.manifests.items()}
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ValueError(f"workers must be a positive int or None (= {default_workers()} here), got {workers!r}")
        self.workers = workers
        self.scheduler = scheduler or os.environ.get(SCHEDULER_ENV) or None
        self._given_client = None if self.scheduler is None or isinstance(self.scheduler, str) else self.scheduler
        self.device = device
        self.threads = 1 if threads is None else int(threads)
        self.deterministic = deterministic
        self.root = Path(root) if root is not None else paths.data_dir("runs")
        self.progress = progress
        self._client, self._cluster = self._given_client, None
        self._hold = 0

    # ---- backend lifetime
    def __enter__(self) -> "Experiment":
        self._hold += 1
        return self

    def __exit__(self, *exc: Any) -> None:
        self._hold -= 1
        if self._hold == 0:
            self.close()

    def close(self) -> None:
        """Stop the LocalCluster (or disconnect from the scheduler) if this experiment started one."""
        client, cluster, self._client, self._cluster = self._client, self._cluster, self._given_client, None
        if client is not None and client is not self._given_client:
            client.close()
        if cluster is not None:
            cluster.close()

    def client(self, workers: int | None = None) -> Any:
        """The Dask client (connecting to ``scheduler`` or starting a LocalCluster of ``workers``)."""
        if self._client is None:
            if self.scheduler:
                from distributed import Client

                self._client = Client(self.scheduler, set_as_default=False)
            else:
                self._client, self._cluster = _start_cluster(workers or self.workers or default_workers())
        return self._client

    # ---- keys
    def keys(self, tasks: Sequence[Task]) -> list[str]:
        """The key of every task (see the module docstring for what goes into it)."""
        env, code, memo = _env_versions(), {}, {}

        def key(task: Task) -> str:
            if id(task) not in memo:
                names = sorted(self.manifests) if task.manifests is None else list(task.manifests)
                unknown = [n for n in names if n not in self.manifests]
                if unknown:
                    raise KeyError(f"task {task.summary()} reads manifest(s) {unknown}; this experiment has "
                                   f"{sorted(self.manifests)}")
                module = task.fn.split(":")[0]
                if module not in code:
                    code[module] = code_modules(task.fn)
                material = {"engine": ENGINE_VERSION, "fn": task.fn, "config": task.config,
                            "deps": {n: key(d) for n, d in sorted(task.deps.items())},
                            "manifests": {n: self._fingerprints[n] for n in names}, "code": code[module], "env": env}
                memo[id(task)] = (_digest(material), material)
            return memo[id(task)][0]

        out = [key(t) for t in tasks]
        self._materials = {k: m for k, m in memo.values()}
        return out

    # ---- running
    def run(self, tasks: Sequence[Task], *, raise_on_failure: bool = True) -> list[TaskOutput | None]:
        """Run every task not stored yet (dependencies first) and return all outputs in task order.

        Finished tasks are read from the store (``cached=True``). Failed tasks are printed as they fail;
        at the end :class:`ExperimentError` lists them (or, with ``raise_on_failure=False``, their
        places hold None).
        """
        tasks = list(tasks)
        for t in tasks:
            if not isinstance(t, Task):
                raise TypeError(f"run() takes Task objects, got {type(t).__name__}")
        graph = _closure(tasks)
        keys = self.keys(graph)
        key_of = {id(t): k for t, k in zip(graph, keys)}
        by_key = {k: t for t, k in zip(graph, keys)}  # identical tasks run once
        store = self.root / "tasks"
        store.mkdir(parents=True, exist_ok=True)
        _clean_stale(store)
        done = {k for k in by_key if (store / k / "task.json").is_file()}
        todo = [k for k in by_key if k not in done]
        deps_of = {k: {n: key_of[id(d)] for n, d in by_key[k].deps.items()} for k in todo}
        self._warn_stale_code(todo)
        failures: dict[str, Failure] = {}
        computed: set[str] = set()
        pbar = bar(total=len(todo), desc=f"{self.notebook}: fits") if self.progress and todo else _NoBar()
        status = lambda: f"cached {len(done) - len(computed)}, failed {len(failures)}"  # noqa: E731
        pbar.set_postfix_str(status())
        try:
            if todo:
                backend = self._backend(len(todo))
                with backend as be:
                    self._drive(be, todo, deps_of, by_key, store, done, computed, failures, pbar, status)
        finally:
            pbar.close()
            self._write_index(tasks, [key_of[id(t)] for t in tasks], computed, failures)
        outputs: list[TaskOutput | None] = []
        for t in tasks:
            k = key_of[id(t)]
            if k in failures:
                outputs.append(None)
                continue
            out = _load_output(store / k)
            out.cached = k not in computed
            outputs.append(out)
        if failures and raise_on_failure:
            raise ExperimentError(self.notebook, list(failures.values()), outputs)
        return outputs

    def _drive(self, be, todo, deps_of, by_key, store, done, computed, failures, pbar, status) -> None:
        """Submit every task whose dependencies are done; as each finishes, record it and submit the
        tasks it unblocked; a failure fails the tasks that depend on it, transitively."""
        order = {k: i for i, k in enumerate(todo)}
        missing = {k: {d for d in deps_of[k].values() if d not in done} for k in todo}
        dependents: dict[str, list[str]] = {}
        for k in todo:
            for d in missing[k]:
                dependents.setdefault(d, []).append(k)

        def submit(k: str) -> None:
            be.submit(self._job(k, by_key[k], deps_of[k], order[k]))

        def fail(k: str, trace: str) -> None:
            failures[k] = Failure(k, by_key[k], trace)
            pbar.update()
            for d in dependents.get(k, []):
                if d not in failures:
                    fail(d, f"skipped: dependency {k} failed")

        running = 0
        for k in todo:
            if not missing[k]:
                submit(k)
                running += 1
        while running:
            job, result = be.next_done()
            running -= 1
            k = job["key"]
            if result["status"] == "done" and not (store / k / "task.json").is_file():
                result = {"status": "failed", "traceback": f"the worker stored task {k} under {store} but this "
                          "process cannot see it: put SERLIB_DATA on a filesystem shared with the workers"}
            if result["status"] == "failed":
                print(f"\n[{self.notebook}] task {k} FAILED: {by_key[k].summary()}\n{result['traceback']}",
                      file=sys.stderr, flush=True)
                fail(k, result["traceback"])
            else:
                done.add(k)
                computed.add(k)
                pbar.update()
                for d in dependents.get(k, []):
                    missing[d].discard(k)
                    if not missing[d] and d not in failures:
                        submit(d)
                        running += 1
            pbar.set_postfix_str(status())

    def _job(self, key: str, task: Task, deps: dict[str, str], index: int) -> dict:
        material = self._materials[key]
        record = {"key": key, "fn": task.fn, "config": task.config, "deps": deps, "code": material["code"],
                  "manifests": material["manifests"], "env": material["env"], "engine": ENGINE_VERSION}
        return {"key": key, "fn": task.fn, "config": task.config, "deps": deps, "index": index,
                "manifests": list(material["manifests"]), "root": str(self.root.resolve() / "tasks"),
                "device": self.device, "threads": self.threads, "deterministic": self.deterministic,
                "dry": bool(material["env"].get("dry")), "record": record}

    def _serial(self, n_todo: int) -> bool:
        """In-process: no cluster up, no scheduler, and one worker (or at most one task) to run."""
        return self._client is None and not self.scheduler and ((self.workers or default_workers()) <= 1 or n_todo <= 1)

    @contextlib.contextmanager
    def _backend(self, n_todo: int) -> Iterator[Any]:
        if self._serial(n_todo):
            yield _Serial(self.manifests)
            return
        owned = self._client is None
        try:
            yield _Dask(self.client(min(self.workers or default_workers(), n_todo)), self.manifests)
        finally:
            if owned and self._hold == 0:
                self.close()

    def _warn_stale_code(self, todo: list[str]) -> None:
        """In-process runs use the modules already imported: warn when a file changed since."""
        if not todo or not self._serial(len(todo)):
            return
        import psutil

        started = psutil.Process().create_time()
        modules = {m for k in todo for m in self._materials[k]["code"]}
        for module in sorted(modules):
            file = getattr(sys.modules.get(module), "__file__", None)
            if file and os.path.getmtime(file) > started + 2:  # create_time is approximate
                print(f"[{self.notebook}] warning: {file} changed after this process started; if {module} was "
                      "imported before the edit, the tasks run the old code under the key of the edited file. "
                      "Restart the kernel (or use workers > 1) to run the edit.", file=sys.stderr)
                return

    def _write_index(self, tasks: list[Task], keys: list[str], computed: set[str], failures: dict) -> None:
        rows = [{"key": k, "fn": t.fn, "summary": t.summary(),
                 "status": "failed" if k in failures else "computed" if k in computed else "cached"}
                for t, k in zip(tasks, keys)]
        index = self.root / "index"
        index.mkdir(parents=True, exist_ok=True)
        tmp = index / f".{self.notebook}.{os.getpid()}.json"
        tmp.write_text(json.dumps({"notebook": self.notebook, "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                   "tasks": rows}, indent=1))
        os.replace(tmp, index / f"{self.notebook}.json")


class _NoBar:
    """Stands in for the progress bar when ``progress=False`` or nothing is left to compute."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


def _closure(tasks: Sequence[Task]) -> list[Task]:
    """The tasks and all their dependencies, dependencies first; a cycle raises."""
    out: list[Task] = []
    state: dict[int, int] = {}

    def visit(t: Task) -> None:
        if state.get(id(t)) == 2:
            return
        if state.get(id(t)) == 1:
            raise ValueError(f"dependency cycle through task {t.summary()}")
        state[id(t)] = 1
        for d in t.deps.values():
            visit(d)
        state[id(t)] = 2
        out.append(t)

    for t in tasks:
        visit(t)
    return out


# --------------------------------------------------------------------------- helpers for notebooks
@contextlib.contextmanager
def joblib_backend(exp: Experiment) -> Iterator[None]:
    """Send joblib work (the random-forest grid searches of :mod:`serlib.models.forest`) to the
    experiment's Dask workers; with one worker, leave joblib as it is."""
    if not exp.scheduler and (exp.workers or default_workers()) <= 1:
        yield
        return
    import joblib

    with exp:
        client = exp.client()
        with client.as_current(), joblib.parallel_config(backend="dask"):
            yield
