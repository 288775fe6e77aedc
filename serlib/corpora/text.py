"""What the words of a corpus can tell (paper 4's text channel): language and lexical overlap.

- :data:`LANGUAGE` / :func:`language`: the spoken language of each registered corpus (ISO 639-1).
- :func:`lexical_overlap`: distinct sentences, the share of test utterances whose sentence also
  occurs in training, and how far a text-only model that memorises sentences gets (UAR). Acted
  corpora (EmoDB, RAVDESS, CREMA-D) repeat a few fixed sentences in every emotion: the words are
  then heard in training but say nothing about the emotion.
- :func:`language_warning`: a sentence to print when the text encoder's language differs from the
  corpus's (the bundled all-MiniLM-L6-v2 is English; EmoDB is German).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

__all__ = ["LANGUAGE", "LANGUAGE_NAMES", "language", "lexical_overlap", "LexicalOverlap", "language_warning",
           "normalize_sentence"]

LANGUAGE: dict[str, str] = {
    "synthetic": "en", "synthetic_xcorpus": "en", "iemocap": "en", "msp_podcast": "en", "msp_improv": "en",
    "ravdess": "en", "crema_d": "en", "emodb": "de",
}
"""Corpus -> ISO 639-1 code of its spoken language (``folder``: ``load(..., language=)``)."""

LANGUAGE_NAMES = {"en": "English", "de": "German", "fr": "French", "it": "Italian", "es": "Spanish",
                  "zh": "Chinese", "ja": "Japanese", "pt": "Portuguese", "nl": "Dutch", "ru": "Russian"}


def language(m: pd.DataFrame) -> str | None:
    """The language code of the manifest's corpus (``"de+en"`` for a mixed one; None when unknown)."""
    codes = set()
    for corpus in m["corpus"].dropna().unique():
        code = LANGUAGE.get(str(corpus))
        if code is None and str(corpus) == m.attrs.get("corpus"):
            code = m.attrs.get("language")
        if code is None:
            return None
        codes.add(code)
    return "+".join(sorted(codes)) or None


def normalize_sentence(text: str) -> str:
    """Lower case, letters and digits only (any script), single spaces: how sentences are compared."""
    return re.sub(r"\s+", " ", re.sub(r"[^\w\s]|_", " ", str(text).lower())).strip()


@dataclass(frozen=True)
class LexicalOverlap:
    """Sentences of a train/test split; ``str()`` is the paragraph a notebook prints."""

    train_sentences: int
    test_sentences: int
    shared_sentences: int
    distinct_sentences: int
    test_utterances: int
    test_seen: int
    """Test utterances whose sentence also occurs in training."""
    missing_transcripts: int
    text_only_uar: float | None
    """UAR of predicting each test utterance's emotion from its sentence alone: the most frequent
    training emotion of that sentence (of all training utterances for an unseen sentence)."""
    n_classes: int

    @property
    def test_share_seen(self) -> float:
        return self.test_seen / self.test_utterances if self.test_utterances else float("nan")

    def to_dict(self) -> dict:
        return {**{k: getattr(self, k) for k in self.__dataclass_fields__}, "test_share_seen": self.test_share_seen}

    def __str__(self) -> str:
        text = (f"{self.distinct_sentences} distinct sentences (train {self.train_sentences}, test "
                f"{self.test_sentences}, in both {self.shared_sentences}); {self.test_share_seen:.0%} of the "
                f"{self.test_utterances} test utterances say a sentence that occurs in training.")
        if self.text_only_uar is not None:
            text += (f" Memorising each training sentence's most frequent emotion gives {self.text_only_uar:.0%} "
                     f"UAR on the test set (chance {1 / max(1, self.n_classes):.0%}): what the words alone can tell.")
        if self.missing_transcripts:
            text += f" {self.missing_transcripts} utterances have no transcript."
        return text

    __repr__ = __str__


def lexical_overlap(train: pd.DataFrame, test: pd.DataFrame) -> LexicalOverlap:
    """Distinct sentences and the train/test overlap of two manifests (or split parts).

    Sentences are compared after :func:`normalize_sentence`. Raises ``ValueError`` when neither
    part has a transcript (the corpus's loader yields none).
    """
    tr = train["transcript"].dropna().map(normalize_sentence)
    te = test["transcript"].dropna().map(normalize_sentence)
    if tr.empty and te.empty:
        raise ValueError("lexical_overlap: no transcripts in either part; this corpus's loader yields none")
    seen = set(tr)
    test_seen = int(te.isin(seen).sum())
    uar = None
    if "emotion" in train.columns and train["emotion"].notna().any() and len(te):
        from serlib.metrics import uar as _uar

        lab_tr = train.loc[tr.index, "emotion"]
        overall = train["emotion"].dropna().value_counts().sort_index().idxmax()  # ties: by name
        per = pd.DataFrame({"s": tr, "e": lab_tr}).dropna().groupby("s")["e"].agg(
            lambda e: e.value_counts().sort_index().idxmax())
        truth = test.loc[te.index, "emotion"]
        ok = truth.notna().to_numpy()
        if ok.any():
            pred = te.map(lambda s: per.get(s, overall))
            uar = float(_uar(truth[ok].tolist(), pred[ok].tolist()))
    classes = pd.concat([train["emotion"], test["emotion"]]).dropna().nunique() if "emotion" in train.columns else 0
    return LexicalOverlap(
        train_sentences=int(tr.nunique()), test_sentences=int(te.nunique()), shared_sentences=len(seen & set(te)),
        distinct_sentences=len(seen | set(te)), test_utterances=int(len(test)), test_seen=test_seen,
        missing_transcripts=int(train["transcript"].isna().sum() + test["transcript"].isna().sum()),
        text_only_uar=uar, n_classes=int(classes))


def language_warning(m: pd.DataFrame, encoder_language: str = "en", encoder: str = "all-MiniLM-L6-v2") -> str | None:
    """A warning sentence when the text encoder's language differs from the corpus's, else None."""
    lang = language(m)
    corpus = "+".join(sorted(map(str, m["corpus"].dropna().unique())))
    enc = LANGUAGE_NAMES.get(encoder_language, encoder_language)
    if lang is None:
        return (f"The language of {corpus} is unknown (pass language= to the folder loader); the text encoder "
                f"{encoder} is {enc}: its embeddings mean little for another language.")
    if lang == encoder_language:
        return None
    spoken = " and ".join(LANGUAGE_NAMES.get(c, c) for c in lang.split("+"))
    return (f"Language mismatch: {corpus} is {spoken} ({lang}) but the text encoder {encoder} is {enc} "
            f"({encoder_language}); its embeddings of {spoken} transcripts or ASR hypotheses carry little meaning, "
            "so the text channel is expected to add little here (paper 4 used English IEMOCAP). Pass a "
            f"text encoder for {spoken} (knob text_encoder) for a fair test.")
