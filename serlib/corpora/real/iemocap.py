"""IEMOCAP loader (Busso et al., 2008): 5 sessions x 2 actors, ~10k utterances, 16 kHz.

Layout (``root`` = ``IEMOCAP_full_release``, or the folder that contains it)::

    Session{1-5}/sentences/wav/<dialog>/<utt>.wav          e.g. Ses01F_impro04/Ses01F_impro04_F000.wav
    Session{1-5}/dialog/EmoEvaluation/<dialog>.txt         "[start - end]\\t<utt>\\t<emo>\\t[V, A, D]" + rater lines
    Session{1-5}/dialog/transcriptions/<dialog>.txt        "<utt> [start-end]: words"

Manifest: ``session`` = ``Session<N>``, ``speaker`` = IEMOCAP's session+gender id (``Ses01F``;
the gender is the letter before the final number, ``_F000``), ratings on 1-5 (IEMOCAP
writes them as [valence, activation, dominance]), emotion codes expanded (``exc`` ->
``excited``; :func:`serlib.corpora.to_4class` merges it into ``happy``; ``xxx``, no
agreement, -> None).
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .common import check_missing_policy, finish, layout_error, line_error, require_root, split_missing

CORPUS = "iemocap"
LAYOUT = ("  <root>/Session{1-5}/sentences/wav/<dialog>/<utt>.wav\n"
          "  <root>/Session{1-5}/dialog/EmoEvaluation/<dialog>.txt\n"
          "  <root>/Session{1-5}/dialog/transcriptions/<dialog>.txt\n"
          "  (<root> = IEMOCAP_full_release)")

EMOTION_CODES = {"ang": "angry", "hap": "happy", "exc": "excited", "neu": "neutral", "sad": "sad",
                 "fru": "frustrated", "sur": "surprised", "fea": "fearful", "dis": "disgusted", "oth": "other",
                 "xxx": None}

_NUM = r"\s*([\d.]+)\s*"
_LABEL = re.compile(rf"^\[{_NUM}-{_NUM}\]\s+(\S+)\s+(\S+)\s+\[{_NUM},{_NUM},{_NUM}\]")
_TRANS = re.compile(r"^(Ses\d\d[FM]_\S+)\s+\[[^\]]*\]:\s*(.*)$")
_GENDER = re.compile(r"_([FM])\d+$")


def _sessions(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("Session[1-9]") if p.is_dir())


def _transcripts(session: Path) -> dict[str, str]:
    out = {}
    for f in sorted((session / "dialog" / "transcriptions").glob("*.txt")):
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
            m = _TRANS.match(line.strip())
            if m:
                out[m.group(1)] = m.group(2).strip()
    return out


def load(root=None, *, missing: str = "error", validate: bool = False) -> pd.DataFrame:
    """Load IEMOCAP as a manifest (all categories; use ``to_4class`` for the 4-class set).

    Args:
        root: ``IEMOCAP_full_release`` or its parent folder.
        missing: "error" (default) or "skip" for labels whose wav is missing (see ``common``).
        validate: decode every wav now (finds silent/NaN files up front).
    """
    check_missing_policy(missing)
    root = require_root(root, CORPUS, LAYOUT)
    if not _sessions(root) and (root / "IEMOCAP_full_release").is_dir():
        root = root / "IEMOCAP_full_release"
    sessions = _sessions(root)
    if not sessions:
        raise layout_error(root, CORPUS, LAYOUT, "no Session1 ... Session5 folders")
    rows = []
    for sess in sessions:
        eval_dir = sess / "dialog" / "EmoEvaluation"
        label_files = sorted(eval_dir.glob("*.txt"))
        if not label_files:
            raise layout_error(sess, CORPUS, LAYOUT, f"no label files {eval_dir}/<dialog>.txt")
        trans = _transcripts(sess)
        n = int(sess.name.replace("Session", ""))
        for lf in label_files:
            dialog = lf.stem
            for lineno, line in enumerate(lf.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                if not line.startswith("["):
                    continue
                m = _LABEL.match(line.strip())
                if not m:
                    raise line_error(CORPUS, lf, lineno, f"cannot parse {line.strip()[:80]!r}; expected "
                                     "'[start - end]<TAB><utt><TAB><emo><TAB>[V, A, D]'")
                utt, code = m.group(3), m.group(4).lower()
                if code not in EMOTION_CODES:
                    raise line_error(CORPUS, lf, lineno, f"unknown emotion code {code!r}; expected one of "
                                     f"{sorted(EMOTION_CODES)}")
                g = _GENDER.search(utt)
                if not g:
                    raise line_error(CORPUS, lf, lineno, f"utterance name {utt!r} does not end in _F<nnn> or "
                                     "_M<nnn>, so its speaker and gender are unknown")
                v, a, d = (float(m.group(k)) for k in (5, 6, 7))
                rows.append(dict(
                    utt_id=utt, path=str(sess / "sentences" / "wav" / dialog / f"{utt}.wav"),
                    speaker=f"Ses{n:02d}{g.group(1)}", gender=g.group(1), session=sess.name,
                    emotion=EMOTION_CODES[code], arousal=a, valence=v, dominance=d,
                    transcript=trans.get(utt), split=None, _label_file=str(lf), _line=lineno))
    rows, excluded = split_missing(rows, corpus=CORPUS, missing=missing)
    return finish(rows, corpus=CORPUS, av_scale=(1, 5), root=root, validate=validate, excluded=excluded,
                  layout=LAYOUT)
