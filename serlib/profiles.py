"""Profiles (`smoke`, `quick`, `paper`): the settings each notebook runs with.

The settings live in ``serlib/profiles.yaml`` (configuration as data). A notebook's
first code cell is a papermill ``parameters`` cell::

    profile: str = "quick"   # smoke | quick | paper
    corpus: str = None       # None = from the profile
    ...

and its next cell resolves them::

    cfg = profiles.resolve("00_data_tour", profile=profile, corpus=corpus, ...)

Every knob left at ``None`` takes the profile's value; a knob given explicitly wins
and is type-checked against ``knobs`` in the YAML. The environment variable
``SERLIB_PROFILE`` replaces the *default* profile (``"quick"``), which is how nbval
executes the stored notebooks on ``smoke`` and how ``python -m serlib.run --profile``
reaches notebooks run directly.

**Dry runs.** With ``SERLIB_DRY=1`` in the environment (``python -m serlib.run --dry`` sets it;
worker processes inherit it) :func:`resolve` keeps every setting of the profile that chooses
*what* runs (models, widths, systems, augmentations, grids, conditions, SNRs, noise types,
batch sizes, frames) and caps only *how much* runs (:func:`dry_caps`): 1 fold, the first seed,
1 epoch, at most :data:`DRY_UTTERANCES` utterances (the embedded corpus is generated at that
size; a real corpus is subsampled to it) and at most as many cross-corpus and test utterances,
fitted in-process (``workers`` 1: a dry run checks the paper's branches, not the cluster; the Dask
backends have their own tests, and a running scheduler given by ``scheduler`` is still used).
:func:`serlib.training.fit` then stops every epoch after :data:`DRY_BATCHES` batches and
:func:`serlib.models.forest.fit_grid` fits :data:`DRY_TREES` trees per forest of the full grid.
So every paper-only branch executes in minutes; the numbers mean nothing (``cfg.dry`` is True
and the run metadata records ``dry``).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from collections.abc import Hashable
from typing import Any

import yaml

PROFILES = ("smoke", "quick", "paper")
DEFAULT_PROFILE = "quick"
ENV_VAR = "SERLIB_PROFILE"
_YAML = Path(__file__).with_name("profiles.yaml")
DRY_ENV = "SERLIB_DRY"
DRY_UTTERANCES = 64
"""Dry runs: at most this many utterances in the corpus."""
DRY_TEST_UTTERANCES = 16
"""Dry runs: at most this many utterances in a separate evaluation set (cross-corpus, ``test_max``):
they are evaluated under every test condition of the paper's grid, which dominates a dry run's time."""
DRY_BATCHES = 2
"""Dry runs: training batches per epoch (:func:`serlib.training.fit`)."""
DRY_TREES = 2
"""Dry runs: trees per random forest of a grid search (the grid itself is kept)."""
_TYPES: dict[str, type | tuple[type, ...]] = {
    "str": str, "int": int, "float": (int, float), "bool": bool, "list": (list, tuple), "dict": dict,
}


class ProfileError(ValueError):
    """A profile, notebook or knob that does not exist, or a knob of the wrong type."""


class Config(dict):
    """The resolved settings of one notebook run: a dict with attribute access.

    ``cfg.profile`` is the profile used; ``cfg.overrides`` the knobs given explicitly; ``cfg.dry``
    whether this is a dry run (:func:`dry_caps` applied).
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no setting {name!r}; available: {', '.join(sorted(self))}") from None

    def __repr__(self) -> str:
        dry = f"  (dry run: {', '.join(self.get('dry_capped', ()))} capped)" if self.get("dry") else ""
        lines = [f"profile = {self.get('profile')!r}{dry}"]
        for key in sorted(k for k in self if k not in ("profile", "overrides", "notebook", "dry", "dry_capped")):
            mark = "  (given)" if key in self.get("overrides", ()) else ""
            lines.append(f"{key} = {self[key]!r}{mark}")
        return "\n".join(lines)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a mapping with the same key twice (plain YAML keeps the last one)."""

    def construct_mapping(self, node, deep=False):
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if not isinstance(key, Hashable):  # SafeLoader reports unhashable keys itself
                continue
            if key in seen:
                raise ProfileError(
                    f"{key_node.start_mark.name}: key {key!r} is defined twice (lines {seen[key]} and {line}); "
                    "YAML would silently keep the second - rename one of them"
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml(stream: Any) -> Any:
    """Parse YAML (a string or an open file) like ``yaml.safe_load``, but a key repeated within one
    mapping raises :class:`ProfileError` naming the key and both lines."""
    return yaml.load(stream, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


@lru_cache(maxsize=1)
def _spec() -> dict:
    with open(_YAML) as fh:
        return load_yaml(fh)


def knob_types() -> dict[str, tuple[type, ...]]:
    """The declared Python type(s) of every knob."""
    out = {}
    for name, spec in _spec()["knobs"].items():
        names = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
        types: tuple[type, ...] = ()
        for tname in names:
            t = _TYPES[tname]
            types += t if isinstance(t, tuple) else (t,)
        out[name] = types
    return out


def notebooks() -> list[str]:
    """Names of the notebooks that have profile settings."""
    return sorted(_spec()["notebooks"])


def knobs(notebook: str) -> list[str]:
    """The knobs a notebook takes (besides ``profile``)."""
    nbs = _spec()["notebooks"]
    if notebook not in nbs:
        raise ProfileError(f"no profile settings for notebook {notebook!r}; known: {', '.join(sorted(nbs))}")
    return list(nbs[notebook]["knobs"])


def default_profile() -> str:
    """``$SERLIB_PROFILE`` if set (validated), else ``"quick"``."""
    prof = os.environ.get(ENV_VAR) or DEFAULT_PROFILE
    return check_profile(prof)


def check_profile(profile: str) -> str:
    """Validate a profile name; ``"auto"`` means ``paper`` on a CUDA machine, ``quick`` otherwise."""
    if profile == "auto":
        import torch

        return "paper" if torch.cuda.is_available() else "quick"
    if profile not in PROFILES:
        raise ProfileError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)} (or auto)")
    return profile


def check_type(name: str, value: Any) -> None:
    """Raise :class:`ProfileError` if ``value`` does not fit the declared type of knob ``name``."""
    types = knob_types()
    if name not in types:
        raise ProfileError(f"unknown knob {name!r}; valid knobs: {', '.join(sorted(types))}")
    if value is None:
        return
    ok = isinstance(value, types[name]) and not (isinstance(value, bool) and bool not in types[name])
    if not ok:
        expected = " or ".join(t.__name__ for t in types[name])
        raise ProfileError(f"knob {name!r} expects {expected}, got {type(value).__name__} {value!r}")


def settings(notebook: str, profile: str) -> dict[str, Any]:
    """The profile's values for every knob of ``notebook`` (no overrides)."""
    profile = check_profile(profile)
    spec = _spec()
    names = knobs(notebook)
    merged = {**spec["common"][profile], **(spec["notebooks"][notebook].get(profile) or {})}
    missing = [n for n in names if n not in merged]
    if missing:
        raise ProfileError(f"profiles.yaml: notebook {notebook!r} profile {profile!r} lacks values for {missing}")
    return {n: merged[n] for n in names}


def is_dry() -> bool:
    """Whether this process runs dry (``$SERLIB_DRY`` set to anything but empty or ``0``)."""
    return os.environ.get(DRY_ENV, "") not in ("", "0")


def _cap(value: Any) -> int:
    return DRY_UTTERANCES if value is None else min(int(value), DRY_UTTERANCES)


def dry_caps(values: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``values`` with the dry-run caps applied to the knobs it has, and the names of the knobs changed.

    ``folds`` -> 1 (also for None = all), ``seeds`` -> the first, ``epochs`` -> 1,
    ``corpus_size`` -> :data:`DRY_UTTERANCES` (a named size or any larger number),
    ``xcorpus_max`` / ``test_max`` -> at most :data:`DRY_TEST_UTTERANCES` (None = all becomes the cap),
    ``workers`` -> 1 (fits in-process: no local cluster to start for a few tiny fits).
    Every other knob is kept, so the run takes the same branches as the full profile.
    """
    out = dict(values)
    rules = {
        "folds": lambda v: 1,
        "seeds": lambda v: list(v)[:1],
        "epochs": lambda v: 1,
        "corpus_size": lambda v: DRY_UTTERANCES if isinstance(v, str) else _cap(v),
        "xcorpus_max": lambda v: DRY_TEST_UTTERANCES if v is None else min(int(v), DRY_TEST_UTTERANCES),
        "test_max": lambda v: DRY_TEST_UTTERANCES if v is None else min(int(v), DRY_TEST_UTTERANCES),
        "workers": lambda v: 1,
    }
    changed = []
    for name, rule in rules.items():
        if name in out:
            new = rule(out[name])
            if new != out[name]:
                out[name] = new
                changed.append(name)
    return out, changed


def resolve(notebook: str, profile: str | None = None, **given: Any) -> Config:
    """Resolve the settings of ``notebook``: profile values, with explicit (non-None) knobs on top.

    ``profile=None`` or the default ``"quick"`` is replaced by ``$SERLIB_PROFILE`` when that is set.
    Unknown knob names and values of the wrong type raise :class:`ProfileError`. In a dry run
    (:func:`is_dry`) the :func:`dry_caps` are applied last, over explicit knobs too.
    """
    if profile is None or profile == DEFAULT_PROFILE:
        profile = default_profile()
    profile = check_profile(profile)
    names = knobs(notebook)
    unknown = sorted(set(given) - set(names))
    if unknown:
        raise ProfileError(
            f"notebook {notebook!r} has no knob(s) {unknown}; its knobs: {', '.join(['profile', *names])}"
        )
    overrides = {}
    for name, value in given.items():
        check_type(name, value)
        if value is not None:
            overrides[name] = list(value) if isinstance(value, tuple) else value
    values = {**settings(notebook, profile), **overrides}
    dry = is_dry()
    capped: list[str] = []
    if dry:
        values, capped = dry_caps(values)
    return Config(values, profile=profile, notebook=notebook, overrides=tuple(sorted(overrides)), dry=dry,
                  dry_capped=tuple(capped))
