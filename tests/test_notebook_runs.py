"""Notebook runs beyond nbval: what a user brings (a real corpus, a real noise folder, another corpus
shape) and what a GPU user runs first (the ``paper`` profile, dry).

- every notebook on the real EmoDB of ``../shared/data`` (no sessions, no ratings, 7 emotions, German)
  with the ESC-10 noise folder where the notebook mixes noise, on ``smoke``;
- paper 2 given a corpus without ratings is refused in seconds, before any feature extraction;
- a fixture corpus of another shape (the generic ``folder`` layout, speakers from file names)
  through the runner's command line;
- every notebook with the ``paper`` profile's models, grids and conditions, dry (1 fold, 1 seed,
  1 epoch of 2 batches, <= 64 utterances).

Each executed notebook must also pass the reader-facing output check (:func:`serlib.run.notebook_problems`).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from serlib import profiles, run

NOTEBOOKS = run.available_notebooks()
MIXES_NOISE = {"00_data_tour", "01_edrl_mea", "03_trnet", "04_joint_asr_ser", "05_densenet_highway"}
"""Notebooks whose test noise comes from a bank of the user's choice (02: booth re-recordings of the
generated radio; 10: noise families of the generated bank)."""

pytestmark = pytest.mark.notebook


@pytest.fixture(scope="module")
def kernel():
    return run.ensure_kernel()


def _emodb_params(name: str, shared: Path) -> dict:
    params = {"corpus": "emodb", "corpus_root": str(shared / "emodb")}
    if name in MIXES_NOISE:
        params |= {"noise": "esc50", "noise_root": str(shared / "esc10")}
    if name == "02_decoupled_ladder":
        params["ratings_from_categories"] = True
    declared = run.notebook_parameters(name)
    return {k: v for k, v in params.items() if k in declared}


def _check(outcome: run.Outcome) -> None:
    assert outcome.status == "ok", f"{outcome.notebook}: {outcome.error} (see {outcome.output})"
    problems = run.notebook_problems(outcome.output)
    assert not problems, f"{outcome.notebook}: " + "; ".join(problems)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_on_real_emodb(name, shared_data, kernel, tmp_path, monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, "smoke")
    _check(run.execute(name, "smoke", _emodb_params(name, shared_data), tmp_path, kernel))


def test_paper_2_refuses_a_corpus_without_ratings_in_seconds(shared_data, kernel, tmp_path, monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, "smoke")
    params = {"corpus": "emodb", "corpus_root": str(shared_data / "emodb")}
    t0 = time.perf_counter()
    out = run.execute("02_decoupled_ladder", "smoke", params, tmp_path, kernel)
    seconds = time.perf_counter() - t0
    assert out.status == "failed"
    assert "rating" in out.error and "ratings_from_categories" in out.error, out.error
    assert seconds < 30, f"refusal took {seconds:.1f} s (kernel start included)"


def _folder_corpus(root: Path, n_per_cell: int = 3) -> Path:
    """A corpus in the generic ``folder`` layout: ``<emotion>/<speaker>_<n>.wav``, 48 kHz stereo files
    made from the embedded smoke corpus (another shape: no sessions, no ratings, other names)."""
    import numpy as np
    import soundfile as sf

    from serlib import corpora
    from serlib.audio import load_audio

    m = corpora.to_4class(corpora.load("synthetic", size="smoke"), warn=False)
    names = {"angry": "Anger", "happy": "joy", "neutral": "Neutral", "sad": "SAD"}
    for (emo, spk), g in m.groupby(["emotion", "speaker"]):
        for i, r in enumerate(g.head(n_per_cell).itertuples()):
            x = load_audio(r.path)
            x48 = np.interp(np.arange(len(x) * 3) / 3, np.arange(len(x)), x).astype(np.float32)
            folder = root / names[emo]
            folder.mkdir(parents=True, exist_ok=True)
            sf.write(folder / f"{spk}_{i:02d}.wav", np.stack([x48, 0.9 * x48], axis=1), 48000)
    return root


@pytest.mark.parametrize("name", ["05_densenet_highway"])
def test_a_folder_corpus_through_the_runner(name, tmp_path):
    root = _folder_corpus(tmp_path / "corpus")
    cmd = [sys.executable, "-m", "serlib.run", "--profile", "smoke", "--only", name, "--no-prepare",
           "--out", str(tmp_path / "runs"), "-p", "corpus", "folder", "-p", "corpus_root", str(root),
           "-p", "speaker_regex", r"^(.+)_\d+\.wav$"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Traceback" not in done.stdout + done.stderr
    assert not run.notebook_problems(tmp_path / "runs" / f"{name}.ipynb")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_the_paper_profile_dry(name, kernel, tmp_path, monkeypatch):
    for var in (profiles.DRY_ENV, "SERLIB_RESULTS", "SERLIB_FIGURES"):
        monkeypatch.setenv(var, "")
    run.dry_environment(tmp_path)  # SERLIB_DRY=1, results and figures under tmp_path
    monkeypatch.setenv(profiles.ENV_VAR, "paper")
    run.prepare("paper")  # the 64-utterance corpus (cached)
    _check(run.execute(name, "paper", {}, tmp_path, kernel))
    written = {p.name for p in (tmp_path / "results").glob("*.csv")}
    assert written <= {f"{name}.csv"}, written  # results of a dry run stay under its own folder
