"""Usage: python benchmarks/bench_paper_estimate.py [THREADS]

Estimate the wall time of every notebook at the ``paper`` profile on this CPU, from measured unit costs.

Method (written into the JSON with every number):

1. **Unit costs, measured here** (``THREADS`` torch threads, default 2; median of 3 timed repetitions
   after one warm-up): seconds per training batch (forward + backward + Adam step) of every
   paper-size model at the paper's batch size and input size, seconds per random-forest tree at the
   training-set sizes of papers 0/1, and seconds per EDRL-MEA epoch.
2. **Data costs, measured by the other benchmarks** (``results/benchmarks/*.json``, same machine):
   openSMILE and DeepFilterNet3 real-time factors, the embedded corpus' mean utterance duration.
3. **Counts, from the paper profile** (``serlib/profiles.yaml``) and the notebooks' loops on the
   embedded paper-size corpus (5,500 utterances, 10 speakers; cross-corpus variant 5,500):
   fits x epochs x batches per epoch, forests x trees, utterances x conditions to extract or enhance.
   Every epoch count is the profile's maximum: early stopping (patience) can only shorten a run,
   so the training part is an upper bound for 04 and 05 (patience 10 / 20) and exact for 02 and 03
   (no early stopping). Inference (validation and test predictions) is costed as forward passes at
   one third of a training batch per item.

The estimate ignores process start-up, plotting and the Dask scheduler; it is meant to say whether
a notebook takes minutes, hours or weeks on this CPU, not to the minute. Writes
``results/benchmarks/paper_estimate.json``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from serlib import paths, profiles

THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(THREADS)
BENCH = paths.REPO / "results" / "benchmarks"
N_UTTS, N_SPEAKERS, N_XCORPUS = 5500, 10, 5500
HOUR = 3600.0


def timed(fn, reps: int = 3) -> float:
    """Median seconds of ``reps`` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def train_batch(model: torch.nn.Module, loss) -> float:
    """Seconds of one training step: zero_grad, loss(model), backward, Adam step."""
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss(model).backward()
        opt.step()

    return timed(step)


# --------------------------------------------------------------------------- 1. unit costs
def unit_costs() -> dict[str, float]:
    from serlib.models import densenet_highway as dh
    from serlib.models import joint_asr_ser as J
    from serlib.models import ladder, trnet

    torch.manual_seed(0)
    u: dict[str, float] = {}
    # paper 2: ComParE (6,373) x batch 256; labelled step; the ladders' unlabelled step costs about the same
    x, y = torch.randn(256, 6373), torch.rand(256) * 4 + 1
    for name in ladder.METHODS:
        u[f"02 {name} batch256"] = train_batch(ladder.make_model(name, 6373),
                                               lambda m: ladder.train_step(m, (x, y), torch.device("cpu")))
        print(name, round(u[f"02 {name} batch256"], 3), flush=True)
    # paper 3: SERNet (32..256 filters) and TRNet on 500 x 80 log-mel, batch 32
    spec = {k: torch.randn(32, 500, 80) - 5 for k in ("noisy", "enhanced", "clean")}
    labels = torch.randint(0, 4, (32,))
    u["03 SERNet batch32"] = train_batch(trnet.SERNet(), lambda m: F.cross_entropy(m(spec["clean"]), labels))
    teacher = trnet.SERNet().eval()
    u["03 TRNet batch32"] = train_batch(trnet.make_trnet("trnet", teacher),
                                        lambda m: trnet.train_step(m, {**spec, "y": labels}))
    print("03", u["03 SERNet batch32"], u["03 TRNet batch32"], flush=True)
    # paper 4: paper-size CRDNN encoder (4 x 512 BiLSTM), batch 16 of 2.56 s (256 frames), 30 characters each
    chars = J.char_encoder()
    text = J.load_text_encoder(None, device="cpu")
    items = [(torch.randn(256, 80), list(np.random.default_rng(i).integers(1, 27, 30)), i % 4, i) for i in range(16)]
    batch = J._collate(items)
    for kind in J.KINDS:
        model = J.JointASRSER(kind, J.make_encoder(None, "paper"), n_chars=len(chars), text_dim=text.dim)

        def loss(m, kind=kind):
            log_probs, _, logits = J._forward((text, chars), m, batch, torch.device("cpu"))
            return J._loss(m, batch, log_probs, logits, chars, J.ALPHA)

        u[f"04 {kind} batch16"] = train_batch(model, loss)
        print("04", kind, u[f"04 {kind} batch16"], flush=True)
    # paper 5: the five models at paper size, batch 32 of 256 x 128 segments
    xs, ys = torch.randn(32, 1, 256, 128), torch.randint(0, 4, (32,))
    for name in dh.MODELS:
        u[f"05 {name} batch32"] = train_batch(dh.sized(name, "paper"), lambda m: F.cross_entropy(m(xs), ys))
        print("05", name, u[f"05 {name} batch32"], flush=True)
    # papers 0/1: seconds per random-forest tree (all cores, as the notebooks run them)
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    for n, depths in ((1650, (2, 10, 20, 40)), (4400, (None,))):
        X, yy = rng.normal(size=(n, 88)), rng.integers(0, 2, n)
        for d in depths:
            t = timed(lambda: RandomForestClassifier(n_estimators=40, max_depth=d, n_jobs=-1, random_state=0)
                      .fit(X, yy).predict(X[:400]), reps=1)
            u[f"rf tree n={n} depth={d}"] = t / 40
    # paper 1: EDRL-MEA epochs (1,650 balanced rows of 88 eGeMAPS, batch 32): (3 epochs - 1 epoch) / 2
    from serlib.models.edrl_mea import EDRLMEA

    X, yy = rng.normal(size=(1650, 88)).astype(np.float32), rng.integers(0, 2, 1650)
    Xv, yv = X[:300], yy[:300]
    one = timed(lambda: EDRLMEA(epochs=1, patience=None).fit(X, yy, Xv, yv), reps=1)
    three = timed(lambda: EDRLMEA(epochs=3, patience=None).fit(X, yy, Xv, yv), reps=1)
    u["01 EDRL epoch"] = max((three - one) / 2, 1e-3)
    u["01 EDRL-MEA fixed (MBPLS etc.)"] = max(one - u["01 EDRL epoch"], 0.0)
    return u


# --------------------------------------------------------------------------- 2. data costs
def data_costs() -> dict[str, float]:
    feats = json.loads((BENCH / "features.json").read_text())
    enh = json.loads((BENCH / "enhance.json").read_text())
    diff = json.loads((BENCH / "difficulty.json").read_text())
    xrt = {k["kind"]: k["xrt_all"] for k in feats["kinds"]}
    dur = diff["disk"]["mean_duration_s"]
    return {"mean_duration_s": dur,
            "egemaps_s_per_utt": dur / xrt["egemaps"], "compare_s_per_utt": dur / xrt["compare"],
            "lmfb_s_per_utt": dur / xrt["lmfb"], "spectrogram_s_per_utt": dur / xrt["spectrogram"],
            "deepfilternet3_s_per_utt": dur / enh["speed"]["deepfilternet3/1proc"]["x_real_time"]}


# --------------------------------------------------------------------------- 3. counts per notebook
def rf_grid_trees(grid: dict) -> dict:
    """Trees per depth of one grid search."""
    return {d: sum(grid["n_estimators"]) for d in grid["max_depth"]}


def tree_cost(u: dict, depth: int | None, n: int = 1650) -> float:
    """Seconds per tree at ``depth`` (linear interpolation between the measured depths; deeper = saturated)."""
    if depth is None:
        return u[f"rf tree n={n} depth=None"]
    ds = [2, 10, 20, 40]
    ts = [u[f"rf tree n=1650 depth={d}"] for d in ds]
    return float(np.interp(depth, ds, ts))


def estimate(u: dict, d: dict) -> dict:
    from serlib.models import forest

    spec = {nb: profiles.settings(nb, "paper") for nb in profiles.notebooks()}
    train_share = (N_SPEAKERS - 2) / N_SPEAKERS  # leave-one-speaker-out: 1 test + 1 validation speaker
    out: dict[str, dict] = {}

    def fwd(batch_cost: float, batch: int, items: float) -> float:
        return items * batch_cost / batch / 3

    # 00: eGeMAPS of the corpus clean + 2 noisy conditions; LOSessO forests (300 trees + 2 x 150 regressors)
    s = spec["00_data_tour"]
    out["00_data_tour"] = {
        "features_s": N_UTTS * 3 * d["egemaps_s_per_utt"],
        "training_s": 5 * 3 * (s["trees"] + 2 * s["trees"] // 2) * tree_cost(u, None, 4400),
        "counts": "5,500 x 3 conditions eGeMAPS; 5 folds x 3 conditions x (300 + 2 x 150) trees on 4,400 rows"}
    # 01: eGeMAPS train/val clean + test and cross-corpus x (1 + 5 types x 5 SNRs); per seed x attribute two
    # grid searches (baseline, EDRL-MEA X') and one EDRL-MEA fit of <= 100 epochs
    s = spec["01_edrl_mea"]
    conds = 1 + len(s["noise_types"]) * len(s["snrs"])
    fits = len(s["seeds"]) * 2
    grid = forest.GRIDS[s["grid"]]
    grid_s = sum(n * tree_cost(u, dep) for dep, n in rf_grid_trees(grid).items())
    out["01_edrl_mea"] = {
        "features_s": (0.8 * N_UTTS + (0.2 * N_UTTS + N_XCORPUS) * conds) * d["egemaps_s_per_utt"],
        "training_s": fits * (2 * grid_s + s["epochs"] * u["01 EDRL epoch"] + u["01 EDRL-MEA fixed (MBPLS etc.)"]),
        "counts": f"{fits} fits (10 seeds x 2 attributes), each 2 grid searches of "
                  f"{len(grid['n_estimators']) * len(grid['max_depth']):,} forests "
                  f"({sum(rf_grid_trees(grid).values()):,} trees) + EDRL-MEA <= {s['epochs']} epochs"}
    # 02: ComParE of train/dev/test/unlabelled (+ 3 booth conditions); per trial x attribute: Dense once,
    # LN/DLN/DLN+he per condition; 100 epochs of 11 labelled (+ 11 unlabelled) batches of 256
    s = spec["02_decoupled_ladder"]
    n_lab = N_UTTS // 2
    b = math.ceil(n_lab / s["batch_size"])
    per_trial_att = s["epochs"] * b * (u["02 Dense batch256"] + 2 * len(s["snrs"]) * (
        u["02 LN batch256"] + u["02 DLN batch256"] + u["02 DLN+he batch256"]))
    out["02_decoupled_ladder"] = {
        "features_s": (N_UTTS * 0.7 + 0.2 * N_UTTS * (1 + 2 * len(s["snrs"]))) * d["compare_s_per_utt"],
        "training_s": len(s["seeds"]) * len(s["attributes"]) * per_trial_att,
        "counts": f"{len(s['seeds'])} trials x {len(s['attributes'])} attributes x (1 Dense + 3 models x "
                  f"{len(s['snrs'])} conditions) = {len(s['seeds']) * len(s['attributes']) * (1 + 3 * len(s['snrs']))}"
                  f" fits x {s['epochs']} epochs x {b} labelled batches (the ladders also {b} unlabelled)",
        "paper_updates_note": f"{s['epochs'] * b:,} labelled updates per fit vs the paper's "
                              f"{s['epochs'] * math.ceil(44879 / 256):,} (44,879 / 256 x 100)"}
    # 03: DeepFilterNet3 on every training item (2 copies) and every test utterance x 11 conditions;
    # 3 seeds x 10 folds x 6 systems x 80 epochs (no early stopping)
    s = spec["03_trnet"]
    test_conds = 1 + 2 * len(s["snrs"])
    items = train_share * N_UTTS * s["train_copies"]
    bc = math.ceil(train_share * N_UTTS / s["batch_size"])
    bn = math.ceil(items / s["batch_size"])
    per_fold = s["epochs"] * (bc * u["03 SERNet batch32"] + 2 * bn * u["03 SERNet batch32"]
                              + 3 * bn * u["03 TRNet batch32"])
    val = s["epochs"] * 6 * fwd(u["03 TRNet batch32"], 32, N_UTTS / N_SPEAKERS * s["train_copies"])
    test = 6 * fwd(u["03 TRNet batch32"], 32, N_UTTS / N_SPEAKERS * test_conds)
    runs = len(s["seeds"]) * N_SPEAKERS
    out["03_trnet"] = {
        "features_s": (N_UTTS * s["train_copies"] + N_UTTS * test_conds) * (
            d["deepfilternet3_s_per_utt"] + 2 * d["lmfb_s_per_utt"]),
        "training_s": runs * (per_fold + val + test),
        "counts": f"{runs} seed x fold runs x 6 systems x {s['epochs']} epochs ({bc} batches for Baseline-c, {bn} for "
                  f"the others); {N_UTTS * (s['train_copies'] + test_conds):,} utterances enhanced"}
    # 04: 10 folds x 3 model types x 2 training conditions x <= 60 epochs of 275 batches of 16
    s = spec["04_joint_asr_ser"]
    b = math.ceil(train_share * N_UTTS / s["batch_size"])
    per_fold = 2 * s["epochs"] * b * sum(u[f"04 {k} batch16"] for k in ("asr", "ser", "joint"))
    val = 2 * s["epochs"] * sum(fwd(u[f"04 {k} batch16"], 16, N_UTTS / N_SPEAKERS) for k in ("asr", "ser", "joint"))
    folds = s["folds"] or N_SPEAKERS
    out["04_joint_asr_ser"] = {
        "features_s": N_UTTS * (1 + 2 * len(s["speed_factors"]) + 2 + len(s["noise_types"]) * len(s["snrs"]))
        * d["lmfb_s_per_utt"],
        "training_s": folds * len(s["seeds"]) * (per_fold + val),
        "counts": f"{folds} folds x {len(s['seeds'])} seed x 3 models x 2 training conditions x <= {s['epochs']} "
                  f"epochs x {b} batches (upper bound: patience {s['patience']})"}
    # 05: 10 folds x 10 seeds x (5 models + 4 x 3 augmented) x <= 200 epochs; 1.46 segments per utterance,
    # speed perturbation triples the training set
    s = spec["05_densenet_highway"]
    seg = 1.46
    b1 = math.ceil(train_share * N_UTTS * seg / s["batch_size"])
    b3 = math.ceil(train_share * N_UTTS * seg * (1 + len(s["speed_factors"])) / s["batch_size"])
    cost = {k: u[f"05 {k} batch32"] for k in s["models"]}
    per_fold = s["epochs"] * (sum(b1 * cost[k] for k in s["models"])
                              + sum((b1 + 2 * b3) * cost[k] for k in s["aug_models"]))  # mixup: b1; speed(+mixup): b3
    n_runs = len(s["models"]) + len(s["aug_models"]) * len(s["augmentations"])
    inference = n_runs * fwd(np.mean(list(cost.values())), 32,
                             s["epochs"] * N_UTTS / N_SPEAKERS * seg + N_UTTS / N_SPEAKERS * seg * (1 + len(s["snrs"]))
                             + N_XCORPUS * seg)
    folds = s["folds"] or N_SPEAKERS
    out["05_densenet_highway"] = {
        "features_s": N_UTTS * (1 + len(s["speed_factors"]) + len(s["snrs"])) * d["spectrogram_s_per_utt"],
        "training_s": folds * len(s["seeds"]) * (per_fold + inference),
        "counts": f"{folds} folds x {len(s['seeds'])} seeds x {n_runs} runs x <= {s['epochs']} epochs of {b1} "
                  f"(speed-perturbed: {b3}) batches (upper bound: patience {s['patience']})"}
    # 10: per seed x fold one fit of each method at paper size for <= 100 epochs; DF3 on every test condition
    s = spec["10_robustness_leaderboard"]
    runs = len(s["seeds"]) * N_SPEAKERS
    conds = 1 + len(s["families"]) * len(s["snrs"]) + len(s["room_settings"])
    coarse = sum(n * tree_cost(u, dep) for dep, n in rf_grid_trees(forest.GRIDS[s["grid"]]).items())
    b32 = math.ceil(train_share * N_UTTS / 32)
    per_run = (2 * coarse + s["epochs"] * u["01 EDRL epoch"]
               + len(s["attributes"]) * s["epochs"] * math.ceil(train_share * N_UTTS / 32) * 3 * u["02 LN batch256"] / 8
               + s["epochs"] * b32 * (u["03 SERNet batch32"] + u["03 TRNet batch32"])
               + s["epochs"] * math.ceil(b32 * 1.46) * u["05 proposed batch32"]
               + s["epochs"] * 2 * b32 * u["04 joint batch16"])
    out["10_robustness_leaderboard"] = {
        "features_s": N_UTTS * conds * (d["egemaps_s_per_utt"] + d["compare_s_per_utt"] + d["deepfilternet3_s_per_utt"]),
        "training_s": runs * per_run,
        "counts": f"{runs} seed x fold runs x 9 methods at paper size, <= {s['epochs']} epochs "
                  f"(upper bound: patience {s['patience']}); {conds} test conditions; ladders costed at "
                  "1/8 of a 6,373-d batch of 256 (eGeMAPS inputs, batch 32)"}
    for v in out.values():
        v["total_s"] = v["features_s"] + v["training_s"]
        v["total_h"] = round(v["total_s"] / HOUR, 1)
        v["total_days"] = round(v["total_s"] / HOUR / 24, 1)
        v["features_s"], v["training_s"], v["total_s"] = (round(v[k]) for k in ("features_s", "training_s", "total_s"))
    return out


if __name__ == "__main__":
    t0 = time.perf_counter()
    load0 = os.getloadavg()
    units = unit_costs()
    data = data_costs()
    per_nb = estimate(units, data)
    result = {
        "benchmark": "paper profile wall time on this CPU, estimated from measured unit costs",
        "method": __doc__.split("Method (written into the JSON with every number):")[1].split("The estimate")[0]
        .strip().replace("\n   ", " ").replace("\n", " "),
        "caveat": "an order-of-magnitude estimate: early stopping shortens 04/05/10; feature caches shorten reruns",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "torch_threads": THREADS,
                    "torch": torch.__version__, "loadavg_before": [round(x, 2) for x in load0],
                    "loadavg_after": [round(x, 2) for x in os.getloadavg()]},
        "unit_costs_s": {k: round(v, 4) for k, v in units.items()},
        "data_costs_s": {k: round(v, 4) for k, v in data.items()},
        "data_costs_source": "results/benchmarks/features.json (xrt_all), enhance.json (deepfilternet3/1proc), "
                             "difficulty.json (mean duration)",
        "notebooks": per_nb,
        "total_h": round(sum(v["total_s"] for v in per_nb.values()) / HOUR, 1),
        "seconds_to_measure": round(time.perf_counter() - t0, 1),
    }
    dest = BENCH / "paper_estimate.json"
    dest.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: (v["total_h"], v["counts"]) for k, v in per_nb.items()}, indent=1))
    print("total:", result["total_h"], "h; wrote", dest)
