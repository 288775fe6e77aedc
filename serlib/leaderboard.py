"""Head-to-head robustness leaderboard (notebook 10): one split, one test grid, every method.

Each paper tests on its own corpora, noises and metrics. Here every method is trained on the same
clean training set, selected on the same validation speakers and tested on the same grid:

- :func:`condition_grid`: the shared test conditions (:class:`TestCondition`): clean; every noise
  family at each SNR (one noise type drawn per utterance among the family's types, test-part
  clips: :class:`serlib.noise.RandomCondition`); the simulated booth re-recordings
  (:class:`serlib.noise.room.RoomCondition`, paper 2); the cross-corpus test set; FGSM.
  :func:`resolve_families` says what the families are for the generated bank or a recorded one.
- The split: :func:`serlib.protocols.auto` with the leaderboard's protocol :data:`PAPER_PROTOCOL`
  (leave one session out where the corpus has sessions, leave-k-speakers-out otherwise), every
  fold speaker-independent (asserted there).
- :class:`Inputs`: the features each method reads (``egemaps``, ``spectrogram``, ``lmfb``) per
  manifest part and condition, through the on-disk cache of :func:`serlib.features.extract`.
- Adapters (:data:`METHODS`): ``fit_<method>(X, y, X_val, y_val, *, seed, budget, ...) ->``
  :class:`Fitted`, each a thin wrapper over ``serlib.models`` (see their docstrings for how each
  method was adapted to 4-class categorical SER).
- **Tasks** (:mod:`serlib.experiment`): :func:`tasks` declares one task per method, seed and fold
  (:func:`method_task`: fit + per-utterance predictions on the whole grid; TRNet depends on the
  Baseline-c task of the same fold and seed, its teacher) and :func:`dimensional_tasks` the
  dimensional track (:func:`dimensional_task`). :func:`prepare` extracts every input those tasks
  read before the engine runs them (cached on disk, in ``n_jobs`` processes); :func:`result_rows`
  turns the outputs into tidy result rows, :func:`fits_table` into one row per fit.
- Scores: :func:`snr_auc` (normalised area under the UAR-vs-SNR curve), :func:`auc_frame`,
  :func:`relative_drop`, :func:`rank_groups` and :func:`leaderboard` (the ranked table, computed
  from tidy result rows alone, so the README can rebuild it from
  ``results/10_robustness_leaderboard.csv``).

A **run** is one seed on one fold; runs pair across methods on ``(seed, fold)``.

**Area under the SNR curve.** For a method, run and noise family with scores ``u(s_1..s_k)`` at
SNRs ``s_1 < ... < s_k`` inside ``[lo, hi]`` (default 0-20 dB, both ends required)::

    AUC = 1 / (hi - lo) * sum_i (s_{i+1} - s_i) * (u(s_i) + u(s_{i+1})) / 2

(the trapezoidal rule, normalised by the width), i.e. the mean UAR over the 0-20 dB band: 1 for a
perfect classifier at every SNR, 0.25 for chance with four balanced classes. The overall AUC of a
run (seed x fold) is the mean over families; the leaderboard orders methods by the mean overall AUC
over runs and ranks them in groups of methods that the runs cannot tell apart:

    Methods are ordered by mean AUC. Walking down that order, a method joins the current rank group
    while it is not significantly different from the group's first method (two-sided paired t-test on
    the per-run overall AUC, runs = seed x fold both methods have, 5 % level, Holm-adjusted over that
    first method's comparisons with every method below it); the first method that differs opens the
    next group. A group spanning positions 1 to 3 shows rank "1-3". With fewer than 3 paired runs no
    test is possible, and every method shares one group (:data:`RANK_RULE`).

**Cost.** ``train_seconds``: wall time of the adapter's ``fit`` (training and model selection;
feature extraction excluded, it is cached and shared). ``speed_x_realtime``: seconds of test audio
per second of the model's inference on the clean test inputs (features excluded, so for TRNet the
enhancer is excluded too; its own x-real-time is in ``results/benchmarks``). ``parameters``:
trainable torch parameters; for random forests the number of tree nodes. The two timings are
wall-clock measurements: they differ between reruns (every other result is identical).
"""

from __future__ import annotations

import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from serlib import features, metrics, protocols

__all__ = [
    "FAMILIES", "ROOM_SETTINGS", "SIZES", "METHODS", "CATEGORICAL", "DIMENSIONAL", "PAPER_PROTOCOL", "Budget",
    "TestCondition", "Inputs", "Fitted", "Fold",
    "resolve_families", "condition_grid", "stratified", "fold_data", "fit_forest", "fit_edrl_mea", "fit_ladder",
    "fit_densenet", "fit_sernet", "fit_ladder_ccc", "fit", "check_methods", "predict_grid", "unlabeled_condition",
    "timed_predict", "fit_trnet", "fit_joint", "trnet_loaders", "MethodSpec", "family_types",
    "tasks", "task_grid", "task_fold", "DRY_TRNET", "DRY_TEST", "dimensional_tasks", "method_task", "dimensional_task", "reads", "prepare", "result_rows", "fits_table",
    "run_frame", "reading", "dimensional_figure", "snr_auc", "auc_frame", "relative_drop", "leaderboard", "rank_groups", "RANK_RULE", "N_CLASSES",
    "count_parameters",
]

FAMILIES = ("babble", "music", "stationary", "environmental")
"""The generated noise families of the leaderboard (names in :data:`serlib.noise.NOISE_FAMILIES`)."""

ROOM_SETTINGS = ("A5_B35", "A10_B30", "A15_B25")
"""Paper 2's booth set-ups (nominal 11.06 / 4.34 / 0.15 dB)."""

PAPER_PROTOCOL = "loso_session"
"""The leaderboard's protocol for :func:`serlib.protocols.auto`: one fold per session where the corpus
has sessions that separate speakers (test = one session, validation speakers from the others),
leave-k-speakers-out otherwise (EmoDB, RAVDESS, CREMA-D)."""

SIZES: dict[str, dict[str, Any]] = {
    # ladder networks keep the paper's 2 x 256 units at every size: on 88 eGeMAPS inputs they are cheap
    "tiny": {"densenet": "tiny", "sernet": (4, 8, 8, 16), "frames": 300, "edrl": {"hidden": 16, "n_components": 4}},
    "small": {"densenet": "small", "sernet": (16, 32, 64, 128), "frames": 300,
              "edrl": {"hidden": None, "n_components": 20}},
    "paper": {"densenet": "paper", "sernet": (32, 64, 128, 256), "frames": 500,
              "edrl": {"hidden": None, "n_components": 20}},
}
"""Model widths per ``model_size``: DenseNet widths (:data:`serlib.models.densenet_highway.SIZES`),
SERNet channels and input frames (Baseline-c and TRNet; paper: 500 frames = 5 s; 300 frames cover
most utterances of the embedded corpus, which last 1.5-4 s), EDRL-MEA options (hidden None = the
paper's 2N; MBPLS components: 20, as :class:`serlib.models.edrl_mea.EDRLMEA`'s default, 4 for the
smoke set)."""


# --------------------------------------------------------------------------- test conditions
@dataclass(frozen=True)
class TestCondition:
    """One cell of the test grid.

    ``test_condition``: ``clean`` | ``noisy`` | ``rerecorded`` | ``xcorpus`` | ``fgsm``;
    ``noise_type``: the noise family (noisy) or the booth set-up (rerecorded); ``snr``: dB (noisy:
    the target SNR, rerecorded: the paper's nominal SNR); ``audio``: the audio condition
    (``.key``/``.apply``) applied to the test utterances, None for clean audio.
    """

    test_condition: str
    noise_type: str | None = None
    snr: float | None = None
    audio: Any = None

    @property
    def key(self) -> str:
        """A unique, readable name, e.g. ``noisy-babble-10`` or ``rerecorded-A5_B35``."""
        parts = [self.test_condition] + ([self.noise_type] if self.noise_type else []) + \
            ([f"{self.snr:g}"] if self.snr is not None and self.test_condition == "noisy" else [])
        return "-".join(parts)

    @property
    def columns(self) -> dict[str, Any]:
        """The result-row columns naming this condition."""
        return {"test_condition": self.test_condition, "noise_type": self.noise_type, "snr": self.snr}


def resolve_families(families: Sequence[str] | None, bank: str = "synthetic", root: str | None = None, *,
                     explicit: bool = False) -> tuple[dict[str, list[str]], str]:
    """The leaderboard's noise families as ``{family: [noise types]}`` and one sentence saying why.

    - Generated bank (``synthetic``): names of :data:`serlib.noise.NOISE_FAMILIES` (None: all of
      :data:`FAMILIES`); an unknown name is a ValueError listing them.
    - Recorded bank (``noise_root``, e.g. ESC-10): the bank has types, not families. Names the user
      gave (``explicit``) must be types of the bank, and each becomes a family of its own; the
      profile's generated family names (not explicit) become **one** family named after the bank,
      holding all its types (one type drawn per utterance, as for the generated families with
      several types). A type the bank lacks is a ValueError listing the bank's types.

    Answers from the bank's file list, before any audio is read.
    """
    from serlib.noise import NOISE_FAMILIES, resolve_types

    asked = None if families is None else [families] if isinstance(families, str) else list(families)
    if bank == "synthetic":
        resolve_types(None, bank, root)  # refuses a recorded bank's folder given with the generated bank's name
        names = list(FAMILIES) if asked is None else asked
        unknown = [f for f in names if f not in NOISE_FAMILIES]
        if unknown:
            raise ValueError(f"families: unknown noise families {unknown} of the generated bank; choose from "
                             f"{sorted(NOISE_FAMILIES)} (a recorded bank, -p noise_root DIR, has types instead)")
        return {f: list(NOISE_FAMILIES[f]) for f in names}, f"generated noise families {names}"
    if asked is not None and explicit:
        types, where = resolve_types(asked, bank, root, explicit=True)
        return {t: [t] for t in types}, f"one family per noise type asked for: {where}"
    types, where = resolve_types(None, bank, root)
    label = str(bank)
    if bank == "auto" and root is not None:
        from serlib.noise import detect_layout

        label = detect_layout(root)
    return {label: list(types)}, (f"one family '{label}' drawing one of {where} per utterance (a recorded bank "
                                  "has no babble/music/... families; name its types with -p families to test "
                                  "them one by one)")


def condition_grid(
    snrs: Sequence[float],
    families: Sequence[str] | Mapping[str, Sequence[str]] = FAMILIES,
    room_settings: Sequence[str] = ROOM_SETTINGS,
    *,
    xcorpus: bool = True,
    fgsm: bool = True,
    seed: int = 0,
    bank: str = "synthetic",
    root: str | None = None,
) -> list[TestCondition]:
    """The shared test grid: clean, ``families`` x ``snrs``, ``room_settings``, cross-corpus, FGSM.

    ``families``: names of :data:`serlib.noise.NOISE_FAMILIES` or a mapping ``family -> noise types``
    (for a recorded bank, see :func:`resolve_families`). Each noisy cell draws one type per utterance
    among the family's types (:class:`serlib.noise.RandomCondition` with ``snr_range=(snr, snr)``,
    ``part="test"``), so noise clips never overlap the training part of the bank. The booth
    re-recordings play the generated bank's radio programme (test clips).
    """
    from serlib.noise import NOISE_FAMILIES, RandomCondition
    from serlib.noise.room import RoomCondition

    if isinstance(families, Mapping):
        fam = {str(k): tuple(v) for k, v in families.items()}
    else:
        unknown = [f for f in families if f not in NOISE_FAMILIES]
        if unknown:
            raise ValueError(f"condition_grid: unknown noise families {unknown}; choose from {sorted(NOISE_FAMILIES)} "
                             "or pass a mapping family -> noise types")
        fam = {f: tuple(NOISE_FAMILIES[f]) for f in families}
    snr_list = sorted({float(s) for s in snrs}, reverse=True)
    if not snr_list:
        raise ValueError("condition_grid: snrs is empty; give the test SNRs in dB, e.g. [20, 10, 5, 0]")
    grid = [TestCondition("clean")]
    for name, types in fam.items():
        for s in snr_list:
            cond = RandomCondition(types, (s, s), seed=seed, part="test", bank=bank, root=root)
            grid.append(TestCondition("noisy", name, s, cond))
    for setting in room_settings:
        room = RoomCondition(setting, seed=seed, part="test")
        grid.append(TestCondition("rerecorded", room.setting, round(room.snr_db, 2), room))
    if xcorpus:
        grid.append(TestCondition("xcorpus"))
    if fgsm:
        grid.append(TestCondition("fgsm"))
    keys = [c.key for c in grid]
    if len(set(keys)) != len(keys):
        raise ValueError(f"condition_grid: duplicate conditions in {keys}")
    return grid


def family_types(families: Sequence[str] | Mapping[str, Sequence[str]] = FAMILIES) -> tuple[str, ...]:
    """Every noise type of ``families`` (names of :data:`serlib.noise.NOISE_FAMILIES` or a mapping), once."""
    from serlib.noise import NOISE_FAMILIES

    groups = families.values() if isinstance(families, Mapping) else [NOISE_FAMILIES[f] for f in families]
    return tuple(dict.fromkeys(t for g in groups for t in g))


def unlabeled_condition(families: Sequence[str] | Mapping[str, Sequence[str]] = FAMILIES,
                        snr_range: tuple[float, float] = (0.0, 20.0), *, seed: int = 0, bank: str = "synthetic",
                        root: str | None = None):
    """The ladder networks' unlabelled audio: every family's types, one type and one SNR (uniform in
    ``snr_range``) per utterance, drawn from the **training** clips of the bank."""
    from serlib.noise import RandomCondition

    return RandomCondition(family_types(families), snr_range, seed=seed, part="train", bank=bank, root=root)


# --------------------------------------------------------------------------- data
def stratified(frame: pd.DataFrame, n: int | None, *, by: str = "emotion", seed: int = 0) -> pd.DataFrame:
    """At most ``n`` rows of ``frame``, the same number per ``by`` class (all rows when ``n`` is None)."""
    if n is None or len(frame) <= n:
        return frame
    k = max(1, int(n) // frame[by].nunique())
    keep = [i for _, g in frame.groupby(by) for i in g.sample(n=min(k, len(g)), random_state=seed).index]
    return frame.loc[sorted(keep)]


class Inputs:
    """Features of manifest parts under audio conditions, the last ``keep`` memoised over the disk cache.

    ``inputs(kind, frame, condition)``: ``egemaps`` -> float32 (n, 88) array; ``spectrogram`` /
    ``lmfb`` -> list of (frames, bins) arrays, in ``frame`` order; ``audio`` -> the pair ``(frame,
    condition)`` itself (models that extract their own features). ``loaders[kind] = f(frame,
    condition)`` adds inputs that are not a :func:`serlib.features.extract` kind (e.g. TRNet's
    noisy + enhanced pair).
    """

    def __init__(self, *, n_jobs: int | None = None, device: str | None = None, progress: bool = True,
                 keep: int = 6) -> None:
        self.n_jobs, self.device, self.progress, self.keep = n_jobs, device, progress, keep
        self.loaders: dict[str, Callable[[pd.DataFrame, Any], Any]] = {}
        self._memo: OrderedDict[tuple, Any] = OrderedDict()

    def __call__(self, kind: str, frame: pd.DataFrame, condition: Any = None) -> Any:
        key = (kind, tuple(frame["utt_id"]), "clean" if condition is None else condition.key)
        if key in self._memo:
            self._memo.move_to_end(key)
            return self._memo[key]
        if kind == "audio":  # the model reads the audio itself
            return frame, condition
        if kind in self.loaders:
            out = self.loaders[kind](frame, condition)
        else:
            out = features.extract(frame, kind, condition, n_jobs=self.n_jobs, device=self.device,
                                   progress=self.progress)
            out = out.to_numpy(dtype=np.float32) if isinstance(out, pd.DataFrame) else list(out)
        self._memo[key] = out
        while len(self._memo) > self.keep:  # the disk cache holds everything; keep a few in memory
            self._memo.popitem(last=False)
        return out


@dataclass
class Fold:
    """What one task reads (:func:`fold_data`): the fold's parts, the test grid and the unlabelled set."""

    name: str
    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame
    xtest: pd.DataFrame | None
    grid: list[TestCondition]
    unlabeled: tuple[pd.DataFrame, Any] | None = None
    """``(frame, condition)``: the noisy unlabelled audio of LN/DLN (None for the other methods)."""


def fold_data(config: Mapping[str, Any], manifests: Mapping[str, pd.DataFrame]) -> Fold:
    """The parts of fold ``config["fold"]`` of ``manifests["main"]`` as a task config names them.

    The protocol is rebuilt with :func:`serlib.protocols.auto` from ``config["protocol"]`` (its
    keyword arguments) and the fold picked by name; the test part is subsampled to
    ``config["test_max"]`` utterances (:func:`stratified`, ``config["sample_seed"]``); the
    cross-corpus set is ``manifests["xcorpus"]`` when given; the grid is :func:`condition_grid`
    ``(**config["grid"])``. With ``config["unlabeled"]`` (``{"max", "snr_range"}``) the unlabelled
    set is the fold's training utterances among a fixed subsample of the whole corpus
    (:func:`serlib.corpora.subsample`, ``max`` utterances stratified by speaker and emotion, so
    all folds together read at most ``max`` unlabelled utterances) under
    :func:`unlabeled_condition`.
    """
    from serlib.corpora import subsample

    m = manifests["main"]
    proto = protocols.auto(m, **config["protocol"])
    split = {s.name: s for s in proto.splits}.get(config["fold"])
    if split is None:
        raise ValueError(f"fold {config['fold']!r} is not a fold of {proto.name} on this corpus; its folds are "
                         f"{[s.name for s in proto.splits]}")
    parts = split.frames(m)
    test = stratified(parts["test"], config.get("test_max"), seed=config.get("sample_seed", 0))
    g = dict(config["grid"])
    grid = condition_grid(**g, xcorpus="xcorpus" in manifests, fgsm=True)
    unlabeled = None
    if config.get("unlabeled"):
        u = config["unlabeled"]
        pool = m if u.get("max") is None else subsample(m, int(u["max"]), seed=config.get("sample_seed", 0))
        frame = parts["train"][parts["train"]["utt_id"].isin(set(pool["utt_id"]))]
        cond = unlabeled_condition(g["families"], tuple(u.get("snr_range", (0.0, 20.0))), seed=g.get("seed", 0),
                                   bank=g.get("bank", "synthetic"), root=g.get("root"))
        unlabeled = (frame, cond)
    return Fold(split.name, parts["train"], parts["val"], test, manifests.get("xcorpus"), grid, unlabeled)


# --------------------------------------------------------------------------- adapters
@dataclass
class Budget:
    """Training settings shared by the adapters (profile values)."""

    epochs: int = 20
    patience: int | None = 5
    lr: float = 1e-3
    batch_size: int = 64
    model_size: str = "small"
    grid: str | dict = "coarse"
    device: str | None = None
    n_jobs: int | None = None

    def __post_init__(self) -> None:
        if self.model_size not in SIZES:
            raise ValueError(f"Budget: model_size={self.model_size!r}; choose one of {sorted(SIZES)}")


@dataclass
class Fitted:
    """A trained method: ``predict(inputs) -> labels``; ``fgsm(inputs, labels, eps) -> labels`` for
    models differentiable in their input (else None); cost figures."""

    predict: Callable[[Any], np.ndarray]
    fgsm: Callable[[Any, np.ndarray, float], np.ndarray] | None
    parameters: int
    train_seconds: float = float("nan")
    info: dict = field(default_factory=dict)
    model: Any = None
    history: pd.DataFrame | None = None
    """the training history (one row per epoch, :class:`serlib.training.FitResult`), None for forests"""


def count_parameters(model: Any) -> int:
    """Trainable torch parameters, or the tree nodes of a fitted random forest."""
    if isinstance(model, torch.nn.Module):
        from serlib.models.baselines import n_parameters

        return int(n_parameters(model))
    if hasattr(model, "estimators_"):
        return int(sum(e.tree_.node_count for e in model.estimators_))
    raise TypeError(f"count_parameters: cannot count parameters of {type(model).__name__}")


def _index(y: Sequence, classes: np.ndarray) -> np.ndarray:
    lookup = {c: i for i, c in enumerate(classes)}
    try:
        return np.asarray([lookup[v] for v in np.asarray(y)], dtype=np.int64)
    except KeyError as err:
        raise ValueError(f"label {err.args[0]!r} is not one of the training classes {list(classes)}") from None


def _torch_fit(model, train, *, val_uar, budget: Budget, seed: int, train_step=None, grad_clip=None):
    from serlib import training

    return training.fit(model, train, loss_fn=torch.nn.functional.cross_entropy, train_step=train_step,
                        val_metric=val_uar, epochs=budget.epochs, lr=budget.lr, batch_size=budget.batch_size,
                        patience=budget.patience, lr_patience=None, seed=seed, device=budget.device,
                        grad_clip=grad_clip, progress=False)


def _logits(model, X: np.ndarray, device) -> np.ndarray:
    from serlib import training

    return training.predict(model, np.asarray(X, dtype=np.float32), device=device)


def _fgsm_logits(model, X: np.ndarray, y_idx: np.ndarray, eps: float, device, batch_size: int = 128) -> np.ndarray:
    """Logits of ``model`` on FGSM copies of ``X`` (:func:`serlib.attacks.fgsm`, eps in the units of ``X``)."""
    from serlib import attacks, training

    dev = training.resolve_device(device)
    model.to(dev)
    adv = []
    for i in range(0, len(X), batch_size):
        x = torch.as_tensor(np.asarray(X[i:i + batch_size], dtype=np.float32), device=dev)
        y = torch.as_tensor(y_idx[i:i + batch_size], device=dev)
        adv.append(attacks.fgsm(model, x, y, eps).cpu().numpy())
    return _logits(model, np.concatenate(adv), device)


def fit_forest(X, y, X_val, y_val, *, seed: int, budget: Budget, **_: Any) -> Fitted:
    """eGeMAPS + RF (paper 1's baseline): :func:`serlib.models.forest.fit_grid` on the raw
    functionals, the grid selected on validation macro F1. Not differentiable: no FGSM."""
    from serlib.models import forest

    g = forest.fit_grid(X, np.asarray(y), X_val, np.asarray(y_val), grid=budget.grid, seed=seed, n_jobs=budget.n_jobs)
    return Fitted(g.model.predict, None, count_parameters(g.model), info={"params": g.params})


def fit_edrl_mea(X, y, X_val, y_val, *, seed: int, budget: Budget, **_: Any) -> Fitted:
    """EDRL-MEA generalised to C classes (paper 1): :class:`serlib.models.edrl_mea.EDRLMEA` builds
    one EDRL block per class (4 blocks here; the method is defined per class) and MBPLS over the
    four block outputs; then the same validation-selected forest grid as the baseline reads ``X'``.
    The training rows are not undersampled (every method sees the same training set)."""
    from serlib.models import forest
    from serlib.models.edrl_mea import EDRLMEA

    em = EDRLMEA(**SIZES[budget.model_size]["edrl"], epochs=budget.epochs, patience=budget.patience,
                 seed=seed, device=budget.device).fit(X, np.asarray(y), X_val, np.asarray(y_val))
    g = forest.fit_grid(em.transform(X), np.asarray(y), em.transform(X_val), np.asarray(y_val), grid=budget.grid,
                        seed=seed, n_jobs=budget.n_jobs)
    return Fitted(lambda Z: g.model.predict(em.transform(Z)), None,
                  count_parameters(em.edrl_) + count_parameters(g.model),
                  info={"params": g.params, "epochs": len(em.history_), "best_epoch": em.fit_result_.best_epoch},
                  history=em.history_)


def fit_ladder(X, y, X_val, y_val, *, seed: int, budget: Budget, method: str = "DLN", unlabeled=None,
               **_: Any) -> Fitted:
    """Dense / LN / DLN of paper 2 with a classification output: ``n_outputs = C`` logits and
    cross-entropy in place of ``1 - CCC`` (:func:`serlib.models.ladder.train_step`); the
    reconstruction cost is unchanged. Features are standardised as in paper 2 (robust 0.5-99.5
    percentile statistics of the training set, clipped to +-10). LN and DLN also learn from
    ``unlabeled`` (features of unlabelled noisy audio). Selected on validation UAR."""
    from serlib.models import ladder

    classes = np.unique(y)
    sc = features.Standardizer(robust=True, clip=10.0).fit(X)
    Xs, Xv = sc.transform(X), sc.transform(X_val)
    yi = _index(y, classes)
    model = ladder.make_model(method, Xs.shape[1], n_outputs=len(classes))
    if method in ladder.SEMI_SUPERVISED:
        if unlabeled is None or len(unlabeled) == 0:
            raise ValueError(f"fit_ladder: {method} needs unlabeled features (unlabeled=...)")
        data = ladder.semi_supervised_data((Xs, yi), sc.transform(unlabeled), batch_size=budget.batch_size, seed=seed)
    else:
        data = (Xs, yi)
    dev = budget.device
    val_uar = lambda mdl: metrics.uar(y_val, classes[_logits(mdl, Xv, dev).argmax(1)])  # noqa: E731
    fr = _torch_fit(model, data, val_uar=val_uar, budget=budget, seed=seed, train_step=ladder.train_step)
    m = fr.model
    return Fitted(lambda Z: classes[_logits(m, sc.transform(Z), dev).argmax(1)],
                  lambda Z, yt, eps: classes[_fgsm_logits(m, sc.transform(Z), _index(yt, classes), eps, dev).argmax(1)],
                  count_parameters(m), info={"epochs": len(fr.history), "best_epoch": fr.best_epoch},
                  history=fr.history)


def fit_densenet(S, y, S_val, y_val, *, seed: int, budget: Budget, **_: Any) -> Fitted:
    """DenseNet-LSTM-highway (paper 5, :mod:`serlib.models.densenet_highway`, ``proposed`` at the
    budget's width) on per-bin standardised 256-frame spectrogram segments; utterance posteriors =
    mean of the segment posteriors; selected on validation UAR. No mixup (trained like the others)."""
    from serlib.models import densenet_highway as dh

    classes = np.unique(y)
    seg = lambda seqs: features.segment_stack(seqs, 256)  # noqa: E731
    St, Ot = seg(S)
    sc = features.Standardizer().fit(St)
    Sv, Ov = seg(S_val)
    Sv = sc.transform(Sv)
    yi = _index(y, classes)
    dev = budget.device
    model = dh.sized("proposed", SIZES[budget.model_size]["densenet"], n_classes=len(classes))
    post = lambda mdl, segs, owner: dh.utterance_posteriors(mdl, segs, owner, device=dev)  # noqa: E731
    val_uar = lambda mdl: metrics.uar(y_val, classes[post(mdl, Sv, Ov).argmax(1)])  # noqa: E731
    fr = _torch_fit(model, (sc.transform(St), yi[Ot]), val_uar=val_uar, budget=budget, seed=seed)
    m = fr.model

    def predict(seqs):
        T, O = seg(seqs)
        return classes[post(m, sc.transform(T), O).argmax(1)]

    def fgsm(seqs, yt, eps):
        T, O = seg(seqs)
        adv = dh.attack_segments(m, sc.transform(T), _index(yt, classes)[O], "fgsm", eps, device=dev)
        return classes[post(m, adv, O).argmax(1)]

    return Fitted(predict, fgsm, count_parameters(m), info={"epochs": len(fr.history), "best_epoch": fr.best_epoch},
                  history=fr.history)


class _Unscale(torch.nn.Module):
    """``model(z * std + mean)``: lets FGSM work in training-set standard deviations of a raw input."""

    def __init__(self, model: torch.nn.Module, mean: np.ndarray, std: np.ndarray) -> None:
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z * self.std + self.mean)


def fit_sernet(L, y, L_val, y_val, *, seed: int, budget: Budget, **_: Any) -> Fitted:
    """Baseline-c of paper 3: :func:`serlib.models.trnet.fit_system` ``("Baseline-c")``, a
    :class:`~serlib.models.trnet.SERNet` (channels by budget size) trained on clean 80-d log-mel
    filterbanks tiled/cut to 500 frames, selected on validation UAR. FGSM perturbs the log-mel input
    by ``eps`` training-set standard deviations per mel bin (as for the other models). The trained
    SERNet is ``Fitted.model`` (TRNet's teacher)."""
    from serlib.models import trnet

    classes = np.unique(y)
    n = SIZES[budget.model_size]["frames"]
    stack = lambda seqs: np.stack([trnet.fix_length(np.asarray(s, dtype=np.float32), n) for s in seqs])  # noqa: E731
    Xt = stack(L)
    sc = features.Standardizer().fit(Xt)
    fr = trnet.fit_system("Baseline-c", {"clean": Xt, "y": _index(y, classes)},
                          {"clean": stack(L_val), "y": _index(y_val, classes)}, epochs=budget.epochs, seed=seed,
                          device=budget.device, batch_size=budget.batch_size, lr=budget.lr,
                          channels=SIZES[budget.model_size]["sernet"], patience=budget.patience, n_frames=n)
    m, dev = fr.model, budget.device
    scaled = _Unscale(m, sc.mean_, sc.std_)

    def fgsm(Z, yt, eps):
        return classes[_fgsm_logits(scaled, sc.transform(stack(Z)), _index(yt, classes), eps, dev).argmax(1)]

    return Fitted(lambda Z: classes[trnet.predict_system(m, "Baseline-c", stack(Z), device=dev, n_frames=n).argmax(1)],
                  fgsm,
                  count_parameters(m), info={"epochs": len(fr.history), "best_epoch": fr.best_epoch}, model=m,
                  history=fr.history)


def fit_trnet(T, y, T_val, y_val, *, seed: int, budget: Budget, teacher: Any = None, **_: Any) -> Fitted:
    """TRNet (paper 3): :func:`serlib.models.trnet.fit_system` ``("TRNet")`` on its own recipe's
    training items (``{"clean", "noisy", "enhanced"}`` log-mel triplets from
    :func:`serlib.models.trnet.training_set`: each training utterance clean or mixed at 20-0 dB
    with training-part noise of the grid's families, then enhanced), with ``teacher`` = the
    Baseline-c SERNet of the same seed (trained here when not given). Test inputs are
    ``{"noisy", "enhanced"}`` (:func:`trnet_loaders`). No FGSM: the enhanced input comes from a
    non-differentiable front end."""
    from serlib.models import trnet

    classes = np.unique(y)
    train = {**{k: T[k] for k in ("clean", "noisy", "enhanced")}, "y": _index(y, classes)}
    val = {**{k: T_val[k] for k in ("clean", "noisy", "enhanced")}, "y": _index(y_val, classes)}
    n = SIZES[budget.model_size]["frames"]
    kw = dict(epochs=budget.epochs, seed=seed, device=budget.device, batch_size=budget.batch_size, lr=budget.lr,
              channels=SIZES[budget.model_size]["sernet"], patience=budget.patience, n_frames=n)
    if teacher is None:
        teacher = trnet.fit_system("Baseline-c", train, val, **kw).model
    fr = trnet.fit_system("TRNet", train, val, teacher=teacher, **kw)
    m, dev = fr.model, budget.device

    def predict(P):
        return classes[trnet.predict_system(m, "TRNet", P["noisy"], P["enhanced"], device=dev, n_frames=n).argmax(1)]

    return Fitted(predict, None, count_parameters(m), info={"epochs": len(fr.history), "best_epoch": fr.best_epoch},
                  model=m, history=fr.history)


def trnet_loaders(enhancer: str, noise_types: Sequence[str], *, n_frames: int = 500, seed: int = 0,
                  bank: str = "synthetic", root: str | None = None, n_jobs: int | None = None) -> dict[str, Callable]:
    """:class:`Inputs` loaders for TRNet: ``trnet`` (test: noisy + enhanced log-mel of a part under a
    condition, :func:`serlib.models.trnet.spectrograms`) and ``trnet-train`` (training items,
    :func:`serlib.models.trnet.training_set` with ``noise_types`` from the training clips)."""
    from serlib.models import trnet

    def test(frame, cond):
        return trnet.spectrograms(frame, {"x": cond}, enhancer, n_jobs=n_jobs, n_frames=n_frames)["x"]

    def train(frame, cond):
        if cond is not None:
            raise ValueError("trnet-train draws its own training conditions; call it with condition=None")
        return trnet.training_set(frame, sorted(frame["emotion"].unique()), noise_types=noise_types, seed=seed,
                                  bank=bank, root=root, enhancer=enhancer, n_jobs=n_jobs, n_frames=n_frames)

    return {"trnet": test, "trnet-train": train}


def fit_joint(F, y, F_val, y_val, *, seed: int, budget: Budget, **_: Any) -> Fitted:
    """Joint ASR-SER (paper 4): :func:`serlib.models.joint_asr_ser.fit` ``("joint")`` on the clean
    training audio (inputs are ``(manifest, condition)`` pairs; the model extracts its own
    features), the compact encoder at the budget's size, selected on validation (mean of UAR and
    1 - WER, the module's rule). Speed perturbation is switched off (``speed_factors=(1.0,)``) so
    that it trains on the same data as every other method. No FGSM (greedy decoding and the
    sentence encoder sit between the input and the SER output)."""
    from serlib.models import joint_asr_ser as ja

    (tr, cond), (va, cond_val) = F, F_val
    if cond is not None or cond_val is not None:
        raise ValueError("fit_joint trains on clean audio; pass (manifest, None) pairs")
    if not (np.array_equal(tr["emotion"].to_numpy(), np.asarray(y))
            and np.array_equal(va["emotion"].to_numpy(), np.asarray(y_val))):
        raise ValueError("fit_joint: the labels must be the manifests' emotion columns")
    t = ja.fit("joint", tr, va, epochs=budget.epochs, seed=seed, device=budget.device, batch_size=budget.batch_size,
               lr=budget.lr, patience=budget.patience, encoder_size=budget.model_size, speed_factors=(1.0,),
               n_jobs=budget.n_jobs, progress=False)

    def predict(P):
        frame, c = P
        return ja.predict(t, frame, c, device=budget.device, n_jobs=budget.n_jobs)["pred"].to_numpy()

    return Fitted(predict, None, count_parameters(t.model), info={"epochs": len(t.history),
                                                                  "best_epoch": t.best_epoch}, model=t,
                  history=t.history if isinstance(t.history, pd.DataFrame) else None)


@dataclass(frozen=True)
class MethodSpec:
    """How the leaderboard runs one method: the features it reads and its adapter."""

    kind: str
    fit: Callable[..., Fitted]
    options: dict = field(default_factory=dict)
    paper: str = ""
    train_kind: str | None = None
    """the inputs of the training and validation parts, when they differ from the test inputs"""
    no_fgsm: str = ""
    """why FGSM does not apply (empty when it does)"""

    @property
    def train_inputs(self) -> str:
        return self.train_kind or self.kind


METHODS: dict[str, MethodSpec] = {
    "eGeMAPS + RF": MethodSpec("egemaps", fit_forest, paper="1 (baseline)", no_fgsm="random forest: no gradient"),
    "EDRL-MEA": MethodSpec("egemaps", fit_edrl_mea, paper="1", no_fgsm="random forest on X': no gradient"),
    "Dense": MethodSpec("egemaps", fit_ladder, {"method": "Dense"}, paper="2 (baseline)"),
    "LN": MethodSpec("egemaps", fit_ladder, {"method": "LN"}, paper="2"),
    "DLN": MethodSpec("egemaps", fit_ladder, {"method": "DLN"}, paper="2"),
    "Baseline-c": MethodSpec("lmfb", fit_sernet, paper="3 (baseline)"),
    "TRNet": MethodSpec("trnet", fit_trnet, paper="3", train_kind="trnet-train",
                        no_fgsm="the enhancer in front is not differentiable"),
    "Joint ASR-SER": MethodSpec("audio", fit_joint, paper="4",
                                no_fgsm="greedy ASR decoding + sentence encoder inside: no gradient path"),
    "DenseNet-LSTM-highway": MethodSpec("spectrogram", fit_densenet, paper="5"),
}
"""Method name (as in the papers) -> :class:`MethodSpec`. ``trnet`` inputs need
:func:`trnet_loaders` in :class:`Inputs`; ``audio`` inputs are ``(manifest, condition)`` pairs."""

CATEGORICAL = tuple(METHODS)


def check_methods(names: Sequence[str]) -> list[str]:
    """``names`` as a list if every one is in :data:`METHODS`, else a ValueError naming the knob."""
    unknown = [n for n in names if n not in METHODS]
    if unknown:
        raise ValueError(f"methods: unknown {unknown}; choose from {list(METHODS)} (-p methods '[...]')")
    return list(names)


def fit(name: str, train_inputs, y, val_inputs, y_val, *, seed: int, budget: Budget, **extra: Any) -> Fitted:
    """Fit method ``name`` of :data:`METHODS` and time it (``Fitted.train_seconds``)."""
    if name not in METHODS:
        raise ValueError(f"unknown leaderboard method {name!r}; choose from {list(METHODS)}")
    spec = METHODS[name]
    t0 = time.perf_counter()
    fitted = spec.fit(train_inputs, np.asarray(y), val_inputs, np.asarray(y_val), seed=seed, budget=budget,
                      **spec.options, **extra)
    fitted.train_seconds = time.perf_counter() - t0
    return fitted


def timed_predict(fitted: Fitted, inputs) -> tuple[np.ndarray, float]:
    """``(predictions, seconds)`` of ``fitted.predict(inputs)``."""
    t0 = time.perf_counter()
    pred = fitted.predict(inputs)
    return np.asarray(pred), time.perf_counter() - t0


def fit_ladder_ccc(X, y, X_val, y_val, *, seed: int, budget: Budget, method: str = "DLN", unlabeled=None,
                   **_: Any) -> Fitted:
    """Paper 2 as published, for the dimensional track: one regressor per attribute trained with
    ``1 - CCC`` + reconstruction (:func:`serlib.models.ladder.train_model`), selected on validation
    CCC; standardised as :func:`fit_ladder`. ``predict`` returns the continuous ratings."""
    from serlib import training
    from serlib.models import ladder

    sc = features.Standardizer(robust=True, clip=10.0).fit(X)
    Xu = None if unlabeled is None else sc.transform(unlabeled)
    fr = ladder.train_model(method, sc.transform(X), np.asarray(y, dtype=np.float32), sc.transform(X_val),
                            np.asarray(y_val, dtype=np.float32), Xu, epochs=budget.epochs, lr=budget.lr,
                            batch_size=budget.batch_size, seed=seed, device=budget.device, patience=budget.patience)
    m = fr.model
    return Fitted(lambda Z: training.predict(m, sc.transform(Z), device=budget.device).reshape(-1), None,
                  count_parameters(m), info={"epochs": len(fr.history), "best_epoch": fr.best_epoch},
                  history=fr.history)


def predict_grid(fitted: Fitted, kind: str, grid: Sequence[TestCondition], inputs: Inputs, test: pd.DataFrame,
                 xtest: pd.DataFrame | None = None, *, target: str = "emotion",
                 eps: float = 0.08) -> tuple[pd.DataFrame, float]:
    """Per-utterance predictions of ``fitted`` on every cell of ``grid``, and the inference seconds
    on the clean test inputs (NaN when the grid has no clean cell).

    One row per utterance and cell: ``utt_id, test_condition, noise_type, snr, y_true, y_pred``.
    ``test``: the test speakers' manifest (audio conditions are applied to it); ``xtest``: the
    cross-corpus manifest (its cell is skipped without one); FGSM attacks the clean test inputs
    with ``eps`` (in the units of the model's standardised input) and is skipped for models
    without gradients. ``target``: the manifest column holding the truth."""
    frames, secs = [], float("nan")
    for cond in grid:
        who = test
        if cond.test_condition == "fgsm":
            if fitted.fgsm is None:
                continue
            pred = fitted.fgsm(inputs(kind, test), test[target].to_numpy(), eps)
        elif cond.test_condition == "xcorpus":
            if xtest is None:
                continue
            who, pred = xtest, fitted.predict(inputs(kind, xtest))
        else:
            pred, s = timed_predict(fitted, inputs(kind, test, cond.audio))
            secs = s if cond.test_condition == "clean" else secs
        snr = np.nan if cond.snr is None else float(cond.snr)
        frames.append(pd.DataFrame({"utt_id": who["utt_id"].to_numpy(), "test_condition": cond.test_condition,
                                    "noise_type": cond.noise_type, "snr": snr, "y_true": who[target].to_numpy(),
                                    "y_pred": np.asarray(pred)}))
    if not frames:
        raise ValueError("predict_grid: no cell of the grid applies to this model")
    return pd.concat(frames, ignore_index=True), secs


# --------------------------------------------------------------------------- tasks (serlib.experiment)
DIMENSIONAL = ("Dense", "LN", "DLN", "paper 1")
"""Systems of the dimensional track: paper 2's ladder networks as published (regressors, CCC; they
need continuous ratings) and ``"paper 1"`` = :func:`serlib.models.edrl_mea.fit_systems` (paper 1's
eGeMAPS + RF and EDRL-MEA with its undersampling, binary high/low macro F1)."""

_PAPER1 = {"Baseline": "eGeMAPS + RF", "EDRL-MEA": "EDRL-MEA"}
_SEMI = ("LN", "DLN")
_TASK = "serlib.leaderboard:"


def _common(cfg: Mapping[str, Any], fold: str, seed: int, families: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The config every task of a run shares: run, protocol, test subsample, grid, budget, dry."""
    from serlib import profiles

    corpus_seed = int(cfg.get("seed") or 0)
    return {
        "seed": int(seed), "fold": str(fold),
        "protocol": {"paper": PAPER_PROTOCOL, "protocol": cfg.get("protocol") or "auto", "seed": corpus_seed},
        "test_max": _test_max(cfg.get("test_max")), "sample_seed": corpus_seed,
        "grid": {"snrs": [float(s) for s in cfg["snrs"]], "families": {str(k): list(v) for k, v in families.items()},
                 "room_settings": list(cfg.get("room_settings") or []), "seed": corpus_seed,
                 "bank": cfg.get("noise") or "synthetic", "root": cfg.get("noise_root")},
        "budget": {k: cfg.get(k) for k in ("epochs", "patience", "lr", "batch_size", "model_size", "grid")},
        "dry": profiles.is_dry(),
    }


def _test_max(n: int | None) -> int | None:
    """``test_max``, at most :data:`DRY_TEST` in a dry run."""
    from serlib import profiles

    return (DRY_TEST if n is None else min(int(n), DRY_TEST)) if profiles.is_dry() else n


def _unlabeled(cfg: Mapping[str, Any]) -> dict[str, Any]:
    return {"max": cfg.get("unlabeled_max"), "snr_range": [0.0, 20.0]}


def _method_task(name: str, common: dict[str, Any], cfg: Mapping[str, Any]):
    from serlib.experiment import Task

    config: dict[str, Any] = {"track": "categorical", "method": name, **common}
    if not METHODS[name].no_fgsm:
        config["eps"] = float(cfg["eps"])
    if name in _SEMI:
        config["unlabeled"] = _unlabeled(cfg)
    if name == "TRNet":
        config["enhancer"] = cfg["enhancer"]
    deps = {"teacher": _method_task("Baseline-c", common, cfg)} if name == "TRNet" else {}
    return Task(_TASK + "method_task", config, deps=deps)


def tasks(cfg: Mapping[str, Any], proto: protocols.Protocol, families: Mapping[str, Sequence[str]],
          methods: Sequence[str] | None = None) -> list:
    """The categorical leaderboard's tasks: one :func:`method_task` per fold of ``proto``, seed of
    ``cfg.seeds`` and method (``methods`` or ``cfg.methods``), in that order.

    ``cfg``: the notebook's settings (``snrs, room_settings, seed, noise, noise_root, test_max, eps,
    enhancer, unlabeled_max, epochs, patience, lr, batch_size, model_size, grid, protocol``);
    ``families``: :func:`resolve_families`' mapping. A TRNet task depends on the Baseline-c task
    of the same fold and seed (its teacher; the engine runs an identical task once)."""
    names = check_methods(cfg["methods"] if methods is None else methods)
    return [_method_task(n, _common(cfg, split.name, s, families), cfg)
            for split in proto.splits for s in cfg["seeds"] for n in names]


def dimensional_tasks(cfg: Mapping[str, Any], proto: protocols.Protocol, families: Mapping[str, Sequence[str]],
                      attributes: Sequence[str], *, ratings: bool = True) -> list:
    """The dimensional track's tasks: one :func:`dimensional_task` per fold, seed, attribute and
    system of :data:`DIMENSIONAL` (without ``ratings``, only ``"paper 1"``: binary labels can come
    from the categories, CCC regression cannot)."""
    from serlib.experiment import Task

    systems = [s for s in DIMENSIONAL if ratings or s == "paper 1"]
    out = []
    for split in proto.splits:
        for seed in cfg["seeds"]:
            for att in attributes:
                for name in systems:
                    config = {"track": "dimensional", "method": name, "attribute": str(att),
                              **_common(cfg, split.name, seed, families)}
                    if name in _SEMI:
                        config["unlabeled"] = _unlabeled(cfg)
                    out.append(Task(_TASK + "dimensional_task", config))
    return out


DRY_TEST = 8
"""Dry runs: at most this many test utterances per fold (every method reads them under each of the
paper grid's 25 cells, with three feature kinds)."""
DRY_TRNET = {"train": 8, "val": 4, "test": 4}
"""Dry runs: at most this many utterances (stratified by emotion) in a TRNet task's training,
validation and test parts (:func:`task_fold`)."""


def task_grid(config: Mapping[str, Any], grid: Sequence[TestCondition]) -> list[TestCondition]:
    """The cells of ``grid`` a task evaluates: all of them, except for a dry TRNet task
    (``config["dry"]``): the clean cell and the first family's noisy cells at its lowest and
    highest SNR (the ends of the AUC)."""
    if not (config.get("dry") and config.get("method") == "TRNet"):
        return list(grid)
    noisy = [c for c in grid if c.test_condition == "noisy"]
    first = [c for c in noisy if c.noise_type == noisy[0].noise_type] if noisy else []
    ends = {min(c.snr for c in first), max(c.snr for c in first)} if first else set()
    return [c for c in grid if c.test_condition == "clean" or (c in first and c.snr in ends)]


def task_fold(config: Mapping[str, Any], manifests: Mapping[str, pd.DataFrame]) -> Fold:
    """:func:`fold_data` as the task of ``config`` uses it. A dry TRNet task (``config["dry"]``)
    keeps :data:`DRY_TRNET` utterances per part and :func:`task_grid`'s cells: every TRNet input is
    enhanced (0.7 s per utterance with DeepFilterNet3 on one core; the paper grid has 25 cells), which
    would dominate a dry run, while the enhancer, the noisy training set and the model still run as
    in the paper profile."""
    from dataclasses import replace

    fold = fold_data(config, manifests)
    if not (config.get("dry") and config.get("method") == "TRNet"):
        return fold
    seed = config.get("sample_seed", 0)
    return replace(fold, **{part: stratified(getattr(fold, part), n, seed=seed) for part, n in DRY_TRNET.items()},
                   xtest=None, grid=task_grid(config, fold.grid))


def _budget(config: Mapping[str, Any], device: str | None) -> Budget:
    return Budget(**config["budget"], device=device, n_jobs=1)


def _inputs(config: Mapping[str, Any], device: str | None, n_jobs: int | None = 1, progress: bool = False) -> Inputs:
    """:class:`Inputs` for a task (TRNet's loaders when its method needs them)."""
    inputs = Inputs(n_jobs=n_jobs, device=device, progress=progress)
    if config.get("method") == "TRNet":
        g = config["grid"]
        inputs.loaders.update(trnet_loaders(config["enhancer"], family_types(g["families"]), seed=g["seed"],
                                            bank=g["bank"], root=g["root"], n_jobs=n_jobs,
                                            n_frames=SIZES[config["budget"]["model_size"]]["frames"]))
    return inputs


def _teacher(dep) -> torch.nn.Module:
    """The Baseline-c SERNet of a finished :func:`method_task` (TRNet's teacher)."""
    from serlib.models.trnet import SERNet

    net = SERNet(**dep.meta["sernet"])
    net.load_state_dict(dep.load_weights())
    return net


_NEEDS_EVERY_VAL_CLASS = ("EDRL-MEA", "paper 1")
"""EDRL-MEA stops each class block on that class's validation loss: a class missing from the
validation speakers leaves it undefined (tiny subsamples of real corpora, e.g. EmoDB on ``smoke``)."""


def _skip(name: str, y: pd.Series, y_val: pd.Series, fold: str):
    """A TaskOutput saying why ``name`` cannot be fitted on this fold (None when it can)."""
    from serlib.experiment import TaskOutput

    missing = sorted(set(map(str, y)) - set(map(str, y_val)))
    if name not in _NEEDS_EVERY_VAL_CLASS or not missing:
        return None
    why = (f"{name} skipped on fold {fold}: its validation speakers have no utterance of class(es) {missing}, so "
           "EDRL's per-class early stopping is undefined (a larger corpus_size gives every class validation data)")
    return TaskOutput(predictions=None, meta={"method": name, "skipped": why})


def _fit_meta(fitted: Fitted) -> dict[str, Any]:
    return {"parameters": int(fitted.parameters), "train_seconds": float(fitted.train_seconds),
            **{k: int(fitted.info[k]) for k in ("epochs", "best_epoch") if k in fitted.info},
            **({"params": fitted.info["params"]} if "params" in fitted.info else {})}


def method_task(config: dict[str, Any], ctx):
    """One method, seed and fold of the categorical leaderboard (a :mod:`serlib.experiment` task).

    Fits ``config["method"]`` (:func:`fit`) on the fold's clean training speakers, selected on its
    validation speakers, and predicts every cell of the grid (:func:`predict_grid`, the test part
    subsampled as :func:`fold_data` says). Returns per-utterance predictions, the training history
    and ``meta`` (``parameters``, ``train_seconds``, ``speed_x_realtime``, ``epochs``,
    ``best_epoch``); a Baseline-c task also stores its weights (TRNet's teacher,
    ``ctx.deps["teacher"]``). Features come from the cache (:func:`prepare` them first)."""
    from serlib.experiment import TaskOutput

    name = check_methods([config["method"]])[0]
    spec = METHODS[name]
    fold = task_fold(config, ctx.manifests)
    skipped = _skip(name, fold.train["emotion"], fold.val["emotion"], fold.name)
    if skipped is not None:
        return skipped
    budget, inputs = _budget(config, ctx.device), _inputs(config, ctx.device)
    extra: dict[str, Any] = {}
    if name in _SEMI:
        extra["unlabeled"] = inputs("egemaps", *fold.unlabeled)
    if name == "TRNet":
        extra["teacher"] = _teacher(ctx.deps["teacher"])
    fitted = fit(name, inputs(spec.train_inputs, fold.train), fold.train["emotion"], inputs(spec.train_inputs, fold.val),
                 fold.val["emotion"], seed=config["seed"], budget=budget, **extra)
    preds, secs = predict_grid(fitted, spec.kind, fold.grid, inputs, fold.test, fold.xtest, eps=config.get("eps", 0.0))
    meta = {"method": name, **_fit_meta(fitted), "speed_x_realtime": float(fold.test["duration"].sum()) / max(secs, 1e-9)}
    weights = None
    if name == "Baseline-c":
        meta["sernet"] = dict(fitted.model.config)
        weights = fitted.model.state_dict()
    return TaskOutput(predictions=preds, history=fitted.history, meta=meta, weights=weights)


def dimensional_task(config: dict[str, Any], ctx):
    """One system of the dimensional track (:data:`DIMENSIONAL`), attribute, seed and fold (a task).

    Dense / LN / DLN: :func:`fit_ladder_ccc` on the continuous ``config["attribute"]`` ratings,
    predictions = the regression output (``y_pred``); ``"paper 1"``:
    :func:`serlib.models.edrl_mea.fit_systems` on binary high/low labels
    (:func:`serlib.corpora.binary_av`: ratings >= 2.5 on 1-5, or the paper's category mapping),
    predictions of both systems with a ``system`` column. Cells: clean, noisy and re-recorded."""
    from serlib import corpora
    from serlib.experiment import TaskOutput
    from serlib.models.edrl_mea import fit_systems

    name, att = config["method"], config["attribute"]
    if name not in DIMENSIONAL:
        raise ValueError(f"dimensional_task: unknown system {name!r}; choose from {list(DIMENSIONAL)}")
    fold = fold_data(config, ctx.manifests)
    grid = [c for c in fold.grid if c.test_condition in ("clean", "noisy", "rerecorded")]
    budget, inputs = _budget(config, ctx.device), _inputs(config, ctx.device)
    X, Xv = inputs("egemaps", fold.train), inputs("egemaps", fold.val)
    if name == "paper 1":
        tr, va, te = (corpora.binary_av(p) for p in (fold.train, fold.val, fold.test))
        col = f"{att}_bin"
        skipped = _skip(name, tr[col], va[col], fold.name)
        if skipped is not None:
            return skipped
        sysm = fit_systems(X, tr[col].to_numpy(), Xv, va[col].to_numpy(), grid=budget.grid, seed=config["seed"],
                           n_jobs=1, epochs=budget.epochs, patience=budget.patience, device=ctx.device,
                           **SIZES[budget.model_size]["edrl"])
        preds = pd.concat([predict_grid(Fitted(lambda Z, s=s: sysm.predict(Z)[s], None, 0), "egemaps", grid, inputs, te,
                                        target=col)[0].assign(system=label) for s, label in _PAPER1.items()],
                          ignore_index=True)
        em = sysm.edrl_mea
        return TaskOutput(predictions=preds, history=em.history_,
                          meta={"epochs": len(em.history_), "best_epoch": int(em.fit_result_.best_epoch),
                                "n_train": int(sysm.n_train)})
    unl = inputs("egemaps", *fold.unlabeled) if fold.unlabeled is not None else None
    fitted = fit_ladder_ccc(X, fold.train[att], Xv, fold.val[att], seed=config["seed"], budget=budget, method=name,
                            unlabeled=unl)
    preds, _ = predict_grid(fitted, "egemaps", grid, inputs, fold.test, target=att)
    return TaskOutput(predictions=preds, history=fitted.history, meta={"method": name, **_fit_meta(fitted)})


def reads(config: Mapping[str, Any], manifests: Mapping[str, pd.DataFrame]) -> list[tuple[str, pd.DataFrame, Any]]:
    """What the task of ``config`` reads: ``(kind, frame, condition)`` triples (``kind`` as in
    :class:`Inputs`: a feature kind, ``trnet``, ``trnet-train`` or ``audio``)."""
    fold = task_fold(config, manifests)
    if config["track"] == "dimensional":
        kind = train_kind = "egemaps"
        grid = [c for c in fold.grid if c.test_condition in ("clean", "noisy", "rerecorded")]
    else:
        spec = METHODS[config["method"]]
        kind, train_kind, grid = spec.kind, spec.train_inputs, fold.grid
    out = [(train_kind, fold.train, None), (train_kind, fold.val, None)]
    for c in grid:
        if c.test_condition == "xcorpus":
            if fold.xtest is not None:
                out.append((kind, fold.xtest, None))
        elif c.test_condition != "fgsm":  # FGSM reads the clean test inputs
            out.append((kind, fold.test, c.audio))
    if fold.unlabeled is not None:
        out.append(("egemaps", *fold.unlabeled))
    return out


def _all_tasks(task_list: Sequence) -> list:
    seen: dict[int, Any] = {}
    stack = list(task_list)
    while stack:
        t = stack.pop()
        if id(t) not in seen:
            seen[id(t)] = t
            stack += list(t.deps.values())
    return list(seen.values())


def prepare(task_list: Sequence, manifests: Mapping[str, pd.DataFrame], *, n_jobs: int | None = None,
            device: str | None = None, progress: bool = True) -> pd.DataFrame:
    """Extract (into the on-disk cache) every input the tasks and their dependencies read, before
    :meth:`serlib.experiment.Experiment.run`, one :func:`serlib.features.extract` call per feature
    kind and condition over the union of the utterances that need it (``n_jobs`` processes), and
    all of TRNet's enhanced audio in one pool.

    Returns one row per kind and condition: ``inputs, condition, utterances, seconds`` (wall time;
    a rerun reads the cache and takes a fraction of a second per row)."""
    from serlib.progress import bar

    wanted: dict[tuple[str, str], tuple[Any, list[pd.DataFrame], Mapping[str, Any]]] = {}
    for t in _all_tasks(task_list):
        for kind, frame, cond in reads(t.config, manifests):
            kind = "lmfb" if kind == "audio" else kind  # the joint model reads cached log-mel filterbanks
            key = "clean" if cond is None else cond.key
            wanted.setdefault((kind, key), (cond, [], t.config))[1].append(frame)
    order = sorted(wanted, key=lambda k: (k[0] != "trnet", k[0]))  # TRNet's enhancement first: one pool
    rows = []
    with bar(total=len(order), desc="features", disable=not progress) as pbar:
        trnet = [(wanted[k][0], _union(wanted[k][1])) for k in order if k[0] == "trnet"]
        if trnet:
            t0 = time.perf_counter()
            cfg = next(wanted[k][2] for k in order if k[0] == "trnet")
            _prepare_trnet(trnet, cfg["enhancer"], n_jobs=n_jobs, device=device)
            for (cond, frame), k in zip(trnet, [k for k in order if k[0] == "trnet"]):
                rows.append({"inputs": "trnet (enhanced + log-mel)", "condition": k[1], "utterances": len(frame),
                             "seconds": (time.perf_counter() - t0) / len(trnet)})
            pbar.update(len(trnet))
        for k in order:
            if k[0] == "trnet":
                continue
            cond, frames, config = wanted[k]
            frame = _union(frames)
            t0 = time.perf_counter()
            if k[0] == "trnet-train":
                _inputs(config, device, n_jobs=n_jobs)("trnet-train", frame)
            else:
                features.extract(frame, k[0], cond, n_jobs=n_jobs, device=device, progress=False)
            rows.append({"inputs": k[0], "condition": k[1], "utterances": len(frame),
                         "seconds": time.perf_counter() - t0})
            pbar.update()
    return pd.DataFrame(rows, columns=["inputs", "condition", "utterances", "seconds"])


def _union(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat(frames).drop_duplicates("utt_id").reset_index(drop=True)


def _prepare_trnet(items: Sequence[tuple[Any, pd.DataFrame]], enhancer: str, *, n_jobs: int | None,
                   device: str | None) -> None:
    """TRNet's test inputs: the enhanced audio of every (condition, frame) in one pool, then the
    log-mel filterbanks of the noisy and the enhanced audio."""
    from serlib import enhance

    enh = [(frame, enhance.EnhancedCondition(cond, enhancer)) for cond, frame in items]
    jobs = [(todo, e) for frame, e in enh if len(todo := enhance.missing(frame, "lmfb", e))]
    if jobs:
        enhance.render(jobs, n_jobs=n_jobs, progress=False)
    for (cond, frame), (_, e) in zip(items, enh):
        features.extract(frame, "lmfb", cond, n_jobs=n_jobs, device=device, progress=False)
        features.extract(frame, "lmfb", e, n_jobs=n_jobs, device=device, progress=False)


def result_rows(outputs: Sequence) -> pd.DataFrame:
    """Tidy result rows from task outputs (:func:`method_task`, :func:`dimensional_task`).

    Columns ``method, metric, value, seed, fold, test_condition, noise_type, snr`` (+ ``attribute,
    table`` for the dimensional track): UAR per cell (categorical), CCC (ladder regressors) or
    binary macro F1 over the labels {0, 1} (paper 1's systems) per cell, computed from the stored
    per-utterance predictions; and per categorical fit the cost rows ``train_seconds``,
    ``speed_x_realtime``, ``parameters`` (``test_condition = "cost"``). Failed tasks (None) are
    skipped."""
    cond = ["test_condition", "noise_type", "snr"]
    rows: list[dict[str, Any]] = []
    for out in outputs:
        if out is None or out.predictions is None:  # failed, or skipped (fits_table says why)
            continue
        c, p = out.config, out.predictions
        run = {"seed": int(c["seed"]), "fold": c["fold"]}
        extra: dict[str, Any] = {}
        if c["track"] == "categorical":
            metric, score = "uar", metrics.uar
        else:
            extra = {"attribute": c["attribute"], "table": "dimensional"}
            if c["method"] == "paper 1":
                metric, score = "macro_f1", (lambda t, y: metrics.macro_f1(t, y, labels=[0, 1]))
            else:
                metric, score = "ccc", metrics.ccc
        by = (["system"] if "system" in p.columns else []) + cond
        for key, g in p.groupby(by, dropna=False, sort=False):
            where = dict(zip(by, key))
            method = where.pop("system", c["method"])
            rows.append({"method": method, "metric": metric, **run, **where, **extra,
                         "value": float(score(g["y_true"].to_numpy(), g["y_pred"].to_numpy()))})
        if c["track"] == "categorical":  # cost rows
            for cost in ("train_seconds", "speed_x_realtime", "parameters"):
                rows.append({"method": c["method"], "metric": cost, **run, "test_condition": "cost",
                             "noise_type": None, "snr": np.nan, "value": float(out.meta[cost])})
    df = pd.DataFrame(rows)
    df["snr"] = pd.to_numeric(df["snr"], errors="coerce")
    df["noise_type"] = df["noise_type"].astype(object).where(df["noise_type"].notna(), None)
    return df


def fits_table(outputs: Sequence) -> pd.DataFrame:
    """One row per fit: ``track, method, attribute, seed, fold, epochs, best_epoch, early_stop`` (the
    best epoch came before the last, so early stopping, not the epoch cap, ended the training; NA for
    forests), ``seconds`` (the task: fit + predictions on the grid), ``cached`` and ``skipped`` (why
    a fit could not run on its fold, else None)."""
    rows = []
    for out in outputs:
        if out is None:
            continue
        c, meta = out.config, out.meta
        epochs, best = meta.get("epochs"), meta.get("best_epoch")
        rows.append({"track": c["track"], "method": c["method"], "attribute": c.get("attribute"), "seed": c["seed"],
                     "fold": c["fold"], "epochs": epochs, "best_epoch": best,
                     "early_stop": pd.NA if epochs is None or best is None else bool(best < epochs),
                     "seconds": out.record.get("seconds", np.nan), "cached": out.cached,
                     "skipped": meta.get("skipped")})
    return pd.DataFrame(rows)


def reading(df: pd.DataFrame, fits: pd.DataFrame | None = None, metric: str = "uar") -> str:
    """The leaderboard's "Reading the results" sentences (Markdown), generated from tidy result rows
    (as :func:`leaderboard` reads them) and optionally :func:`fits_table`: how many paired runs, the
    rank groups in order with their AUC, the methods whose AUC or clean score is at chance, the best
    method on clean speech against the top group, and the share of neural fits that early stopping
    ended. Nothing in it is typed by hand."""
    board = leaderboard(df, metric)
    d = df[df["metric"] == metric]
    if "attribute" in d.columns:
        d = d[d["attribute"].isna()]
    auc = auc_frame(d, metric)
    groups = rank_groups(auc[auc["noise_type"] == "all"])
    n = int(groups["n"].min())
    lines = [f"* **Runs:** {n} paired run(s) (seed x fold) per method"
             + (": too few for a paired test, so every method shares one rank group and the order is not evidence."
                if n < metrics.MIN_N_INTERVAL else "; rank groups from paired t-tests with Holm's correction.")]
    for _, sub in board.groupby("group", sort=True):
        items = ", ".join(f"{r['method']} ({r['AUC 0-20 dB']})" for _, r in sub.iterrows())
        lines.append(f"* **Rank {sub['rank'].iloc[0]}:** {items}.")
    chance = [r["method"] for _, r in board.iterrows() if "(≤ chance)" in str(r["AUC 0-20 dB"])]
    if chance:
        lines.append(f"* **At chance over 0-20 dB:** {', '.join(chance)} (the interval of their AUC reaches chance).")
    clean = board.set_index("method")["clean"].str.extract(r"^(-?[\d.]+)")[0].astype(float)
    top = board.loc[board["group"] == board["group"].min(), "method"].tolist()
    best = clean.idxmax()
    lines.append(f"* **Clean vs noisy:** the best on clean speech is {best} ({board.set_index('method').loc[best, 'clean']})"
                 + ("; it is also in the top rank group." if best in top else
                    f"; the top rank group ({', '.join(top)}) differs: robustness and clean accuracy rank differently."))
    if fits is not None and len(fits):
        nn = fits[fits["early_stop"].notna()]
        if len(nn):
            share = float(nn["early_stop"].astype(bool).mean())
            lines.append(f"* **Training:** early stopping (best epoch before the last) ended {share:.0%} of the "
                         f"{len(nn)} neural fits; the rest stopped at the epoch cap.")
    return "\n".join(lines)


def run_frame(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with ``seed`` replaced by a run number over ``(seed, fold)`` (for :mod:`serlib.plots`,
    which count seeds as runs: a leaderboard run is a seed on a fold)."""
    if "fold" not in df.columns or df.empty:
        return df
    pairs = df[["seed", "fold"]].astype(str).agg("|".join, axis=1)
    return df.assign(seed=pd.factorize(pairs, sort=True)[0].astype(int))


def dimensional_figure(dim: pd.DataFrame, metric: str, *, name: str | None = None):
    """The dimensional track's ``metric`` against SNR (dB) per noise family, one line per system and
    attribute (:func:`serlib.plots.metric_vs_snr`; chance drawn for F1), or None after printing why
    when the track has no rows (every fit skipped, e.g. EmoDB subsampled on ``smoke``)."""
    from serlib import plots

    d = dim[(dim["metric"] == metric) & (dim["test_condition"] != "rerecorded")] if len(dim) else dim
    if d.empty:
        print(f"no dimensional {metric} results to plot (section 4 says which fits were skipped and why)")
        return None
    return plots.metric_vs_snr(d.assign(system=d["method"] + " / " + d["attribute"]), metric, hue="system",
                               col="noise_type", chance=None if metric == "ccc" else metrics.chance_level(metric, 2),
                               title=f"Dimensional track: {metric.upper()} vs SNR", name=name)


# --------------------------------------------------------------------------- scores
def snr_auc(snrs: Sequence[float], values: Sequence[float], lo: float = 0.0, hi: float = 20.0) -> float:
    """Normalised area under the score-vs-SNR curve over ``[lo, hi]`` dB (module docstring formula)."""
    s = np.asarray(snrs, dtype=float)
    v = np.asarray(values, dtype=float)
    if s.shape != v.shape or s.ndim != 1:
        raise ValueError(f"snr_auc: snrs {s.shape} and values {v.shape} must be 1-d of equal length")
    if not hi > lo:
        raise ValueError(f"snr_auc: need hi > lo, got [{lo}, {hi}]")
    keep = (s >= lo) & (s <= hi)
    s, v = s[keep], v[keep]
    order = np.argsort(s)
    s, v = s[order], v[order]
    if len(np.unique(s)) != len(s):
        raise ValueError(f"snr_auc: repeated SNRs {s.tolist()}; average the seeds/rows of one SNR first")
    if len(s) < 2 or s[0] != lo or s[-1] != hi:
        raise ValueError(f"snr_auc: needs scores at both ends of [{lo:g}, {hi:g}] dB, got SNRs {s.tolist()}")
    return float(np.sum(np.diff(s) * (v[1:] + v[:-1]) / 2.0) / (hi - lo))


def auc_frame(df: pd.DataFrame, metric: str = "uar", lo: float = 0.0, hi: float = 20.0) -> pd.DataFrame:
    """AUC per method, run (``seed`` and ``fold`` when the rows have one) and family (``noise_type``)
    from the ``noisy`` rows of ``df`` (rows of one SNR averaged first), plus ``noise_type = "all"``:
    the mean over families of that run."""
    sub = df[(df["metric"] == metric) & (df["test_condition"] == "noisy")]
    if sub.empty:
        raise ValueError(f"auc_frame: no noisy rows of metric {metric!r}")
    keys = [k for k in ("method", "attribute") if k in sub.columns and sub[k].notna().any()]
    run = ["seed"] + (["fold"] if "fold" in sub.columns else [])
    pts = sub.groupby([*keys, *run, "noise_type", "snr"], dropna=False)["value"].mean().reset_index()
    rows = []
    for k, g in pts.groupby([*keys, *run, "noise_type"], dropna=False):
        rows.append({**dict(zip([*keys, *run, "noise_type"], k)), "value": snr_auc(g["snr"], g["value"], lo, hi)})
    out = pd.DataFrame(rows)
    overall = out.groupby([*keys, *run], dropna=False)["value"].mean().reset_index().assign(noise_type="all")
    return pd.concat([out, overall], ignore_index=True)


def relative_drop(clean: float | np.ndarray, noisy: float | np.ndarray) -> float | np.ndarray:
    """``(clean - noisy) / clean``: the fraction of the clean score lost (positive = worse)."""
    clean = np.asarray(clean, dtype=float)
    if np.any(np.abs(clean) < 1e-12):
        raise ValueError("relative_drop: a clean score is 0; the relative drop is undefined")
    out = (clean - np.asarray(noisy, dtype=float)) / clean
    return float(out) if out.ndim == 0 else out


N_CLASSES = 4
"""Classes of the leaderboard's categorical task (angry, happy, neutral, sad): chance UAR is 1/4."""

RANK_RULE = (
    "Methods are ordered by mean AUC. Walking down that order, a method joins the current rank group while it is "
    "not significantly different from the group's first method (two-sided paired t-test on the per-run overall AUC, "
    "runs = seed x fold both methods have, 5 % level, Holm-adjusted over that first method's comparisons with every "
    "method below it); the first method that differs opens the next group. A group spanning positions 1 to 3 shows "
    "rank \"1-3\". With fewer than 3 paired runs no test is possible, and every method shares one group.")
"""How :func:`rank_groups` forms the rank groups (quoted under the README's leaderboard)."""


def _runs(frame: pd.DataFrame) -> list[str]:
    return ["seed"] + (["fold"] if "fold" in frame.columns else [])


def _cell(values: pd.Series, scale: float = 100.0, digits: int = 1, *, metric: str = "uar",
          chance: float = float("nan")) -> tuple[float, str]:
    """(mean, text) of one leaderboard cell from per-run values: ``m ± h`` from 3 runs on (interval
    clipped to the metric's range), ``m (n=2: a, b)`` below; " (≤ chance)" when the interval reaches
    chance or the mean is at or below it."""
    from serlib.results import estimate_text

    vals = values.dropna().to_numpy(dtype=float)
    if len(vals) == 0:
        return float("nan"), "n/a"
    mean, half = metrics.mean_ci(vals)
    lo, hi = metrics.clip_interval(mean - half, mean + half, metric)
    txt = estimate_text(scale * mean, scale * float(lo), scale * float(hi), len(vals), scale * vals, digits)
    if np.isfinite(chance) and (mean <= chance + 1e-12 or (np.isfinite(lo) and lo <= chance)):
        txt += " (≤ chance)"
    return mean, txt


def rank_groups(runs: pd.DataFrame, *, value: str = "value", alpha: float = 0.05) -> pd.DataFrame:
    """Rank groups of methods from per-run scores (:data:`RANK_RULE`).

    ``runs``: one row per method and run (``method``, ``seed``, optional ``fold``, ``value``).
    Returns one row per method, best first: ``method, mean, n, group`` (1, 2, ...) and ``rank``
    (``"1-3"`` for a group spanning positions 1 to 3, ``"4"`` for a group of one).
    """
    missing = [c for c in ("method", "seed", value) if c not in runs.columns]
    if missing:
        raise KeyError(f"rank_groups: the frame has no column(s) {missing}")
    wide = runs.pivot_table(index=_runs(runs), columns="method", values=value, aggfunc="mean")
    means = wide.mean().sort_values(ascending=False, kind="stable")
    order = list(means.index)
    group = {}
    g, i = 0, 0
    while i < len(order):
        g += 1
        leader, rest = order[i], order[i + 1:]
        pvals = []
        for m in rest:
            pair = wide[[leader, m]].dropna()
            d = (pair[leader] - pair[m]).to_numpy()
            if len(d) < metrics.MIN_N_INTERVAL:
                pvals.append(np.nan)
            elif np.ptp(d) == 0:
                pvals.append(0.0 if d[0] != 0 else 1.0)
            else:
                with warnings.catch_warnings():  # nearly constant differences: scipy warns, the p is still right
                    warnings.filterwarnings("ignore", "Precision loss", RuntimeWarning)
                    pvals.append(float(metrics.paired_t(pair[leader], pair[m])[1]))
        adj = metrics.holm(pvals)
        group[leader] = g
        i += 1
        for m, p in zip(rest, adj):
            if np.isfinite(p) and p < alpha:
                break
            group[m] = g
            i += 1
    out = pd.DataFrame({"method": order, "mean": means.to_numpy(), "n": wide.notna().sum().reindex(order).to_numpy(),
                        "group": [group[m] for m in order]})
    pos = out.groupby("group")["method"].transform(lambda s: f"{s.index.min() + 1}" if len(s) == 1 else
                                                   f"{s.index.min() + 1}-{s.index.max() + 1}")
    return out.assign(rank=pos)


def leaderboard(df: pd.DataFrame, metric: str = "uar", *, n_classes: int = N_CLASSES,
                alpha: float = 0.05) -> pd.DataFrame:
    """The ranked leaderboard from tidy result rows (``method, test_condition, noise_type, snr, seed,
    (fold,) metric, value``; categorical ``metric`` rows plus the cost rows ``train_seconds``,
    ``speed_x_realtime``, ``parameters``).

    Columns: rank, method, clean, AUC 0-20 dB, 0 dB (mean over families), re-recorded (mean over
    the booth set-ups), cross-corpus, FGSM (``metric`` in %, mean ± 95 % CI over runs = seed x fold,
    the mean over conditions taken per run; no interval from fewer than 3 runs: the values are
    shown; intervals clipped to [0, 100]; "(≤ chance)" marks cells at chance, 1/``n_classes``), then
    the costs (means over runs). Ranked by the mean overall AUC (:func:`auc_frame`) in rank groups
    (:func:`rank_groups`, :data:`RANK_RULE`); the numeric AUC mean is in column ``auc``, the group
    number in ``group``; ``attrs["chance"]`` is the chance level.
    """
    d = df[df["metric"] == metric]
    if "attribute" in d.columns:
        d = d[d["attribute"].isna()]
    auc = auc_frame(d, metric)
    auc = auc[auc["noise_type"] == "all"]
    zero = d[(d["test_condition"] == "noisy") & (d["snr"] == 0)]
    chance = metrics.chance_level(metric, n_classes)
    run = _runs(d)

    def per_run(frame: pd.DataFrame, method: str) -> pd.Series:
        return frame[frame["method"] == method].groupby([c for c in run if c in frame.columns],
                                                        dropna=False)["value"].mean()

    rows = []
    for method in d["method"].unique():
        r: dict[str, Any] = {"method": method}
        r["auc"], r["AUC 0-20 dB"] = _cell(per_run(auc, method), metric=metric, chance=chance)
        for col, frame in (("clean", d[d["test_condition"] == "clean"]), ("0 dB", zero),
                           ("re-recorded", d[d["test_condition"] == "rerecorded"]),
                           ("cross-corpus", d[d["test_condition"] == "xcorpus"]),
                           ("FGSM", d[d["test_condition"] == "fgsm"])):
            r[col] = _cell(per_run(frame, method), metric=metric, chance=chance)[1]
        for cost, digits in (("train_seconds", 1), ("speed_x_realtime", 0), ("parameters", 0)):
            c = df[(df["metric"] == cost) & (df["method"] == method)]["value"]
            r[cost] = round(float(c.mean()), digits) if len(c) else float("nan")
        rows.append(r)
    groups = rank_groups(auc, alpha=alpha).set_index("method")
    out = pd.DataFrame(rows).set_index("method").loc[groups.index].reset_index()
    out.insert(0, "rank", groups["rank"].to_numpy())
    out.insert(len(out.columns), "group", groups["group"].to_numpy())
    out.attrs["chance"] = chance
    out.attrs["rule"] = RANK_RULE
    return out
