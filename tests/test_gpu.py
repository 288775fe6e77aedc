"""The CUDA paths (issue 18): mixed precision, feature cache identities and the text encoder on the GPU.

Tests marked ``cuda`` run only where torch sees a CUDA GPU and are skipped elsewhere with the reason;
the others check on the CPU the wiring those paths rely on (cache identities, devices asked for).
The CPU side of the fp32 recurrent region and of the TRNet deltas is tested under CPU bf16 autocast
in ``tests/test_training.py`` and ``tests/test_models_trnet.py``; CPU vs CUDA spectral features in
``tests/test_features.py::test_cuda_matches_cpu``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from serlib import training as T
from serlib.features import FEATURE_KINDS, config_id, get_kind

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)")

# --------------------------------------------------------------------------- cache identities (CPU)
def test_cuda_features_have_their_own_cache_identity_and_cpu_ones_keep_theirs():
    for name, kind in FEATURE_KINDS.items():
        assert kind.on_device("cpu") is kind and kind.on_device(None) is kind
        if kind.backend == "torch":
            on_gpu = kind.on_device("cuda:0")
            assert on_gpu.params["device"] == "cuda" and config_id(on_gpu) != config_id(kind)
            assert config_id(on_gpu) == config_id(get_kind(name).on_device("cuda"))  # stable across GPUs
        else:  # openSMILE runs on the CPU whatever the device
            assert kind.on_device("cuda") is kind


def test_joint_model_asks_for_the_text_encoder_on_the_training_device(monkeypatch):
    """fit() loads the text encoder where it trains (it encodes the hypotheses of every batch)."""
    import pandas as pd

    from serlib.models import joint_asr_ser as J

    asked = []

    class Stop(Exception):
        pass

    def fake_load(path=None, device="cpu"):
        asked.append(device)
        raise Stop

    frame = pd.DataFrame({"utt_id": ["a", "b"], "path": ["a.wav", "b.wav"], "emotion": ["happy", "sad"],
                          "transcript": ["hello there", "good bye"], "speaker": ["s1", "s1"]})
    monkeypatch.setattr(J, "load_text_encoder", fake_load)
    monkeypatch.setattr(J, "make_encoder", lambda *a, **k: nn.Identity())
    for dev in ("cpu", "cuda"):
        monkeypatch.setattr(T, "resolve_device", lambda device=None, d=dev: torch.device(d))
        monkeypatch.setattr(T, "seed_everything", lambda *a, **k: True)
        with pytest.raises(Stop):
            J.fit("joint", frame, frame, device=dev, progress=False)
    assert asked == ["cpu", "cuda"]


# --------------------------------------------------------------------------- on a GPU
class _LSTMNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inp, self.lstm, self.out = nn.Linear(8, 16), nn.LSTM(16, 16, batch_first=True), nn.Linear(16, 3)
        self.seen: set[tuple[str, torch.dtype]] = set()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        seq, _ = self.lstm(h)
        y = self.out(seq[:, -1])
        self.seen |= {("inp", h.dtype), ("lstm", seq.dtype), ("out", y.dtype)}
        return y


@cuda
def test_amp_fit_on_cuda_keeps_the_lstm_in_float32():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(128, 10, 8)).astype(np.float32)
    y = rng.integers(0, 3, 128)
    model = _LSTMNet()
    res = T.fit(model, (X, y), (X[:32], y[:32]), loss_fn=F.cross_entropy, val_metric="uar", epochs=2,
                batch_size=32, device="cuda", amp=True, progress=False)
    low = {"bf16": torch.bfloat16, "fp16": torch.float16}[res.precision]  # autocast was on
    assert ("inp", low) in model.seen and ("out", low) in model.seen
    assert ("lstm", torch.float32) in model.seen and ("lstm", low) not in model.seen
    assert all(p.dtype == torch.float32 for p in model.lstm.parameters())
    assert np.isfinite(res.history.train_loss).all()
    assert res.deterministic is False  # CUDA default: fastest kernels


@cuda
def test_trnet_deltas_stay_float32_under_cuda_autocast():
    from serlib.models.trnet import SERNet

    net = SERNet(channels=(8, 16), h_dim=16).cuda().eval()
    x = (torch.randn(2, 60, 80) * 6 - 10).cuda()
    with torch.autocast("cuda", dtype=torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16):
        z = net.features(x)
    torch.testing.assert_close(z, net.features(x), rtol=0, atol=0)
    assert z.dtype == torch.float32


@cuda
def test_text_encoder_runs_on_the_gpu():
    from serlib.models import joint_asr_ser as J

    enc = J.load_text_encoder(None, device="cuda")
    assert next(enc.model.parameters()).device.type == "cuda"
    assert enc.embed(["a test sentence"]).shape == (1, enc.dim)
