"""Paper 5 models: the proposed DenseNet-LSTM-highway network and its four benchmarks."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from serlib.models import baselines as B
from serlib.models.densenet_highway import MODELS, DenseNetLSTMHighway, Highway, build, n_parameters

NAMES = list(MODELS)

# Parameter counts at the paper's sizes (4 classes, 128 bins); a change here is a change of architecture.
PAPER_PARAMS = {
    "cnn": 355_684,
    "cnn_lstm": 1_208_548,
    "densenet": 463_852,
    "densenet_lstm": 1_203_308,
    "proposed": 2_587_732,
}

# Shrunk configurations (as a quick profile would use) for the gradient / overfitting tests.
SMALL = {
    "cnn": dict(channels=(4, 8), fc_units=16),
    "cnn_lstm": dict(channels=(4, 8), lstm_hidden=16),
    "densenet": dict(layers=2, growth=4, fc_units=16),
    "densenet_lstm": dict(layers=2, growth=4, lstm_hidden=16, fc_units=16),
    "proposed": dict(layers=2, growth=4, lstm_hidden=16, skip_dim=16, highway_units=16),
}
SMALL_BINS, SMALL_FRAMES = 16, 32


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def small(name: str, seed: int = 0, **kw) -> torch.nn.Module:
    torch.manual_seed(seed)
    return build(name, n_bins=SMALL_BINS, **{**SMALL[name], **kw})


@pytest.fixture(scope="module")
def paper_models():
    torch.manual_seed(0)
    return {name: build(name) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_paper_size_output_shape_and_params(paper_models, name):
    model = paper_models[name].eval()
    assert n_parameters(model) == PAPER_PARAMS[name]  # no forward pass needed
    x = torch.randn(1, 1, 32, 128)  # the paper's 128 bins; a short segment is enough for the output shape
    with torch.no_grad():
        out = model(x)
    assert out.shape == (1, 4)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", NAMES)
def test_accepts_3d_input_and_other_lengths(name):
    model = small(name).eval()
    with torch.no_grad():
        a = model(torch.randn(3, SMALL_FRAMES, SMALL_BINS))
        b = model(torch.randn(3, 1, SMALL_FRAMES + 37, SMALL_BINS))
    assert a.shape == b.shape == (3, 4)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_every_parameter(name):
    model = small(name).train()
    x, y = torch.randn(4, 1, SMALL_FRAMES, SMALL_BINS), torch.tensor([0, 1, 2, 3])
    F.cross_entropy(model(x), y).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert not missing, f"parameters without gradient: {missing}"


@pytest.mark.parametrize("name", NAMES)
def test_deterministic_under_seed(name):
    x = torch.randn(2, 1, SMALL_FRAMES, SMALL_BINS)
    m1, m2, m3 = small(name, seed=7).eval(), small(name, seed=7).eval(), small(name, seed=8).eval()
    with torch.no_grad():
        o1, o2, o3 = m1(x), m2(x), m3(x)
    assert torch.equal(o1, o2)
    assert not torch.allclose(o1, o3)


@pytest.mark.parametrize("name", NAMES)
def test_can_overfit_sixteen_examples(name):
    torch.manual_seed(0)
    x = torch.randn(16, 1, SMALL_FRAMES, SMALL_BINS)
    y = torch.arange(16) % 4
    model = small(name, dropout=0.0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    first = None
    for _ in range(80):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    model.eval()
    with torch.no_grad():
        final = F.cross_entropy(model(x), y).item()
        acc = (model(x).argmax(1) == y).float().mean().item()
    assert loss.item() < 0.25 * first, (first, loss.item())  # training loss falls
    assert final < 0.4 * first, (first, final)  # and the eval-mode (BN running statistics) loss too
    assert acc >= 0.875


def test_dense_block_structure_and_parameter_formula():
    block = B.DenseBlock(48, layers=6, growth=24)
    assert block.out_channels == 48 + 6 * 24
    expected = sum(2 * c + c * 24 * 9 for c in (48 + 24 * i for i in range(6)))  # BN (gamma, beta) + 3x3 conv
    assert n_parameters(block) == expected
    x = torch.randn(1, 48, 8, 4)
    out = block(x)
    assert out.shape == (1, 192, 8, 4)
    assert torch.equal(out[:, :48], x)  # dense connectivity: the input is passed on unchanged


def test_transition_halves_channels_and_size():
    t = B.Transition(192, compression=0.5)
    assert t(torch.randn(2, 192, 64, 32)).shape == (2, 96, 32, 16)


def test_proposed_layout_matches_paper_configuration():
    model = DenseNetLSTMHighway()
    assert len(model.features.blocks) == 2 and len(model.features.transitions) == 1
    assert all(len(b.layers) == 6 for b in model.features.blocks)
    assert model.features.block_channels == [192, 240]
    assert model.temporal.lstm.input_size == 240 * 16 and model.temporal.lstm.hidden_size == 128
    assert model.dropout.p == 0.5
    assert len(model.highway) == 3 and all(h.transform.out_features == 128 for h in model.highway)
    assert model.project.in_features == 128 + 128
    with torch.no_grad():
        assert model.embed(torch.randn(1, 1, 32, 128)).shape == (1, 128)


def test_benchmark_configurations():
    d = B.DenseNet()
    assert len(d.features.blocks) == 3 and all(len(b.layers) == 6 for b in d.features.blocks)
    assert d.features.blocks[0].layers[0].conv.out_channels == 16 and d.fc.out_features == 1000
    dl = B.DenseNetLSTM()
    assert dl.fc.out_features == 1000 and isinstance(dl.temporal.lstm, torch.nn.LSTM)
    assert [m.out_channels for m in B.CNNLSTM().features.net if isinstance(m, torch.nn.Conv2d)] == [32, 64, 128]


def test_highway_gate_limits():
    torch.manual_seed(0)
    x = torch.randn(5, 8)
    carry = Highway(8, gate_bias=-50.0)
    assert torch.allclose(carry(x), x, atol=1e-6)  # closed transform gate: the input is carried
    open_ = Highway(8, gate_bias=50.0)
    assert torch.allclose(open_(x), torch.relu(open_.transform(x)), atol=1e-6)


def test_sequence_is_time_major():
    seq_lstm = B._SequenceLSTM(input_size=3 * 4, hidden=2)

    class Echo(torch.nn.Module):
        def forward(self, seq):
            return seq, None

    seq_lstm.lstm = Echo()
    fmap = torch.randn(2, 3, 5, 4)  # (batch, channels, time, freq)
    last = seq_lstm(fmap)
    assert torch.equal(last, fmap[:, :, -1, :].reshape(2, 12))


def test_clear_errors():
    model = small("proposed")
    with pytest.raises(ValueError, match="n_bins=128"):
        model(torch.randn(1, 1, SMALL_FRAMES, 128))
    with pytest.raises(ValueError, match="at least 8 frames"):
        model(torch.randn(1, 1, 4, SMALL_BINS))
    with pytest.raises(ValueError, match="shaped"):
        model(torch.randn(1, 2, SMALL_FRAMES, SMALL_BINS))
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        build("resnet")
    with pytest.raises(ValueError, match="dropout"):
        build("cnn", dropout=1.5)
    assert isinstance(build("CNN-LSTM", n_bins=32, channels=(4,)), B.CNNLSTM)
