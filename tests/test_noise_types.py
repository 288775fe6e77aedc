"""Noise-type knobs against a bank (serlib.noise.resolve_types / types_for): a recorded bank's own types.

Fixture banks are written in the exact ESC-10 and iNoise layouts (short clips); the real ESC-10 in
../shared/data is checked too (skipped when absent).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from serlib import noise, profiles


def clip(path: Path, seed: int, sr: int = 16000, fmt: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    x = 0.1 * np.random.default_rng(seed).standard_normal(sr // 4)
    sf.write(str(path), x, sr, **({"format": "OGG", "subtype": "VORBIS"} if fmt == "ogg" else {}))


@pytest.fixture
def esc10(tmp_path) -> Path:
    """Three ESC-10 classes, three source recordings each, in the release's folder names."""
    root = tmp_path / "esc10"
    for k, cls in enumerate(["001 - Dog bark", "002 - Rain", "010 - Fire crackling"]):
        for s in range(3):
            clip(root / cls / f"{s + 1}-{1000 * (k + 1) + s}-A.ogg", 10 * k + s, 44100, "ogg")
    return root


def test_generated_bank_types_pass_through_and_unknown_names_fail():
    types, why = noise.resolve_types(["babble", "white"])
    assert types == ["babble", "white"] and "generated" in why
    assert noise.resolve_types(None)[0] == list(noise.NOISE_TYPES)
    with pytest.raises(ValueError, match=r"no types \['tram'\]; choose from \['babble'"):
        noise.resolve_types(["babble", "tram"])


def test_recorded_bank_defaults_to_its_own_types(esc10):
    # the profile's generated-bank names are not in the bank: the bank's own types, as many as asked
    types, why = noise.resolve_types(["cafeteria"], "esc10", esc10)
    assert types == ["crackling_fire"] and "the first 1 of its 3 types" in why and "['cafeteria']" in why
    types, _ = noise.resolve_types(["workplace", "cafeteria", "home", "bus", "street"], "auto", esc10)
    assert types == ["crackling_fire", "dog", "rain"]                 # all 3: fewer than asked
    assert noise.resolve_types(["cafeteria"], "esc10", esc10, keep_count=False)[0] == ["crackling_fire", "dog", "rain"]
    # types the bank has are kept as given (03's ESC names against ESC-10)
    assert noise.resolve_types(["rain", "dog"], "esc10", esc10)[0] == ["rain", "dog"]
    assert noise.resolve_types(None, "esc10", esc10)[0] == ["crackling_fire", "dog", "rain"]


def test_a_type_the_bank_lacks_is_an_error_listing_its_types(esc10):
    with pytest.raises(ValueError, match=r"has no noise types \['cafeteria'\]; its types are "
                                         r"\['crackling_fire', 'dog', 'rain'\]"):
        noise.resolve_types(["dog", "cafeteria"], "esc10", esc10, explicit=True)
    with pytest.raises(ValueError, match=r"no noise types \['tram'\]"):            # not a generated name either
        noise.resolve_types(["tram"], "esc10", esc10)


def test_types_for_reads_the_settings_and_knows_what_the_user_gave(esc10):
    cfg = profiles.resolve("01_edrl_mea", profile="smoke", noise="esc10", noise_root=str(esc10))
    assert noise.types_for(cfg)[0] == ["crackling_fire"]
    given = profiles.resolve("01_edrl_mea", profile="smoke", noise="esc10", noise_root=str(esc10),
                             noise_types=["cafeteria"])
    with pytest.raises(ValueError, match="its types are"):
        noise.types_for(given)
    trnet = profiles.resolve("03_trnet", profile="smoke", unmatched_noise="esc10", unmatched_noise_root=str(esc10))
    types, why = noise.types_for(trnet, "unmatched_types", "unmatched_noise")
    assert types == ["crackling_fire", "dog", "rain"] and "esc10" in why


def test_esc50_reads_the_esc10_release_and_nothing_else(esc10, tmp_path):
    # `-p noise esc50 -p noise_root <ESC-10 folder>`: ESC-10 is the ESC-50 subset with the same category names
    as_esc50 = noise.load_noise("esc50", esc10)
    pd.testing.assert_frame_equal(as_esc50, noise.load_noise("esc10", esc10))
    cfg = profiles.resolve("00_data_tour", profile="smoke", noise="esc50", noise_root=str(esc10))
    types, why = noise.types_for(cfg)
    assert set(types) <= {"crackling_fire", "dog", "rain"} and types and "esc50 bank" in why
    wav = 0.1 * np.sin(np.arange(8000) / 5).astype(np.float32)
    cond = noise.Condition(types[0], 0, bank="esc50", root=str(esc10))
    _, speech, noise_part, info = cond.apply_with_parts(wav, "u1")
    assert info["clip_id"].startswith(types[0]) and noise.measure_snr(speech, noise_part) == pytest.approx(0, abs=0.1)
    other = tmp_path / "inoise" / "Indoor_cafeteria"                    # another layout stays refused
    clip(other / "a.wav", 0, 16000, "wav")
    with pytest.raises(noise.NoiseLayoutError, match="not a esc50 folder.*'inoise' layout"):
        noise.load_noise("esc50", other.parent)


def test_synthetic_bank_refuses_a_recorded_folder_as_root(esc10):
    with pytest.raises(noise.NoiseLayoutError, match=r"holds a recorded 'esc10' bank .* -p noise esc10"):
        noise.resolve_types(["babble"], "synthetic", esc10)
    assert not list(esc10.glob("babble*"))                                # nothing generated into it


def test_real_esc10_gives_per_type_train_and_test_sources(shared_data):
    root = shared_data / "esc10"
    if not root.is_dir():
        pytest.skip(f"{root} is not present in the shared data")
    bank = noise.load_noise("auto", root)
    parts = bank.groupby("noise_type")["part"].agg(set)
    assert len(parts) == 10 and all(p == {"train", "test"} for p in parts)   # every type: train and test sources
    src = bank.groupby("noise_type").apply(lambda g: g.groupby("part")["source_id"].agg(set), include_groups=False)
    assert all(not (s["train"] & s["test"]) for _, s in src.iterrows())
    types, why = noise.resolve_types(["workplace", "cafeteria", "home", "bus", "street"], "auto", root)
    assert types == sorted(bank.noise_type.unique())[:5] and "of its 10 types" in why
