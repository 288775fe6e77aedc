"""CREMA-D loader (Cao et al., 2014): 91 actors, 6 emotions, 12 sentences, 16 kHz.

Layout::

    <root>/AudioWAV/1001_DFA_ANG_XX.wav
    <root>/VideoDemographics.csv      (optional: ActorID, Age, Sex, ... gives the gender)

Name fields: actor (1001-1091), sentence code, emotion (ANG DIS FEA HAP NEU SAD), level
(LO MD HI XX). Manifest: ``speaker`` = actor id, ``gender`` from VideoDemographics.csv when
present (else None), ``transcript`` from the sentence code (:data:`SENTENCES`, the 12 sentences of
Cao et al., "CREMA-D: Crowd-sourced Emotional Multimodal Actors Dataset", IEEE Trans. Affective
Computing 5(4), 2014), ``session`` = None, no ratings.
"""

from __future__ import annotations

import csv
import re

import pandas as pd

from .common import file_row, finish, layout_error, name_fields, require_root

CORPUS = "crema_d"
LAYOUT = ("  <root>/AudioWAV/<actor>_<SENTENCE>_<EMO>_<LEVEL>.wav   e.g. AudioWAV/1001_DFA_ANG_XX.wav\n"
          "  <root>/VideoDemographics.csv   (optional, for gender)")

EMOTION_CODES = {"ANG": "angry", "DIS": "disgusted", "FEA": "fearful", "HAP": "happy", "NEU": "neutral",
                 "SAD": "sad"}
SENTENCES = {
    "IEO": "It's eleven o'clock.", "TIE": "That is exactly what happened.", "IOM": "I'm on my way to the meeting.",
    "IWW": "I wonder what this is about.", "TAI": "The airplane is almost full.",
    "MTI": "Maybe tomorrow it will be cold.", "IWL": "I would like a new alarm clock.",
    "ITH": "I think I have a doctor's appointment.", "DFA": "Don't forget a jacket.",
    "ITS": "I think I've seen this before.", "TSI": "The surface is slick.",
    "WSI": "We'll stop in a couple of minutes.",
}
_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")
NAMING = f"CREMA-D naming <actor>_<SENTENCE>_<EMO>_<LEVEL>.wav (EMO one of {list(EMOTION_CODES)})"


def _genders(root) -> dict[str, str]:
    f = root / "VideoDemographics.csv"
    if not f.is_file():
        return {}
    with open(f, newline="", encoding="utf-8-sig") as fh:
        return {r["ActorID"].strip(): {"male": "M", "female": "F"}.get(r.get("Sex", "").strip().lower())
                for r in csv.DictReader(fh) if r.get("ActorID")}


def load(root=None, *, validate: bool = False) -> pd.DataFrame:
    """Load CREMA-D as a manifest (6 categories; ``to_4class`` keeps angry/happy/neutral/sad).

    Args:
        root: the corpus folder holding ``AudioWAV/``.
        validate: decode every wav now.
    """
    root = require_root(root, CORPUS, LAYOUT)
    files = sorted((root / "AudioWAV").glob("*.wav")) if (root / "AudioWAV").is_dir() else []
    if not files:
        raise layout_error(root, CORPUS, LAYOUT, "no AudioWAV/*.wav files")
    genders = _genders(root)
    rows = []
    for f in files:
        actor, sent, emo, _ = name_fields(f, _NAME, corpus=CORPUS, naming=NAMING, codes=EMOTION_CODES, code_group=3)
        rows.append(file_row(f, speaker=actor, gender=genders.get(actor), emotion=EMOTION_CODES[emo],
                             transcript=SENTENCES.get(sent)))
    return finish(rows, corpus=CORPUS, av_scale=None, root=root, validate=validate, layout=LAYOUT)
