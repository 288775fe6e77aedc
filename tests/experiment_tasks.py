"""Two tiny task functions for tests/test_experiment.py and benchmarks (not part of serlib).

- :func:`fit_tiny`: a small MLP trained with ``serlib.training.fit`` on fixed pseudo-features of the
  manifest's utterances (features depend on the utterance id and the label, so there is something
  to learn); speaker ``config["fold"]`` is the test speaker. Knobs for tests: ``sleep`` (seconds
  before training), ``fail`` (raise), ``mark`` (a folder where it leaves ``<pid>.<key>`` files).
- :func:`fine_tune`: continues from the weights of its ``teacher`` dependency.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from serlib import training
from serlib.experiment import Context, TaskOutput

N_FEATURES = 8


def features(manifest: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(X, y, classes): a fixed vector per utterance (from its id) shifted by its class."""
    classes = sorted(manifest.emotion.unique())
    y = manifest.emotion.map({c: i for i, c in enumerate(classes)}).to_numpy()
    X = np.stack([np.random.default_rng(int(hashlib.md5(u.encode()).hexdigest()[:8], 16)).normal(size=N_FEATURES)
                  for u in manifest.utt_id]).astype(np.float32)
    X[np.arange(len(y)), y % N_FEATURES] += 1.5
    return X, y, classes


def _model(n_classes: int, hidden: int) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Linear(N_FEATURES, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, n_classes))


def _train(config: dict, ctx: Context, model: torch.nn.Module) -> TaskOutput:
    if config.get("mark"):
        Path(config["mark"], f"{os.getpid()}.{ctx.key}").touch()
    time.sleep(config.get("sleep", 0))
    if config.get("fail"):
        raise RuntimeError(f"task asked to fail (seed {config['seed']})")
    m = ctx.manifest
    X, y, classes = features(m)
    test = (m.speaker == config["fold"]).to_numpy()
    rng = np.random.default_rng(config["seed"])
    val = ~test & (rng.random(len(m)) < 0.2)
    train = ~test & ~val
    t = lambda a: torch.from_numpy(a)  # noqa: E731
    fr = training.fit(model, (t(X[train]), t(y[train])), (t(X[val]), t(y[val])),
                      loss_fn=torch.nn.functional.cross_entropy, val_metric="uar", epochs=config.get("epochs", 5),
                      lr=1e-2, batch_size=16, seed=config["seed"], device=ctx.device, progress=False)
    post = torch.softmax(torch.from_numpy(training.predict(fr.model, X[test], device=ctx.device)), 1).numpy()
    preds = pd.DataFrame({"utt_id": m.utt_id[test].to_numpy(), "test_condition": "clean", "snr": None,
                          "y_true": [classes[i] for i in y[test]], "y_pred": [classes[i] for i in post.argmax(1)]})
    for i, c in enumerate(classes):
        preds[f"p_{c}"] = post[:, i]
    return TaskOutput(predictions=preds, history=fr.history, meta={"best_epoch": fr.best_epoch},
                      extra={"first_layer": fr.model[0].weight.detach().numpy()},
                      weights={k: v.clone() for k, v in fr.model.state_dict().items()})


def fit_tiny(config: dict, ctx: Context) -> TaskOutput:
    """Train a small MLP from scratch (see the module docstring)."""
    n_classes = ctx.manifest.emotion.nunique()
    return _train(config, ctx, _model(n_classes, config.get("hidden", 16)))


def fine_tune(config: dict, ctx: Context) -> TaskOutput:
    """Train the ``teacher`` dependency's model further."""
    n_classes = ctx.manifest.emotion.nunique()
    model = _model(n_classes, config.get("hidden", 16))
    model.load_state_dict(ctx.deps["teacher"].load_weights())
    out = _train(config, ctx, model)
    out.meta["teacher"] = ctx.deps["teacher"].key
    return out


def wrong_return(config: dict, ctx: Context) -> dict:
    """A broken task function: returns a dict instead of a TaskOutput."""
    return {"uar": 0.5}
