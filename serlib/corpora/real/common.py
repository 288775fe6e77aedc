"""Shared machinery of the real-corpus loaders: root checks, durations, missing files, validation.

Policy for bad input (the same in every loader):

- ``root`` missing or None -> :class:`~serlib.corpora.schema.CorpusError` naming the path, the
  ``root=`` parameter and the expected layout;
- a root in another layout -> :class:`CorpusError` naming the expected layout and what was found;
- a label line naming an audio file that does not exist -> by default (``missing="error"``) a
  :class:`CorpusError` naming the label file, the line number and the missing file. With
  ``missing="skip"`` such rows are excluded instead, with one warning that counts and lists
  them; the list is kept in ``df.attrs["excluded"]``. Never a silent skip;
- an audio file whose header cannot be read, or with no samples -> :class:`serlib.audio.AudioError`
  naming the file, at load time (durations come from the headers);
- silent or NaN audio is only visible when decoded: :func:`serlib.audio.load_audio` raises
  :class:`AudioError` naming the file when it is read, and ``validate=True`` (or
  :func:`validate_audio`) decodes every file up front and raises one error listing all bad files.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import soundfile as sf

from serlib.audio import AudioError, load_audio

from ..schema import CorpusError, make_manifest

MISSING_POLICIES = ("error", "skip")


def check_missing_policy(missing: str) -> str:
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing={missing!r}; use 'error' (default: stop at a label naming a missing file) "
                         "or 'skip' (exclude such rows with a warning that lists them)")
    return missing


def require_root(root, corpus: str, layout: str) -> Path:
    """Return ``root`` as a Path, or raise :class:`CorpusError` explaining what to pass."""
    if root is None:
        raise CorpusError(f"{corpus}: no corpus folder given; call serlib.corpora.load({corpus!r}, root=...) "
                          f"(or set the notebook parameter corpus_root) with the folder laid out as:\n{layout}")
    path = Path(root).expanduser()
    if not path.exists():
        raise CorpusError(f"{corpus}: corpus folder {path} does not exist; pass root= the folder laid out as:\n"
                          f"{layout}")
    if not path.is_dir():
        raise CorpusError(f"{corpus}: root {path} is a file, not a folder; pass root= the folder laid out as:\n"
                          f"{layout}")
    return path.resolve()


def layout_error(root: Path, corpus: str, layout: str, problem: str) -> CorpusError:
    """A :class:`CorpusError` for a root in another layout, listing what the folder holds."""
    try:
        found = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())
    except OSError:
        found = []
    shown = ", ".join(found[:12]) + (" ..." if len(found) > 12 else "") if found else "(empty folder)"
    return CorpusError(f"{corpus}: {root} is not in the expected layout ({problem}).\nExpected:\n{layout}\n"
                       f"Found in {root}: {shown}")


def name_fields(path: Path, pattern: re.Pattern, *, corpus: str, naming: str, codes: Mapping | None = None,
                code_group: int = 0) -> tuple[str, ...]:
    """The fields a file name codes (the groups of ``pattern`` on its stem).

    Raises :class:`CorpusError` naming the file and the expected ``naming`` when the stem does not
    match, or when group ``code_group`` is not one of ``codes`` (e.g. the emotion code).
    """
    m = pattern.match(path.stem)
    if not m or (codes is not None and m.group(code_group) not in codes):
        raise CorpusError(f"{corpus}: {path} does not follow the {naming}; remove or rename it")
    return m.groups()


def file_row(path: Path, *, speaker: str, emotion: str, gender: str | None = None,
             transcript: str | None = None) -> dict:
    """A manifest row of a corpus whose file names code the labels: no session, ratings or split."""
    return dict(utt_id=path.stem, path=str(path), speaker=speaker, gender=gender, session=None, emotion=emotion,
                transcript=transcript, split=None)


def line_error(corpus: str, label_file, lineno: int, problem: str) -> CorpusError:
    """A :class:`CorpusError` pointing at one line of a label file."""
    return CorpusError(f"{corpus}: {label_file}, line {lineno}: {problem}")


def duration(path: str | os.PathLike) -> float:
    """Seconds of audio from the file header (no decoding); :class:`AudioError` naming the file."""
    try:
        info = sf.info(str(path))
    except Exception as exc:  # LibsndfileError, RuntimeError, ...
        raise AudioError(f"{path}: unreadable audio header ({exc}); re-export it as wav/flac or remove it "
                         "from the corpus") from exc
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioError(f"{path}: audio is empty (0 samples); re-export or remove this file")
    return info.frames / info.samplerate


def split_missing(rows: list[dict], *, corpus: str, missing: str) -> tuple[list[dict], list[dict]]:
    """Separate rows whose ``path`` does not exist, applying the ``missing`` policy.

    Each row must carry ``_label_file`` and ``_line`` (where the label came from).
    Returns (kept rows, excluded records).
    """
    check_missing_policy(missing)
    kept, excluded = [], []
    for r in rows:
        if os.path.isfile(r["path"]):
            kept.append(r)
            continue
        rec = {"utt_id": r["utt_id"], "path": r["path"], "label_file": r.get("_label_file"), "line": r.get("_line")}
        if missing == "error":
            raise CorpusError(
                f"{corpus}: {rec['label_file']}, line {rec['line']}, names {rec['utt_id']!r} but its audio file "
                f"{rec['path']} does not exist. Restore the file, fix the label file, or pass missing='skip' to "
                "exclude such rows with a warning.")
        excluded.append(rec)
    if excluded:
        listing = "\n".join(f"  {e['label_file']}:{e['line']}: {e['path']}" for e in excluded[:10])
        more = f"\n  ... and {len(excluded) - 10} more (df.attrs['excluded'])" if len(excluded) > 10 else ""
        warnings.warn(f"{corpus}: excluded {len(excluded)} labelled utterances whose audio is missing "
                      f"(missing='skip'):\n{listing}{more}", stacklevel=3)
    return kept, excluded


def finish(rows: list[dict], *, corpus: str, av_scale, root: Path, validate: bool,
           excluded: list[dict] | None = None, layout: str = "") -> pd.DataFrame:
    """Durations from headers, build and validate the manifest, optionally decode every file."""
    if not rows:
        raise layout_error(root, corpus, layout, "no labelled utterance with audio was found")
    for r in rows:
        r["duration"] = duration(r["path"])
        r["corpus"] = corpus
        r.pop("_label_file", None), r.pop("_line", None)
    df = make_manifest(rows, corpus=corpus, av_scale=av_scale)
    df.attrs["root"] = str(root)
    df.attrs["excluded"] = list(excluded or [])
    if validate:
        validate_audio(df)
    return df


def validate_audio(df: pd.DataFrame, *, progress: bool = False) -> pd.DataFrame:
    """Decode every file of a manifest with :func:`serlib.audio.load_audio` (at its own rate).

    Raises one :class:`AudioError` listing every unreadable, empty, silent or NaN file
    (up to 20 shown, with the reason). Returns ``df`` when all files are good.
    """
    from serlib.progress import bar as progress_bar

    bad = []
    for path in progress_bar(df["path"], desc="validating audio", unit="file", disable=not progress):
        try:
            info = sf.info(str(path))
            load_audio(path, sr=info.samplerate)
        except AudioError as exc:
            bad.append(str(exc))
        except Exception as exc:  # header unreadable: load_audio would say the same
            bad.append(f"{path}: unreadable audio ({exc})")
    if bad:
        listing = "\n".join("  " + b for b in bad[:20])
        more = f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else ""
        raise AudioError(f"{len(bad)} of {len(df)} audio files are unusable:\n{listing}{more}")
    return df
