"""MSP-Podcast loader (Lotfian & Busso, 2019): podcast segments with official splits.

Layout (both spellings found in releases are accepted)::

    <root>/Audios/MSP-PODCAST_XXXX_YYYY.wav        (or Audio/)
    <root>/Labels/labels_consensus.csv             (or labels_concensus.csv)
    <root>/Transcripts/MSP-PODCAST_XXXX_YYYY.txt   (optional)

``labels_consensus.csv`` columns used: FileName, EmoClass (A H S U F D C N O X), EmoAct,
EmoVal, EmoDom (1-7), SpkrID, Gender, Split_Set (Train, Development, Test1, Test2, Test3).
Manifest: ``split`` = Split_Set, ratings on 1-7 (``df.attrs["av_scale"] == (1, 7)``),
``speaker`` = ``SpkrID`` (``"unknown"`` for unidentified speakers, all in one group so
speaker-independent checks stay conservative), ``session`` = None.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from .common import check_missing_policy, finish, layout_error, line_error, require_root, split_missing

CORPUS = "msp_podcast"
LAYOUT = ("  <root>/Audios/MSP-PODCAST_XXXX_YYYY.wav   (or <root>/Audio/)\n"
          "  <root>/Labels/labels_consensus.csv        (or labels_concensus.csv), columns FileName, EmoClass,\n"
          "      EmoAct, EmoVal, EmoDom, SpkrID, Gender, Split_Set\n"
          "  <root>/Transcripts/<name>.txt             (optional)")

EMOTION_CODES = {"A": "angry", "H": "happy", "S": "sad", "U": "surprised", "F": "fearful", "D": "disgusted",
                 "C": "contempt", "N": "neutral", "O": "other", "X": None}
REQUIRED = ["FileName", "EmoClass", "EmoAct", "EmoVal", "EmoDom", "SpkrID", "Gender", "Split_Set"]
_GENDER = {"female": "F", "f": "F", "male": "M", "m": "M"}


def _find(root: Path) -> tuple[Path, Path]:
    audio = next((root / d for d in ("Audios", "Audio") if (root / d).is_dir()), None)
    labels = next((root / "Labels" / f for f in ("labels_consensus.csv", "labels_concensus.csv")
                   if (root / "Labels" / f).is_file()), None)
    if audio is None or labels is None:
        what = " and ".join(w for w, ok in (("no Audios/ (or Audio/) folder", audio), 
                                             ("no Labels/labels_consensus.csv", labels)) if ok is None)
        raise layout_error(root, CORPUS, LAYOUT, what)
    return audio, labels


def _float(value: str, lf: Path, lineno: int, col: str) -> float:
    try:
        return float(value) if value not in ("", None) else float("nan")
    except ValueError:
        raise line_error(CORPUS, lf, lineno, f"column {col} is {value!r}, not a number") from None


def load(root=None, *, missing: str = "error", validate: bool = False) -> pd.DataFrame:
    """Load MSP-Podcast as a manifest with its official ``split``.

    Args:
        root: the corpus folder (holding ``Audios/`` and ``Labels/``).
        missing: "error" (default) or "skip" for label rows whose wav is missing.
        validate: decode every wav now.
    """
    check_missing_policy(missing)
    root = require_root(root, CORPUS, LAYOUT)
    audio, lf = _find(root)
    rows = []
    with open(lf, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        absent = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
        if absent:
            raise line_error(CORPUS, lf, 1, f"header lacks columns {absent}; expected {REQUIRED}")
        for lineno, rec in enumerate(reader, start=2):
            name = (rec["FileName"] or "").strip()
            if not name:
                raise line_error(CORPUS, lf, lineno, "empty FileName")
            code = (rec["EmoClass"] or "").strip().upper()
            if code not in EMOTION_CODES:
                raise line_error(CORPUS, lf, lineno, f"unknown EmoClass {code!r}; expected one of "
                                 f"{list(EMOTION_CODES)}")
            spk = (rec["SpkrID"] or "").strip()
            stem = Path(name).stem
            tfile = root / "Transcripts" / f"{stem}.txt"
            rows.append(dict(
                utt_id=stem, path=str(audio / (name if name.lower().endswith(".wav") else name + ".wav")),
                speaker=spk if spk and spk.lower() != "unknown" else "unknown",
                gender=_GENDER.get((rec["Gender"] or "").strip().lower()), session=None,
                emotion=EMOTION_CODES[code], arousal=_float(rec["EmoAct"], lf, lineno, "EmoAct"),
                valence=_float(rec["EmoVal"], lf, lineno, "EmoVal"),
                dominance=_float(rec["EmoDom"], lf, lineno, "EmoDom"),
                transcript=tfile.read_text(encoding="utf-8", errors="replace").strip() if tfile.is_file() else None,
                split=(rec["Split_Set"] or "").strip() or None, _label_file=str(lf), _line=lineno))
    rows, excluded = split_missing(rows, corpus=CORPUS, missing=missing)
    return finish(rows, corpus=CORPUS, av_scale=(1, 7), root=root, validate=validate, excluded=excluded,
                  layout=LAYOUT)
