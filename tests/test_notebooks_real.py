"""Notebooks on what a user brings: the real EmoDB of ``../shared/data`` (no sessions, no ratings, 7
emotions, German) with the ESC-10 noise folder where the notebook mixes noise, a corpus without ratings
given to paper 2 (refused in seconds), and a corpus of another shape (the generic ``folder`` layout,
48 kHz stereo) through the runner's command line. All on ``smoke``; every executed notebook must also
pass the reader-facing output check (:func:`serlib.run.notebook_problems`)."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tests.notebook_runs import check, emodb_params, folder_corpus, per_notebook_classes
from serlib import profiles, run

pytestmark = pytest.mark.notebook


def run_on_real_emodb(name, shared_data, kernel, tmp_path, monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, "smoke")
    check(run.execute(name, "smoke", emodb_params(name, shared_data), tmp_path, kernel))


# one test class per notebook: ``--dist loadscope`` schedules classes, so the runs spread over the workers
globals().update(per_notebook_classes("OnRealEmoDB", "test_notebook_runs_on_real_emodb", run_on_real_emodb, run.available_notebooks()))


def test_paper_2_refuses_a_corpus_without_ratings_in_seconds(shared_data, kernel, tmp_path, monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, "smoke")
    params = {"corpus": "emodb", "corpus_root": str(shared_data / "emodb")}
    t0 = time.perf_counter()
    out = run.execute("02_decoupled_ladder", "smoke", params, tmp_path, kernel)
    seconds = time.perf_counter() - t0
    assert out.status == "failed"
    assert "rating" in out.error and "ratings_from_categories" in out.error, out.error
    assert seconds < 30, f"refusal took {seconds:.1f} s (kernel start included)"


def test_a_folder_corpus_of_another_shape_through_the_runner(tmp_path):
    name = "05_densenet_highway"
    root = folder_corpus(tmp_path / "corpus")
    cmd = [sys.executable, "-m", "serlib.run", "--profile", "smoke", "--only", name, "--no-prepare",
           "--out", str(tmp_path / "runs"), "-p", "corpus", "folder", "-p", "corpus_root", str(root),
           "-p", "speaker_regex", r"^(.+)_\d+\.wav$"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr
    assert not run.notebook_problems(tmp_path / "runs" / f"{name}.ipynb")
