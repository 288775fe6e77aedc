"""Dry runs (``python -m serlib.run --dry``, ``SERLIB_DRY=1``): what they cap, where they write, what they record."""

from __future__ import annotations

import os

import numpy as np
import pytest

from serlib import profiles, run


def test_dry_environment_redirects_results_and_figures(tmp_path, monkeypatch):
    for var in (profiles.DRY_ENV, "SERLIB_RESULTS", "SERLIB_FIGURES"):
        monkeypatch.setenv(var, "")  # monkeypatch restores the caller's values afterwards
    env = run.dry_environment(tmp_path / "paper-dry")
    assert os.environ[profiles.DRY_ENV] == "1" and profiles.is_dry()
    from serlib import paths

    assert paths.results_dir() == (tmp_path / "paper-dry" / "results").resolve() != run.REPO_RESULTS
    assert paths.figures_dir() == (tmp_path / "paper-dry" / "figures").resolve()
    assert set(env) == {profiles.DRY_ENV, "SERLIB_RESULTS", "SERLIB_FIGURES"}


def test_dry_prepare_generates_the_capped_corpus_not_the_paper_one(monkeypatch):
    from serlib import corpora, noise

    sizes = []
    monkeypatch.setattr(corpora, "load", lambda name, size, seed: sizes.append((name, size)))
    monkeypatch.setattr(noise, "load_noise", lambda name: None)
    monkeypatch.setenv(profiles.DRY_ENV, "1")
    run.prepare("paper")
    assert sizes == [("synthetic", profiles.DRY_UTTERANCES), ("synthetic_xcorpus", profiles.DRY_UTTERANCES)]
    monkeypatch.setenv(profiles.DRY_ENV, "0")
    sizes.clear()
    run.prepare("paper")
    assert sizes[0] == ("synthetic", "paper")


def test_dry_run_is_never_a_reference_run(capsys, monkeypatch):
    for var in (profiles.DRY_ENV, "SERLIB_RESULTS", "SERLIB_FIGURES", profiles.ENV_VAR):
        monkeypatch.setenv(var, os.environ.get(var, ""))
    assert run.main(["--profile", "smoke", "--only", "00", "--dry", "--reference", "--no-prepare"]) == 2
    assert "never reference runs" in capsys.readouterr().err


def test_results_metadata_records_dry_and_deterministic(tmp_data, monkeypatch):
    from serlib import results

    monkeypatch.setenv(profiles.DRY_ENV, "1")
    monkeypatch.delenv("SERLIB_DETERMINISTIC", raising=False)
    res = results.Results("99_toy", "paper")
    res.add("m", "uar", 0.5, seed=0)
    meta = res.metadata()
    assert meta["dry"] is True and meta["deterministic"] is (meta["device"] == "cpu")
    monkeypatch.setenv(profiles.DRY_ENV, "0")
    assert res.metadata()["dry"] is False


def test_dry_grid_search_keeps_the_grid_ends_with_two_tree_forests(monkeypatch):
    from serlib.models import forest

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 6)), np.arange(40) % 4
    monkeypatch.setenv(profiles.DRY_ENV, "1")
    got = forest.fit_grid(X[:30], y[:30], X[30:], y[30:], grid="paper", n_jobs=1)
    paper = forest.GRIDS["paper"]
    assert sorted(got.table.n_estimators.unique()) == [min(paper["n_estimators"]), 2750, max(paper["n_estimators"])]
    assert sorted(got.table.max_depth.unique()) == [2, 22, 40] and len(got.table) == 9
    assert got.model.n_estimators == profiles.DRY_TREES and got.params["n_estimators"] in (500, 2750, 5000)
    monkeypatch.setenv(profiles.DRY_ENV, "0")
    full = forest.fit_grid(X[:30], y[:30], X[30:], y[30:], grid="smoke", n_jobs=1)
    assert full.model.n_estimators == full.params["n_estimators"] == 50


def test_dry_edrl_mea_fits_on_fewer_rows_than_components(monkeypatch):
    """A dry run's few training rows (14 after undersampling) cannot carry MBPLS's 20 components: capped."""
    from serlib.models.edrl_mea import EDRLMEA

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(14, 12)).astype(np.float32), np.arange(14) % 2
    kw = dict(epochs=1, patience=None, hidden=8)
    monkeypatch.setenv(profiles.DRY_ENV, "0")
    with pytest.raises(ValueError, match=r"n_components=20 must lie in .* = 1..13"):
        EDRLMEA(**kw).fit(X, y, X[:6], y[:6])
    monkeypatch.setenv(profiles.DRY_ENV, "1")
    em = EDRLMEA(**kw).fit(X, y, X[:6], y[:6])
    assert em.mea_.mbpls_.n_components == 13 and em.transform(X).shape[0] == 14


def test_dry_fold_results_of_paper_4_are_never_reused_by_a_real_run(tmp_data, monkeypatch):
    """run_fold caches each trained model's predictions; a dry run's (2 batches per epoch) has its own key."""
    from types import SimpleNamespace

    import pandas as pd

    from serlib.models import joint_asr_ser as J

    fits = []
    monkeypatch.setattr(J, "fit", lambda kind, train, val, **kw: fits.append(kind) or SimpleNamespace(
        kind=kind, best_epoch=1, seconds=1.0, seconds_per_epoch=1.0))
    monkeypatch.setattr(J, "predict", lambda trained, frame, condition=None: pd.DataFrame(
        {"utt_id": frame["utt_id"], "emotion": frame["emotion"], "pred": "sad"}))
    fr = pd.DataFrame({"utt_id": ["a1", "a2"], "emotion": ["sad", "happy"]})
    kw = dict(fold="f", seed=0, kinds=("ser",), train={"clean": None},
              tests=[dict(test_condition="clean", noise_type=None, snr=None, condition=None)], epochs=1)
    monkeypatch.setenv(profiles.DRY_ENV, "1")
    J.run_fold({"train": fr, "val": fr, "test": fr}, **kw)
    monkeypatch.setenv(profiles.DRY_ENV, "0")
    J.run_fold({"train": fr, "val": fr, "test": fr}, **kw)
    J.run_fold({"train": fr, "val": fr, "test": fr}, **kw)
    assert fits == ["ser", "ser"]  # dry, then real (not the dry result), then real again from the cache
