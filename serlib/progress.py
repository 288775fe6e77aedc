"""One progress line for long work, wherever it runs.

Every long loop in serlib (corpus generation, feature extraction, enhancement, training, the
experiment engine, the runner) reports through :func:`bar`, so how progress looks is decided
here, once. ``bar`` takes tqdm's arguments (``iterable``, ``total``, ``desc``, ``unit``,
``disable``, ``leave``, ...) and returns a tqdm-like object: iterate it or call ``update()``,
``set_postfix_str()`` / ``set_postfix()``, ``set_description()``, ``close()``; it is also a
context manager.

Three modes, picked when a bar is created:

``bar``
    a live tqdm bar (``tqdm.auto``: a widget in JupyterLab / Notebook 7 / VS Code, text in a
    terminal). The default in a terminal (stderr is a TTY) and in a kernel that a live front end
    started (jupyter-server sets ``JPY_SESSION_NAME`` for its kernels; VS Code sets
    ``VSCODE_PID``).
``line``
    headless runs (papermill, nbval, ``python -m serlib.run``, CI logs): nothing is printed while
    the work runs, so an executed notebook stores no frozen "0% 0/1200" bars and no widgets.
    In a Jupyter kernel the *outermost* bars of a cell are summed up in **one line** printed at
    the end of that cell (``⏱ enhance [gtcrn] 400/400 utt in 1m05s · lmfb ×12: 14400 utt in
    2m03s``); bars opened while another one is open (epochs inside a fit inside a sweep) are
    silent. Outside a kernel each outermost bar prints one line when it closes.
``off``
    nothing at all.

Set ``SERLIB_PROGRESS=bar|line|off`` to override the choice (``auto`` = the rules above); the
runner sets ``line`` for the kernels it starts. Libraries that draw their own tqdm bars
(transformers' "Loading weights") are quietened around their calls with :func:`library_bars`.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import weakref
from typing import Any, Iterable, Iterator

__all__ = ["bar", "mode", "write", "library_bars", "ENV_VAR", "MODES"]

ENV_VAR = "SERLIB_PROGRESS"
MODES = ("auto", "bar", "line", "off")
_MAX_GROUPS = 4  # groups shown in a cell's summary line before "+N more"


def _in_kernel() -> bool:
    if "ipykernel" not in sys.modules:
        return False
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - ipykernel always brings IPython
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def mode() -> str:
    """The progress mode of a bar created now: ``"bar"``, ``"line"`` or ``"off"`` (see the module doc)."""
    want = os.environ.get(ENV_VAR, "auto").strip().lower() or "auto"
    if want not in MODES:
        raise ValueError(f"{ENV_VAR}={want!r} is not one of {', '.join(MODES)}")
    if want != "auto":
        return want
    if _in_kernel():
        return "bar" if (os.environ.get("JPY_SESSION_NAME") or os.environ.get("VSCODE_PID")) else "line"
    stream = sys.stderr
    return "bar" if stream is not None and hasattr(stream, "isatty") and stream.isatty() else "line"


def bar(iterable: Iterable | None = None, **kwargs: Any):
    """A progress bar over ``iterable`` (or ``total=``) with tqdm's keyword arguments; see the module doc."""
    m = mode()
    if m == "bar":
        from tqdm.auto import tqdm

        return tqdm(iterable, **kwargs)
    return _Quiet(iterable, report=(m == "line" and not kwargs.get("disable", False)), **kwargs)


def write(message: str) -> None:
    """Print a message line without breaking a live bar (``tqdm.write`` in ``bar`` mode)."""
    if mode() == "bar":
        from tqdm.auto import tqdm

        tqdm.write(message)
    else:
        print(message, file=sys.stderr, flush=True)


@contextlib.contextmanager
def library_bars() -> Iterator[None]:
    """Inside the block, Hugging Face libraries draw their own bars only where serlib's would be live.

    In ``line`` / ``off`` mode transformers' and huggingface_hub's tqdm bars are switched off
    for the block (they would be stored as frozen widgets in headless runs) and switched back on
    after; in ``bar`` mode, or without transformers installed, nothing changes.
    """
    hf = None
    if mode() != "bar":
        try:
            from transformers.utils import logging as hf
        except ImportError:
            hf = None
    was_on = hf is not None and hf.is_progress_bar_enabled()
    if was_on:
        hf.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf.enable_progress_bar()


# --------------------------------------------------------------------------- headless bars
def _duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    m, s = divmod(int(round(seconds)), 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


class _Quiet:
    """A tqdm stand-in that prints nothing while running (``line`` and ``off`` modes)."""

    _open: list[weakref.ref] = []  # open reporting bars of this process, outermost first
    _lock = threading.Lock()

    @classmethod
    def _live(cls) -> list[_Quiet]:
        """Open reporting bars (a bar dropped without ``close()`` is closed when collected)."""
        bars = [b for r in cls._open if (b := r()) is not None and not b.closed]
        cls._open = [weakref.ref(b) for b in bars]
        return bars

    def __init__(self, iterable: Iterable | None = None, *, report: bool = False, desc: str | None = None,
                 total: float | None = None, unit: str = "it", initial: float = 0, **_: Any) -> None:
        self.iterable = iterable
        if total is None and iterable is not None:
            try:
                total = len(iterable)  # type: ignore[arg-type]
            except (TypeError, AttributeError):
                total = None
        self.total, self.desc, self.unit, self.n = total, desc or "", unit, initial
        self.postfix = ""
        self.disable = not report
        self.start = time.perf_counter()
        self.closed = False
        with _Quiet._lock:
            self.outermost = report and not _Quiet._live()
            if report:
                _Quiet._open.append(weakref.ref(self))

    # tqdm's interface ---------------------------------------------------------------
    def __iter__(self) -> Iterator:
        if self.iterable is None:
            self.close()
            raise TypeError("this progress bar has no iterable; call update() instead")
        try:
            for item in self.iterable:
                yield item
                self.n += 1
        finally:
            self.close()

    def __len__(self) -> int:
        return int(self.total or 0)

    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def update(self, n: float = 1) -> None:
        self.n += n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = str(s)

    def set_postfix(self, ordered_dict: dict | None = None, refresh: bool = True, **kwargs: Any) -> None:
        items = {**(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_description(self, desc: str | None = None, refresh: bool = True) -> None:
        self.desc = desc or ""

    def set_description_str(self, desc: str | None = None, refresh: bool = True) -> None:
        self.set_description(desc)

    def reset(self, total: float | None = None) -> None:
        self.n, self.start = 0, time.perf_counter()
        if total is not None:
            self.total = total

    def refresh(self, *_: Any, **__: Any) -> None:
        pass

    def clear(self, *_: Any, **__: Any) -> None:
        pass

    @staticmethod
    def write(s: str, file: Any = None, end: str = "\n", nolock: bool = False) -> None:
        print(s, file=file or sys.stderr, end=end, flush=True)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.seconds = time.perf_counter() - self.start
        if self.disable:
            return
        with _Quiet._lock:
            _Quiet._live()  # forget this (closed) bar
        if not self.outermost or self.n <= 0:
            return
        if _in_kernel():
            _CellSummary.add(self)
        else:
            print(f"⏱ {_describe([self])}", file=sys.stderr, flush=True)

    def __del__(self) -> None:
        if not getattr(self, "closed", True):
            self.close()

    # ---------------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"<serlib.progress bar {self.desc!r}: {self.n}/{self.total} {self.unit}>"


def _stem(desc: str) -> str:
    """The group of a bar: its description without a bracketed detail (``lmfb [babble 0 dB]`` -> ``lmfb``)."""
    return desc.split(" [", 1)[0].strip() or "work"


def _describe(bars: list[_Quiet]) -> str:
    groups: dict[str, list[_Quiet]] = {}
    for b in bars:
        groups.setdefault(_stem(b.desc) if len(bars) > 1 else (b.desc or "work"), []).append(b)
    parts = []
    for stem, members in groups.items():
        seconds = sum(getattr(b, "seconds", 0.0) for b in members)
        n = sum(b.n for b in members)
        unit = members[0].unit
        if len(members) == 1:
            b = members[0]
            count = f"{b.n:g}/{b.total:g}" if b.total else f"{b.n:g}"
            post = f" ({b.postfix})" if getattr(b, "postfix", "") else ""
            parts.append(f"{stem} {count} {unit} in {_duration(seconds)}{post}")
        else:
            parts.append(f"{stem} ×{len(members)}: {n:g} {unit} in {_duration(seconds)}")
    if len(parts) > _MAX_GROUPS:
        parts = parts[:_MAX_GROUPS] + [f"+{len(parts) - _MAX_GROUPS} more"]
    return " · ".join(parts)


class _CellSummary:
    """Collects a kernel cell's outermost bars and prints one line after the cell (IPython post_run_cell)."""

    bars: list[_Quiet] = []
    shell: Any = None

    @classmethod
    def add(cls, b: _Quiet) -> None:
        cls._install()
        cls.bars.append(b)

    @classmethod
    def _install(cls) -> None:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None or cls.shell is shell:
            return
        if cls.shell is not None:
            try:
                cls.shell.events.unregister("post_run_cell", cls.flush)
            except ValueError:
                pass
        shell.events.register("post_run_cell", cls.flush)
        cls.shell = shell

    @classmethod
    def flush(cls, *_: Any) -> None:
        with _Quiet._lock:
            unclosed = _Quiet._live()
        for b in unclosed:  # a cell's unclosed bars end with it (an interrupted or abandoned loop)
            b.close()
        bars, cls.bars = cls.bars, []
        if bars:
            print(f"⏱ {_describe(bars)}", flush=True)
