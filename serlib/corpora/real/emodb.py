"""Berlin EmoDB loader (Burkhardt et al., 2005): 10 actors, 7 emotions, 10 German sentences.

Layout::

    <root>/wav/03a01Wa.wav

The name codes everything: characters 0-1 speaker (03 ... 16), 2-4 text (a01 ... b10),
5 emotion (W anger, L boredom, E disgust, A fear, F happiness, T sadness, N neutral),
6 version. The release is 16 kHz; nothing here assumes a rate (durations come from headers).
Manifest: ``speaker`` = the two digits, ``gender`` from the corpus documentation,
``transcript`` = the German sentence of the text code (:data:`TEXTS`, the ten sentences a01-a07,
b01-b10 listed in Burkhardt et al., "A database of German emotional speech", Interspeech 2005, and
the corpus documentation), ``session`` = None, no ratings. Language: German
(:data:`serlib.corpora.text.LANGUAGE`).
"""

from __future__ import annotations

import re

import pandas as pd

from .common import file_row, finish, layout_error, name_fields, require_root

CORPUS = "emodb"
LAYOUT = "  <root>/wav/<SS><TTT><E><V>.wav   e.g. wav/03a01Wa.wav (speaker, text, emotion letter, version)"

EMOTION_CODES = {"W": "angry", "L": "bored", "E": "disgusted", "A": "fearful", "F": "happy", "T": "sad",
                 "N": "neutral"}
GENDER = {"03": "M", "08": "F", "09": "F", "10": "M", "11": "M", "12": "M", "13": "F", "14": "F", "15": "M",
          "16": "F"}
TEXTS = {
    "a01": "Der Lappen liegt auf dem Eisschrank.",
    "a02": "Das will sie am Mittwoch abgeben.",
    "a04": "Heute abend könnte ich es ihm sagen.",
    "a05": "Das schwarze Stück Papier befindet sich da oben neben dem Holzstück.",
    "a07": "In sieben Stunden wird es soweit sein.",
    "b01": "Was sind denn das für Tüten, die da unter dem Tisch stehen?",
    "b02": "Sie haben es gerade hochgetragen und jetzt gehen sie wieder runter.",
    "b03": "An den Wochenenden bin ich jetzt immer nach Hause gefahren und habe Agnes besucht.",
    "b09": "Ich will das eben wegbringen und dann mit Karl was trinken gehen.",
    "b10": "Die wird auf dem Platz sein, wo wir sie immer hinlegen.",
}
_NAME = re.compile(r"^(\d\d)([ab]\d\d)([A-Z])([a-z])$")
NAMING = f"EmoDB naming <SS><TTT><E><V>.wav (e.g. 03a01Wa.wav, emotion letter one of {''.join(EMOTION_CODES)})"


def load(root=None, *, validate: bool = False) -> pd.DataFrame:
    """Load EmoDB as a manifest (7 categories; ``to_4class`` keeps angry/happy/neutral/sad).

    Args:
        root: the corpus folder holding ``wav/``.
        validate: decode every wav now.
    """
    root = require_root(root, CORPUS, LAYOUT)
    wav_dir = root / "wav"
    if not wav_dir.is_dir() and root.name == "wav" and any(root.glob("*.wav")):
        wav_dir, root = root, root.parent
    files = sorted(wav_dir.glob("*.wav")) if wav_dir.is_dir() else []
    if not files:
        raise layout_error(root, CORPUS, LAYOUT, "no wav/*.wav files")
    rows = []
    for f in files:
        spk, text, emo, _ = name_fields(f, _NAME, corpus=CORPUS, naming=NAMING, codes=EMOTION_CODES, code_group=3)
        rows.append(file_row(f, speaker=spk, gender=GENDER.get(spk), emotion=EMOTION_CODES[emo],
                             transcript=TEXTS.get(text)))
    return finish(rows, corpus=CORPUS, av_scale=None, root=root, validate=validate, layout=LAYOUT)
