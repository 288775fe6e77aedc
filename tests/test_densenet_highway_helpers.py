"""Profile sizes and utterance-level helpers of serlib.models.densenet_highway (paper 5 notebook)."""

import numpy as np
import pytest
import torch

from serlib.models.densenet_highway import MODELS, SIZES, attack_segments, sized, utterance_posteriors


@pytest.mark.parametrize("size", ["tiny", "small"])
def test_sizes_build_every_model_with_paper_input(size):
    torch.manual_seed(0)
    x = torch.randn(1, 1, 32, 128)  # the paper's 128 bins; a short segment is enough for the output shape
    for name in MODELS:
        model = sized(name, size).eval()
        with torch.no_grad():
            assert model(x).shape == (1, 4)


def test_sized_rejects_unknown_size_and_accepts_overrides():
    with pytest.raises(ValueError, match="unknown model size"):
        sized("cnn", "huge")
    assert SIZES["paper"]["proposed"] == {}
    m = sized("proposed", "tiny", n_classes=3).eval()
    assert m(torch.randn(1, 256, 128)).shape == (1, 3)


def test_utterance_posteriors_average_segments():
    torch.manual_seed(0)
    model = sized("cnn", "tiny")
    segs = np.random.default_rng(0).normal(size=(5, 64, 128)).astype(np.float32)
    owner = np.array([0, 0, 1, 2, 2])
    post = utterance_posteriors(model, segs, owner, device="cpu")
    assert post.shape == (3, 4)
    np.testing.assert_allclose(post.sum(1), 1.0, atol=1e-5)
    seg_post = utterance_posteriors(model, segs, np.arange(5), device="cpu")
    np.testing.assert_allclose(post[0], seg_post[:2].mean(0), atol=1e-6)
    with pytest.raises(ValueError, match="no segment"):
        utterance_posteriors(model, segs, np.array([0, 0, 2, 2, 2]), device="cpu")


def test_attack_segments_stays_in_eps_ball():
    torch.manual_seed(0)
    model = sized("proposed", "tiny")
    segs = np.random.default_rng(1).normal(size=(3, 64, 128)).astype(np.float32)
    y = np.array([0, 1, 2])
    for kind in ("fgsm", "bim"):
        adv = attack_segments(model, segs, y, kind, 0.08, batch_size=2, device="cpu")
        assert adv.shape == segs.shape and adv.dtype == np.float32
        assert np.abs(adv - segs).max() <= 0.08 + 1e-5
        assert np.abs(adv - segs).max() > 0.07
    with pytest.raises(ValueError, match="kind"):
        attack_segments(model, segs, y, "pgd", 0.08)
