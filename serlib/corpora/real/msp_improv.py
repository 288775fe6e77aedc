"""MSP-IMPROV loader (Busso et al., 2017): 6 sessions x 2 actors, improvised and read speech.

Layout::

    <root>/session{1-6}/S01A/{P,R,S,T}/MSP-IMPROV-S01A-F01-P-FM01.wav
    <root>/Evaluation.txt

``Evaluation.txt`` holds one block per utterance; its first line is the consensus
``UTD-IMPROV-S01A-F01-P-FM01.avi; A; A:3.0; V:2.0; D:2.5 ; N:2;`` (emotion code A/H/S/N, other
letters kept as other classes, then arousal, valence, dominance on 1-5 and the number of
raters), followed by per-rater lines, which are not used.

File names: ``S01A`` = sentence 01 with target emotion A; ``F01`` = the speaker (gender + number,
session N has speakers F0N and M0N); ``P``/``R``/``S``/``T`` = scenario type. Manifest:
``speaker`` = ``F01``, ``session`` = the ``sessionN`` folder, ratings on 1-5.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .common import check_missing_policy, finish, layout_error, line_error, require_root, split_missing

CORPUS = "msp_improv"
LAYOUT = ("  <root>/session{1-6}/S01A/{P,R,S,T}/MSP-IMPROV-S01A-F01-P-FM01.wav\n"
          "  <root>/Evaluation.txt   lines 'UTD-IMPROV-S01A-F01-P-FM01.avi; A; A:3.0; V:2.0; D:2.5 ; N:2;'")

EMOTION_CODES = {"A": "angry", "H": "happy", "S": "sad", "N": "neutral", "O": "other", "X": None}
_NAME = re.compile(r"^MSP-IMPROV-(S\d\d[A-Z])-([FM])(\d\d)-([A-Z])-(\w+)$")


def _parse_header(line: str, lf: Path, lineno: int) -> dict:
    parts = [p.strip() for p in line.strip().split(";") if p.strip()]
    if len(parts) < 5:
        raise line_error(CORPUS, lf, lineno, f"cannot parse {line.strip()[:80]!r}; expected "
                         "'UTD-IMPROV-<id>.avi; <E>; A:x; V:x; D:x ; N:x;'")
    name = parts[0]
    stem = "MSP-IMPROV-" + name[len("UTD-IMPROV-"):].rsplit(".", 1)[0]
    code = parts[1].upper()
    values = {}
    for p in parts[2:]:
        if ":" in p:
            k, v = (s.strip() for s in p.split(":", 1))
            try:
                values[k.upper()] = float(v)
            except ValueError:
                raise line_error(CORPUS, lf, lineno, f"value {p!r} is not a number") from None
    for k in "AVD":
        if k not in values:
            raise line_error(CORPUS, lf, lineno, f"no '{k}:<rating>' field in {line.strip()[:80]!r}")
    return dict(stem=stem, code=code, a=values["A"], v=values["V"], d=values["D"])


def load(root=None, *, missing: str = "error", validate: bool = False) -> pd.DataFrame:
    """Load MSP-IMPROV as a manifest (all consensus categories; ``to_4class`` keeps 4).

    Args:
        root: the corpus folder (holding ``session1`` ... ``session6`` and ``Evaluation.txt``).
        missing: "error" (default) or "skip" for evaluations whose wav is missing.
        validate: decode every wav now.
    """
    check_missing_policy(missing)
    root = require_root(root, CORPUS, LAYOUT)
    lf = root / "Evaluation.txt"
    sessions = sorted(p for p in root.glob("session[1-9]") if p.is_dir())
    if not lf.is_file() or not sessions:
        problem = " and ".join(w for w, bad in (("no Evaluation.txt", not lf.is_file()),
                                                ("no session1 ... session6 folders", not sessions)) if bad)
        raise layout_error(root, CORPUS, LAYOUT, problem)
    index = {p.stem: p for s in sessions for p in s.glob("*/*/MSP-IMPROV-*.wav")}
    rows = []
    for lineno, line in enumerate(lf.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip().startswith("UTD-IMPROV-"):
            continue
        h = _parse_header(line, lf, lineno)
        m = _NAME.match(h["stem"])
        if not m:
            raise line_error(CORPUS, lf, lineno, f"utterance {h['stem']!r} does not follow "
                             "MSP-IMPROV-S01A-F01-P-FM01")
        if h["code"] not in EMOTION_CODES:
            raise line_error(CORPUS, lf, lineno, f"unknown emotion code {h['code']!r}; expected one of "
                             f"{list(EMOTION_CODES)}")
        sent, gender, num, kind = m.group(1), m.group(2), m.group(3), m.group(4)
        path = index.get(h["stem"]) or root / f"session{int(num)}" / sent / kind / f"{h['stem']}.wav"
        session = path.relative_to(root).parts[0]
        rows.append(dict(utt_id=h["stem"], path=str(path), speaker=f"{gender}{num}", gender=gender,
                         session=session, emotion=EMOTION_CODES[h["code"]], arousal=h["a"], valence=h["v"],
                         dominance=h["d"], transcript=None, split=None, _label_file=str(lf), _line=lineno))
    if not rows:
        raise layout_error(root, CORPUS, LAYOUT, f"{lf} has no 'UTD-IMPROV-...' lines")
    rows, excluded = split_missing(rows, corpus=CORPUS, missing=missing)
    return finish(rows, corpus=CORPUS, av_scale=(1, 5), root=root, validate=validate, excluded=excluded,
                  layout=LAYOUT)
