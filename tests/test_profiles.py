"""serlib.profiles: profile resolution, overrides, type checks, the SERLIB_PROFILE default."""

from __future__ import annotations

import pytest

from serlib import profiles


def test_profile_values_and_overrides(monkeypatch):
    monkeypatch.delenv(profiles.ENV_VAR, raising=False)
    cfg = profiles.resolve("00_data_tour", profile="smoke")
    assert cfg.profile == "smoke" and cfg.corpus == "synthetic" and cfg.corpus_size == "smoke"
    cfg = profiles.resolve("00_data_tour", profile="paper", corpus_size=100, snrs=[5])
    assert cfg.corpus_size == 100 and cfg.snrs == [5] and cfg.overrides == ("corpus_size", "snrs")
    assert "(given)" in repr(cfg)


def test_none_means_profile_value(monkeypatch):
    monkeypatch.delenv(profiles.ENV_VAR, raising=False)
    assert profiles.resolve("00_data_tour", profile="quick", corpus=None).corpus == "synthetic"


def test_env_var_replaces_default_profile_only(monkeypatch):
    monkeypatch.setenv(profiles.ENV_VAR, "smoke")
    assert profiles.resolve("00_data_tour", profile="quick").profile == "smoke"
    assert profiles.resolve("00_data_tour", profile="paper").profile == "paper"


def test_bad_values_are_named(monkeypatch):
    monkeypatch.delenv(profiles.ENV_VAR, raising=False)
    with pytest.raises(profiles.ProfileError, match="unknown profile 'fast'"):
        profiles.resolve("00_data_tour", profile="fast")
    with pytest.raises(profiles.ProfileError, match="no knob"):
        profiles.resolve("00_data_tour", profile="quick", learning_rate=0.1)
    with pytest.raises(profiles.ProfileError, match="expects list"):
        profiles.resolve("00_data_tour", profile="quick", snrs=5)
    with pytest.raises(profiles.ProfileError, match="no profile settings"):
        profiles.knobs("99_missing")
    monkeypatch.setenv(profiles.ENV_VAR, "turbo")
    with pytest.raises(profiles.ProfileError, match="turbo"):
        profiles.default_profile()


def test_every_notebook_has_all_profiles():
    for nb in profiles.notebooks():
        for prof in profiles.PROFILES:
            assert set(profiles.settings(nb, prof)) == set(profiles.knobs(nb))


@pytest.mark.parametrize("cuda, expected", [(True, "paper"), (False, "quick")])
def test_auto_profile_is_paper_on_a_gpu_and_quick_otherwise(monkeypatch, cuda, expected):
    """``make reproduce`` runs ``--profile auto``."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.delenv(profiles.ENV_VAR, raising=False)
    assert profiles.check_profile("auto") == expected
    assert profiles.resolve("01_edrl_mea", profile="auto").profile == expected
    monkeypatch.setenv(profiles.ENV_VAR, "auto")
    assert profiles.default_profile() == expected


def test_a_bool_is_not_a_number(monkeypatch):
    monkeypatch.delenv(profiles.ENV_VAR, raising=False)
    with pytest.raises(profiles.ProfileError, match=r"knob 'epochs' expects int, got bool True"):
        profiles.resolve("01_edrl_mea", profile="smoke", epochs=True)
    with pytest.raises(profiles.ProfileError, match=r"knob 'trees' expects int, got bool False"):
        profiles.resolve("00_data_tour", profile="smoke", trees=False)
    with pytest.raises(profiles.ProfileError, match=r"knob 'corpus_size' expects str or int, got bool True"):
        profiles.resolve("00_data_tour", profile="smoke", corpus_size=True)
    assert profiles.resolve("01_edrl_mea", profile="smoke", epochs=3).epochs == 3            # an int is fine
    profiles.check_type("lr", 1)                                                              # int for float: fine
    with pytest.raises(profiles.ProfileError, match=r"knob 'lr' expects int or float, got bool True"):
        profiles.check_type("lr", True)
    profiles.check_type("ratings_from_categories", True)                                      # a bool knob takes one
    with pytest.raises(profiles.ProfileError, match=r"expects bool, got int 1"):
        profiles.check_type("ratings_from_categories", 1)
