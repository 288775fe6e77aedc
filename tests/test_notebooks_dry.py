"""Every notebook with the ``paper`` profile's models, widths, systems, augmentations, grids and
conditions, dry: 1 fold, 1 seed, 1 epoch of at most 2 batches, at most 64 utterances
(``python -m serlib.run --profile paper --dry``), so that the paper-only branches run in CI."""

from __future__ import annotations

import pytest

from tests.notebook_runs import check, per_notebook_classes
from serlib import profiles, run

pytestmark = pytest.mark.notebook


def run_paper_profile_dry(name, kernel, tmp_path, monkeypatch):
    for var in (profiles.DRY_ENV, "SERLIB_RESULTS", "SERLIB_FIGURES"):
        monkeypatch.setenv(var, "")
    run.dry_environment(tmp_path)  # SERLIB_DRY=1, results and figures under tmp_path
    monkeypatch.setenv(profiles.ENV_VAR, "paper")
    run.prepare("paper")  # the 64-utterance corpus (cached)
    check(run.execute(name, "paper", {}, tmp_path, kernel))
    written = {p.name for p in (tmp_path / "results").glob("*.csv")}
    assert written <= {f"{name}.csv"}, written  # a dry run's results stay under its own folder


# one test class per notebook: ``--dist loadscope`` schedules classes, so the runs spread over the workers
globals().update(per_notebook_classes("PaperProfileDry", "test_notebook_runs_the_paper_profile_dry", run_paper_profile_dry, run.available_notebooks()))
