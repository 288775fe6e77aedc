"""serlib.reproduce: the make-reproduce benchmark record and the README's runtime table built from it."""

from __future__ import annotations

import json

import pytest

from serlib import report, reproduce, run


def _results(folder, name, durations, fits=None, share=None):
    meta = {"notebook": name, "durations_s": durations}
    if fits is not None:
        meta |= {"fits": fits, "best_epoch_before_last": share}
    (folder / f"{name}.json").write_text(json.dumps(meta))


def test_stages_split_the_wall_time_and_the_rest_is_evaluation():
    rec = reproduce.notebook_record("03_trnet", 600.0, {"durations_s": {"enhancement": 150.0, "features": 30.0,
                                                                          "training": 360.0, "evaluation": 5.0},
                                                        "fits": 30, "best_epoch_before_last": 0.9})
    assert rec["stages_s"] == {"data": 0.0, "features": 30.0, "enhancement": 150.0, "training": 360.0,
                               "evaluation": 60.0}                    # 600 - 150 - 30 - 360: the untimed rest
    assert sum(rec["stages_s"].values()) == pytest.approx(600.0)
    assert rec["fits"] == 30 and rec["fits_per_min"] == 5.0 and rec["best_epoch_before_last"] == 0.9
    bare = reproduce.notebook_record("00_data_tour", 50.0, {"durations_s": {"features": 60.0}})
    assert bare["stages_s"]["evaluation"] == 0.0 and bare["fits"] is None and bare["fits_per_min"] is None


def test_write_read_and_the_readme_table(tmp_path):
    _results(tmp_path, "00_data_tour", {"features": 80.0, "training": 20.0}, fits=5)
    _results(tmp_path, "03_trnet", {"enhancement": 150.0, "features": 30.0, "training": 360.0}, fits=30, share=1.0)
    outs = [run.Outcome("00_data_tour", "quick", "ok", 120.0, "a"), run.Outcome("03_trnet", "quick", "ok", 600.0, "b")]
    path = reproduce.write(outs, profile="quick", data_generation_s=30.0, total_s=752.0, cpu_count=2, folder=tmp_path)
    assert path == tmp_path / "benchmarks" / "reproduce.json"
    rec = reproduce.read(tmp_path)
    assert rec["total_s"] == 752.0 and rec["notebooks_s"] == 720.0 and rec["data_generation_s"] == 30.0
    assert [r["notebook"] for r in rec["notebooks"]] == ["00_data_tour", "03_trnet"] and len(rec["commit"]) == 40
    md = reproduce.markdown(tmp_path)
    assert "| data |" not in md                                          # no notebook timed it: no column
    assert "**12.5 min** in all" in md and "| 03_trnet | 10.0 min | 30 s | 150 s | 360 s | 60 s | 30 | 5.0 | 100% |" in md
    assert "| 00_data_tour | 2.0 min | 80 s | 0 s | 20 s | 20 s | 5 | 15.0 |  |" in md
    # the README section shows it, and leaves out the same profile's per-notebook runtimes.json records
    (tmp_path / "runtimes.json").write_text(json.dumps([
        {"notebook": "03_trnet", "profile": "quick", "dry": False, "device": "cpu", "cpu_count": 2, "seconds": 600.0,
         "commit": "c" * 40, "dirty": False, "date": "2026-12-01T00:00:00+00:00"},
        {"notebook": "03_trnet", "profile": "paper", "dry": True, "device": "cpu", "cpu_count": 2, "seconds": 90.0,
         "commit": "c" * 40, "dirty": False, "date": "2026-12-01T00:00:00+00:00"}]))
    times = report.runtimes_markdown(tmp_path, skip_profile="quick")
    assert "paper --dry" in times and "| quick |" not in times


def test_a_failed_or_unsaved_notebook_is_refused(tmp_path):
    with pytest.raises(ValueError, match="failed or missing: \\['b'\\]"):
        reproduce.write([run.Outcome("a", "quick", "ok", 1.0, "x"), run.Outcome("b", "quick", "failed", 1.0, "x")],
                        profile="quick", data_generation_s=0, total_s=2, cpu_count=2, folder=tmp_path)
    with pytest.raises(FileNotFoundError, match="a.json is missing"):
        reproduce.write([run.Outcome("a", "quick", "ok", 1.0, "x")], profile="quick", data_generation_s=0, total_s=1,
                        cpu_count=2, folder=tmp_path)
    assert reproduce.markdown(tmp_path) == ""                               # no record: no table
    (tmp_path / reproduce.FILE).parent.mkdir(parents=True)
    (tmp_path / reproduce.FILE).write_text("{broken")
    with pytest.raises(ValueError, match="not valid JSON"):
        reproduce.read(tmp_path)
