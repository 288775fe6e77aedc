"""Noise banks: one table of noise clips whatever the source, generated or recorded.

``load_noise(name, root=None, **opts)`` returns a DataFrame with one row per clip and the columns
``clip_id, path, noise_type, source_id, part, duration`` (path absolute, duration in seconds).

Banks (``name``):

- ``synthetic`` (default): the generated scenes of :mod:`serlib.noise.scenes`, written once as 16 kHz
  wavs under ``data_dir("noise", "synthetic-v{VERSION}")`` (atomic writes, so an interrupted run
  resumes where it stopped). ``types=[...]`` generates and returns only those types.
- ``musan``: ``musan/{music,speech,noise}/<collection>/*.wav`` (+ ``ANNOTATIONS``); the noise type is
  the top folder; the source of a music clip is its artist (ANNOTATIONS column 4), otherwise the file.
- ``esc50``: ``audio/{fold}-{src}-{take}-{target}.wav`` + ``meta/esc50.csv``; type = ``category``,
  source = ``src_file`` (the Freesound recording the 5-s clips were cut from).
- ``esc10``: the ESC-10 release, ``NNN - Class/{fold}-{src}-{take}.ogg``; classes are renamed to the
  ESC-50 category names (``Dog bark`` -> ``dog``, ``Person sneeze`` -> ``sneezing``, ...).
- ``demand``: ``<ENV>/ch01.wav`` (channel 1 of the 16-channel recordings); environments are renamed
  to plain types (``DKITCHEN`` -> ``kitchen``, ``PCAFETER`` -> ``cafeteria``, ...). One recording
  per environment means one source per type, so every DEMAND clip is a test clip (paper 5 only
  tests on DEMAND).
- ``inoise``: ``<scene>/*.wav``; ``Indoor_workplace`` -> ``workplace``, ``Outdoor_travel-bus`` ->
  ``bus``, ...; each file is a source.
- ``auto``: detect the layout of ``root`` (for iNoise, scene folders named ``Indoor_*``/``Outdoor_*``;
  other scene names load with ``name="inoise"``); a folder in no known layout raises
  :class:`NoiseLayoutError` listing the supported layouts.

:func:`resolve_types` (and :func:`types_for`, from a notebook's settings) checks noise-type knobs
against a bank: with a recorded bank the profile's generated-bank names give way to the bank's own
types (ESC-10's ten classes), and a type the bank lacks that the user asked for is an error listing
the bank's types.

Train/test parts are assigned by **source**, never by clip, so no recording is heard in training and
test (:func:`assign_parts`): within each noise type the sources are ranked by a stable hash and the
first third (at least one) are test sources, the rest train; a type with a single source is test
only. Generated and real banks share type names (``cafeteria``, ``dog``, ``music``...), so a notebook
can switch from the embedded bank to the recorded one by changing ``name`` and ``root`` only.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import soundfile as sf

from serlib import paths
from serlib.audio import SR, save_wav
from serlib.noise import scenes

__all__ = [
    "COLUMNS", "LAYOUTS", "BANKS", "NoiseLayoutError", "load_noise", "detect_layout", "assign_parts",
    "synthetic_root", "DEMAND_TYPES", "ESC10_TYPES", "INOISE_TYPES", "resolve_types", "types_for",
]

COLUMNS = ["clip_id", "path", "noise_type", "source_id", "part", "duration"]
"""Columns of every noise-bank table."""

LAYOUTS: dict[str, str] = {
    "musan": "musan/{music,speech,noise}/<collection>/*.wav, each collection with an ANNOTATIONS file",
    "esc50": "audio/{fold}-{src}-{take}-{target}.wav and meta/esc50.csv",
    "esc10": "'NNN - Class'/{fold}-{src}-{take}.ogg folders (the ESC-10 release)",
    "demand": "<ENV>/ch01.wav ... ch16.wav, ENV such as DKITCHEN, NPARK, PSTATION, STRAFFIC, PCAFETER",
    "inoise": "<scene>/*.wav, scene such as Indoor_workplace, Indoor_cafeteria, Outdoor_street",
}
"""Recorded-noise folder layouts that :func:`load_noise` reads."""

BANKS = ("synthetic", *LAYOUTS, "auto")
"""Accepted bank names."""

DEMAND_TYPES = {
    "DKITCHEN": "kitchen", "DLIVING": "living", "DWASHING": "washing", "NFIELD": "field", "NPARK": "park",
    "NRIVER": "river", "OHALLWAY": "hallway", "OMEETING": "meeting", "OOFFICE": "office", "PCAFETER": "cafeteria",
    "PRESTO": "restaurant", "PSTATION": "station", "SCAFE": "cafe", "SPSQUARE": "square", "STRAFFIC": "traffic",
    "TBUS": "bus", "TCAR": "car", "TMETRO": "metro",
}
"""DEMAND environment folders -> noise types (paper 5 uses kitchen, park, station, traffic, cafeteria)."""

ESC10_TYPES = {
    "dog bark": "dog", "rain": "rain", "sea waves": "sea_waves", "baby cry": "crying_baby",
    "clock tick": "clock_tick", "person sneeze": "sneezing", "helicopter": "helicopter", "chainsaw": "chainsaw",
    "rooster": "rooster", "fire crackling": "crackling_fire",
}
"""ESC-10 class folder names -> ESC-50 category names."""

INOISE_TYPES = {
    "indoor_workplace": "workplace", "indoor_cafeteria": "cafeteria", "indoor_home": "home",
    "outdoor_travel-bus": "bus", "outdoor_travel_bus": "bus", "outdoor_street": "street",
}
"""iNoise scene folders -> noise types (paper 1's Noise_1 ... Noise_5); other scenes keep a slug of their name."""

_AUDIO_EXT = {".wav", ".flac", ".ogg"}
TEST_FRACTION = 1.0 / 3.0


class NoiseLayoutError(ValueError):
    """A noise folder is missing or not in the expected layout; the message lists the supported ones."""


def _supported() -> str:
    return "\n".join(f"  - {k}: {v}" for k, v in LAYOUTS.items())


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in _AUDIO_EXT)


def _duration(path: Path) -> float:
    try:
        return float(sf.info(str(path)).duration)
    except Exception as exc:  # soundfile raises several types
        raise NoiseLayoutError(f"{path}: unreadable audio header ({exc}); re-export or remove the file") from exc


def synthetic_root() -> Path:
    """Where the generated bank lives: ``data_dir("noise", "synthetic-v{VERSION}")``."""
    return paths.data_dir("noise", f"synthetic-v{scenes.VERSION}")


# --------------------------------------------------------------------------------------------
# train/test by source
# --------------------------------------------------------------------------------------------

def assign_parts(df: pd.DataFrame, test_fraction: float = TEST_FRACTION, seed: int = 0) -> pd.DataFrame:
    """Set ``part`` to train/test by ``source_id`` (a source is never in both).

    Within each noise type (in sorted order), the not-yet-assigned sources are ranked by
    ``stable_seed("part", seed, source_id)``; the first ``max(1, round(n * test_fraction))`` become
    test sources and the rest train (a type with one source: test only). A source that also occurs
    under another type keeps the part it got first.
    """
    part_of: dict[str, str] = {}
    for t in sorted(df["noise_type"].unique()):
        srcs = sorted(set(df.loc[df["noise_type"] == t, "source_id"]) - set(part_of),
                      key=lambda s: scenes.stable_seed("part", seed, s))
        if not srcs:
            continue
        n_test = len(srcs) if len(srcs) == 1 else min(len(srcs) - 1, max(1, round(len(srcs) * test_fraction)))
        for i, s in enumerate(srcs):
            part_of[s] = "test" if i < n_test else "train"
    out = df.copy()
    out["part"] = out["source_id"].map(part_of)
    return out


# --------------------------------------------------------------------------------------------
# layouts
# --------------------------------------------------------------------------------------------

def _musan_root(root: Path) -> Path | None:
    for cand in (root, root / "musan"):
        if cand.is_dir() and any((cand / k).is_dir() for k in ("music", "speech", "noise")):
            return cand
    return None


def _is_esc10(root: Path) -> bool:
    return any(d.is_dir() and re.match(r"^\d{3} - .+", d.name) for d in root.iterdir())


def _is_demand(root: Path) -> bool:
    return any(d.is_dir() and (d / "ch01.wav").is_file() for d in root.iterdir())


def _is_inoise(root: Path) -> bool:
    """iNoise scenes are named Indoor_* / Outdoor_*; any other folder of folders needs name='inoise'."""
    return any(d.is_dir() and d.name.lower().startswith(("indoor", "outdoor")) and _audio_files(d)
               for d in root.iterdir())


def detect_layout(root: str | os.PathLike) -> str:
    """Name of the layout of ``root`` (see :data:`LAYOUTS`); raises :class:`NoiseLayoutError` if none fits."""
    root = Path(root)
    if not root.is_dir():
        raise NoiseLayoutError(f"noise folder {root} does not exist; pass root= pointing at one of:\n{_supported()}")
    if (root / "meta" / "esc50.csv").is_file() and (root / "audio").is_dir():
        return "esc50"
    if _musan_root(root) is not None:
        return "musan"
    if _is_esc10(root):
        return "esc10"
    if _is_demand(root):
        return "demand"
    if _is_inoise(root):
        return "inoise"
    raise NoiseLayoutError(f"{root} is in no supported noise layout. Supported layouts:\n{_supported()}\n"
                           "or use load_noise('synthetic') for the generated bank.")


def _need(cond: bool, root: Path, layout: str, what: str) -> None:
    if not cond:
        try:
            found = f" (it looks like the '{detect_layout(root)}' layout)"
        except NoiseLayoutError:
            found = ""
        raise NoiseLayoutError(f"{root}: not a {layout} folder: {what}{found}. Expected {LAYOUTS[layout]}. "
                               f"Supported layouts:\n{_supported()}")


def _load_musan(root: Path) -> pd.DataFrame:
    base = _musan_root(root)
    _need(base is not None, root, "musan", "no music/, speech/ or noise/ folder")
    rows = []
    for kind in ("music", "speech", "noise"):
        top = base / kind
        if not top.is_dir():
            continue
        for coll in sorted(d for d in top.iterdir() if d.is_dir()):
            artist: dict[str, str] = {}
            ann = coll / "ANNOTATIONS"
            if kind == "music" and ann.is_file():
                for line in ann.read_text(errors="replace").splitlines():
                    parts = line.split()
                    if len(parts) >= 4:
                        artist[parts[0]] = parts[3]
            for f in _audio_files(coll):
                src = f"musan:{kind}:artist:{artist[f.stem]}" if f.stem in artist else f"musan:{kind}:{f.stem}"
                rows.append((f.stem, str(f.resolve()), kind, src, _duration(f)))
    _need(bool(rows), root, "musan", "no audio files under music/, speech/ or noise/<collection>/")
    return pd.DataFrame(rows, columns=["clip_id", "path", "noise_type", "source_id", "duration"])


def _load_esc50(root: Path) -> pd.DataFrame:
    meta = root / "meta" / "esc50.csv"
    _need(meta.is_file() and (root / "audio").is_dir(), root, "esc50", "meta/esc50.csv or audio/ is missing")
    with open(meta, newline="") as fh:
        recs = list(csv.DictReader(fh))
    need = {"filename", "category", "src_file"}
    if not recs or not need <= set(recs[0]):
        raise NoiseLayoutError(f"{meta}: expected the columns {sorted(need)} (ESC-50 metadata), got "
                               f"{sorted(recs[0]) if recs else 'an empty file'}")
    rows = []
    for r in recs:
        f = root / "audio" / r["filename"]
        if not f.is_file():
            raise NoiseLayoutError(f"{meta} lists {r['filename']} but {f} is missing; restore the ESC-50 audio/ folder")
        rows.append((f.stem, str(f.resolve()), r["category"], f"esc:{r['src_file']}", _duration(f)))
    return pd.DataFrame(rows, columns=["clip_id", "path", "noise_type", "source_id", "duration"])


def _load_esc10(root: Path) -> pd.DataFrame:
    rows = []
    for d in sorted(root.iterdir()):
        m = re.match(r"^\d{3} - (.+)$", d.name)
        if not (d.is_dir() and m):
            continue
        ntype = ESC10_TYPES.get(m.group(1).strip().lower(), _slug(m.group(1)))
        for f in _audio_files(d):
            fm = re.match(r"^(\d+)-(\w+?)-([A-Za-z]+)$", f.stem)
            if not fm:
                raise NoiseLayoutError(f"{f}: ESC-10 file names are {{fold}}-{{src}}-{{take}}.ogg "
                                       "(e.g. 1-100032-A.ogg)")
            rows.append((f"{ntype}-{f.stem}", str(f.resolve()), ntype, f"esc:{fm.group(2)}", _duration(f)))
    _need(bool(rows), root, "esc10", "no 'NNN - Class' folders with audio")
    return pd.DataFrame(rows, columns=["clip_id", "path", "noise_type", "source_id", "duration"])


def _load_demand(root: Path, channel: str = "ch01") -> pd.DataFrame:
    rows = []
    for d in sorted(root.iterdir()):
        f = d / f"{channel}.wav"
        if d.is_dir() and f.is_file():
            ntype = DEMAND_TYPES.get(d.name.upper(), _slug(d.name))
            rows.append((f"{d.name}-{channel}", str(f.resolve()), ntype, f"demand:{d.name.upper()}", _duration(f)))
    _need(bool(rows), root, "demand", f"no <ENV>/{channel}.wav files")
    return pd.DataFrame(rows, columns=["clip_id", "path", "noise_type", "source_id", "duration"])


def _load_inoise(root: Path) -> pd.DataFrame:
    rows = []
    for d in sorted(root.iterdir()):
        if not d.is_dir():
            continue
        ntype = INOISE_TYPES.get(d.name.lower(), _slug(d.name))
        for f in _audio_files(d):
            rows.append((f"{d.name}-{f.stem}", str(f.resolve()), ntype, f"inoise:{d.name}/{f.stem}", _duration(f)))
    _need(bool(rows), root, "inoise", "no <scene>/*.wav files")
    return pd.DataFrame(rows, columns=["clip_id", "path", "noise_type", "source_id", "duration"])


_LOADERS = {"musan": _load_musan, "esc50": _load_esc50, "esc10": _load_esc10, "demand": _load_demand,
            "inoise": _load_inoise}


# --------------------------------------------------------------------------------------------
# the generated bank
# --------------------------------------------------------------------------------------------

def _generate_one(args: tuple[str, int, str, list[str] | None]) -> str:
    noise_type, index, path, voices = args
    x = scenes.generate_clip(noise_type, index, SR, voices=voices)
    save_wav(path, x, SR)
    return path


def _load_synthetic(root: Path | None, types: Iterable[str] | None = None, n_jobs: int | None = None,
                    progress: bool = True) -> pd.DataFrame:
    types = list(scenes.NOISE_TYPES if types is None else types)
    unknown = sorted(set(types) - set(scenes.NOISE_TYPES))
    if unknown:
        raise ValueError(f"unknown generated noise types {unknown}; choose from {scenes.NOISE_TYPES} "
                         f"(families: {sorted(scenes.NOISE_FAMILIES)})")
    root = Path(root) if root is not None else synthetic_root()
    rows, todo = [], []
    for t in sorted(set(types)):
        for i in range(scenes.N_SOURCES):
            path = root / t / f"{t}-{i:02d}.wav"
            rows.append((f"{t}-{i:02d}", str(path.resolve()), t, f"synthetic:{t}-{i:02d}",
                         scenes.clip_duration(t, i)))
            if not path.is_file():
                todo.append((t, i, str(path)))
    if todo:
        voices = None
        if any(scenes.needs_talkers(t) for t, _, _ in todo):
            voices = scenes.background_voices()
        jobs = [(t, i, p, voices) for t, i, p in todo]
        n_jobs = min(len(jobs), n_jobs or max(1, min(4, (os.cpu_count() or 1))))
        bar = None
        if progress and len(jobs) > 1:
            from serlib.progress import bar as progress_bar
            bar = progress_bar(total=len(jobs), desc=f"generating noise clips -> {root}", unit="clip")
        if n_jobs > 1:
            with ProcessPoolExecutor(n_jobs) as ex:
                for _ in ex.map(_generate_one, jobs):
                    if bar:
                        bar.update()
        else:
            for job in jobs:
                _generate_one(job)
                if bar:
                    bar.update()
        if bar:
            bar.close()
    return pd.DataFrame(rows, columns=["clip_id", "path", "noise_type", "source_id", "duration"])


# --------------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------------

def load_noise(name: str = "synthetic", root: str | os.PathLike | None = None, *, types: Iterable[str] | None = None,
               test_fraction: float = TEST_FRACTION, split_seed: int = 0, **opts) -> pd.DataFrame:
    """Load (or generate) a noise bank as a table ``clip_id, path, noise_type, source_id, part, duration``.

    Args:
        name: ``synthetic`` (default), ``musan``, ``esc50``, ``esc10``, ``demand``, ``inoise`` or ``auto``.
            ``esc50`` also reads a folder in the ESC-10 release's layout (its subset, same categories).
        root: the bank's folder. Default for ``synthetic``: ``data_dir("noise", "synthetic-v{VERSION}")``;
            for recorded banks: ``data_dir("noise", name)``.
        types: keep only these noise types (for ``synthetic`` only these are generated).
        test_fraction / split_seed: the source-level train/test split (:func:`assign_parts`).
        **opts: ``n_jobs`` and ``progress`` (synthetic generation), ``channel`` (demand, default ch01).

    Raises:
        NoiseLayoutError: the folder is missing or in another layout (the message lists the layouts).
    """
    if name not in BANKS:
        raise ValueError(f"unknown noise bank {name!r}; choose from {BANKS}")
    if name == "synthetic":
        bad = set(opts) - {"n_jobs", "progress"}
        if bad:
            raise TypeError(f"load_noise('synthetic') got unexpected options {sorted(bad)}")
        df = _load_synthetic(root, types, **opts)
    else:
        root = Path(root) if root is not None else paths.data_dir("noise", name)
        if name == "auto":
            name = detect_layout(root)
        elif name == "esc50" and root.is_dir() and not (root / "meta" / "esc50.csv").is_file() and _is_esc10(root):
            name = "esc10"  # the ESC-10 release: a subset of ESC-50 with the same category names
        elif not root.is_dir():
            raise NoiseLayoutError(f"{name} noise folder {root} does not exist; download the corpus and pass "
                                   f"root=, expected layout: {LAYOUTS[name]}")
        bad = set(opts) - ({"channel"} if name == "demand" else set())
        if bad:
            raise TypeError(f"load_noise({name!r}) got unexpected options {sorted(bad)}")
        df = assign_parts(_LOADERS[name](root, **opts), test_fraction, split_seed)  # before any type filter
        if types is not None:
            types = list(types)
            missing = sorted(set(types) - set(df["noise_type"]))
            if missing:
                raise ValueError(f"{root}: no clips of noise types {missing}; "
                                 f"available: {sorted(df['noise_type'].unique())}")
            df = df[df["noise_type"].isin(types)]
    if df["clip_id"].duplicated().any():
        dup = df.loc[df["clip_id"].duplicated(), "clip_id"].iloc[0]
        raise NoiseLayoutError(f"clip_id {dup!r} occurs twice in {root}; clip ids must be unique")
    if name == "synthetic":
        df = assign_parts(df, test_fraction, split_seed)  # per type: independent of which types were asked
    return df[COLUMNS].sort_values(["noise_type", "clip_id"]).reset_index(drop=True)



# --------------------------------------------------------------------------------------------
# noise-type knobs against a bank
# --------------------------------------------------------------------------------------------

def resolve_types(types: Iterable[str] | None, bank: str = "synthetic", root: str | os.PathLike | None = None, *,
                  explicit: bool = False, keep_count: bool = True) -> tuple[list[str], str]:
    """The noise types to use from ``bank``, and one sentence saying why (for the notebook to print).

    - Generated bank (``synthetic``): ``types`` as given (None: all :data:`scenes.NOISE_TYPES`); an
      unknown name is a ``ValueError`` listing the generated types. A ``root`` holding a recorded
      bank with ``bank="synthetic"`` is refused (generating into it would be wrong): name the layout.
    - Recorded bank (``root``): ``types`` that the bank has are used as given. When some are
      missing and they came from the profile (``explicit=False``) as generated-bank names, the
      bank's **own** types are used instead: all of them, or with ``keep_count`` the first
      ``len(types)`` in sorted order (the profile's budget of conditions). A type the bank lacks
      that the user asked for (``explicit=True``), or that is no generated name either, is a
      ``ValueError`` listing the bank's types.
    """
    asked = None if types is None else [types] if isinstance(types, str) else list(types)
    if bank == "synthetic":
        if root is not None and Path(root).is_dir():
            try:
                layout = detect_layout(root)
            except NoiseLayoutError:
                layout = None
            if layout is not None:
                raise NoiseLayoutError(f"noise_root {root} holds a recorded '{layout}' bank but the bank is "
                                       f"'synthetic', which would generate clips into it: pass -p noise {layout} "
                                       "(or -p noise auto)")
        if asked is None:
            return list(scenes.NOISE_TYPES), "all types of the generated bank"
        unknown = [t for t in asked if t not in scenes.NOISE_TYPES]
        if unknown:
            raise ValueError(f"generated noise bank: no types {unknown}; choose from {scenes.NOISE_TYPES}")
        return asked, f"generated bank, types {asked}"
    table = load_noise(bank, root)
    have = sorted(table["noise_type"].unique())
    label = detect_layout(root if root is not None else paths.data_dir("noise", bank)) if bank == "auto" else bank
    where = f"the {label} bank at {root}" if root is not None else f"the {label} bank"
    if asked is None:
        return have, f"all {len(have)} types of {where}"
    missing = [t for t in asked if t not in have]
    if not missing:
        return asked, f"types {asked} of {where}"
    if explicit or any(t not in scenes.NOISE_TYPES for t in missing):
        raise ValueError(f"{where} has no noise types {missing}; its types are {have}")
    chosen = have[: len(asked)] if keep_count else have
    count = f"the first {len(chosen)} of its {len(have)} types" if len(chosen) < len(have) else f"its {len(have)} types"
    return chosen, (f"{count} of {where}: {chosen} (the profile's generated-bank types {missing} are not in it; "
                    "set the noise-type knob to choose others)")


def types_for(cfg, knob: str = "noise_types", bank_knob: str = "noise", *, keep_count: bool = True
              ) -> tuple[list[str], str]:
    """:func:`resolve_types` for a notebook's settings: ``cfg[knob]`` against the bank
    ``cfg[bank_knob]`` at ``cfg[bank_knob + "_root"]``; explicit when the knob was given by the user
    (``cfg.overrides``). E.g. ``types_for(cfg, "unmatched_types", "unmatched_noise")``."""
    return resolve_types(cfg.get(knob), cfg.get(bank_knob) or "synthetic", cfg.get(f"{bank_knob}_root"),
                         explicit=knob in (cfg.get("overrides") or ()),
                         keep_count=keep_count)
