"""``extract(manifest, kind, condition)``: features of every utterance, through the cache.

Flow: validate the manifest -> look every utterance up in the cache (one ``stat`` per file)
-> compute only the missing ones, in manifest order, writing each finished chunk atomically
-> assemble in manifest order -> refuse NaN/inf features (or drop them with a report).

Compute:

- openSMILE kinds run in ``n_jobs`` worker processes started by a fork server (``spawn``
  where there is none: workers never inherit a parent's torch/OpenMP/CUDA state); each worker
  reads, conditions and processes one utterance at a time. Workers exit within a second when the
  process that started them dies, even by ``kill -9`` (:func:`exit_with_parent`). Jobs with fewer than
  ``MIN_UTTS_PER_WORKER`` utterances per worker use fewer workers (the first pool of a
  session starts the fork server, ~3 s), down to running in-process.
  With a condition, it is applied once in this process first, so that whatever it builds on
  disk (a generated noise bank) is built once rather than by every worker at the same time.
- torch kinds read and condition audio with ``n_jobs`` threads, then compute one padded batch
  per chunk on ``device`` (``None`` -> CUDA when available); on CPU torch uses ``n_jobs`` threads.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import sys
import time
import warnings
from contextlib import closing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Iterator, Literal

import numpy as np
import pandas as pd

from ..audio import SR, AudioError, check_audio, load_audio
from . import functionals, spectral
from .cache import FeatureCache, condition_key, entry_key
from .kinds import FeatureKind, config_id, frame_count, get_kind

log = logging.getLogger(__name__)

MIN_UTTS_PER_WORKER = 16
"""openSMILE jobs use at most ``len(missing) // MIN_UTTS_PER_WORKER`` worker processes."""

DEFAULT_CHUNK_SIZE = 64
"""Utterances per cache chunk (one atomic file)."""


class FeatureError(ValueError):
    """Features could not be computed or are unusable; the message names the utterance(s)."""


class FeatureList(list):
    """A list of float32 (frames, bins) arrays in manifest order, with ``utt_ids`` and ``attrs``.

    It behaves as a plain list; ``utt_ids[i]`` names entry ``i`` (useful after ``on_nan="drop"``)
    and ``attrs["extract"]`` holds the run's statistics, as ``DataFrame.attrs`` does for tables.
    """

    def __init__(self, arrays=(), utt_ids=(), attrs: dict | None = None):
        super().__init__(arrays)
        self.utt_ids = list(utt_ids)
        self.attrs = dict(attrs or {})


def resolve_jobs(n_jobs: int | None) -> int:
    """``None`` -> the CPU cores this process may use; otherwise a positive int."""
    if n_jobs is None:
        try:
            return len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            return os.cpu_count() or 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive int or None (= all cores), got {n_jobs!r}")
    return int(n_jobs)


# ---- reading one utterance ----------------------------------------------------------------
def load_conditioned(utt_id: str, path: str, condition=None) -> np.ndarray:
    """Read an utterance at 16 kHz and apply the condition; errors name the utterance and file."""
    try:
        wav = load_audio(path, SR)
    except AudioError as exc:
        raise FeatureError(f"utterance {utt_id!r}: {exc}") from exc
    if condition is None:
        return wav
    key = getattr(condition, "key", repr(condition))
    try:
        noisy = condition.apply(wav, utt_id, SR)
    except Exception as exc:
        raise FeatureError(f"utterance {utt_id!r} ({path}): condition {key!r} failed: {exc}") from exc
    try:
        return check_audio(noisy, f"{path} under condition {key!r}")
    except AudioError as exc:
        raise FeatureError(f"utterance {utt_id!r}: {exc}") from exc


def _functional_one(utt_id: str, path: str, kind_name: str, condition) -> np.ndarray:
    wav = load_conditioned(utt_id, path, condition)
    try:
        return functionals.compute(wav, kind_name, SR)
    except Exception as exc:
        raise FeatureError(f"utterance {utt_id!r} ({path}): openSMILE {kind_name} failed: {exc}") from exc


_WORKER: dict = {}
PARENT_POLL_S = 0.5
"""How often a worker checks that the process that started it is still alive."""


def _init_worker(kind_name: str, condition, parent_pid: int | None = None) -> None:
    if parent_pid is not None:
        exit_with_parent(parent_pid)
    _WORKER.update(kind=kind_name, condition=condition)
    functionals.smile(kind_name)  # build the Smile object once per worker


def _process_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, killed but not yet reaped, counts as dead)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return True  # no /proc (not Linux): os.kill said it exists


def exit_with_parent(pid: int, poll_s: float = PARENT_POLL_S) -> None:
    """End this (worker) process when process ``pid`` is gone.

    A fork server's workers are children of the server, not of the process that asked for them, and
    block on a queue whose write end they hold themselves: when a notebook kernel is killed (``kill
    -9``, a Jupyter restart) they would wait forever (and keep the fork server alive). A daemon
    thread polls ``pid`` and exits the worker within ``poll_s`` of its death.
    """
    import threading

    def watch() -> None:
        while _process_alive(pid):
            time.sleep(poll_s)
        os._exit(1)

    threading.Thread(target=watch, name=f"exit-with-{pid}", daemon=True).start()


def _functional_task(task: tuple[str, str]) -> np.ndarray:
    return _functional_one(task[0], task[1], _WORKER["kind"], _WORKER["condition"])


# ---- computing the missing utterances ---------------------------------------------------
PRELOAD = ["serlib.features._preload", "serlib.noise", "serlib.enhance"]
"""Modules the fork server imports once (openSMILE ready, the noise conditions' code, the enhancers'
torch/ONNX runtimes), so each worker forks with them loaded instead of paying ~2.6 s of imports;
a module that fails to import is skipped by multiprocessing. The server only imports: no torch
thread pool or CUDA context exists in it when it forks."""


def mp_context():
    """``forkserver`` where available, else ``spawn``.

    Both start workers from a clean process, never a fork of this one (which may hold torch,
    OpenMP or CUDA state that is unsafe in a forked child). The fork server starts once per
    session with :data:`PRELOAD` imported, so later pools start in a fraction of a second
    instead of ~1.5 s of imports per worker.
    """
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def spawnable() -> bool:
    """Whether new worker processes can re-import ``__main__`` (not so for ``python - < script``)."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    return main_file is None or os.path.isfile(main_file)


def _iter_functionals(tasks, spec: FeatureKind, condition, n_jobs: int) -> Iterator[np.ndarray]:
    workers = min(n_jobs, len(tasks) // MIN_UTTS_PER_WORKER)
    if workers > 1 and not spawnable():
        warnings.warn("__main__ has no importable file (stdin?): openSMILE runs in this process only")
        workers = 1
    if workers <= 1:
        for utt_id, path in tasks:
            yield _functional_one(utt_id, path, spec.name, condition)
        return
    if condition is not None:  # let the condition build its on-disk caches (noise bank) once, here
        load_conditioned(*tasks[0], condition)
    ex = ProcessPoolExecutor(
        workers, mp_context=mp_context(), initializer=_init_worker, initargs=(spec.name, condition, os.getpid())
    )
    try:
        yield from ex.map(_functional_task, tasks)
    except BrokenProcessPool as exc:
        raise FeatureError(
            f"openSMILE worker processes died ({exc}). In a script, call extract() under "
            "`if __name__ == '__main__':` (workers re-import the script), "
            "or pass n_jobs=1 to compute in this process."
        ) from exc
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


def _iter_spectral(tasks, spec: FeatureKind, condition, n_jobs: int, device: str, block: int) -> Iterator[np.ndarray]:
    import torch

    threads = torch.get_num_threads()
    if device == "cpu":
        torch.set_num_threads(n_jobs)
    if condition is not None and n_jobs > 1:  # build the condition's caches once, before the threads
        load_conditioned(*tasks[0], condition)
    try:
        with ThreadPoolExecutor(n_jobs) as pool:
            for start in range(0, len(tasks), block):
                part = tasks[start : start + block]
                wavs = list(pool.map(lambda t: load_conditioned(t[0], t[1], condition), part))
                for (utt_id, path), wav in zip(part, wavs):
                    if frame_count(len(wav), spec) == 0:
                        raise FeatureError(
                            f"utterance {utt_id!r} ({path}): {len(wav)} samples is shorter than one "
                            f"{spec.params['win_length']}-sample (25 ms) frame; remove it from the manifest"
                        )
                yield from spectral.compute(wavs, spec, device)
    finally:
        torch.set_num_threads(threads)


# ---- the public entry point ---------------------------------------------------------------
def manifest_columns(manifest) -> tuple[list[str], list[str]]:
    """``(utt_ids, paths)`` of a manifest, with a clear error for a non-DataFrame or missing columns."""
    if not isinstance(manifest, pd.DataFrame):
        raise TypeError(f"manifest must be a pandas DataFrame (see serlib.corpora.load), got {type(manifest).__name__}")
    missing = [c for c in ("utt_id", "path") if c not in manifest.columns]
    if missing:
        raise ValueError(f"manifest lacks column(s) {missing}; it needs at least 'utt_id' and 'path'")
    if len(manifest) == 0:
        raise ValueError("manifest is empty: no utterances to extract features from")
    if manifest["path"].isna().any():
        bad = manifest.loc[manifest["path"].isna(), "utt_id"].tolist()
        raise ValueError(f"manifest has no audio path for {len(bad)} utterance(s): {bad[:10]}")
    utt_ids = manifest["utt_id"].astype(str).tolist()
    dup = manifest["utt_id"][manifest["utt_id"].duplicated()].astype(str).unique().tolist()
    if dup:
        raise ValueError(f"manifest has duplicate utt_id(s) {dup[:10]}; utterance ids must be unique")
    return utt_ids, manifest["path"].astype(str).tolist()


def _entry_keys(utt_ids: list[str], paths: list[str]) -> list[str]:
    keys = []
    for u, p in zip(utt_ids, paths):
        try:
            keys.append(entry_key(u, p))
        except OSError as exc:
            raise FeatureError(f"utterance {u!r}: audio file {p} cannot be read ({exc}); check the corpus root") from exc
    return keys


def extract(
    manifest: pd.DataFrame,
    kind: str,
    condition=None,
    *,
    n_jobs: int | None = None,
    device: str | None = None,
    cache: bool = True,
    progress: bool = True,
    on_nan: Literal["raise", "drop"] = "raise",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> pd.DataFrame | FeatureList:
    """Features of every utterance in ``manifest`` (in its order) under a noise condition.

    Args:
        manifest: DataFrame with at least ``utt_id`` (unique) and ``path`` (audio file).
        kind: one of :data:`FEATURE_KINDS`: ``egemaps``, ``compare``, ``lmfb``, ``spectrogram``.
        condition: object with ``.key`` and ``.apply(wav, utt_id, sr)`` (e.g.
            ``serlib.noise.Condition``), applied to each 16 kHz signal; ``None`` = clean.
        n_jobs: worker processes (openSMILE) or threads (torch kinds on CPU); None = all cores.
        device: torch device for spectral kinds; None = CUDA when available, else CPU.
        cache: read and write the on-disk cache (:mod:`serlib.features.cache`).
        progress: show a tqdm bar while computing.
        on_nan: ``"raise"`` (default) raises :class:`FeatureError` listing the utterances with
            NaN/inf features; ``"drop"`` drops them, warns with the count and ids, and records
            them in ``attrs["extract"]["dropped"]``.
        chunk_size: utterances per cache chunk.

    Returns:
        Table kinds: a float32 DataFrame indexed by ``utt_id`` (88 or 6,373 columns).
        Sequence kinds: a :class:`FeatureList` of float32 (frames, bins) arrays.
        Either carries ``attrs["extract"]``: counts of cached/computed/NaN utterances and seconds.

    Raises:
        FeatureError: an utterance is unreadable, silent, too short, its condition failed, or it
            has NaN features; the message names the utterance id and its file.
    """
    t0 = time.perf_counter()
    spec = get_kind(kind)
    if on_nan not in ("raise", "drop"):
        raise ValueError(f"on_nan must be 'raise' or 'drop', got {on_nan!r}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size!r}")
    utt_ids, paths = manifest_columns(manifest)
    cond_key = condition_key(condition)
    n_jobs = resolve_jobs(n_jobs)
    dev = spectral.resolve_device(device) if spec.backend == "torch" else "cpu"
    n = len(utt_ids)
    values: list[np.ndarray | None] = [None] * n

    store = keys = None
    if cache:
        store = FeatureCache(spec.on_device(dev), cond_key)  # CUDA features have their own cache (kinds.py)
        keys = _entry_keys(utt_ids, paths)
        stored = store.index()
        hits = {i: stored[k] for i, k in enumerate(keys) if k in stored}
        for i, arr in store.read(hits).items():
            values[i] = arr
    missing = [i for i in range(n) if values[i] is None]

    if missing:
        from serlib.progress import bar as progress_bar

        tasks = [(utt_ids[i], paths[i]) for i in missing]
        if spec.backend == "opensmile":
            stream = _iter_functionals(tasks, spec, condition, n_jobs)
        else:
            stream = _iter_spectral(tasks, spec, condition, n_jobs, dev, chunk_size)
        pending: list[int] = []

        def flush() -> None:
            if store is not None and pending:
                store.write([keys[i] for i in pending], [utt_ids[i] for i in pending], [values[i] for i in pending])
            pending.clear()

        bar = progress_bar(total=len(missing), desc=f"{spec.name} [{cond_key}]", disable=not progress, unit="utt")
        with bar, closing(stream):  # closing: stop worker pools now, even on an error or Ctrl-C
            for i, arr in zip(missing, stream):
                values[i] = arr
                pending.append(i)
                bar.update()
                if len(pending) >= chunk_size:
                    flush()
            flush()

    stats = {
        "kind": spec.name, "condition": cond_key, "config_id": config_id(spec.on_device(dev)), "device": dev,
        "n": n, "cached": n - len(missing), "computed": len(missing), "nan": 0, "dropped": [],
    }
    result = _assemble(spec, values, utt_ids, store)
    result = _check_nan(result, spec, cond_key, on_nan, stats)
    stats["seconds"] = round(time.perf_counter() - t0, 4)
    result.attrs["extract"] = stats
    log.info("%s [%s]: %d utterances, %d from cache, %d computed in %.1f s",
             spec.name, cond_key, n, stats["cached"], stats["computed"], stats["seconds"])
    return result


def _assemble(spec: FeatureKind, values, utt_ids, store) -> pd.DataFrame | FeatureList:
    if spec.output == "sequence":
        return FeatureList(values, utt_ids)
    names = store.columns() if store is not None else None
    if names is None:
        names = functionals.feature_names(spec)
        if store is not None:
            store.write_columns(names)
    table = np.stack(values).astype(np.float32, copy=False)
    if table.shape[1] != len(names):
        raise FeatureError(f"{spec.name}: {table.shape[1]} values per utterance but {len(names)} column names")
    return pd.DataFrame(table, index=pd.Index(utt_ids, name="utt_id"), columns=names)


def _check_nan(result, spec: FeatureKind, cond_key: str, on_nan: str, stats: dict):
    if isinstance(result, pd.DataFrame):
        ok = np.isfinite(result.to_numpy()).all(axis=1)
    else:
        ok = np.array([bool(np.isfinite(a).all()) for a in result])
    if ok.all():
        return result
    ids = list(result.index) if isinstance(result, pd.DataFrame) else result.utt_ids
    bad = [u for u, good in zip(ids, ok) if not good]
    stats["nan"] = len(bad)
    msg = (f"{spec.name} [{cond_key}]: {len(bad)} of {len(ids)} utterances have NaN/inf features: "
           f"{bad[:20]}{' ...' if len(bad) > 20 else ''}")
    if on_nan == "raise":
        raise FeatureError(msg + "; inspect or remove them, or pass on_nan='drop' to drop them with a report")
    warnings.warn(msg + "; dropped (on_nan='drop')", stacklevel=3)
    stats["dropped"] = bad
    if isinstance(result, pd.DataFrame):
        return result[ok]
    return FeatureList([a for a, good in zip(result, ok) if good], [u for u, good in zip(ids, ok) if good])
