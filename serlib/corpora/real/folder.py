"""Any labelled folder of audio as a corpus (``corpora.load("folder", root, speaker_regex=...)``).

Many small corpora have no dedicated loader. Two layouts are read:

**A. One folder per emotion** (``root`` is a folder)::

    <root>/angry/spk03_take1.wav
    <root>/Happy/spk08_x.flac
    <root>/<speaker>/<emotion>/<file>.wav      (deeper trees work too)

The emotion is each file's **parent folder name**, normalised (``Angry``/``anger``/``ang``/``ANG`` ->
``angry``, ``happiness``/``joy``/``hap`` -> ``happy``, ``sadness`` -> ``sad``, ``neu`` -> ``neutral``,
``fear`` -> ``fearful``, ``disgust`` -> ``disgusted``, ``surprise`` -> ``surprised``, ``boredom`` ->
``bored``; :data:`serlib.corpora.labels.EMOTION_ALIASES` has the full table; other names are kept,
lower-cased, with a warning). The **speaker** comes from the file name by ``speaker_regex`` (knob
``speaker_regex``): a regular expression searched in the file name (with its extension) whose first
group is the speaker, e.g. ``^(\\d\\d)`` for ``03a01Wa.wav`` or ``_(\\d+)\\.wav$`` for ``angry_017.wav``;
where it does not match the file name it is searched in the path relative to the root (``/``
separators), so ``^([^/]+)/`` takes the speaker from a ``<speaker>/<emotion>/<file>`` tree.

**B. A CSV file** (``root`` is the CSV itself): a header with at least ``path`` and ``emotion``, and
``speaker`` unless ``speaker_regex`` is given; optional ``transcript``, ``gender`` (F/M),
``session``, ``split``, and ``arousal``/``valence``/``dominance`` ratings on ``av_scale`` (default
1-5). Paths are relative to the CSV's folder (or absolute). Comma, semicolon or tab separated::

    path,emotion,speaker,transcript
    clips/a.wav,angry,s01,Kids are talking by the door.

Audio: wav, flac or ogg at any rate and channel count (read as 16 kHz mono by
:func:`serlib.audio.load_audio`). ``utt_id`` = the path relative to the root without extension.

Refusals (each names the fix): no audio files; files directly in ``root`` in layout A (no emotion
folder); **no way to derive speakers** (no ``speaker_regex`` and no ``speaker`` column), or a regex
that does not match some file names: speaker-independent protocols need a speaker per utterance; a CSV
line naming a missing file (``missing="skip"`` excludes such lines with a warning instead).
"""

from __future__ import annotations

import csv
import re
import warnings
from pathlib import Path

import pandas as pd

from ..labels import KNOWN_EMOTIONS, normalize_emotion
from ..schema import CorpusError
from .common import check_missing_policy, finish, layout_error, line_error, require_root, split_missing

CORPUS = "folder"
AUDIO_EXT = (".wav", ".flac", ".ogg")
LAYOUT = ("  A. <root>/<emotion>/<file>.wav  (emotion = the parent folder's name; speaker from the file name by\n"
          "     speaker_regex, e.g. '^(\\d\\d)' for 03a01Wa.wav)\n"
          "  B. root = a CSV file with a header: path,emotion,speaker[,transcript,gender,session,split,arousal,\n"
          "     valence,dominance]; paths relative to the CSV's folder")
OPTIONAL = ("transcript", "gender", "session", "split", "arousal", "valence", "dominance")
_GENDER = {"f": "F", "female": "F", "w": "F", "woman": "F", "m": "M", "male": "M", "man": "M"}


def _compile(speaker_regex: str | None) -> re.Pattern | None:
    if speaker_regex is None:
        return None
    try:
        pat = re.compile(speaker_regex)
    except re.error as exc:
        raise CorpusError(f"{CORPUS}: speaker_regex {speaker_regex!r} is not a valid regular expression ({exc})") \
            from None
    if pat.groups < 1:
        raise CorpusError(f"{CORPUS}: speaker_regex {speaker_regex!r} has no group; its first group (...) must "
                          r"capture the speaker, e.g. '^(\d\d)'")
    return pat


def _speaker(path: Path, rel: str, pat: re.Pattern) -> str | None:
    """The first group of ``pat`` searched in the file name, else in the path relative to the root."""
    for text in (path.name, rel):
        mt = pat.search(text)
        if mt and mt.group(1):
            return mt.group(1)
    return None


def _speakers(paths: list[Path], pat: re.Pattern, regex: str, base: Path) -> list[str]:
    out, bad = [], []
    for p in paths:
        try:
            rel = p.relative_to(base).as_posix()
        except ValueError:
            rel = p.as_posix()
        spk = _speaker(p, rel, pat)
        if spk:
            out.append(spk)
        else:
            bad.append(rel)
    if bad:
        raise CorpusError(f"{CORPUS}: speaker_regex {regex!r} finds no speaker in {len(bad)} of {len(paths)} file "
                          f"names, e.g. {bad[:3]}; fix the regex (its first group is searched in the file name, "
                          "then in the path relative to the root) "
                          "or remove those files: speaker-independent protocols need a speaker per utterance")
    return out


def _no_speaker(root: Path, example: str) -> CorpusError:
    return CorpusError(
        f"{CORPUS}: no speaker can be derived for {root}: pass speaker_regex (knob -p speaker_regex '...'), a regular "
        f"expression whose first group finds the speaker in each file name (e.g. '^(\\d\\d)' for 03a01Wa.wav; "
        f"first file here: {example!r}), or give a CSV with a 'speaker' column as the root. Speaker-independent "
        "protocols need speakers.")


def _warn_unknown(emotions: list[str | None]) -> None:
    odd = sorted({e for e in emotions if e and e not in KNOWN_EMOTIONS})
    if odd:
        warnings.warn(f"{CORPUS}: categories {odd} are not emotion names serlib knows ({list(KNOWN_EMOTIONS)}); "
                      "they are kept as they are (to_4class drops them). If they are not emotions, give a CSV.",
                      stacklevel=3)


def _load_tree(root: Path, pat: re.Pattern | None, regex: str | None) -> list[dict]:
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXT
                   and not any(part.startswith(".") for part in p.relative_to(root).parts))
    if not files:
        raise layout_error(root, CORPUS, LAYOUT, f"no audio files ({', '.join(AUDIO_EXT)}) under it")
    loose = [p.name for p in files if p.parent == root]
    if loose:
        raise layout_error(root, CORPUS, LAYOUT, f"{len(loose)} audio file(s) lie directly in the root (e.g. "
                           f"{loose[:3]}), so their parent folder names no emotion; put them in one folder per "
                           "emotion or give a CSV")
    if pat is None:
        raise _no_speaker(root, files[0].name)
    speakers = _speakers(files, pat, regex, root)
    emotions = [normalize_emotion(p.parent.name) for p in files]
    _warn_unknown(emotions)
    return [dict(utt_id=p.relative_to(root).with_suffix("").as_posix(), path=str(p), speaker=s, emotion=e,
                 gender=None, session=None, transcript=None, split=None)
            for p, s, e in zip(files, speakers, emotions)]


def _read_csv(f: Path) -> tuple[list[str], list[tuple[int, dict]]]:
    text = f.read_text(encoding="utf-8-sig", errors="replace")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(text.splitlines(), dialect=dialect)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    rows = []
    for lineno, rec in enumerate(reader, start=2):
        rec = {(k or "").strip().lower(): (v or "").strip() for k, v in rec.items() if k is not None}
        if any(rec.values()):
            rows.append((lineno, rec))
    return header, rows


def _float(value: str, f: Path, lineno: int, col: str, scale: tuple[float, float]) -> float:
    if value == "":
        return float("nan")
    try:
        v = float(value)
    except ValueError:
        raise line_error(CORPUS, f, lineno, f"column {col} is {value!r}, not a number") from None
    if not scale[0] <= v <= scale[1]:
        raise line_error(CORPUS, f, lineno, f"{col} {v} is outside the rating scale {scale}; pass av_scale=(lo, hi)")
    return v


def _load_csv(f: Path, pat: re.Pattern | None, regex: str | None, av_scale) -> list[dict]:
    header, records = _read_csv(f)
    need = ["path", "emotion"] + ([] if pat is not None else ["speaker"])
    absent = [c for c in need if c not in header]
    if "speaker" in absent:
        raise _no_speaker(f, records[0][1].get("path", "?") if records else "?")
    if absent:
        raise line_error(CORPUS, f, 1, f"header lacks columns {absent}; expected path, emotion, speaker "
                         f"[, {', '.join(OPTIONAL)}] (found {header})")
    if not records:
        raise line_error(CORPUS, f, 2, "no data rows")
    base, rows = f.parent, []
    for lineno, rec in records:
        if not rec.get("path"):
            raise line_error(CORPUS, f, lineno, "empty path")
        path = Path(rec["path"]).expanduser()
        path = path if path.is_absolute() else (base / path)
        speaker = rec.get("speaker", "")
        if not speaker and pat is not None:
            speaker = _speaker(path, rec["path"], pat) or ""
        if not speaker:
            raise line_error(CORPUS, f, lineno, f"no speaker for {rec['path']!r}: fill the speaker column"
                             + (f" or fix speaker_regex {regex!r}" if regex else " or pass speaker_regex"))
        gender = rec.get("gender", "")
        rel = Path(rec["path"])
        utt = (rel.with_suffix("") if not rel.is_absolute() else Path(rel.stem)).as_posix()
        rows.append(dict(
            utt_id=utt, path=str(path.resolve()), speaker=speaker, emotion=normalize_emotion(rec["emotion"]),
            gender=_GENDER.get(gender.lower()) if gender else None, session=rec.get("session") or None,
            transcript=rec.get("transcript") or None, split=rec.get("split") or None,
            **{a: _float(rec.get(a, ""), f, lineno, a, av_scale) for a in ("arousal", "valence", "dominance")},
            _label_file=str(f), _line=lineno))
    _warn_unknown([r["emotion"] for r in rows])
    return rows


def load(root=None, *, speaker_regex: str | None = None, missing: str = "error", av_scale=(1, 5),
         language: str | None = None, validate: bool = False) -> pd.DataFrame:
    """Load a labelled folder (layout A) or a CSV of labels (layout B) as a manifest; see the module doc.

    Args:
        root: the folder with one sub-folder per emotion, or the CSV file.
        speaker_regex: regular expression searched in each file name; its first group is the speaker.
            Needed unless the CSV has a ``speaker`` column (which then wins where filled).
        missing: "error" (default) or "skip" for CSV lines naming a missing file.
        av_scale: the scale of the CSV's ratings (default 1-5).
        language: ISO 639-1 code of the spoken language (e.g. "en", "de"), kept in ``attrs["language"]``.
        validate: decode every file now.
    """
    check_missing_policy(missing)
    pat = _compile(speaker_regex)
    if root is not None and Path(root).expanduser().is_file():
        f = Path(root).expanduser().resolve()
        if f.suffix.lower() not in (".csv", ".tsv", ".txt"):
            raise CorpusError(f"{CORPUS}: root {f} is a file but not a CSV; pass a folder or a CSV of labels:\n"
                              f"{LAYOUT}")
        rows, excluded = split_missing(_load_csv(f, pat, speaker_regex, tuple(map(float, av_scale))), corpus=CORPUS,
                                       missing=missing)
        base = f.parent
        rated = any(r[a] == r[a] for r in rows for a in ("arousal", "valence", "dominance"))
    else:
        base = require_root(root, CORPUS, LAYOUT)
        rows, excluded, rated = _load_tree(base, pat, speaker_regex), [], False
    df = finish(rows, corpus=CORPUS, av_scale=tuple(av_scale) if rated else None, root=base, validate=validate,
                excluded=excluded, layout=LAYOUT)
    df.attrs["root"] = str(root)
    df.attrs["language"] = language
    return df
