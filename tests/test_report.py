"""Tests of serlib.report: the README's generated block and results/summary.md."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import yaml

from serlib import ledger as L
from serlib import papers as P
from serlib import paths
from serlib import report as Rep
from serlib import results as R
from test_results import TOY_REF, _toy_ours


@pytest.fixture
def toy_reference(tmp_path, monkeypatch):
    (tmp_path / "9_toy.yaml").write_text(yaml.safe_dump(TOY_REF, sort_keys=False))
    monkeypatch.setattr(P, "REFERENCE_DIR", tmp_path)
    P._load_doc.cache_clear()
    yield "9_toy"
    P._load_doc.cache_clear()


def _run_with_records(folder, notebook, paper, statuses, *, data=None, profile="quick"):
    """A tiny run of ``notebook`` whose ledger gives ``statuses`` ({claim: status})."""
    res = R.Results(notebook, profile, data=data)
    res.add("m", "uar", 0.5, seed=0)
    if statuses is not None:
        res.set_claims(pd.DataFrame([L.record(paper, cid, st, f"{cid}: evidence of {notebook}", n=4, effect=2.5,
                                              ci_low=0.5, ci_high=4.5, p=0.004, test="one-sided paired t, n = 4 runs",
                                              unit="points") for cid, st in statuses.items()]))
    res.save(folder)


TOY_HEADLINES = {"papers": {"9_toy": {
    "notebook": "09_toy", "ours": {"metric": ["uar", "war"]}, "mapping": {"m1": "M1"},
    "headlines": [
        {"label": "M1 clean UAR", "paper": {"method": "M1", "test_condition": "clean", "metric": "uar"}},
        {"label": "M1 babble, mean over 0-5 dB", "paper": {"method": "M1", "snr": "avg"}},
        {"label": "M2 clean UAR", "paper": {"method": "M2"}},
        {"label": "M1 accuracy, seed 0 only", "paper": {"method": "M1", "metric": "accuracy"}, "ours": {"seed": 0}},
    ]}}}


@pytest.fixture
def toy_headlines(toy_reference, tmp_path):
    path = tmp_path / "headlines.yaml"
    path.write_text(yaml.safe_dump(TOY_HEADLINES, sort_keys=False))
    yield path
    Rep._load_headlines.cache_clear()


def test_headlines_table_without_and_with_results(toy_headlines, tmp_path):
    folder = tmp_path / "res"
    before = Rep.headlines_table(folder, spec_path=toy_headlines)
    assert list(before.columns) == list(Rep.HEADLINE_COLUMNS)
    assert set(before["status"]) == {"not run"} and before["ours"].isna().all()
    assert list(before["paper_value"]) == [60.0, 35.0, 55.0, 62.0]
    assert "| not run |" in Rep.headlines_markdown(before)

    res = R.Results("09_toy", "quick", data="synthetic")
    for row in _toy_ours().to_dict("records"):
        keep = {k: row[k] for k in ("train_condition", "test_condition", "noise_type") if row[k] is not None}
        res.add(row["method"], row["metric"], row["value"], seed=row["seed"],
                snr=None if math.isnan(row["snr"]) else row["snr"], **keep)
    res.save(folder)
    t = Rep.headlines_table(folder, spec_path=toy_headlines).set_index("headline")
    clean = t.loc["M1 clean UAR"]
    assert clean["status"] == "matched" and clean["ours"] == pytest.approx(60.0) and clean["n"] == 3
    assert clean["delta"] == pytest.approx(0.0) and clean["profile"] == "quick"
    half = 4.302652729911275 * 0.02 / math.sqrt(3) * 100
    assert (clean["ours_low"], clean["ours_high"]) == pytest.approx((60.0 - half, 60.0 + half))
    avg = t.loc["M1 babble, mean over 0-5 dB"]   # compare's per-seed mean over the table's SNRs
    assert avg["ours"] == pytest.approx(38.0) and avg["delta"] == pytest.approx(3.0)
    assert t.loc["M2 clean UAR", "status"] == "no matching results"  # we ran no M2
    seed0 = t.loc["M1 accuracy, seed 0 only"]
    assert seed0["n"] == 1 and seed0["ours"] == pytest.approx(61.0)
    md = Rep.headlines_markdown(t.reset_index())
    assert "60.0 ± " in md and "61.0 (1 run)" in md and "no matching rows" in md and "quick; synthetic" in md


def test_headline_spec_is_checked(toy_reference, tmp_path):
    bad = {"papers": {"9_toy": {"notebook": "09_toy", "headlines": [{"label": "ambiguous", "paper": {"method": "M1"}}]}}}
    path = tmp_path / "headlines.yaml"
    path.write_text(yaml.safe_dump(bad))
    try:
        with pytest.raises(ValueError, match="matches 5 rows"):
            Rep.headlines(path)
        bad["papers"]["9_toy"]["on"] = ["method"]             # YAML would read a bare `on` key as True
        path.write_text(yaml.safe_dump(bad))
        Rep._load_headlines.cache_clear()
        with pytest.raises(ValueError, match="unknown keys"):
            Rep.headlines(path)
    finally:
        Rep._load_headlines.cache_clear()


def test_the_repository_headlines_select_one_row_each():
    spec = Rep.headlines()
    assert set(spec) == set(R.papers())
    for pid, s in spec.items():
        assert s["notebook"] == R.reference(pid)["paper"]["notebook"]
        assert 2 <= len(s["headlines"]) <= 5
    assert "headlines" not in R.papers()


def test_summary_markdown_starts_with_the_overview(tmp_data):
    _run_with_records(paths.results_dir(), "01_edrl_mea", 1, {"c1": "contradicted"})
    md = Rep.summary_markdown(R.collect(), results_dir=paths.results_dir())
    heads = [line for line in md.splitlines() if line.startswith("#")]
    assert heads[:6] == ["# Results summary", "## Headline numbers: ours | paper",
                         "## Robustness leaderboard (identical conditions for every method)",
                         "## Claims ledger (all five papers)", "## The runs behind these tables",
                         "## Every result, per notebook"]
    assert "### 01_edrl_mea" in md and "**contradicted**" in md and "Not run yet" in md
    assert "| 01_edrl_mea | quick | synthetic (embedded) | 0 | " in md   # the run: profile, data, seeds
    # the ledger shows n, effect [interval] and p beside the status
    row = next(line for line in md.splitlines() if line.startswith("| 1_edrl_mea | c1 |"))
    assert "| **contradicted** | 4 | +2.5 [+0.5, +4.5] points | 0.004 |" in row
    assert "Tally: embedded data: 1 contradicted, " in md and "| embedded | 1_edrl_mea | 0 | 1 | 0 | 4 | 0 |" in md


def test_update_readme_replaces_only_the_marked_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# title\n\nintro\n\n<!-- results:begin -->\nold numbers\n<!-- results:end -->\n\nrest\n")
    assert Rep.update_readme(readme, tmp_path / "results") is True
    text = readme.read_text()
    assert text.startswith("# title\n\nintro\n\n<!-- results:begin -->") and text.endswith("<!-- results:end -->\n\nrest\n")
    assert "old numbers" not in text and "### Claims ledger" in text
    assert Rep.readme_current_block(readme) == Rep.readme_block(tmp_path / "results")
    assert Rep.update_readme(readme, tmp_path / "results") is False   # idempotent
    _run_with_records(tmp_path / "results", "01_edrl_mea", 1, {"c1": "held"})
    assert Rep.update_readme(readme, tmp_path / "results") is True    # a new result changes the block
    readme.write_text("no markers here\n")
    with pytest.raises(ValueError, match="results:begin"):
        Rep.update_readme(readme, tmp_path / "results")


def test_readme_results_block_is_in_sync_with_the_committed_results():
    """The README's generated block is what the repository's results/ give (not the test-time SERLIB_RESULTS)."""
    current = Rep.readme_current_block(paths.REPO / "README.md")
    expected = Rep.readme_block(paths.REPO / "results")
    assert current == expected, ("README.md's results block differs from results/: run "
                                 "`python -m serlib.run --update-readme` and commit README.md")


def test_leaderboard_block_is_rebuilt_from_the_csv(tmp_path):
    assert "Not run yet" in Rep.leaderboard_markdown(tmp_path)
    res = R.Results(Rep.LEADERBOARD_NOTEBOOK, "smoke", data="synthetic")
    for seed in range(4):
        for method, base in (("weak", 0.25), ("strong", 0.60), ("close", 0.598)):
            res.add(method, "uar", base + 0.1, seed=seed)
            for snr in (0, 10, 20):
                res.add(method, "uar", base + 0.005 * snr + 0.01 * seed * (method != "close") + 0.004 * (seed % 2),
                        seed=seed, test_condition="noisy", noise_type="babble", snr=snr)
            res.add(method, "train_seconds", 2.0, seed=seed, test_condition="cost")
    res.save(tmp_path)
    md = Rep.leaderboard_markdown(tmp_path)
    lines = [line for line in md.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| rank | method | AUC 0-20 dB")
    assert lines[1].startswith("| 1-2 | strong |") and lines[2].startswith("| 1-2 | close |")
    assert lines[3].startswith("| 3 | weak |")
    assert "(≤ chance)" in lines[3] and "chance = 25 %" in md       # weak sits at chance UAR at 0 dB
    assert "Run: smoke; synthetic (embedded)." in md and "Walking down that order" in md


def test_two_seeds_give_no_interval_and_one_rank_group(tmp_path):
    res = R.Results(Rep.LEADERBOARD_NOTEBOOK, "smoke", data="synthetic")
    for seed in (0, 1):
        for method, base in (("weak", 0.40), ("strong", 0.60)):
            for snr in (0, 20):
                res.add(method, "uar", base + 0.01 * seed, seed=seed, test_condition="noisy", noise_type="babble",
                        snr=snr)
    res.save(tmp_path)
    lines = [line for line in Rep.leaderboard_markdown(tmp_path).splitlines() if line.startswith("| ")]
    assert lines[1].startswith("| 1-2 | strong | 60.5 (n=2: 60.0, 61.0) |") and "±" not in "".join(lines)


def test_ledger_frame_is_the_notebooks_table():
    recs = pd.DataFrame([
        L.record(3, "c1", "held, larger than claimed", "x", n=5, effect=12.0, ci_low=10.0, ci_high=14.0, p=0.0004,
                 test="one-sided paired t, n = 5 runs", unit="points"),
        L.record(2, "c3", "inconclusive", "n = 1", n=1, unit="1"),
        L.record(2, "c4", "untested", "qualitative")])
    f = Rep.ledger_frame(recs)
    assert list(f.columns) == ["paper", "claim", "status", "n", "effect [95 % CI]", "p", "test", "evidence"]
    assert f.iloc[0]["effect [95 % CI]"] == "+12.0 [+10.0, +14.0] points" and f.iloc[0]["p"] == "< 0.001"
    assert f.iloc[1]["p"] == "—" and f.iloc[2]["n"] == "—"


def test_runtimes_table_from_the_runner_records(tmp_path):
    assert Rep.runtimes_markdown(tmp_path) == ""                             # no file: nothing shown
    assert "How long each notebook takes" not in Rep.overview_markdown(tmp_path)
    recs = [{"notebook": "03_trnet", "profile": "quick", "dry": False, "device": "cpu", "cpu_count": 2,
             "seconds": 700.0, "commit": "abcdef1234567", "dirty": False, "date": "2026-11-30T10:00:00"},
            {"notebook": "03_trnet", "profile": "quick", "dry": False, "device": "cpu", "cpu_count": 2,
             "seconds": 640.0, "commit": "1234567abcdef", "dirty": True, "date": "2026-12-01T10:00:00"},
            {"notebook": "03_trnet", "profile": "paper", "dry": True, "device": "NVIDIA H200", "cpu_count": 16,
             "seconds": 42.0, "commit": "1234567abcdef", "dirty": False, "date": "2026-12-01T11:00:00"}]
    (tmp_path / "runtimes.json").write_text(json.dumps(recs))
    md = Rep.runtimes_markdown(tmp_path)
    rows = [line for line in md.splitlines() if line.startswith("| 03")]
    assert rows == ["| 03_trnet | paper --dry | NVIDIA H200 | 16 | 42 s | 1234567ab | 2026-12-01 |",
                    "| 03_trnet | quick | cpu | 2 | 10.7 min | 1234567ab (dirty) | 2026-12-01 |"]   # the latest run
    assert "### How long each notebook takes" in Rep.readme_block(tmp_path)
    (tmp_path / "runtimes.json").write_text(json.dumps([{"notebook": "x"}]))
    with pytest.raises(ValueError, match="runtimes.json.*lack the fields"):
        Rep.runtimes_markdown(tmp_path)


def test_paper_estimate_table_from_the_benchmark(tmp_path):
    assert Rep.paper_estimate_markdown(tmp_path) == ""                       # no benchmark: nothing shown
    (tmp_path / "benchmarks").mkdir()
    est = {"machine": {"cpus": 2, "torch_threads": 2}, "caveat": "an upper bound",
           "notebooks": {"03_trnet": {"total_h": 6575.8, "total_days": 274.0, "counts": "30 runs"},
                         "00_data_tour": {"total_h": 0.3, "total_days": 0.0, "counts": "5 folds"}}}
    (tmp_path / "benchmarks" / "paper_estimate.json").write_text(json.dumps(est))
    md = Rep.paper_estimate_markdown(tmp_path)
    assert [r for r in md.splitlines() if r.startswith("| 0")] == ["| 00_data_tour | 0.3 h | 5 folds |",
                                                                    "| 03_trnet | 274 days | 30 runs |"]
    assert "2 CPU cores" in md and "an upper bound" in md
    assert "How long each notebook takes" in Rep.overview_markdown(tmp_path)  # shown without runtimes.json too
    (tmp_path / "benchmarks" / "paper_estimate.json").write_text(json.dumps({"notebooks": {}}))
    with pytest.raises(ValueError, match="paper_estimate.json.*bench_paper_estimate"):
        Rep.paper_estimate_markdown(tmp_path)


def test_reading_one_sentence_per_claim_from_the_records():
    """The notebooks' "Reading the results" verdicts come from the records, not from typed text."""
    import pandas as pd

    from serlib import report

    recs = pd.DataFrame([
        dict(claim="c1", text="A beats B.", status="held", n=6, effect=4.2, ci_low=1.0, ci_high=7.4, p=0.004,
             test="paired t", unit="points", mde=None),
        dict(claim="c2", text="B beats C.", status="inconclusive", n=3, effect=0.5, ci_low=-3.0, ci_high=4.0,
             p=0.4, test="paired t", unit="points", mde=6.5),
    ])
    text = report.reading(recs)
    lines = text.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("- **c1**") and "**held**" in lines[0] and "n = 6 paired runs" in lines[0]
    assert "+4.2 [+1.0, +7.4] points" in lines[0] and "p = 0.004" in lines[0]
    assert "**inconclusive**" in lines[1] and "smallest detectable effect 6.5 points" in lines[1]
    assert "smallest detectable" not in lines[0]
