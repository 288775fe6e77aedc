"""Tests of serlib.results: tidy rows, metadata, summaries, the papers' reference files, compare, claims."""

from __future__ import annotations

import json
import math
import re
import socket
import time
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import yaml

from serlib import papers as P
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
    with res.timer("training"):
        pass
    with res.timer("training"):
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


def test_git_dirty_ignores_run_outputs_but_not_code(tmp_path, monkeypatch):
    """A run's own outputs (results/, figures/, runs/, the README block) leave the flag clean; code does not."""
    import subprocess

    def git(*a):
        subprocess.run(["git", "-C", str(tmp_path), *a], check=True, capture_output=True)

    git("init", "-q")
    for rel in ["serlib/x.py", "results/01.csv", "figures/a.png", "runs/reference/a.ipynb", "README.md"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("0")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    monkeypatch.setattr(paths, "REPO", tmp_path)
    assert R._git_commit()[1] is False
    for rel in ["results/01.csv", "figures/a.png", "runs/reference/a.ipynb", "README.md"]:
        (tmp_path / rel).write_text("1")
    assert R._git_commit()[1] is False
    (tmp_path / "serlib/x.py").write_text("1")
    assert R._git_commit()[1] is True


def test_timer_accumulates_seconds():
    res = R.Results("99_toy", "smoke")
    t0 = time.perf_counter()
    for _ in range(2):
        with res.timer("training"):
            time.sleep(0.03)
    wall = time.perf_counter() - t0
    assert set(res.durations) == {"training"} and isinstance(res.durations["training"], float)
    assert 0.06 <= res.durations["training"] <= wall  # both blocks added, in seconds
    with pytest.raises(RuntimeError):
        with res.timer("evaluation"):
            time.sleep(0.02)
            raise RuntimeError("boom")
    assert res.durations["evaluation"] >= 0.02  # time is recorded even when the block fails
    with pytest.raises(ValueError, match="must be one of"):   # free-form names would not add up across notebooks
        with res.timer("fits"):
            pass


def test_note_fits_records_the_count_and_the_share():
    res = R.Results("99_toy", "smoke")
    res.note_fits(12, best_before_last=0.75)
    assert res.meta["fits"] == 12 and res.meta["best_epoch_before_last"] == 0.75
    res.note_fits(3)                                          # forests: no epochs
    assert res.meta["best_epoch_before_last"] is None
    with pytest.raises(ValueError, match="share"):
        res.note_fits(3, best_before_last=1.5)


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
    assert list(default.columns) == ["method", "metric", "mean", "ci", "ci_low", "ci_high", "n", "values"]
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
    good = yaml.safe_load((P.REFERENCE_DIR / "3_trnet.yaml").read_text())
    monkeypatch.setattr(P, "REFERENCE_DIR", tmp_path)
    P._load_doc.cache_clear()

    def check(doc, match):
        (tmp_path / "3_trnet.yaml").write_text(yaml.safe_dump(doc))
        P._load_doc.cache_clear()
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
        bad = copy.deepcopy(good); bad["claims"][0]["size"] = [9, 7]
        check(bad, "size must be")
        bad = copy.deepcopy(good); bad["claims"][0]["aggregate"] = "mean"
        check(bad, "aggregate must be")
        bad = copy.deepcopy(good); bad["claims"][0]["colour"] = "red"
        check(bad, "unknown keys")
        bad = copy.deepcopy(good); bad["claims"][0]["expect"]["ignore"] = "train_condition"
        check(bad, "ignore must be a list")
    finally:
        P._load_doc.cache_clear()


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
    monkeypatch.setattr(P, "REFERENCE_DIR", tmp_path)
    P._load_doc.cache_clear()
    yield "9_toy"
    P._load_doc.cache_clear()


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


# --------------------------------------------------------------------------- collect
def test_collect_reads_every_results_file_and_names_the_odd_one(tmp_data):
    _toy_results("01_a", "quick").save()
    res = R.Results("02_b", "paper", data={"corpus": "iemocap", "corpus_root": "/x"})
    res.add("svm", "wer", 0.25, seed=0)
    res.save()
    (paths.results_dir() / "notes.csv").write_text("a,b\n1,2\n")
    with pytest.warns(UserWarning, match="notes.csv"):
        df = R.collect()
    assert set(df["notebook"]) == {"01_a", "02_b"} and set(df["profile"]) == {"quick", "paper"}
    assert R.collect(paths.results_dir() / "nothing_here").empty
    assert set(R.runs(paths.results_dir())) == {"01_a", "02_b"}


# --------------------------------------------------------------------------- intervals, chance, selectors
def test_summarize_gives_no_t_interval_from_two_seeds_and_shows_the_values():
    df = pd.DataFrame({"method": "a", "metric": "uar", "seed": [0, 1], "value": [0.40, 0.60]})
    s = R.summarize(df, by=["method", "metric"]).iloc[0]
    assert s["n"] == 2 and s["mean"] == pytest.approx(0.5) and s["values"] == (0.4, 0.6)
    assert math.isnan(s["ci"]) and math.isnan(s["ci_low"]) and math.isnan(s["ci_high"])
    assert R.estimate_text(50.0, np.nan, np.nan, 2, (40.0, 60.0)) == "50.0 (n=2: 40.0, 60.0)"
    assert R.estimate_text(50.0, np.nan, np.nan, 1, (50.0,)) == "50.0 (1 run)"


def test_a_uar_interval_never_leaves_its_range():
    df = pd.DataFrame({"method": "a", "metric": "uar", "seed": range(3), "value": [0.999, 0.90, 1.0]})
    s = R.summarize(df, by=["method", "metric"]).iloc[0]
    assert s["mean"] + s["ci"] > 1.0                      # the t interval would leave [0, 1] ...
    assert s["ci_high"] == 1.0 and 0.0 <= s["ci_low"] < s["mean"]   # ... the reported one does not
    assert R.estimate_text(100 * s["mean"], 100 * s["ci_low"], 100 * s["ci_high"], 3).endswith(", 100.0]")
    low = R.summarize(df.assign(value=[0.001, 0.10, 0.0]), by=["method", "metric"]).iloc[0]
    assert low["ci_low"] == 0.0
    ccc = R.summarize(df.assign(metric="ccc", value=[-0.999, -0.9, -1.0]), by=["method", "metric"]).iloc[0]
    assert ccc["ci_low"] == -1.0
    free = R.summarize(df.assign(metric="loss", value=[0.999, 0.9, 1.0]), by=["method", "metric"]).iloc[0]
    assert free["ci_high"] > 1.0                          # an unbounded metric is not clipped


def test_compare_marks_chance_and_clips_the_interval(toy_reference):
    res = R.Results("09_toy", "smoke")
    for seed, v in enumerate((0.26, 0.22, 0.27)):
        res.add("m1", "uar", v, seed=seed)                # a 4-class model at chance
    for seed, v in enumerate((0.999, 0.90, 1.0)):
        res.add("m1", "uar", v, seed=seed, test_condition="noisy", noise_type="babble", snr=5)
    out = R.compare(res.frame(), toy_reference, mapping={"m1": "M1"}, n_classes=4)
    m = out[(out.status == "matched") & (out.metric == "uar")]
    clean = m[m.test_condition == "clean"].iloc[0]
    noisy = m[(m.test_condition == "noisy") & (m.snr == 5)].iloc[0]
    assert clean["chance"] == pytest.approx(25.0) and bool(clean["at_chance"])
    assert not noisy["at_chance"] and noisy["ours_high"] == pytest.approx(100.0) and noisy["ours_ci"] > 5
    assert "(≤ chance)" in out.attrs["text"] and "chance" in out.attrs["text"].splitlines()[0]
    plain = R.compare(res.frame(), toy_reference, mapping={"m1": "M1"})
    assert plain.loc[plain.metric == "uar", "chance"].isna().all()          # UAR's chance needs n_classes
    assert (plain.loc[plain.metric == "ccc", "chance"] == 0).all()           # CCC's is 0


def test_select_refuses_a_selector_on_a_missing_column():
    df = pd.DataFrame({"method": ["a", "b"], "value": [1.0, 2.0]})
    assert list(P._select(df, [{"method": "A"}])) == [True, False]
    with pytest.raises(KeyError, match=r"\['table'\].*rows.assign"):
        P._select(df, [{"method": "a", "table": "1"}])
