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


# --------------------------------------------------------------------------- duplicate keys
def test_duplicate_yaml_key_is_refused_with_both_lines():
    text = "knobs:\n  train_snrs: {type: list}\n  seeds: {type: list}\n  train_snrs: {type: list}\n"
    import yaml

    assert list(yaml.safe_load(text)["knobs"]) == ["train_snrs", "seeds"]  # plain YAML silently keeps one
    with pytest.raises(profiles.ProfileError, match=r"'train_snrs' is defined twice \(lines 2 and 4\)"):
        profiles.load_yaml(text)
    assert profiles.load_yaml("a: {b: 1}\nc: {b: 2}\n") == {"a": {"b": 1}, "c": {"b": 2}}  # same key, other maps


def test_profiles_yaml_has_no_duplicate_keys_and_04_takes_a_snr_range():
    with open(profiles._YAML) as fh:
        profiles.load_yaml(fh)  # raises on a repeated key anywhere in the file
    cfg = profiles.resolve("04_joint_asr_ser", profile="paper")
    assert cfg.train_snr_range == [5, 35] and "train_snrs" not in cfg
    assert profiles.resolve("03_trnet", profile="paper").train_snrs == [20, 15, 10, 5, 0]


# --------------------------------------------------------------------------- dry runs
def test_dry_caps_keep_the_branches_and_cap_the_amounts(monkeypatch):
    monkeypatch.delenv(profiles.ENV_VAR, raising=False)
    monkeypatch.delenv(profiles.DRY_ENV, raising=False)
    full = profiles.resolve("05_densenet_highway", profile="paper")
    assert not full.dry and full.folds is None and len(full.seeds) == 10
    monkeypatch.setenv(profiles.DRY_ENV, "1")
    dry = profiles.resolve("05_densenet_highway", profile="paper", epochs=30)
    assert dry.dry and dry.folds == 1 and dry.seeds == [0] and dry.epochs == 1  # the cap beats a given knob
    assert dry.corpus_size == profiles.DRY_UTTERANCES and dry.xcorpus_max == profiles.DRY_TEST_UTTERANCES
    kept = {k: v for k, v in full.items() if k not in ("folds", "seeds", "epochs", "corpus_size", "xcorpus_max",
                                                       "workers", "dry", "dry_capped", "overrides")}
    assert kept and all(dry[k] == v for k, v in kept.items())  # models, widths, augmentations, SNRs ... as in paper
    assert dry.workers == 1 and full.workers != 1                 # in-process: no local cluster for tiny fits
    assert set(dry.dry_capped) == {"folds", "seeds", "epochs", "corpus_size", "xcorpus_max", "workers"}
    assert "dry run" in repr(dry)
    assert profiles.resolve("10_robustness_leaderboard", profile="paper").test_max == profiles.DRY_TEST_UTTERANCES
    assert profiles.resolve("01_edrl_mea", profile="smoke", corpus_size=20).corpus_size == 20  # below the cap: kept
    assert profiles.resolve("01_edrl_mea", profile="paper").grid == "paper"
    monkeypatch.setenv(profiles.DRY_ENV, "0")
    assert not profiles.is_dry() and profiles.resolve("02_decoupled_ladder", profile="paper").epochs == 100


def test_dry_caps_on_plain_values():
    capped, changed = profiles.dry_caps({"seeds": [3, 4], "folds": 1, "corpus_size": 500, "test_max": 10, "lr": 0.1,
                                         "workers": None})
    assert capped == {"seeds": [3], "folds": 1, "corpus_size": 64, "test_max": 10, "lr": 0.1, "workers": 1}
    assert changed == ["seeds", "corpus_size", "workers"]
