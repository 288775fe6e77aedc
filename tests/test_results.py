"""Tests of serlib.results: tidy rows, metadata, summaries, the papers' reference files, compare, claims."""

from __future__ import annotations

import json
import math
import re
import socket
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from serlib import paths
from serlib import results as R

PAPERS_DIR = paths.REPO.parent / "shared" / "papers"


# --------------------------------------------------------------------------- Results: rows and files
def _toy_results(notebook: str = "99_toy", profile: str = "smoke") -> R.Results:
    res = R.Results(notebook, profile, data={"corpus": "synthetic", "noise": "synthetic", "seeds": [0, 1]})
    for seed, (clean, noisy) in enumerate([(0.60, 0.40), (0.62, 0.44)]):
        res.add("rf", "uar", clean, seed=seed, attribute="arousal", fold=1)
        res.add("rf", "uar", noisy, seed=seed, test_condition="noisy", noise_type="babble", snr=5,
                attribute="arousal", fold=1)
        res.add("rf", "ccc", -0.1, seed=seed)
    return res


def test_save_read_roundtrip(tmp_data):
    res = _toy_results()
    with res.timer("train"):
        pass
    with res.timer("train"):
        pass
    csv = res.save()
    assert csv == paths.results_dir() / "99_toy.csv" and csv.is_file()
    back = R.read("99_toy")
    mine = res.frame()
    assert list(back.columns) == list(mine.columns)
    assert list(back.columns[:9]) == list(R.COLUMNS)
    pd.testing.assert_frame_equal(back, mine, check_dtype=False)
    assert back["noise_type"].iloc[0] is None and math.isnan(back["snr"].iloc[0])
    assert back.loc[1, "snr"] == 5.0 and back.loc[1, "noise_type"] == "babble"
    assert set(back["data"]) == {"synthetic (embedded), noise: synthetic"}
    assert R.read(csv).shape == back.shape  # a path works too


def test_metadata_contents(tmp_data, monkeypatch):
    import platform

    import torch

    # a sentinel host name (the real one is never read): it must not reach the metadata
    sentinel = "host-sentinel-7f3a"
    monkeypatch.setattr(socket, "gethostname", lambda: sentinel)
    monkeypatch.setattr(platform, "node", lambda: sentinel)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    t0 = time.perf_counter()
    res = _toy_results()
    with res.timer("features"):
        time.sleep(0.05)
    res.note(params={"epochs": 1})
    res.save()
    wall = time.perf_counter() - t0
    meta = R.read_metadata("99_toy")
    for key in ("profile", "seeds", "device", "durations_s", "git_commit", "packages", "python", "platform",
                "data", "created_utc", "units"):
        assert key in meta, key
    assert meta["profile"] == "smoke" and meta["seeds"] == [0, 1]
    assert 0.05 <= meta["durations_s"]["features"] <= meta["wall_time_s"] <= wall + 0.001  # seconds, rounded to ms
    assert set(R.PACKAGES) <= set(meta["packages"]) and meta["packages"]["numpy"] == np.__version__
    assert meta["data"]["corpus"] == "synthetic" and meta["data"]["kind"] == "embedded"
    assert meta["params"] == {"epochs": 1}
    assert meta["device"] == "cpu"
    assert sentinel not in json.dumps(meta), "metadata must not contain the host name"
    assert json.loads((paths.results_dir() / "99_toy.json").read_text()) == meta


def test_metadata_device_names_the_gpu_or_the_note(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "NVIDIA H200")
    res = _toy_results()
    assert res.metadata()["device"] == "NVIDIA H200"
    res.note(device="cuda:1 (given)")
    assert res.metadata()["device"] == "cuda:1 (given)"

    def broken(i=0):
        raise RuntimeError("driver too old")

    monkeypatch.setattr(torch.cuda, "get_device_name", broken)
    assert _toy_results().metadata()["device"] == "cpu"  # a broken driver does not break saving


def test_git_commit_unknown_outside_git(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "REPO", tmp_path)
    assert R._git_commit() == ("unknown", None)


def test_timer_accumulates_seconds():
    res = R.Results("99_toy", "smoke")
    t0 = time.perf_counter()
    for _ in range(2):
        with res.timer("step"):
            time.sleep(0.03)
    wall = time.perf_counter() - t0
    assert set(res.durations) == {"step"} and isinstance(res.durations["step"], float)
    assert 0.06 <= res.durations["step"] <= wall  # both blocks added, in seconds
    with pytest.raises(RuntimeError):
        with res.timer("failing"):
            time.sleep(0.02)
            raise RuntimeError("boom")
    assert res.durations["failing"] >= 0.02  # time is recorded even when the block fails


@pytest.mark.parametrize(
    "kwargs, err, match",
    [
        (dict(metric="uar", value=61.5), ValueError, r"write 0\.615"),
        (dict(metric="war", value=-0.1), ValueError, "outside"),
        (dict(metric="uar", value=float("nan")), ValueError, "NaN"),
        (dict(metric="ccc", value=1.5), ValueError, "ccc"),
        (dict(metric="wer", value=-0.2), ValueError, "negative"),
        (dict(metric="uar", value="high"), TypeError, "number"),
        (dict(metric="uar", value=0.5, seed=1.5), TypeError, "seed"),
        (dict(metric="uar", value=0.5, snr="5dB"), TypeError, "snr"),
        (dict(metric="uar", value=0.5, noise_type=3), TypeError, "noise_type"),
        (dict(metric="uar", value=0.5, value2=[1, 2]), TypeError, "scalar"),
        (dict(metric="uar", value=0.5, data="x"), ValueError, "clashes"),
        (dict(metric="", value=0.5), ValueError, "metric"),
    ],
)
def test_add_refuses_bad_values(kwargs, err, match):
    res = R.Results("99_toy", "smoke")
    kw = {"seed": 0, **kwargs}
    with pytest.raises(err, match=match):
        res.add("rf", kw.pop("metric"), kw.pop("value"), **kw)
    assert len(res) == 0


def test_add_accepts_wer_above_one_and_numpy_types():
    res = R.Results("99_toy", "smoke")
    res.add("asr", "wer", 1.2, seed=np.int64(0))
    res.add("rf", "uar", np.float32(0.5), seed=1, snr=np.int64(5), fold=np.int64(2))
    res.add_metrics("rf", {"uar": 0.5, "war": 0.6}, seed=2, test_condition="noisy", noise_type="music", snr=0)
    df = res.frame()
    assert len(df) == 4 and df["snr"].tolist()[1] == 5.0 and df["fold"].tolist()[1] == 2


def test_bad_notebook_name_and_empty_save(tmp_data):
    with pytest.raises(ValueError, match="plain file name"):
        R.Results("../evil", "smoke")
    with pytest.raises(ValueError, match="nothing to save"):
        R.Results("99_toy", "smoke").save()


def test_data_description():
    assert R.Results("x", "smoke").data["label"] == "synthetic (embedded)"
    real = R.Results("x", "paper", data={"corpus": "iemocap", "corpus_root": "/data/IEMOCAP",
                                         "xcorpus": "emodb", "noise": "musan"}).data
    assert real["kind"] == "real" and real["corpus_root"] == "/data/IEMOCAP"
    assert real["label"] == "iemocap (real) -> emodb (real), noise: musan"
    man = pd.DataFrame({"corpus": ["emodb", "emodb"], "path": ["/c/wav/a.wav", "/c/wav/b.wav"]})
    info = R.Results("x", "smoke", data=man).data
    assert info["corpus"] == "emodb" and info["corpus_root"] == "/c/wav" and info["n_utterances"] == 2
    with pytest.raises(ValueError, match="corpus"):
        R.Results("x", "smoke", data={"noise": "musan"})


# --------------------------------------------------------------------------- summarize
def test_summarize_mean_ci_over_seeds():
    df = pd.DataFrame({
        "method": ["a"] * 4 + ["b"],
        "seed": [0, 0, 1, 2, 0],
        "fold": [1, 2, 1, 1, 1],
        "metric": ["uar"] * 5,
        "value": [0.4, 0.6, 0.6, 0.7, 0.3],  # seed 0 of "a": folds averaged to 0.5
    })
    s = R.summarize(df, by=["method", "metric"])
    a = s[s["method"] == "a"].iloc[0]
    assert a["n"] == 3
    assert a["mean"] == pytest.approx(0.6)
    assert a["ci"] == pytest.approx(4.302652729911275 * 0.1 / math.sqrt(3))  # t(0.975, 2) * sd / sqrt(n)
    b = s[s["method"] == "b"].iloc[0]
    assert b["n"] == 1 and b["mean"] == pytest.approx(0.3) and math.isnan(b["ci"])
    default = R.summarize(df)  # by = every column but seed / fold / value
    assert list(default.columns) == ["method", "metric", "mean", "ci", "n"]
    with pytest.raises(KeyError, match="nope"):
        R.summarize(df, by=["nope"])


# --------------------------------------------------------------------------- reference files
@pytest.mark.parametrize("paper", R.papers())
def test_reference_file_schema(paper):
    assert len(R.papers()) == 5
    doc = R.reference(paper)
    ref = R.load_reference(paper)
    assert len(ref) == len(doc["rows"]) > 0
    assert ref["value"].map(math.isfinite).all()
    assert set(ref["unit"]) <= {"%", "1", "dB"}
    assert ref["method"].map(lambda m: isinstance(m, str) and m.strip() != "").all()
    assert ref["corpus"].notna().all(), "every row needs a test corpus (row or table default)"
    cl = R.claims(paper)
    assert cl and all(c["id"] and c["text"].strip() for c in cl)
    assert any(c["expect"] for c in cl), "at least one claim must be machine-checkable"
    assert doc["paper"]["notebook"].lstrip("0") == paper


@pytest.mark.parametrize("paper", R.papers())
def test_machine_checkable_claims_hold_on_the_papers_numbers(paper):
    """Each encoded claim must hold on the paper's own rows, and break when its support is flipped."""
    ref = R.load_reference(paper)
    for claim in R.claims(paper):
        held, evidence = R.check_claim(claim, ref)
        if claim["expect"] is None:
            assert held is None
            continue
        assert held is True, evidence
        # negative control: flipping the sign of every value reverses every comparison
        flipped, ev2 = R.check_claim(claim, ref.assign(value=-ref["value"]))
        assert flipped is False, ev2


def test_check_claim_reports_failures_and_lower_is_better():
    df = pd.DataFrame({"method": ["A", "B", "A", "B"], "metric": ["wer", "wer", "uar", "uar"],
                       "test_condition": "clean", "value": [0.2, 0.3, 0.5, 0.6]})
    claim = {"id": "x", "expect": {"better": "A", "than": "B"}, "support": [{"test_condition": "clean"}]}
    held, ev = R.check_claim(claim, df)
    assert held is False and "1/2" in ev and "uar" in ev  # WER: lower wins (held); UAR: A lower (fails)
    assert R.check_claim({**claim, "support": [{"metric": "wer"}]}, df)[0] is True
    assert R.check_claim({**claim, "support": [{"metric": "ccc"}]}, df)[0] is None
    assert R.check_claim({"id": "q", "expect": None, "support": []}, df)[0] is None


def test_check_claim_keeps_its_table_selector_on_seeded_rows():
    """Our rows carrying a `table` column: a Table-1 claim must not pool Table-2 rows."""
    rows = []
    for seed in range(3):
        for table, gain in (("1", 0.05), ("2", -0.20)):  # A wins in table 1, loses badly in table 2
            rows += [{"table": table, "method": "A", "metric": "f1", "seed": seed, "value": 0.6 + gain},
                     {"table": table, "method": "B", "metric": "f1", "seed": seed, "value": 0.6}]
    claim = {"id": "t1", "expect": {"better": "A", "than": "B"}, "support": [{"table": "1"}]}
    held, ev = R.check_claim(claim, pd.DataFrame(rows))
    assert held is True, ev
    assert R.check_claim({**claim, "support": [{"table": "2"}]}, pd.DataFrame(rows))[0] is False


def test_check_claim_on_our_results_with_mapping():
    """The leaderboard path: our raw rows (seeds, no `table` column) against a paper's claim."""
    claim = next(c for c in R.claims("3_trnet") if c["id"] == "c6")  # w/o L_low beats w/o L_high
    res = R.Results("03_trnet", "smoke")
    for seed in range(3):
        for cond in ({}, {"test_condition": "noisy", "noise_type": "esc", "snr": 5}):
            res.add("no_low", "uar", 0.55 + 0.01 * seed, seed=seed, **cond)
            res.add("no_high", "uar", 0.53 + 0.01 * seed, seed=seed, **cond)
    mapping = {"no_low": "TRNet w/o L_low", "no_high": "TRNet w/o L_high"}
    held, ev = R.check_claim(claim, res.frame(), mapping=mapping)
    assert held is True and "2/2" in ev  # seeds averaged first: one comparison per condition
    held, ev = R.check_claim(claim, res.frame(), mapping={"no_low": "TRNet w/o L_high", "no_high": "TRNet w/o L_low"})
    assert held is False and "0/2" in ev
    assert R.check_claim(claim, res.frame())[0] is None  # unmapped names: nothing comparable
    led = R.ledger(res.frame(), "3_trnet", mapping=mapping)
    assert list(led["claim"]) == [c["id"] for c in R.claims("3_trnet")]
    assert led.set_index("claim").loc["c6", "status"] == "held"
    assert led.set_index("claim").loc["c7", "status"] == "untested"  # qualitative (figure)


def test_stated_improvements_match_the_tables():
    """The papers' own printed deltas agree with their values (known exceptions are documented in the YAML)."""
    p1 = R.load_reference("1_edrl_mea")
    for _, g in p1.groupby(["table", "attribute", "test_condition", "noise_type"], dropna=False):
        base = g.loc[g["method"] == "Baseline", "value"].item()
        ours = g[g["method"] == "EDRL-MEA"].iloc[0]
        assert ours["stated_improvement"] == pytest.approx(ours["value"] - base, abs=1e-6)
    p4 = R.load_reference("4_joint_asr_ser", tables=["1"])
    known = {("clean", "music", 15.0), ("noisy", "music", 15.0), ("noisy", "music", 5.0), ("noisy", "speech", 15.0)}
    seen = set()
    for (train, noise, snr, metric), g in p4.groupby(["train_condition", "noise_type", "snr", "metric"],
                                                     dropna=False):
        b = g.loc[g["method"] == "Baseline", "value"].item()
        j = g[g["method"] == "Joint"].iloc[0]
        calc = (b - j["value"]) / b * 100 if metric == "wer" else j["value"] - b
        key = (train, noise, None if pd.isna(snr) else float(snr))
        if metric == "wer" and key in known:
            seen.add(key)
            assert abs(calc - j["stated_improvement"]) < 0.25
        else:
            assert j["stated_improvement"] == pytest.approx(calc, abs=0.051), (key, metric)
    assert seen == known
    assert "9.9 (21.7 -> 19.6 gives 9.7)" in " ".join(R.reference(4)["tables"][0]["note"].split())


# the numbers of each paper's tables, in reading order, from ../shared/papers
_NUM = re.compile(r"[-+]?\d+(?:\.\d+)?")


def _between(text: str, start: str, end: str) -> str:
    i = text.index(start)
    return text[i:text.index(end, i)]


def _nums(text: str) -> list[float]:
    return [float(x) for x in _NUM.findall(text)]


def _paper_numbers(paper: str) -> list[float]:
    if paper == "1_edrl_mea":
        t = (PAPERS_DIR / "1_edrl_mea_tiwari.txt").read_text()
        region = _between(t, "Table 1: Intra-corpus", "#### 4.4")
        return [x for line in region.splitlines() if line.startswith("|") and "Baseline" not in line
                for x in _nums(re.sub(r"Noise_\d", "", line))]
    if paper == "2_decoupled_ladder":
        t = (PAPERS_DIR / "2_decoupled_ladder_network.txt").read_text()
        t1 = [_nums(ln)[1:] for ln in _between(t, "condition SNR (dB)", "not need to contain").splitlines()
              if re.match(r"^\d+dB ", ln)]
        out = [row[-1] for row in t1]  # estimated SNRs (distances are checked separately)
        out += [x for ln in _between(t, "clean 10db 5db 0db clean", "recording condition. Also").splitlines()
                if re.match(r"^(Dense|LN|DLN)", ln) for x in _nums(ln)]
        text = _between(t, "demonstrate that the DLN can enhance", "2. Related work")
        return out + _nums(re.sub(r"\d+dB", "", text))
    if paper == "3_trnet":
        t = (PAPERS_DIR / "3_trnet_chen_zhang.txt").read_text()
        vals = [float(x) for x in re.findall(r"\d+\.\d\d", _between(t, "Methods\tIEM", "Table 1: Performance"))]
        # printed column-major in two blocks of 3 methods x 6 columns; reorder to method-major
        return [vals[b * 18 + c * 3 + m] for b in range(2) for m in range(3) for c in range(6)]
    if paper == "4_joint_asr_ser":
        t = (PAPERS_DIR / "4_joint_asr_ser_bansal.txt").read_text()
        out = []
        for ln in _between(t, "Test Dataset\tBaseline", "CTC-based decoder").splitlines()[1:]:
            cells = [float(x) for x in ln.split("\t")[1:] if x.strip()]
            for i in range(4):  # groups of (baseline, joint, rel imp)
                out += cells[3 * i:3 * i + 3]
        return out + _nums(_between(t, "The most notable improvement", "Additionally").replace("SNR 5", ""))
    if paper == "5_densenet_highway":
        t = (PAPERS_DIR / "5_densenet_lstm_highway_mixup.txt").read_text()
        out = [x for ln in _between(t, "Model IEMOCAP MSP-IMPROV", "Our proposed model is also").splitlines()
               for x in _nums(re.sub(r"\[\d+\]", "", ln))]
        out += [x for ln in _between(t, "Table 2: UAR", "standard DenseNet and").splitlines()
                if re.match(r"^(0|10|20) ", ln) for x in _nums(ln)[1:]]
        out += [x for ln in _between(t, "Table 3: UAR", "Figure 2: Comparing").splitlines()
                if re.match(r"^(FSGM|BIM) ", ln) for x in _nums(ln)]
        out += [x for ln in _between(t, "Table 4: Comparing", "We also compare our results").splitlines()
                if ln.startswith("UAR") for x in _nums(ln)]
        return out
    raise AssertionError(paper)


def _yaml_numbers(paper: str) -> list[float]:
    out = []
    for r in R.reference(paper)["rows"]:
        out.append(float(r["value"]))
        out += [float(r[k]) for k in ("sd", "stated_improvement") if k in r]
    return out


@pytest.mark.parametrize("paper", R.papers())
def test_reference_numbers_match_the_paper_text(paper):
    """Every printed number of every results table, in the paper's reading order (a typo here is a false claim)."""
    if not PAPERS_DIR.is_dir():
        pytest.skip("../shared/papers (the papers' text) is not present beside the checkout")
    printed, ours = _paper_numbers(paper), _yaml_numbers(paper)
    assert len(printed) == len(ours), (len(printed), len(ours), Counter(printed) - Counter(ours),
                                       Counter(ours) - Counter(printed))
    diffs = [(i, p, o) for i, (p, o) in enumerate(zip(printed, ours)) if not math.isclose(p, o, abs_tol=1e-9)]
    assert not diffs, f"first differences (index, paper, yaml): {diffs[:5]}"
    if paper == "2_decoupled_ladder":
        t = (PAPERS_DIR / "2_decoupled_ladder_network.txt").read_text()
        rows = [_nums(ln) for ln in _between(t, "condition SNR (dB)", "not need to contain").splitlines()
                if re.match(r"^\d+dB ", ln)]
        conds = R.reference(paper)["tables"][0]["recording_conditions"]
        assert [[float(c["condition"][:-2]), c["speech_distance_in"], c["noise_distance_in"], c["estimated_snr_db"]]
                for c in conds] == rows


def test_validation_errors_name_the_problem(tmp_path, monkeypatch):
    good = yaml.safe_load((R.REFERENCE_DIR / "3_trnet.yaml").read_text())
    monkeypatch.setattr(R, "REFERENCE_DIR", tmp_path)
    R._load_doc.cache_clear()

    def check(doc, match):
        (tmp_path / "3_trnet.yaml").write_text(yaml.safe_dump(doc))
        R._load_doc.cache_clear()
        with pytest.raises(ValueError, match=match):
            R.load_reference("3_trnet")

    import copy

    try:
        bad = copy.deepcopy(good); bad["rows"][0]["metric"] = "f2"
        check(bad, "not declared in 'metrics'")
        bad = copy.deepcopy(good); bad["rows"][0]["colour"] = "red"
        check(bad, "unknown keys")
        bad = copy.deepcopy(good); bad["rows"][0]["snr"] = "loud"
        check(bad, "snr must be")
        bad = copy.deepcopy(good); bad["rows"][1] = dict(bad["rows"][0])
        check(bad, "identical")
        bad = copy.deepcopy(good); bad["claims"][0]["expect"] = {"worse": "x"}
        check(bad, "expect must be")
        bad = copy.deepcopy(good); del bad["claims"]
        check(bad, "claims")
    finally:
        R._load_doc.cache_clear()


def test_paper_ids_resolve():
    for alias in ("3_trnet", "03_trnet", 3, "3", "trnet", "03_trnet.ipynb"):
        assert R.load_reference(alias).attrs["paper"]["id"] == "3_trnet"
    with pytest.raises(KeyError, match="available"):
        R.load_reference("9_nope")
    assert set(R.load_reference(5, tables=["4"])["table"]) == {"4"}


# --------------------------------------------------------------------------- compare
TOY_REF = {
    "paper": {"id": "9_toy", "short": "Toy", "title": "A toy paper", "citation": "Toy (2099)", "source": "none"},
    "metrics": {"uar": {"unit": "%", "higher_is_better": True},
                "accuracy": {"unit": "%", "higher_is_better": True},
                "ccc": {"unit": "1", "higher_is_better": True}},
    "tables": [{"id": "1", "caption": "toy", "test_corpus": "IEMOCAP", "snrs_averaged_db": [0, 5]}],
    "rows": [
        {"table": "1", "method": "M1", "train_condition": "clean", "test_condition": "clean", "noise_type": None,
         "snr": None, "metric": "uar", "value": 60.0},
        {"table": "1", "method": "M1", "train_condition": "clean", "test_condition": "noisy", "noise_type": "Babble",
         "snr": 5, "metric": "uar", "value": 40.0, "sd": 1.5},
        {"table": "1", "method": "M1", "train_condition": "clean", "test_condition": "noisy", "noise_type": "Babble",
         "snr": "avg", "metric": "uar", "value": 35.0},
        {"table": "1", "method": "M1", "train_condition": "clean", "test_condition": "clean", "noise_type": None,
         "snr": None, "metric": "accuracy", "value": 62.0},
        {"table": "1", "method": "M2", "train_condition": "clean", "test_condition": "clean", "noise_type": None,
         "snr": None, "metric": "uar", "value": 55.0},
        {"table": "1", "method": "M1", "train_condition": "clean", "test_condition": "clean", "noise_type": None,
         "snr": None, "metric": "ccc", "value": 0.5},
    ],
    "claims": [{"id": "c1", "text": "M1 beats M2", "expect": {"better": "M1", "than": "M2"},
                "support": [{"table": "1"}]}],
}


@pytest.fixture
def toy_reference(tmp_path, monkeypatch):
    (tmp_path / "9_toy.yaml").write_text(yaml.safe_dump(TOY_REF, sort_keys=False))
    monkeypatch.setattr(R, "REFERENCE_DIR", tmp_path)
    R._load_doc.cache_clear()
    yield "9_toy"
    R._load_doc.cache_clear()


def _toy_ours() -> pd.DataFrame:
    res = R.Results("09_toy", "smoke", data="synthetic")
    for seed, (c, n5, n0, w, cc) in enumerate([(0.58, 0.42, 0.30, 0.61, 0.45), (0.62, 0.44, 0.32, 0.63, 0.55),
                                               (0.60, 0.46, 0.34, 0.62, 0.50)]):
        res.add("m1", "uar", c, seed=seed)
        res.add("m1", "uar", n5, seed=seed, test_condition="noisy", noise_type="babble", snr=5)
        res.add("m1", "uar", n0, seed=seed, test_condition="noisy", noise_type="babble", snr=0)
        res.add("m1", "war", w, seed=seed)
        res.add("m1", "ccc", cc, seed=seed)
        res.add("m3", "uar", 0.5, seed=seed)
    return res.frame()


def test_compare_matches_converts_units_and_keeps_unmatched(toy_reference):
    out = R.compare(_toy_ours(), toy_reference, mapping={"m1": "M1"})
    snr = out["snr"].map(lambda v: "None" if v is None else f"{v}")
    key = out.set_index(["method", "metric", "test_condition", snr, "status"])
    clean = key.loc[("M1", "uar", "clean", "None", "matched")]
    assert clean["ours"] == pytest.approx(60.0) and clean["paper"] == 60.0 and clean["delta"] == pytest.approx(0.0)
    assert clean["n_seeds"] == 3 and clean["unit"] == "%" and clean["data"] == "synthetic (embedded)"
    assert clean["ours_ci"] == pytest.approx(4.302652729911275 * 0.02 / math.sqrt(3) * 100)
    n5 = key.loc[("M1", "uar", "noisy", "5", "matched")]
    assert n5["ours"] == pytest.approx(44.0) and n5["delta"] == pytest.approx(4.0) and n5["paper_sd"] == 1.5
    avg = key.loc[("M1", "uar", "noisy", "avg", "matched")]  # per seed mean over 0 and 5 dB, then over seeds
    assert avg["ours"] == pytest.approx(38.0) and avg["delta"] == pytest.approx(3.0) and "0,5" in avg["note"]
    acc = key.loc[("M1", "accuracy", "clean", "None", "matched")]  # our 'war' is the paper's 'accuracy'
    assert acc["ours"] == pytest.approx(62.0)
    ccc = key.loc[("M1", "ccc", "clean", "None", "matched")]  # unit "1": no scaling
    assert ccc["ours"] == pytest.approx(0.5) and ccc["delta"] == pytest.approx(0.0)
    # nothing silently dropped
    assert key.loc[("M2", "uar", "clean", "None", "paper only")]["n_seeds"] == 0
    assert ("m3", "uar", "clean", "None", "ours only") in key.index
    assert ("M1", "uar", "noisy", "0.0", "ours only") in key.index
    assert set(out["status"]) == {"matched", "paper only", "ours only"}
    assert len(out[out["status"] != "ours only"]) == len(TOY_REF["rows"])
    text = out.attrs["text"]
    assert "ours (mean ± CI)" in text and "paper only" in text and "ours only" in text and "60.00 ±" in text
    assert "| M2 |" in R.format_comparison(out, markdown=True)


def test_compare_matching_is_case_insensitive_and_unmapped_names_stay_unmatched(toy_reference):
    ours = _toy_ours()
    assert (R.compare(ours, toy_reference)["status"] == "matched").sum() == 5  # "m1" matches "M1"
    out = R.compare(ours.assign(method=ours["method"].replace({"m1": "rf"})), toy_reference)
    assert "matched" not in set(out["status"])
    assert (out["status"] == "paper only").sum() == len(TOY_REF["rows"])


def test_compare_refuses_percentages_in_our_results(toy_reference):
    ours = _toy_ours()
    ours.loc[ours["metric"] == "uar", "value"] *= 100  # someone stored % instead of fractions
    with pytest.raises(ValueError, match="looks like a percentage"):
        R.compare(ours, toy_reference, mapping={"m1": "M1"})


def test_compare_errors_name_missing_columns(toy_reference):
    with pytest.raises(KeyError, match="attribute"):
        R.compare(_toy_ours(), toy_reference, on=["method", "attribute"])
    with pytest.raises(KeyError, match="colour"):
        R.compare(_toy_ours(), toy_reference, mapping={"colour": {"a": "b"}})


def test_compare_against_a_real_reference_with_per_column_mapping():
    res = R.Results("03_trnet", "smoke")
    for seed in (0, 1):
        res.add("base", "uar", 0.55, seed=seed)
        for snr in (0, 5, 10, 15, 20):
            res.add("base", "uar", 0.45, seed=seed, test_condition="noisy", noise_type="esc", snr=snr)
    mapping = {"method": {"base": "Baseline-c"}, "noise_type": {"esc": "ESC-50"}}
    out = R.compare(res.frame(), "03_trnet", mapping=mapping)
    m = out[out["status"] == "matched"].set_index("test_condition")
    assert m.loc["clean", "delta"] == pytest.approx(55.0 - 56.77)
    assert m.loc["noisy", "delta"] == pytest.approx(45.0 - 45.61)
    assert m.loc["noisy", "note"] == "ours averaged over 0,5,10,15,20 dB"


# --------------------------------------------------------------------------- claims ledger
def test_ledger_row():
    row = R.ledger_row("c3", True, "DLN > LN at 10/5/0 dB (3/3)", paper="02_decoupled_ladder")
    assert row["paper"] == "2_decoupled_ladder" and row["status"] == "held" and row["text"].startswith("The decoupled")
    assert R.ledger_row("c1", False, "ours: 0.51 < 0.55")["status"] == "not held"
    assert R.ledger_row("c1", None, "needs the real corpus")["status"] == "untested"
    assert R.ledger_row("c1", np.bool_(True), "x")["status"] == "held"
    with pytest.raises(TypeError):
        R.ledger_row("c1", "yes", "x")
    with pytest.raises(ValueError):
        R.ledger_row("c1", True, "  ")
    with pytest.raises(KeyError, match="c99"):
        R.ledger_row("c99", True, "x", paper=1)


# --------------------------------------------------------------------------- collect / summary
def test_collect_and_summary_markdown(tmp_data):
    _toy_results("01_a", "quick").save()
    res = R.Results("02_b", "paper", data={"corpus": "iemocap", "corpus_root": "/x"})
    res.add("svm", "wer", 0.25, seed=0)
    res.add("svm", "wer", 0.35, seed=1)
    res.save()
    (paths.results_dir() / "notes.csv").write_text("a,b\n1,2\n")
    with pytest.warns(UserWarning, match="notes.csv"):
        df = R.collect()
    assert set(df["notebook"]) == {"01_a", "02_b"}
    assert set(df["profile"]) == {"quick", "paper"}
    md = R.summary_markdown(df)
    assert "## 01_a" in md and "## 02_b" in md and "profile: quick" in md and "iemocap (real)" in md
    assert "| uar (%) | ccc | n |" in md and "| wer (%) | n |" in md
    assert "61.0 ±" in md  # clean UAR 0.60 / 0.62 -> 61.0 %
    assert "30.0 ±" in md  # WER 0.25 / 0.35 -> 30.0 %
    empty = R.collect(paths.results_dir() / "nothing_here")
    assert empty.empty and "No results yet" in R.summary_markdown(empty)


def test_summary_markdown_keeps_metrics_of_a_clean_row_together():
    """Rows whose condition columns are missing (clean: no noise type, no SNR) form one table row."""
    res = R.Results("99_summary", "smoke")
    for seed in range(2):
        res.add("A", "uar", 0.6, seed=seed)
        res.add("A", "war", 0.7, seed=seed)
        res.add("A", "uar", 0.5, seed=seed, test_condition="noisy", noise_type="babble", snr=0)
    md = R.summary_markdown(res.frame().assign(profile="smoke"))
    body = [line for line in md.splitlines() if line.startswith("| A ")]
    assert len(body) == 2, md


def test_set_claims_stores_ledger_in_json(tmp_path):
    res = R.Results("03_trnet", "smoke")
    res.add("TRNet", "uar", 0.5, seed=0)
    led = pd.DataFrame([R.ledger_row("c4", False, "TRNet 50.0 < Baseline-c 55.0", paper=3)])
    res.set_claims(led)
    res.save(tmp_path)
    meta = R.read_metadata(tmp_path / "03_trnet.csv")
    assert meta["claims"][0]["claim"] == "c4" and meta["claims"][0]["status"] == "not held"
    with pytest.raises(ValueError, match="set_claims"):
        res.set_claims(pd.DataFrame({"x": [1]}))


# --------------------------------------------------------------------------- across papers: claims ledger, headlines
def _run_with_claims(folder, notebook, paper, statuses, *, data=None, profile="quick", extra=()):
    """Save a tiny run of ``notebook`` whose ledger gives ``statuses`` ({claim: True/False/None})."""
    res = R.Results(notebook, profile, data=data)
    res.add("m", "uar", 0.5, seed=0)
    if statuses is not None:
        rows = [R.ledger_row(cid, held, f"{cid}: evidence of {notebook}", paper=paper) for cid, held in statuses.items()]
        rows += [R.ledger_row(cid, held, f"{cid}: extra check") for cid, held in extra]
        res.set_claims(pd.DataFrame(rows))
    res.save(folder)


def test_collect_claims_reads_every_json(tmp_path):
    _run_with_claims(tmp_path, "01_edrl_mea", 1, {"c1": True, "c2": False}, extra=[("own-check", True)])
    _run_with_claims(tmp_path, "05_densenet_highway", 5, {"c1": None}, data={"corpus": "iemocap", "corpus_root": "/x"})
    (tmp_path / "notes.json").write_text("{}")           # not a run: no CSV beside it
    led = R.collect_claims(tmp_path)
    assert list(led.columns) == list(R.CLAIM_COLUMNS) and len(led) == 4
    one = led[led.notebook == "01_edrl_mea"].set_index("claim")
    assert one.loc["c1", "status"] == "held" and one.loc["c2", "status"] == "not held"
    assert one.loc["own-check", "paper"] == "1_edrl_mea"  # a ledger row without a paper takes the notebook's
    assert set(one["data_kind"]) == {"embedded"} and set(one["profile"]) == {"quick"}
    five = led[led.notebook == "05_densenet_highway"].iloc[0]
    assert five["status"] == "untested" and five["data_kind"] == "real" and five["data"].startswith("iemocap (real)")
    assert R.collect_claims(tmp_path / "empty").empty


def test_claims_table_marks_held_not_held_untested_not_run_per_data(tmp_path):
    _run_with_claims(tmp_path, "01_edrl_mea", 1, {"c1": True, "c2": False, "c5": None})
    _run_with_claims(tmp_path, "02_decoupled_ladder", 2, None)                        # ran, saved no ledger
    _run_with_claims(tmp_path, "05_densenet_highway", 5, {"c2": True}, data={"corpus": "iemocap"})
    t = R.claims_table(tmp_path)
    n_claims = {p: len(R.claims(p)) for p in R.papers()}
    assert set(t["data_kind"]) == {"embedded", "real"}  # a real run adds the real-data rows
    assert len(t) == 2 * sum(n_claims.values())
    st = t.set_index(["paper", "claim", "data_kind"])["status"]
    assert st["1_edrl_mea", "c1", "embedded"] == "held"
    assert st["1_edrl_mea", "c2", "embedded"] == "not held"
    assert st["1_edrl_mea", "c5", "embedded"] == "untested"
    assert st["1_edrl_mea", "c3", "embedded"] == "untested"   # the run's ledger has no row for it
    assert st["1_edrl_mea", "c1", "real"] == "not run"        # paper 1 never ran on real data
    assert st["2_decoupled_ladder", "c1", "embedded"] == "untested"
    assert "no claims ledger" in t.set_index(["paper", "claim", "data_kind"]).loc[
        ("2_decoupled_ladder", "c1", "embedded"), "evidence"]
    assert st["5_densenet_highway", "c2", "real"] == "held"
    assert st["5_densenet_highway", "c2", "embedded"] == "not run"
    assert (t[t.paper == "3_trnet"]["status"] == "not run").all()
    # claims keep the YAML order, text from the reference
    assert list(t[(t.paper == "3_trnet") & (t.data_kind == "embedded")]["claim"]) == [c["id"] for c in R.claims(3)]
    md = R.claims_markdown(t)
    assert "**held**" in md and "**not run**" in md and "| real |" in md
    # embedded only: no real rows
    only = R.claims_table(tmp_path / "nothing")
    assert set(only["data_kind"]) == {"embedded"} and set(only["status"]) == {"not run"}


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
    R._load_headlines.cache_clear()


def test_headlines_table_without_and_with_results(toy_headlines, tmp_path):
    folder = tmp_path / "res"
    before = R.headlines_table(folder, spec_path=toy_headlines)
    assert list(before.columns) == list(R.HEADLINE_COLUMNS)
    assert set(before["status"]) == {"not run"} and before["ours"].isna().all()
    assert list(before["paper_value"]) == [60.0, 35.0, 55.0, 62.0]
    assert "| not run |" in R.headlines_markdown(before)

    res = R.Results("09_toy", "quick", data="synthetic")
    for row in _toy_ours().to_dict("records"):
        keep = {k: row[k] for k in ("train_condition", "test_condition", "noise_type") if row[k] is not None}
        res.add(row["method"], row["metric"], row["value"], seed=row["seed"],
                snr=None if math.isnan(row["snr"]) else row["snr"], **keep)
    res.save(folder)
    t = R.headlines_table(folder, spec_path=toy_headlines).set_index("headline")
    clean = t.loc["M1 clean UAR"]
    assert clean["status"] == "matched" and clean["ours"] == pytest.approx(60.0) and clean["n"] == 3
    assert clean["delta"] == pytest.approx(0.0) and clean["profile"] == "quick"
    assert clean["ours_ci"] == pytest.approx(4.302652729911275 * 0.02 / math.sqrt(3) * 100)
    avg = t.loc["M1 babble, mean over 0-5 dB"]   # compare's per-seed mean over the table's SNRs
    assert avg["ours"] == pytest.approx(38.0) and avg["delta"] == pytest.approx(3.0)
    assert t.loc["M2 clean UAR", "status"] == "no matching results"  # we ran no M2
    seed0 = t.loc["M1 accuracy, seed 0 only"]
    assert seed0["n"] == 1 and seed0["ours"] == pytest.approx(61.0)
    md = R.headlines_markdown(t.reset_index())
    assert "60.0 ± " in md and "61.0 (1 seed)" in md and "no matching rows" in md and "quick; synthetic" in md


def test_headline_spec_is_checked(toy_reference, tmp_path):
    bad = {"papers": {"9_toy": {"notebook": "09_toy", "headlines": [{"label": "ambiguous", "paper": {"method": "M1"}}]}}}
    path = tmp_path / "headlines.yaml"
    path.write_text(yaml.safe_dump(bad))
    try:
        with pytest.raises(ValueError, match="matches 5 rows"):
            R.headlines(path)
        bad["papers"]["9_toy"]["on"] = ["method"]             # YAML would read a bare `on` key as True
        path.write_text(yaml.safe_dump(bad))
        R._load_headlines.cache_clear()
        with pytest.raises(ValueError, match="unknown keys"):
            R.headlines(path)
    finally:
        R._load_headlines.cache_clear()


def test_the_repository_headlines_select_one_row_each():
    spec = R.headlines()
    assert set(spec) == set(R.papers())
    for pid, s in spec.items():
        assert s["notebook"] == R.reference(pid)["paper"]["notebook"]
        assert 2 <= len(s["headlines"]) <= 5
    assert "headlines" not in R.papers()


def test_summary_markdown_starts_with_the_overview(tmp_data):
    _run_with_claims(paths.results_dir(), "01_edrl_mea", 1, {"c1": False})
    md = R.summary_markdown(R.collect(), results_dir=paths.results_dir())
    heads = [line for line in md.splitlines() if line.startswith("#")]
    assert heads[:6] == ["# Results summary", "## Headline numbers: ours | paper",
                         "## Robustness leaderboard (identical conditions for every method)",
                         "## Claims ledger (all five papers)", "## The runs behind these tables",
                         "## Every result, per notebook"]
    assert "### 01_edrl_mea" in md and "**not held**" in md and "Not run yet" in md
    assert "| 01_edrl_mea | quick | synthetic (embedded) | 0 | " in md   # the run: profile, data, seeds


def test_update_readme_replaces_only_the_marked_block(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# title\n\nintro\n\n<!-- results:begin -->\nold numbers\n<!-- results:end -->\n\nrest\n")
    assert R.update_readme(readme, tmp_path / "results") is True
    text = readme.read_text()
    assert text.startswith("# title\n\nintro\n\n<!-- results:begin -->") and text.endswith("<!-- results:end -->\n\nrest\n")
    assert "old numbers" not in text and "### Claims ledger" in text
    assert R.readme_current_block(readme) == R.readme_block(tmp_path / "results")
    assert R.update_readme(readme, tmp_path / "results") is False   # idempotent
    _run_with_claims(tmp_path / "results", "01_edrl_mea", 1, {"c1": True})
    assert R.update_readme(readme, tmp_path / "results") is True    # a new result changes the block
    readme.write_text("no markers here\n")
    with pytest.raises(ValueError, match="results:begin"):
        R.update_readme(readme, tmp_path / "results")


def test_readme_results_block_is_in_sync_with_the_committed_results():
    """The README's generated block is what the repository's results/ give (not the test-time SERLIB_RESULTS)."""
    current = R.readme_current_block(paths.REPO / "README.md")
    expected = R.readme_block(paths.REPO / "results")
    assert current == expected, ("README.md's results block differs from results/: run "
                                 "`python -m serlib.run --update-readme` and commit README.md")


def test_leaderboard_block_is_rebuilt_from_the_csv(tmp_path):
    assert "Not run yet" in R.leaderboard_markdown(tmp_path)
    res = R.Results(R.LEADERBOARD_NOTEBOOK, "smoke", data="synthetic")
    for seed in (0, 1):
        for method, base in (("weak", 0.40), ("strong", 0.60)):
            res.add(method, "uar", base + 0.1, seed=seed)
            for snr in (0, 10, 20):
                res.add(method, "uar", base + 0.005 * snr + 0.01 * seed, seed=seed, test_condition="noisy",
                        noise_type="babble", snr=snr)
            res.add(method, "train_seconds", 2.0, seed=seed, test_condition="cost")
    res.save(tmp_path)
    md = R.leaderboard_markdown(tmp_path)
    lines = [line for line in md.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| rank | method | AUC 0-20 dB")
    assert lines[1].startswith("| 1 | strong |") and lines[2].startswith("| 2 | weak |")
    assert "Run: smoke; synthetic (embedded)." in md
