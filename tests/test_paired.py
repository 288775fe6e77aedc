"""Unit tests of serlib.ledger.paired_effects (seed-paired comparison of two methods)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from serlib.ledger import paired_effects


def _frame():
    rows = []
    for seed, (xa, xb) in enumerate([(0.70, 0.60), (0.72, 0.65), (0.69, 0.66)]):
        for snr, shift in ((0, -0.1), (20, 0.1)):  # two SNRs per seed: averaged before pairing
            rows.append({"method": "A", "noise_type": "bus", "snr": snr, "seed": seed, "value": xa + shift})
            rows.append({"method": "B", "noise_type": "bus", "snr": snr, "seed": seed, "value": xb + shift})
        rows.append({"method": "A", "noise_type": None, "snr": None, "seed": seed, "value": xa})
        rows.append({"method": "B", "noise_type": None, "snr": None, "seed": seed, "value": xb})
    return pd.DataFrame(rows)


def test_paired_effects_averages_within_seed_then_pairs():
    out = paired_effects(_frame(), "A", "B", by=["noise_type"])
    assert len(out) == 2 and set(out["n"]) == {3}
    bus = out[out["noise_type"] == "bus"].iloc[0]
    a, b = np.array([0.70, 0.72, 0.69]), np.array([0.60, 0.65, 0.66])
    assert bus["mean_a"] == pytest.approx(a.mean()) and bus["mean_b"] == pytest.approx(b.mean())
    assert bus["diff"] == pytest.approx((a - b).mean())
    half = stats.t.ppf(0.975, 2) * (a - b).std(ddof=1) / np.sqrt(3)
    assert bus["diff_ci"] == pytest.approx(half)
    t, p = stats.ttest_rel(a, b)
    assert bus["t"] == pytest.approx(t) and bus["p"] == pytest.approx(p)
    clean = out[out["noise_type"].isna()].iloc[0]
    assert clean["diff"] == pytest.approx(bus["diff"])  # NaN group keys are kept


def test_paired_effects_single_seed_and_unpaired_seeds():
    df = _frame()
    one = paired_effects(df[df.seed == 0], "A", "B", by=[])
    assert one["n"].iloc[0] == 1 and np.isnan(one["p"].iloc[0]) and np.isnan(one["diff_ci"].iloc[0])
    # a seed that only A has is dropped
    extra = pd.DataFrame([{"method": "A", "noise_type": "bus", "snr": 0, "seed": 9, "value": 0.9}])
    out = paired_effects(pd.concat([df, extra]), "A", "B", by=["noise_type"])
    assert set(out["n"]) == {3}


def test_paired_effects_refuses_bad_input():
    with pytest.raises(ValueError, match="no rows of method 'C'"):
        paired_effects(_frame(), "A", "C", by=[])
    with pytest.raises(KeyError, match="attribute"):
        paired_effects(_frame(), "A", "B", by=["attribute"])
