"""Notebook 02's experiment helpers in serlib.models.ladder: models by name, the speaker-disjoint
partition, one training run, and Table 2 with Welch marks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from serlib.models import ladder


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _manifest(n_speakers: int = 10, per: int = 3) -> pd.DataFrame:
    spk = [f"S{i:02d}" for i in range(n_speakers) for _ in range(per)]
    return pd.DataFrame({"utt_id": [f"u{i}" for i in range(len(spk))], "speaker": spk})


def test_make_model_names():
    assert isinstance(ladder.make_model("Dense", 10), ladder.Dense)
    assert type(ladder.make_model("LN", 10)) is ladder.Ladder
    dln, he = ladder.make_model("DLN", 10), ladder.make_model("DLN+he", 10)
    assert dln.decoupled and not dln.reconstruct_emotion and he.reconstruct_emotion
    with pytest.raises(ValueError, match="unknown method"):
        ladder.make_model("CNN", 10)


def test_partition_is_speaker_disjoint_and_complete():
    m = _manifest()
    parts = ladder.partition(m)
    sizes = {k: v["speaker"].nunique() for k, v in parts.items()}
    assert sizes == {"train": 5, "dev": 1, "unlabeled": 2, "test": 2}
    spk = [set(v["speaker"]) for v in parts.values()]
    assert all(not (a & b) for i, a in enumerate(spk) for b in spk[i + 1:])
    assert sum(len(v) for v in parts.values()) == len(m)
    # test speakers are the last ones, unlabeled just before them
    assert set(parts["test"]["speaker"]) == {"S08", "S09"} and set(parts["unlabeled"]["speaker"]) == {"S06", "S07"}


def test_partition_small_and_errors():
    parts = ladder.partition(_manifest(4))
    assert all(v["speaker"].nunique() == 1 for v in parts.values())
    with pytest.raises(ValueError, match=">= 4 speakers"):
        ladder.partition(_manifest(3))
    with pytest.raises(ValueError, match="4 positive"):
        ladder.partition(_manifest(), fractions=(1, 1, 1))


def _data(n=48, d=12, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] + 0.1 * rng.normal(size=n)).astype(np.float32)
    return X, y


@pytest.mark.parametrize("method", ladder.METHODS)
def test_train_model_selects_the_epoch_on_the_dev_data(method):
    """The dev CCC picks the epoch: with the true dev labels it rises as the model learns (a late
    epoch wins); with the dev labels negated the same training run is best at epoch 1. The
    returned model is the selected epoch's (its dev CCC is the best score)."""
    from serlib.metrics import ccc

    X, y = _data()
    Xd, yd = _data(16, seed=1)
    Xu, _ = _data(20, seed=2)
    kw = dict(epochs=4, lr=3e-3, batch_size=16, seed=0, device="cpu")
    res = ladder.train_model(method, X, y, Xd, yd, Xu, **kw)
    flipped = ladder.train_model(method, X, y, Xd, -yd, Xu, **kw)
    assert len(res.history) == 4 and res.best_epoch >= 3          # measured: epoch 4 for the four methods
    assert flipped.best_epoch == 1
    for r, target in ((res, yd), (flipped, -yd)):
        assert r.best_score == pytest.approx(r.history["val_metric"].max())
        pred = r.model.eval()(torch.as_tensor(Xd)).detach().numpy()
        assert pred.shape == (16,) and np.isfinite(pred).all()
        assert ccc(target, pred) == pytest.approx(r.best_score, abs=1e-5)   # the selected epoch's weights


def test_train_model_refuses_missing_unlabeled():
    X, y = _data()
    with pytest.raises(ValueError, match="unlabeled"):
        ladder.train_model("DLN", X, y, X, y, None, epochs=1, device="cpu")
    ladder.train_model("Dense", X, y, X, y, None, epochs=1, batch_size=16, device="cpu")  # Dense needs none


def test_significance_table_marks():
    rows = []
    rng = np.random.default_rng(0)
    means = {"Dense": 0.2, "LN": 0.4, "DLN": 0.5, "DLN+he": 0.4}
    for m, mu in means.items():
        for s in range(6):
            for snr in (None, 10.0):
                v = (0.6 if snr is None else mu) + 0.005 * rng.normal()
                rows.append(dict(method=m, attribute="arousal", snr=snr, seed=s, metric="ccc", value=v))
    rows.append(dict(method="DLN", attribute="arousal", snr=10.0, seed=0, metric="other", value=9.0))
    t = ladder.significance_table(pd.DataFrame(rows))
    noisy = t[t["condition"] == "10 dB"].iloc[0]
    clean = t[t["condition"] == "clean"].iloc[0]
    assert noisy["LN"].endswith("†") and "*" not in noisy["LN"]
    assert noisy["DLN"].endswith("†*")
    assert noisy["DLN+he"] == f"{float(noisy['DLN+he'][:5]):.3f}†"  # equal to LN: no star
    assert abs(float(noisy["Dense"][:5]) - 0.2) < 0.01
    assert "†" not in clean["DLN"]
    means_df = t.attrs["means"]
    assert set(means_df["method"]) == set(means) and (means_df["n"] == 6).all()


def test_significance_table_marks_worse_in_brackets():
    rows = [dict(method=m, attribute="valence", snr=0.0, seed=s, metric="ccc", value=v + 0.001 * s)
            for m, v in (("Dense", 0.3), ("LN", 0.1)) for s in range(4)]
    t = ladder.significance_table(pd.DataFrame(rows))
    assert t.iloc[0]["LN"].endswith("(†)")


def test_embedding_analysis_keys_and_emotion_readout():
    X, y = _data(64)
    res = ladder.train_model("DLN", X, y, X, y, X, epochs=3, lr=3e-3, batch_size=16, seed=0, device="cpu")
    out = ladder.embedding_analysis(res.model, X, y, X[:32], y[:32])
    assert set(out) == {(q, e) for q in ("ccc_output", "ccc_probe", "input_mse") for e in ("emotion", "reconstruction")}
    assert all(np.isfinite(v) for v in out.values())
    assert out[("input_mse", "emotion")] >= 0
    # the emotion embedding read by the trained output layer is the model's own prediction
    pred = res.model.eval()(torch.as_tensor(X[:32])).detach().numpy()
    from serlib.metrics import ccc
    assert out[("ccc_output", "emotion")] == pytest.approx(ccc(y[:32], pred), abs=1e-5)
