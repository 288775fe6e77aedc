"""Tests of serlib.ledger: claims decided by paired statistics on constructed result frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from serlib import ledger as L
from serlib import papers as P
from serlib import results as R

TOY = {
    "paper": {"id": "9_toy", "short": "Toy", "title": "A toy paper", "citation": "Toy (2099)", "source": "none",
              "notebook": "09_toy"},
    "metrics": {"uar": {"unit": "%", "higher_is_better": True}, "wer": {"unit": "%", "higher_is_better": False},
                "ccc": {"unit": "1", "higher_is_better": True}},
    "tables": [{"id": "1", "caption": "clean", "test_corpus": "X"},
               {"id": "2", "caption": "noisy, averaged", "test_corpus": "X", "snrs_averaged_db": [0, 10]}],
    "rows": [
        {"table": "1", "method": m, "train_condition": "clean", "test_condition": "clean", "noise_type": None,
         "snr": None, "metric": metric, "value": v}
        for m, metric, v in (("M1", "uar", 60.0), ("M2", "uar", 55.0), ("M1", "wer", 20.0), ("M2", "wer", 25.0))
    ] + [
        {"table": "2", "method": m, "train_condition": "clean", "test_condition": "noisy", "noise_type": "babble",
         "snr": "avg", "metric": "uar", "value": v} for m, v in (("M1", 40.0), ("M2", 35.0))
    ],
    "claims": [
        {"id": "beats", "text": "M1 beats M2 on clean speech.", "expect": {"better": "M1", "than": "M2"},
         "support": [{"table": "1"}]},
        {"id": "sized", "text": "M1 beats M2 by 0.5-1 point.", "expect": {"better": "M1", "than": "M2"},
         "size": [0.5, 1], "support": [{"table": "1", "metric": "uar"}]},
        {"id": "noisy", "text": "M1 beats M2 in noise (mean over SNRs).", "expect": {"better": "M1", "than": "M2"},
         "support": [{"table": "2"}]},
        {"id": "pooled", "text": "M1 is better on average.", "expect": {"better": "M1", "than": "M2"},
         "aggregate": "pooled", "support": [{"table": "1", "metric": "uar"}, {"table": "2"}]},
        {"id": "figure", "text": "A figure shows it.", "expect": None, "support": []},
    ],
}


@pytest.fixture
def toy(tmp_path, monkeypatch):
    (tmp_path / "9_toy.yaml").write_text(yaml.safe_dump(TOY, sort_keys=False))
    monkeypatch.setattr(P, "REFERENCE_DIR", tmp_path)
    P._load_doc.cache_clear()
    yield "9_toy"
    P._load_doc.cache_clear()


def _rows(diffs, *, base=0.6, metric="uar", table="1", seeds=None, test_condition="clean", noise_type=None,
          snr=None, **extra):
    """M1 and M2 rows, one per seed, with M1 - M2 = diffs[i] (fractions)."""
    seeds = range(len(diffs)) if seeds is None else seeds
    rows = []
    for seed, d in zip(seeds, diffs):
        wobble = 0.01 * ((seed * 7) % 5)            # run-to-run variation shared by both methods
        for m, v in (("M1", base + d + wobble), ("M2", base + wobble)):
            rows.append({"method": m, "metric": metric, "seed": seed, "table": table, "train_condition": "clean",
                         "test_condition": test_condition, "noise_type": noise_type, "snr": snr, "value": v,
                         **extra})
    return pd.DataFrame(rows)


def _diffs(mean, sd, n, seed=0):
    """n values with exactly this mean and sample sd."""
    z = np.random.default_rng(seed).normal(size=n)
    z = (z - z.mean()) / z.std(ddof=1)
    return mean + sd * z


# --------------------------------------------------------------------------- statuses
def test_large_consistent_effect_over_ten_seeds_is_held(toy):
    rec = L.decide_claim("beats", _rows(_diffs(0.05, 0.01, 10)), toy)
    assert rec["status"] == "held" and rec["n"] == 10 and rec["unit"] == "points"
    assert rec["effect"] == pytest.approx(5.0) and rec["ci_low"] > 0 and rec["p"] < 1e-6
    assert "paired t" in rec["test"] and "Wilcoxon" in rec["test"]
    assert set(rec) == set(L.RECORD_COLUMNS) and rec["text"] == "M1 beats M2 on clean speech."


def test_the_same_reversed_is_contradicted(toy):
    rec = L.decide_claim("beats", _rows(_diffs(-0.05, 0.01, 10)), toy)
    assert rec["status"] == "contradicted" and rec["effect"] == pytest.approx(-5.0) and rec["ci_high"] < 0
    assert rec["p"] > 0.99          # p is one-sided in the claimed direction


def test_p_of_0_06_is_not_held(toy):
    n = 10
    mean = stats.t.isf(0.06, n - 1) * 0.01 / math.sqrt(n)       # one-sided p = 0.06 exactly
    rec = L.decide_claim("beats", _rows(_diffs(mean, 0.01, n)), toy)
    assert rec["p"] == pytest.approx(0.06, abs=1e-6)
    assert rec["status"] == "inconclusive"
    assert math.isfinite(rec["mde"]) and rec["mde"] > rec["effect"] and "80%" in rec["evidence"]


def test_small_consistent_effect_from_one_run_without_predictions_is_inconclusive(toy):
    rec = L.decide_claim("beats", _rows([0.02]), toy)
    assert rec["status"] == "inconclusive" and rec["n"] == 1
    assert math.isnan(rec["p"]) and math.isnan(rec["ci_low"]) and rec["test"].startswith("none: n = 1")
    assert "too few for a test" in rec["evidence"]
    two = L.decide_claim("beats", _rows([0.30, 0.31]), toy)     # huge, but two runs: still no test
    assert two["status"] == "inconclusive" and two["n"] == 2


def test_claimed_half_to_one_point_against_twelve_points_is_flagged_larger(toy):
    rec = L.decide_claim("sized", _rows(_diffs(0.12, 0.01, 8)), toy)
    assert rec["status"] == "held, larger than claimed" and rec["effect"] == pytest.approx(12.0)
    assert "paper states 0.5 to 1" in rec["evidence"]
    small = L.decide_claim("sized", _rows(_diffs(0.001, 0.0002, 8)), toy)   # 0.1 points
    assert small["status"] == "held, smaller than claimed"
    inside = L.decide_claim("sized", _rows(_diffs(0.0075, 0.0005, 8)), toy)
    assert inside["status"] == "held"


def test_lower_is_better_metrics_are_oriented(toy):
    wer = _rows(_diffs(-0.05, 0.01, 6), base=0.3, metric="wer")       # M1 has the lower WER: as claimed
    rec = L.decide_claim("beats", wer, toy)
    assert rec["status"] == "held" and rec["effect"] == pytest.approx(5.0)


def test_holm_across_comparisons():
    # two comparisons with one-sided p = 0.03 each: both significant alone, neither after Holm (0.06)
    c = [L.Comparison(f"c{i}", _diffs(stats.t.isf(0.03, 5) / math.sqrt(6), 1.0, 6, seed=i), "1") for i in (1, 2)]
    assert [x.p_held for x in c] == pytest.approx([0.03, 0.03])
    v = L.verdict(c)
    assert v["status"] == "inconclusive" and v["p"] == pytest.approx(0.06)
    assert L.verdict(c[:1])["status"] == "held"


def test_several_cells_need_every_one(toy):
    both = pd.concat([_rows(_diffs(0.05, 0.01, 6)), _rows(_diffs(0.00, 0.01, 6), metric="wer", base=0.3)])
    rec = L.decide_claim("beats", both, toy)
    assert rec["status"] == "inconclusive" and "2 comparisons (Holm): 1 significant" in rec["evidence"]
    cells = L.cells(both, toy, "beats")
    assert len(cells) == 2 and set(cells["unit"]) == {"points"}


def test_pooled_claim_is_one_test_of_the_mean_difference(toy):
    clean = _rows(_diffs(0.04, 0.01, 6))
    noisy = _rows(_diffs(-0.02, 0.01, 6), table="2", test_condition="noisy", noise_type="babble", snr=0.0)
    rec = L.decide_claim("pooled", pd.concat([clean, noisy]), toy)
    assert rec["n"] == 6 and rec["effect"] == pytest.approx(1.0) and "pooled over 2 cells" in rec["evidence"]


def test_noisy_rows_of_an_averaged_table_are_averaged_per_run(toy):
    rows = pd.concat([_rows(_diffs(0.06, 0.01, 5), table="2", test_condition="noisy", noise_type="babble", snr=s)
                      for s in (0.0, 10.0)])
    rec = L.decide_claim("noisy", rows, toy)
    assert rec["n"] == 5 and rec["effect"] == pytest.approx(6.0) and "averaged over 0, 10 dB" in rec["evidence"]
    assert len(L.cells(rows, toy, "noisy")) == 1


def test_qualitative_and_empty_claims_are_untested(toy):
    rows = _rows(_diffs(0.05, 0.01, 4))
    assert L.decide_claim("figure", rows, toy)["status"] == "untested"
    other = rows.assign(method=rows["method"].map({"M1": "M3", "M2": "M2"}))
    rec = L.decide_claim("beats", other, toy)
    assert rec["status"] == "untested" and "no comparable rows" in rec["evidence"]
    led = L.decide(rows, toy)
    assert list(led["claim"]) == [c["id"] for c in TOY["claims"]] and list(led.columns) == list(L.RECORD_COLUMNS)


# --------------------------------------------------------------------------- pooling and selectors
def test_rows_that_differ_outside_the_pairing_keys_are_never_pooled():
    """The issue's case: ablation rows scoring 0.50 vs 0.60 plus a second group with an extra column."""
    claim = next(c for c in R.claims("3_trnet") if c["id"] == "c6")   # w/o L_low beats w/o L_high
    rows = []
    for seed in range(6):
        j = 0.005 * seed
        rows += [{"table": "1", "method": "TRNet w/o L_low", "metric": "uar", "seed": seed, "value": 0.50 + j},
                 {"table": "1", "method": "TRNet w/o L_high", "metric": "uar", "seed": seed, "value": 0.60 + j}]
        rows += [{"table": "1", "method": "TRNet w/o L_low", "metric": "uar", "seed": seed, "value": 0.95 - j,
                  "enhancer": "other"},
                 {"table": "1", "method": "TRNet w/o L_high", "metric": "uar", "seed": seed, "value": 0.20 + j,
                  "enhancer": "other"}]
    df = pd.DataFrame(rows)
    assert df.groupby("method")["value"].mean().idxmax() == "TRNet w/o L_low"   # pooled, the claim would "hold"
    rec = L.decide_claim(claim, df, "3_trnet")
    assert rec["status"] == "contradicted", rec
    cells = L.cells(df, "3_trnet", "c6")
    assert len(cells) == 2 and cells["comparison"].str.contains("other").sum() == 1
    # a column on which A and B differ keeps them apart: nothing comparable
    split = df[df["enhancer"].isna()].assign(batch=lambda d: d["method"].map(
        {"TRNet w/o L_low": "a", "TRNet w/o L_high": "b"}))
    assert L.decide_claim(claim, split, "3_trnet")["status"] == "untested"


def test_the_same_condition_twice_in_one_run_is_an_error(toy):
    rows = _rows([0.05, 0.04, 0.06])
    with pytest.raises(ValueError, match="recorded twice"):
        L.decide_claim("beats", pd.concat([rows, rows]), toy)


def test_a_selector_naming_a_missing_column_raises(toy):
    rows = _rows(_diffs(0.05, 0.01, 4)).drop(columns=["table"])
    with pytest.raises(KeyError, match=r"claim beats.*\['table'\]"):
        L.decide_claim("beats", rows, toy)
    with pytest.raises(KeyError, match="table"):
        P._select(rows, [{"table": "1"}])


def test_folds_pair_with_seeds_and_a_missing_fold_is_one_fold(toy):
    rows = pd.concat([_rows(_diffs(0.05, 0.01, 2), fold=f) for f in ("a", "b")])
    rec = L.decide_claim("beats", rows, toy)
    assert rec["n"] == 4 and rec["status"] == "held"     # 2 seeds x 2 folds = 4 pairs
    assert L.decide_claim("beats", _rows(_diffs(0.05, 0.01, 2)), toy)["n"] == 2


def test_mapping_renames_ours_to_the_papers_names(toy):
    rows = _rows(_diffs(0.05, 0.01, 5)).replace({"method": {"M1": "mine", "M2": "theirs"}})
    assert L.decide_claim("beats", rows, toy)["status"] == "untested"
    assert L.decide_claim("beats", rows, toy, mapping={"mine": "M1", "theirs": "M2"})["status"] == "held"


@pytest.mark.parametrize("paper", R.papers())
def test_machine_checkable_claims_point_the_right_way_on_the_papers_numbers(paper):
    """Every comparison a claim makes is in the claimed direction on the paper's own rows, and
    reverses when every value is negated (the YAML and the cell construction agree with the paper)."""
    ref = R.load_reference(paper)
    ref = ref[["table", *P.KEY_COLUMNS, "value"]]
    for claim in R.claims(paper):
        if not claim["expect"]:
            continue
        cells = L.cells(ref, paper, claim["id"])
        assert len(cells) and (cells["n"] == 1).all(), claim["id"]
        assert (cells["effect"] > 0).all(), (claim["id"], cells[cells["effect"] <= 0])
        flipped = L.cells(ref.assign(value=-ref["value"]), paper, claim["id"])
        assert (flipped["effect"] < 0).all(), claim["id"]


def test_every_claim_size_and_decider_is_well_formed():
    for paper in R.papers():
        for c in R.claims(paper):
            if c.get("decided_by"):
                name = c["decided_by"].removeprefix("serlib.ledger.")
                assert callable(getattr(L, name)), c["decided_by"]
    assert R.claims("3_trnet")[1]["size"] == [0.5, 1]


# --------------------------------------------------------------------------- the utterance bootstrap
def _predictions(acc1, acc2, n=200, seed=0, classes=("a", "b", "c", "d")):
    rng = np.random.default_rng(seed)
    y = np.array(classes * (n // len(classes)))
    rows = []
    for m, acc in (("M1", acc1), ("M2", acc2)):
        right = rng.random(len(y)) < acc
        wrong = np.array([classes[(classes.index(t) + 1) % len(classes)] for t in y])
        pred = np.where(right, y, wrong)
        rows.append(pd.DataFrame({"method": m, "seed": 0, "utt_id": [f"u{i}" for i in range(len(y))],
                                  "y_true": y, "y_pred": pred}))
    return pd.concat(rows, ignore_index=True)


def _rows_from(pred):
    from serlib.metrics import uar

    return pd.DataFrame([{"method": m, "metric": "uar", "seed": 0, "table": "1", "train_condition": "clean",
                          "test_condition": "clean", "noise_type": None, "snr": None, "value": uar(g.y_true, g.y_pred)}
                         for m, g in pred.groupby("method")])


def test_one_run_with_predictions_is_decided_by_the_utterance_bootstrap(toy):
    pred = _predictions(0.85, 0.55)
    rows = _rows_from(pred)
    rec = L.decide_claim("beats", rows, toy, predictions=pred, n_boot=500)
    assert rec["status"] == "held" and rec["n"] == 1 and "bootstrap over 200 test utterances" in rec["test"]
    assert rec["ci_low"] > 0 and rec["p"] < 0.01
    assert rec["effect"] == pytest.approx(100 * (rows.value.iloc[0] - rows.value.iloc[1]))
    close = _predictions(0.60, 0.58, seed=3)
    assert L.decide_claim("beats", _rows_from(close), toy, predictions=close, n_boot=500)["status"] == "inconclusive"
    rev = _predictions(0.40, 0.80, seed=4)
    assert L.decide_claim("beats", _rows_from(rev), toy, predictions=rev, n_boot=500)["status"] == "contradicted"
    few = _predictions(0.95, 0.30, n=8, seed=5)                  # 8 utterances: too few to resample
    rec = L.decide_claim("beats", _rows_from(few), toy, predictions=few, n_boot=200)
    assert rec["status"] == "inconclusive" and "fewer than 20 test utterances" in rec["test"]
    # predictions that do not reproduce the stored value are refused
    with pytest.raises(ValueError, match="do not belong"):
        L.decide_claim("beats", rows.assign(value=rows.value + 0.01), toy, predictions=pred, n_boot=50)


# --------------------------------------------------------------------------- claims decided from notebook data
def _fig3(ccc_r, mse_e, mse_r, n=5):
    rows = []
    for seed in range(n):
        j = 0.01 * (seed - n / 2)
        for q, emb, v in (("fig3_ccc_output", "emotion", 0.5 + j), ("fig3_ccc_output", "reconstruction", ccc_r + j),
                          ("fig3_input_mse", "emotion", mse_e + j), ("fig3_input_mse", "reconstruction", mse_r + j)):
            rows.append({"method": "DLN", "metric": q, "embedding": emb, "attribute": "arousal", "seed": seed,
                         "value": v})
    return pd.DataFrame(rows)


def test_ladder_decoupling():
    assert L.ladder_decoupling(_fig3(0.0, 6.0, 3.0))["status"] == "held"
    assert L.ladder_decoupling(_fig3(0.0, 3.03, 3.0))["status"] == "held, smaller than claimed"   # +1 %, not "much"
    assert L.ladder_decoupling(_fig3(-0.4, 6.0, 3.0))["status"] == "contradicted"                # CCC far from 0
    assert L.ladder_decoupling(_fig3(0.0, 6.0, 3.0, n=2))["status"] == "inconclusive"
    assert L.ladder_decoupling(pd.DataFrame({"metric": [], "embedding": [], "value": []}))["status"] == "untested"


def _clean_ccc(gap, n=6):
    rows = []
    for seed in range(n):
        for m, v in (("Dense", 0.70), ("LN", 0.70 + gap[0]), ("DLN", 0.70 + gap[1])):
            rows.append({"method": m, "metric": "ccc", "attribute": "arousal", "seed": seed,
                         "train_condition": "clean" if m == "Dense" else "clean+unlabeled_target",
                         "adapted_to": "none" if m == "Dense" else "0dB", "test_condition": "clean",
                         "value": v + 0.005 * ((seed * 3) % 4) + (0.002 * seed if m == "LN" else 0)})
    return pd.DataFrame(rows)


def test_ladder_clean_equal():
    held = L.ladder_clean_equal(_clean_ccc((0.01, -0.01)))
    assert held["status"] == "held" and held["claim"] == "clean-equal" and "within ±0.05" in held["evidence"]
    assert L.ladder_clean_equal(_clean_ccc((-0.15, 0.0)))["status"] == "contradicted"
    assert L.ladder_clean_equal(_clean_ccc((0.01, 0.0), n=1))["status"] == "inconclusive"


def _c_values(slope, runs=3, n_utts=40, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for run in range(runs):
        for fam in ("ESC-like", "MUSAN-like"):
            for snr in (0.0, 10.0, 20.0):
                c = 0.7 + slope * snr + rng.normal(0, 0.05, n_utts)
                rows += [{"method": "TRNet", "noise_type": fam, "snr": snr, "seed": run, "fold": "f", "c": v}
                         for v in c]
    return pd.DataFrame(rows)


def test_trnet_snr_coefficient():
    rec = L.trnet_snr_coefficient(_c_values(0.005))
    assert rec["status"] == "held" and rec["n"] == 3 and rec["effect"] == pytest.approx(0.1, abs=0.03)
    assert L.trnet_snr_coefficient(_c_values(-0.005))["status"] == "contradicted"
    one = L.trnet_snr_coefficient(_c_values(0.005, runs=1), n_boot=400)     # one run: utterance bootstrap
    assert one["status"] == "held" and "bootstrap" in one["test"]
    flat = L.trnet_snr_coefficient(_c_values(0.0, runs=1, seed=2), n_boot=400)
    assert flat["status"] == "inconclusive"
    assert L.trnet_snr_coefficient(_c_values(0.005)[lambda d: d.snr == 0])["status"] == "untested"


def _embeddings(shift, n=40, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(n, dim))
    return {(system, snr): base + s * (snr / 10.0) * np.eye(dim)[0] + rng.normal(0, 0.05, (n, dim))
            for system, s in shift.items() for snr in (0.0, 10.0, 20.0)}


def test_trnet_alignment():
    ok = L.trnet_alignment(_embeddings({"TRNet": 0.1, "Baseline-e": 0.8, "Baseline-c": 2.0}), n_boot=200)
    assert ok["status"] == "held" and "bootstrap" in ok["test"] and ok["n"] == 1
    bad = L.trnet_alignment(_embeddings({"TRNet": 2.0, "Baseline-e": 0.8, "Baseline-c": 0.1}), n_boot=200)
    assert bad["status"] == "contradicted"
    several = {(*k, seed, "f"): v for seed in range(3)
               for k, v in _embeddings({"TRNet": 0.1, "Baseline-e": 0.8, "Baseline-c": 2.0}, seed=seed).items()}
    assert L.trnet_alignment(several)["n"] == 3
    missing = {k: v for k, v in _embeddings({"TRNet": 0.1, "Baseline-e": 0.8}).items()}
    assert L.trnet_alignment(missing)["status"] == "untested"


# --------------------------------------------------------------------------- records and the cross-paper ledger
def test_record_and_merge():
    rec = L.record("02_decoupled_ladder", "c3", "held", "DLN > LN", n=3, effect=0.3, p=0.01, test="t", unit="1")
    assert rec["paper"] == "2_decoupled_ladder" and rec["text"].startswith("The decoupled")
    with pytest.raises(ValueError, match="status"):
        L.record(2, "c3", "not held", "x")
    with pytest.raises(ValueError, match="evidence"):
        L.record(2, "c3", "held", " ")
    with pytest.raises(KeyError, match="c99"):
        L.record(2, "c99", "held", "x")
    assert L.record(2, "own", "untested", "x", text="An own check")["text"] == "An own check"
    led = pd.DataFrame([L.record(2, "c3", "untested", "a"), L.record(2, "c5", "untested", "b")])
    merged = L.merge(led, rec, L.record(2, "own", "held", "y", text="own"))
    assert list(merged["claim"]) == ["c3", "c5", "own"] and merged.loc[0, "status"] == "held"


def _run_with_records(folder, notebook, paper, statuses, *, data=None, profile="quick", extra=()):
    res = R.Results(notebook, profile, data=data)
    res.add("m", "uar", 0.5, seed=0)
    if statuses is not None:
        rows = [L.record(paper, cid, st, f"{cid}: evidence of {notebook}", n=3, effect=1.0, p=0.01, test="t")
                for cid, st in statuses.items()]
        rows += [L.record(paper, cid, st, f"{cid}: extra check", text="own check") for cid, st in extra]
        res.set_claims(pd.DataFrame(rows))
    res.save(folder)


def test_set_claims_needs_full_records(tmp_path):
    res = R.Results("03_trnet", "smoke")
    res.add("TRNet", "uar", 0.5, seed=0)
    with pytest.raises(ValueError, match="set_claims"):
        res.set_claims(pd.DataFrame([{"paper": "3_trnet", "claim": "c4", "status": "held", "evidence": "x"}]))
    res.set_claims(pd.DataFrame([L.record(3, "c4", "inconclusive", "n = 1", n=1)]))
    res.save(tmp_path)
    assert R.read_metadata(tmp_path / "03_trnet.csv")["claims"][0]["status"] == "inconclusive"


def test_collect_claims_reads_every_json_and_marks_legacy_records(tmp_path):
    _run_with_records(tmp_path, "01_edrl_mea", 1, {"c1": "held", "c2": "contradicted"}, extra=[("own", "held")])
    _run_with_records(tmp_path, "05_densenet_highway", 5, {"c1": "inconclusive"},
                      data={"corpus": "iemocap", "corpus_root": "/x"})
    (tmp_path / "notes.json").write_text("{}")
    led = L.collect_claims(tmp_path)
    assert list(led.columns) == list(L.CLAIM_COLUMNS) and len(led) == 4
    one = led[led.notebook == "01_edrl_mea"].set_index("claim")
    assert one.loc["c1", "status"] == "held" and one.loc["c2", "status"] == "contradicted"
    assert one.loc["c1", "n"] == 3 and one.loc["c1", "p"] == pytest.approx(0.01)
    five = led[led.notebook == "05_densenet_highway"].iloc[0]
    assert five["data_kind"] == "real" and five["data"].startswith("iemocap (real)")
    # a record saved by the old point-estimate ledger is not trusted
    import json

    meta = json.loads((tmp_path / "01_edrl_mea.json").read_text())
    meta["claims"] = [{"paper": "1_edrl_mea", "claim": "c1", "text": "x", "status": "not held", "evidence": "1/2"}]
    (tmp_path / "01_edrl_mea.json").write_text(json.dumps(meta))
    old = L.collect_claims(tmp_path).query("notebook == '01_edrl_mea'").set_index("claim").loc["c1"]
    assert old["status"] == "untested" and "legacy record" in old["evidence"]


def test_claims_table_per_kind_of_data(tmp_path):
    _run_with_records(tmp_path, "01_edrl_mea", 1, {"c1": "held", "c2": "inconclusive"})
    res = R.Results("02_decoupled_ladder", "quick")
    res.add("m", "uar", 0.5, seed=0)
    res.save(tmp_path)                                                       # ran, saved no ledger
    _run_with_records(tmp_path, "05_densenet_highway", 5, {"c2": "held"}, data={"corpus": "iemocap"})
    t = L.claims_table(tmp_path)
    assert set(t["data_kind"]) == {"embedded", "real"}
    assert len(t) == 2 * sum(len(R.claims(p)) for p in R.papers())
    st = t.set_index(["paper", "claim", "data_kind"])["status"]
    assert st["1_edrl_mea", "c1", "embedded"] == "held"
    assert st["1_edrl_mea", "c3", "embedded"] == "untested"
    assert st["1_edrl_mea", "c1", "real"] == "not run"
    assert st["2_decoupled_ladder", "c1", "embedded"] == "untested"
    assert st["5_densenet_highway", "c2", "real"] == "held"
    assert (t[t.paper == "3_trnet"]["status"] == "not run").all()
    counts = L.tally(t[t.data_kind == "embedded"])
    assert counts.loc["1_edrl_mea", "held"] == 1 and counts.loc["1_edrl_mea", "inconclusive"] == 1
    assert counts.loc["3_trnet", "not run"] == len(R.claims(3))
    assert list(counts.columns) == list(L.TALLY)
