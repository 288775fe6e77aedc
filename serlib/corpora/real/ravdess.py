"""RAVDESS loader (Livingstone & Russo, 2018), speech part: 24 actors, 8 emotions, 2 statements, 48 kHz.

Layout::

    <root>/Actor_NN/03-01-EE-II-SS-RR-AA.wav

Fields: modality (01 audio-video, 02 video, 03 audio) - vocal channel (01 speech, 02 song) -
emotion (01 neutral, 02 calm, 03 happy, 04 sad, 05 angry, 06 fearful, 07 disgust, 08 surprised) -
intensity (01 normal, 02 strong) - statement (01 "Kids are talking by the door", 02 "Dogs are
sitting by the door"; Livingstone & Russo, PLoS ONE 13(5), 2018) - repetition - actor (odd = male). Song files (channel 02), if present,
are excluded and counted in ``df.attrs["excluded"]`` with a warning. Manifest: ``speaker`` =
``Actor_NN``, ``session`` = None, no ratings.
"""

from __future__ import annotations

import re
import warnings

import pandas as pd

from ..schema import CorpusError
from .common import file_row, finish, layout_error, name_fields, require_root

CORPUS = "ravdess"
LAYOUT = "  <root>/Actor_NN/03-01-EE-II-SS-RR-AA.wav   (modality-channel-emotion-intensity-statement-repetition-actor)"

EMOTION_CODES = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry", "06": "fearful",
                 "07": "disgusted", "08": "surprised"}
STATEMENTS = {"01": "Kids are talking by the door.", "02": "Dogs are sitting by the door."}
_NAME = re.compile(r"^(0[1-3])-(0[12])-(0[1-8])-(0[12])-(0[12])-(0[12])-(\d\d)$")
NAMING = "RAVDESS naming 03-01-EE-II-SS-RR-AA.wav (7 two-digit fields)"


def load(root=None, *, validate: bool = False) -> pd.DataFrame:
    """Load the RAVDESS speech files as a manifest.

    Args:
        root: the folder holding ``Actor_01`` ... ``Actor_24``.
        validate: decode every wav now.
    """
    root = require_root(root, CORPUS, LAYOUT)
    actors = sorted(p for p in root.glob("Actor_[0-9][0-9]") if p.is_dir())
    if not actors:
        raise layout_error(root, CORPUS, LAYOUT, "no Actor_NN folders")
    rows, excluded = [], []
    for actor in actors:
        for f in sorted(actor.glob("*.wav")):
            _, channel, emo, _, stmt, _, num = name_fields(f, _NAME, corpus=CORPUS, naming=NAMING)
            if f"Actor_{num}" != actor.name:
                raise CorpusError(f"{CORPUS}: {f} names actor {num} but lies in {actor.name}; move it")
            if channel != "01":
                excluded.append({"utt_id": f.stem, "path": str(f), "reason": "song (vocal channel 02)"})
                continue
            rows.append(file_row(f, speaker=actor.name, gender="M" if int(num) % 2 else "F",
                                 emotion=EMOTION_CODES[emo], transcript=STATEMENTS[stmt]))
    if excluded:
        warnings.warn(f"{CORPUS}: excluded {len(excluded)} song files (vocal channel 02); the loader covers "
                      "speech only (df.attrs['excluded'])", stacklevel=2)
    return finish(rows, corpus=CORPUS, av_scale=None, root=root, validate=validate, excluded=excluded,
                  layout=LAYOUT)
