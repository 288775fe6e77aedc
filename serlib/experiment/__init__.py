"""The experiment engine: a notebook's grid of fits as cached tasks, run serially or on Dask.

A **task** is plain data: a task function named by its dotted path, a JSON-able config and
optional dependencies on other tasks::

    Task("serlib.models.trnet:run_task", {"system": "TRNet", "seed": 0, "fold": "S1", ...},
         deps={"teacher": Task("serlib.models.trnet:run_task", {"system": "Baseline-c", ...})})

A task function has the signature ``fn(config: dict, ctx: Context) -> TaskOutput``; ``ctx`` holds
the manifest(s) the experiment was given, the outputs of the dependencies (``ctx.deps["teacher"]``),
the device to use and the task's key. The function builds everything else from ``config`` (features
come from the on-disk feature cache, so extract them once before :meth:`Experiment.run`).

**Keys.** A task's key is a hash of: its function name and config (canonical JSON), the keys of its
dependencies, the fingerprint of the manifests it reads (every column of every row in row order,
index ignored, ``path`` relative to the data folder), the *code version* of what it calls and the
versions of the numerical libraries. The code version hashes the source of the task function's
module and of every ``serlib`` module it imports, transitively (a static ``ast`` scan of every
``import`` statement, also those inside functions; importing ``serlib.x.y`` counts the package
``__init__`` files too), except :data:`CODE_EXCLUDED` (plots, results, the runner, progress, paths
and this engine, which do not change what a fit computes). So a cached task is invalidated by:

- a change to its config, its function name or a dependency's key;
- a change to the manifest it reads (an utterance added, dropped, relabelled, moved or reordered);
- any edit (even a comment) of the task module or a serlib module it imports;
- another version of Python (major.minor), torch, numpy, scipy, scikit-learn, pandas or opensmile;
- :data:`ENGINE_VERSION` (the storage format).

Not part of the key: the notebook name (so notebook 10 reuses the fits of the paper notebooks when a
task is identical), the backend and number of workers (results are identical by construction), the
device (a fit made on a GPU is reused on a CPU machine that shares the data folder: put ``device``
in the config to keep them apart), data files other than Python sources, and the audio content
behind the manifest's paths (the feature cache checks that).

**Storage** (under ``serlib.paths.data_dir("runs")``, shared by all notebooks)::

    runs/tasks/<key>/task.json          function, config, dependency keys, code modules, run record, meta
                     predictions.parquet per-utterance predictions (utt_id, condition columns, y_true,
                                         y_pred, posteriors/scores)
                     history.parquet     the training history
                     extra.npz, extra_<name>.parquet   extra arrays / tables (embeddings, c values)
                     weights.pt          optional model weights for dependent tasks (git-ignored)
    runs/index/<notebook>.json          the notebook's last grid: key, function, summary, status

A task folder is written in ``runs/tasks/.tmp-*`` and renamed into place when complete, so a folder
under its key is always whole: a rerun, or a run resumed after ``kill -9``, reuses every finished
task and computes the rest. Delete a task folder (or all of ``runs/tasks``) to recompute it.

**Backends** (one interface): in-process serially (``workers=1``; the ``smoke`` profile); a Dask
``distributed.LocalCluster`` of ``workers`` single-threaded processes (default: the CPU cores, or
``min(cores, 4)`` processes sharing the GPUs on a CUDA machine, worker ``i`` on GPU ``i mod n``); or
a running Dask scheduler given by address or as a ``distributed.Client`` (``scheduler=`` or
``$SERLIB_SCHEDULER``, e.g. workers started by dask-jobqueue). LocalCluster workers fork from a fork
server that has imported torch once (:data:`~serlib.experiment.backends.WORKER_PRELOAD`), so they
start warm; it works from a script, a Jupyter kernel and papermill (a ``__main__`` without a file,
such as ``python - < script``, is handled too). Dask workers write task outputs themselves, so the
data folder must be on a filesystem that the workers share with the notebook. Inside a task use one
process (``n_jobs=1``): Dask workers are daemons and cannot start process pools. Random-forest grid
searches run on the same workers inside :func:`joblib_backend`.

**Reproducible.** Before a task runs the engine seeds ``random``, NumPy and torch with
``config["seed"]`` (0 if absent), limits torch and the BLAS/OpenMP pools to ``threads`` threads (1 by
default) and, when ``deterministic`` (default on CPU), turns on torch's deterministic algorithms; all
of it is restored afterwards. The same grid gives identical predictions serially, on 2 workers and
on a rerun (tested). Outputs are always returned as read back from disk, fresh or cached alike.

**Failures.** A failing task is printed with its key and traceback as soon as it fails; the other
tasks continue (tasks that depend on it are skipped); :meth:`Experiment.run` then raises
:class:`ExperimentError` listing every failed task. Killing the notebook's process (or kernel) also
ends the LocalCluster's worker processes: they exit when their parent's pipe closes.

Modules: :mod:`~serlib.experiment.task` (Task, TaskOutput, Context, failures),
:mod:`~serlib.experiment.keys` (keys and code versions), :mod:`~serlib.experiment.store` (the task
store), :mod:`~serlib.experiment.backends` (running one task; serial and Dask backends),
:mod:`~serlib.experiment.engine` (:class:`Experiment`, :func:`joblib_backend`) and
:mod:`~serlib.experiment.tables` (:func:`stack`, :func:`scores`, :func:`records` for result rows).
"""

from .engine import SCHEDULER_ENV, Experiment, joblib_backend
from .backends import default_workers
from .keys import CODE_EXCLUDED, ENGINE_VERSION, code_modules, manifest_fingerprint
from .tables import records, scores, stack
from .task import Context, ExperimentError, Failure, Task, TaskOutput

__all__ = [
    "ENGINE_VERSION", "CODE_EXCLUDED", "SCHEDULER_ENV", "Task", "TaskOutput", "Context", "Failure", "ExperimentError",
    "Experiment", "joblib_backend", "stack", "scores", "records", "code_modules", "manifest_fingerprint",
    "default_workers",
]
