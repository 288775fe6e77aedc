"""The experiment engine: identical results on any backend, resume after kill -9, failures, keys,
no orphan worker processes (also for feature extraction), the joblib/Dask hook of the forest grid.

The task functions live in tests/experiment_tasks.py (tiny MLP fits on pseudo-features)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from serlib import experiment
from serlib.experiment import Experiment, ExperimentError, Task, TaskOutput

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FIT, TUNE = "experiment_tasks:fit_tiny", "experiment_tasks:fine_tune"


def manifest(n_speakers: int = 3, per_speaker: int = 32) -> pd.DataFrame:
    rows = [dict(utt_id=f"s{s}_{i:03d}", speaker=f"S{s}", emotion=["angry", "happy", "neutral", "sad"][i % 4],
                 path=f"/corpus/s{s}_{i:03d}.wav") for s in range(n_speakers) for i in range(per_speaker)]
    return pd.DataFrame(rows)


def grid(**extra) -> list[Task]:
    fits = [Task(FIT, {"seed": s, "fold": f"S{f}", **extra}) for s in (0, 1) for f in (0, 1, 2)]
    return fits + [Task(TUNE, {"seed": 3, "fold": "S0", **extra}, deps={"teacher": fits[0]})]


def computed(outs) -> int:
    return sum(not o.cached for o in outs)


def preds(outs) -> pd.DataFrame:
    return experiment.stack(outs, config=["seed", "fold"])


def _subprocess_env(tmp_path: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(HERE)]), SERLIB_DATA=str(tmp_path / "data"))
    return env


def _gone(pids, timeout: float = 15.0) -> list[int]:
    """The pids still running (zombies count as gone) after waiting up to ``timeout`` seconds."""
    import psutil

    deadline = time.time() + timeout
    while True:
        alive = []
        for pid in pids:
            try:
                if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                pass
        if not alive or time.time() > deadline:
            return alive
        time.sleep(0.2)


@pytest.fixture(scope="module")
def client():
    """One real 2-worker LocalCluster (single-threaded worker processes) for the module."""
    from serlib.experiment.backends import _start_cluster

    c, cluster = _start_cluster(2)
    yield c
    c.close()
    cluster.close()


# --------------------------------------------------------------------------- backends agree
def test_serial_two_workers_and_rerun_give_identical_results(tmp_data, client):
    import torch

    m = manifest()
    threads, rng_state = torch.get_num_threads(), np.random.get_state()[1].copy()
    serial = Experiment("nb", manifest=m, workers=1, root=tmp_data / "a", progress=False).run(grid())
    assert torch.get_num_threads() == threads and (np.random.get_state()[1] == rng_state).all(), "state not restored"
    again = Experiment("nb", manifest=m, workers=1, root=tmp_data / "b", progress=False).run(grid())
    dask = Experiment("nb", manifest=m, scheduler=client, root=tmp_data / "c", progress=False).run(grid())
    assert computed(serial) == computed(again) == computed(dask) == 7
    assert {o.record["pid"] for o in dask} - {os.getpid()}, "the Dask run did not use worker processes"
    assert all(o.record["pid"] == os.getpid() for o in serial)
    for other in (again, dask):
        pd.testing.assert_frame_equal(preds(serial), preds(other))  # keys, labels and posteriors, exactly
        for a, b in zip(serial, other):
            pd.testing.assert_frame_equal(a.history.drop(columns="seconds"), b.history.drop(columns="seconds"))
            np.testing.assert_array_equal(a.extra["first_layer"], b.extra["first_layer"])
    assert serial[-1].meta["teacher"] == serial[0].key  # the dependent got its dependency's output
    p = preds(serial)
    assert set(p.columns) >= {"key", "seed", "fold", "utt_id", "y_true", "y_pred", "p_angry"}
    assert len(p) == 7 * 32 and p.groupby("key").utt_id.nunique().eq(32).all()
    # a rerun reads everything from the store
    cached = Experiment("other_nb", manifest=m, workers=2, root=tmp_data / "a", progress=False).run(grid())
    assert computed(cached) == 0
    pd.testing.assert_frame_equal(preds(serial), preds(cached))


def test_scheduler_address_from_the_environment(tmp_data, client, monkeypatch):
    monkeypatch.setenv("SERLIB_SCHEDULER", client.scheduler.address)
    exp = Experiment("nb", manifest=manifest(), workers=1, root=tmp_data, progress=False)
    outs = exp.run(grid()[:2])
    assert {o.record["pid"] for o in outs}.isdisjoint({os.getpid()}), "ran in-process despite SERLIB_SCHEDULER"
    assert exp._client is None  # disconnected after the run; the scheduler's cluster keeps running
    assert client.scheduler_info()["workers"]


def test_failing_task_is_reported_and_the_others_finish(tmp_data, client, capsys):
    m = manifest()
    bad = Task(FIT, {"seed": 7, "fold": "S1", "fail": True})
    tasks = [Task(FIT, {"seed": 0, "fold": "S0"}), bad, Task(TUNE, {"seed": 1, "fold": "S2"}, deps={"teacher": bad}),
             Task(FIT, {"seed": 0, "fold": "S2"})]
    for name, kw in (("serial", {"workers": 1}), ("dask", {"scheduler": client})):
        exp = Experiment("nb", manifest=m, root=tmp_data / name, progress=False, **kw)
        with pytest.raises(ExperimentError) as err:
            exp.run(tasks)
        keys = exp.keys(tasks)
        msg = str(err.value)
        assert "2 task(s) failed (4 requested" in msg, msg
        assert keys[1] in msg and "RuntimeError: task asked to fail (seed 7)" in msg and "fail=True" in msg
        assert keys[2] in msg and f"skipped: dependency {keys[1]} failed" in msg
        assert [o is None for o in err.value.outputs] == [False, True, True, False]
        assert f"task {keys[1]} FAILED" in capsys.readouterr().err  # reported with its traceback as it failed
        assert (exp.root / "tasks" / keys[3] / "task.json").is_file()  # the others were stored
        outs = exp.run([tasks[0], tasks[3], tasks[1]], raise_on_failure=False)
        assert [o.cached for o in outs[:2]] == [True, True] and outs[2] is None
        index = json.loads((exp.root / "index" / "nb.json").read_text())
        assert [t["status"] for t in index["tasks"]] == ["cached", "cached", "failed"]


def test_task_errors_name_the_problem(tmp_data):
    with pytest.raises(ValueError, match="not importable by name"):
        Task(lambda config, ctx: None)
    with pytest.raises(TypeError, match="ndarray value .* is not JSON-able"):
        Task(FIT, {"seed": 0, "x": np.zeros(3)})
    with pytest.raises(ValueError, match="use None for a missing value"):
        Task(FIT, {"seed": 0, "x": float("nan")})
    assert Task(FIT, {"seed": np.int64(3)}).config == {"seed": 3}
    exp = Experiment("nb", manifest=manifest(), workers=1, root=tmp_data, progress=False)
    with pytest.raises(ExperimentError, match="returned dict; it must return a TaskOutput"):
        exp.run([Task("experiment_tasks:wrong_return", {"seed": 0})])
    with pytest.raises(ExperimentError, match="cannot be imported"):
        exp.run([Task("experiment_tasks:no_such_function", {"seed": 0})])
    with pytest.raises(KeyError, match="reads manifest"):
        exp.keys([Task(FIT, {"seed": 0}, manifests=["xcorpus"])])


# --------------------------------------------------------------------------- resume after kill -9
RESUME_SCRIPT = """
import sys
from test_experiment import grid, manifest
from serlib.experiment import Experiment
if __name__ == "__main__":
    Experiment("nb", manifest=manifest(), workers=1, root=sys.argv[1], progress=False).run(grid(sleep=0.7))
"""


def test_kill_minus_9_then_rerun_computes_only_the_unfinished(tmp_data, tmp_path):
    script = tmp_path / "resume.py"
    script.write_text(RESUME_SCRIPT)
    root = tmp_data / "runs"
    store = root / "tasks"
    proc = subprocess.Popen([sys.executable, str(script), str(root)], env=_subprocess_env(tmp_path), cwd=tmp_path)
    try:
        deadline = time.time() + 120
        while len(list(store.glob("*/task.json"))) < 2 and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
    finally:
        rc = proc.poll()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finished = len(list(store.glob("*/task.json")))
    assert rc is None, f"the script ended by itself (rc {rc}) after {finished} tasks"
    assert 2 <= finished < 7, f"{finished} tasks finished before the kill"
    (store / f".tmp-{os.uname().nodename}-{2**22 + 12345}-deadbeef").mkdir()  # a dead writer's leftovers
    outs = Experiment("nb", manifest=manifest(), workers=1, root=root, progress=False).run(grid(sleep=0.7))
    assert computed(outs) == 7 - finished
    assert not list(store.glob(".tmp-*"))
    assert len(list(store.glob("*/task.json"))) == 7


# --------------------------------------------------------------------------- keys
def test_key_changes_with_config_manifest_dependency_and_code(tmp_data, tmp_path, monkeypatch):
    m = manifest()

    def key(task, man=m, notebook="nb"):
        return Experiment(notebook, manifest=man, workers=1, root=tmp_data, progress=False).keys([task])[0]

    base = Task(FIT, {"seed": 0, "fold": "S0"})
    k = key(base)
    assert key(Task(FIT, {"fold": "S0", "seed": 0})) == k  # order of config items does not matter
    assert key(base, notebook="10_robustness_leaderboard") == k  # the notebook is not part of the key
    assert key(base, man=m.set_index("utt_id", drop=False)) == k  # nor the index
    assert key(Task(FIT, {"seed": 1, "fold": "S0"})) != k
    relabelled = m.copy()
    relabelled.loc[3, "emotion"] = "happy"
    assert key(base, man=relabelled) != k
    assert key(base, man=m.iloc[::-1]) != k  # row order matters (splits may be positional)
    assert key(base, man=m.assign(path=m.path.str.replace("/corpus", "/elsewhere"))) != k
    teacher = lambda seed: Task(FIT, {"seed": seed, "fold": "S0"})  # noqa: E731
    assert key(Task(TUNE, {"seed": 0}, deps={"teacher": teacher(0)})) != key(Task(TUNE, {"seed": 0},
                                                                                   deps={"teacher": teacher(1)}))
    # code: a task module and a module it imports relatively
    pkg = tmp_path / "codepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "task.py").write_text("from . import helper\nfrom serlib import metrics\n\ndef run(config, ctx):\n    pass\n")
    (pkg / "helper.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    t = Task("codepkg.task:run", {"seed": 0})
    mods = experiment.code_modules(t.fn)
    assert {"codepkg", "codepkg.task", "codepkg.helper", "serlib", "serlib.metrics"} <= set(mods)
    k1 = key(t)
    (pkg / "helper.py").write_text("X = 2\n")
    assert key(t) != k1
    k2 = key(t)
    (pkg / "task.py").write_text((pkg / "task.py").read_text() + "# a comment\n")
    assert key(t) != k2


def test_code_version_follows_serlib_imports_and_skips_reporting_modules():
    mods = experiment.code_modules("serlib.models.edrl_mea:fit_systems")
    assert {"serlib.models.edrl_mea", "serlib.models.forest", "serlib.metrics", "serlib.models"} <= set(mods)
    assert "serlib.models.forest" in mods  # imported inside fit_systems only
    mods = experiment.code_modules("serlib.leaderboard:fit")
    assert {"serlib.features.pipeline", "serlib.training", "serlib.noise"} <= set(mods)
    assert not {m for m in mods if m.startswith(("serlib.plots", "serlib.results", "serlib.run", "serlib.experiment"))}


# --------------------------------------------------------------------------- storage and tables
@pytest.mark.filterwarnings("ignore:UAR. y_true contains a single class", "ignore:A single label was found")
def test_store_is_atomic_and_tables_stack(tmp_data):
    from serlib.experiment.store import _load_output, _write_output

    pred = pd.DataFrame({"utt_id": ["a", "b"], "snr": [None, 5.0], "y_true": ["x", "y"], "y_pred": ["x", "x"],
                         "p_x": np.array([0.9, 0.6], np.float32)})
    out = TaskOutput(predictions=pred, meta={"n": np.int64(2)}, extra={"emb": np.eye(2), "tab": pd.DataFrame({"c": [1]})})
    record = {"key": "k1", "fn": "m:f", "config": {"seed": 0, "system": "RF"}}
    _write_output(out, record, tmp_data, "k1")
    _write_output(TaskOutput(), dict(record, fn="other"), tmp_data, "k1")  # an existing folder wins
    assert [p.name for p in tmp_data.iterdir()] == ["k1"]
    back = _load_output(tmp_data / "k1")
    assert back.fn == "m:f" and back.meta == {"n": 2} and back.predictions.p_x.dtype == np.float32
    np.testing.assert_array_equal(back.extra["emb"], np.eye(2))
    pd.testing.assert_frame_equal(back.extra["tab"], pd.DataFrame({"c": [1]}))
    table = experiment.stack([back, None], config=["system"])
    assert list(table.columns[:2]) == ["key", "system"] and table.system.eq("RF").all()
    rows = experiment.records(experiment.scores(table, ["system", "snr"], metrics=["uar", "war"]))
    assert rows[0] == {"system": "RF", "snr": None, "metric": "uar", "value": 1.0, "n": 1}
    assert rows[2]["snr"] == 5.0 and rows[2]["value"] == 0.0
    with pytest.raises(ValueError, match="lacks column"):
        from serlib.experiment.store import _check_output

        _check_output(TaskOutput(predictions=pred.drop(columns="y_pred")), "m:f")


# --------------------------------------------------------------------------- no orphan processes
ORPHAN_SCRIPT = """
import sys
from test_experiment import manifest
from serlib.experiment import Experiment, Task
if __name__ == "__main__":
    tasks = [Task("experiment_tasks:fit_tiny", {"seed": s, "fold": "S0", "sleep": 120, "mark": sys.argv[1]})
             for s in range(4)]
    Experiment("nb", manifest=manifest(), workers=2, root=sys.argv[2], progress=False).run(tasks)
"""

FEATURE_SCRIPT = """
import sys
import numpy as np, pandas as pd, soundfile as sf
from pathlib import Path
from serlib.features import extract
if __name__ == "__main__":
    rows, rng = [], np.random.default_rng(0)
    for i in range(300):
        p = Path(sys.argv[1]) / f"u{i}.wav"
        sf.write(p, (0.1 * rng.standard_normal(16000)).astype("float32"), 16000)
        rows.append({"utt_id": f"u{i}", "path": str(p)})
    extract(pd.DataFrame(rows), "egemaps", n_jobs=2, cache=False, progress=False)
"""


def _kill_and_check(proc: subprocess.Popen, ready, what: str) -> None:
    import psutil

    try:
        deadline = time.time() + 150
        while not ready() and time.time() < deadline:
            assert proc.poll() is None, f"the {what} script ended early (rc {proc.returncode})"
            time.sleep(0.1)
        assert ready(), f"the {what} workers did not start within 150 s"
        children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    left = _gone(children)
    for pid in left:  # clean up before failing
        os.kill(pid, signal.SIGKILL)
    assert not left, f"{what}: processes {left} outlived the killed parent"


def test_sigkill_of_the_runner_leaves_no_dask_worker(tmp_data, tmp_path):
    mark = tmp_path / "marks"
    mark.mkdir()
    script = tmp_path / "orphans.py"
    script.write_text(ORPHAN_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(mark), str(tmp_data / "runs")],
                            env=_subprocess_env(tmp_path), cwd=tmp_path, stderr=subprocess.DEVNULL)
    _kill_and_check(proc, lambda: len(list(mark.iterdir())) >= 2, "Dask")
    pids = {int(p.name.split(".")[0]) for p in mark.iterdir()}
    assert len(pids) == 2 and os.getpid() not in pids and proc.pid not in pids  # two worker processes ran tasks


def test_sigkill_during_feature_extraction_leaves_no_feature_worker(tmp_data, tmp_path):
    import psutil

    wavs = tmp_path / "wavs"
    wavs.mkdir()
    script = tmp_path / "features.py"
    script.write_text(FEATURE_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(wavs)], env=_subprocess_env(tmp_path), cwd=tmp_path,
                            stderr=subprocess.DEVNULL)

    def workers_running() -> bool:  # the fork server's children are the openSMILE workers
        n = 0
        for p in psutil.Process(proc.pid).children(recursive=True):
            try:
                n += p.ppid() != proc.pid
            except psutil.NoSuchProcess:
                pass
        return n >= 2

    _kill_and_check(proc, workers_running, "feature extraction")


# --------------------------------------------------------------------------- joblib on Dask
def test_forest_grid_on_dask_equals_serial(client):
    from serlib.models import forest

    rng = np.random.default_rng(0)
    X, Xv = rng.normal(size=(80, 5)), rng.normal(size=(40, 5))
    y, yv = (X[:, 0] > 0).astype(int), (Xv[:, 0] > 0).astype(int)
    grid = {"n_estimators": [5, 20], "max_depth": [1, 3]}
    here = forest.fit_grid(X, y, Xv, yv, grid=grid, n_jobs=1)
    with experiment.joblib_backend(Experiment("nb", scheduler=client, progress=False)):
        assert forest._dask_backend_active()
        there = forest.fit_grid(X, y, Xv, yv, grid=grid, n_jobs=1)
    assert not forest._dask_backend_active()
    assert here.params == there.params
    pd.testing.assert_frame_equal(here.table, there.table)
    np.testing.assert_array_equal(here.model.predict_proba(Xv), there.model.predict_proba(Xv))


def test_a_dry_run_never_shares_a_key_with_a_real_run(monkeypatch, tmp_data):
    """Dry fits stop after 2 batches an epoch: the dry flag is part of the key (and travels to the worker)."""
    from serlib import profiles
    from serlib.experiment import Experiment, Task

    task = Task("tests.experiment_tasks:fit_tiny", {"seed": 0, "hidden": 4})
    monkeypatch.setenv(profiles.DRY_ENV, "0")
    real = Experiment("99_toy", workers=1).keys([task])
    monkeypatch.setenv(profiles.DRY_ENV, "1")
    dry = Experiment("99_toy", workers=1).keys([task])
    assert real != dry
