"""The batch runner: execute the notebooks headless with papermill.

Usage::

    python -m serlib.run [--profile smoke|quick|paper|auto] [--only NAME ...] [-p KEY VALUE ...]
                         [--no-prepare] [--list] [--reference] [--dry]
    python -m serlib.run --update-readme

- ``--profile auto`` (the default of ``make reproduce``) is ``paper`` on a CUDA machine, ``quick`` otherwise.
- ``--only`` takes notebook names with or without ``.ipynb`` or a unique prefix (``03``).
- ``-p KEY VALUE`` sets a notebook parameter; VALUE is parsed as YAML (``-p snrs "[0, 5]"``,
  ``-p epochs 3``). Unknown keys and values of the wrong type are rejected before anything runs.
- Executed notebooks go to ``runs/<profile>/``; a table of notebook, profile, status and duration
  is printed at the end and saved as ``runs/<profile>/summary.csv``; ``results/summary.md`` is
  regenerated from every ``results/*.csv``.
- ``--reference`` also copies each successful run to ``runs/reference/`` small enough to commit
  (about 1 MB a notebook): audio players re-encoded as short low-rate MP3 clips, large images shrunk
  (:func:`make_reference`).
- A complete run (every notebook, not dry, none failed) writes ``results/benchmarks/reproduce.json``:
  data generation and each notebook's wall time split into stages, fits and fits per minute
  (:mod:`serlib.reproduce`); the README's runtime table is generated from it.
- Each successful notebook's wall time is recorded in ``runtimes.json`` beside the results it wrote
  (:func:`record_runtime`): the repository's ``results/`` for a normal or reference run, the
  temporary ``SERLIB_RESULTS`` folder in tests, so tests never touch the committed file.
- Executed notebooks are checked for outputs a reader should not see (:func:`notebook_problems`:
  a figure shown as ``<Figure size ...>`` text, a plotting cell without an image, a traceback,
  frozen progress bars); they are printed as warnings. ``make test`` applies the same check to
  every cell nbval executes (the root ``conftest.py``), where they fail the cell.
- After the notebooks the README's generated results block (headline numbers, leaderboard, claims
  ledger; :func:`serlib.report.update_readme`) is rebuilt from the repository's ``results/``;
  ``--update-readme`` alone rebuilds it and ``results/summary.md`` without running anything.
- ``--dry`` runs the profile's every branch on a trickle of data (``SERLIB_DRY=1``; what it keeps and
  caps: :mod:`serlib.profiles`): executed notebooks go to ``runs/<profile>-dry/``, their results and
  figures to ``runs/<profile>-dry/results/`` and ``figures/`` there, never over the committed ones, and
  the README is left alone.
- A notebook that fails is reported with its failing cell and error; the others still run and the
  exit code is 1.

The notebooks run in a Jupyter kernel of *this* interpreter (a kernelspec ``serlib`` is registered
in ``sys.prefix`` on first use), so no system-wide kernel is needed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import yaml

from serlib import paths, profiles, progress, reproduce

NOTEBOOK_DIR = paths.REPO / "notebooks"
RUNS_DIR = paths.REPO / "runs"
README = paths.REPO / "README.md"
REPO_RESULTS = paths.REPO / "results"
"""The committed results the README shows (whatever ``SERLIB_RESULTS`` says)."""
KERNEL_NAME = "serlib"
RUNTIMES = "runtimes.json"
"""Run timings (one record per notebook x profile x dry x device kind) in the results folder."""
REFERENCE_BUDGET = 1_000_000
"""Target size of one reference copy in bytes (audio and images are slimmed to fit)."""


class RunnerError(SystemExit):
    """A command-line error: printed, exit code 2."""

    def __init__(self, message: str):
        super().__init__(2)
        self.message = message


@dataclass
class Outcome:
    notebook: str
    profile: str
    status: str  # ok | failed
    seconds: float
    output: str
    error: str = ""


def available_notebooks(folder: Path = NOTEBOOK_DIR) -> list[str]:
    """Stem names of the notebooks, sorted."""
    return sorted(p.stem for p in folder.glob("*.ipynb") if not p.name.startswith("."))


def select(only: Sequence[str] | None, folder: Path = NOTEBOOK_DIR) -> list[str]:
    """Resolve ``--only`` names (full names, ``.ipynb`` names or unique prefixes)."""
    names = available_notebooks(folder)
    if not only:
        return names
    chosen = []
    for want in only:
        stem = want[:-6] if want.endswith(".ipynb") else want
        hits = [n for n in names if n == stem] or [n for n in names if n.startswith(stem)]
        if len(hits) != 1:
            why = "is ambiguous" if hits else "does not exist"
            raise RunnerError(f"--only {want!r} {why}; notebooks: {', '.join(names)}")
        if hits[0] not in chosen:
            chosen.append(hits[0])
    return chosen


def parse_params(pairs: Sequence[Sequence[str]] | None) -> dict[str, Any]:
    """``[("epochs", "3"), ...]`` -> ``{"epochs": 3}`` (values parsed as YAML)."""
    out = {}
    for key, raw in pairs or []:
        try:
            out[key] = yaml.safe_load(raw)
        except yaml.YAMLError:
            out[key] = raw
    return out


def notebook_parameters(name: str, folder: Path = NOTEBOOK_DIR) -> dict[str, dict]:
    """The parameters declared in a notebook's ``parameters`` cell (papermill's inspection)."""
    import papermill as pm

    return pm.inspect_notebook(str(folder / f"{name}.ipynb"))


def validate_params(names: Sequence[str], params: dict[str, Any], folder: Path = NOTEBOOK_DIR) -> dict[str, dict]:
    """Check every ``-p`` key exists in at least one selected notebook and has the right type.

    Returns, per notebook, the subset of ``params`` it declares.
    """
    declared = {n: notebook_parameters(n, folder) for n in names}
    valid = sorted({k for d in declared.values() for k in d})
    for key, value in params.items():
        if key not in valid:
            raise RunnerError(
                f"unknown parameter {key!r} for {', '.join(names)}; valid parameters: {', '.join(valid)}"
            )
        try:
            if key == "profile":
                raise profiles.ProfileError("set the profile with --profile, not -p profile")
            profiles.check_type(key, value)
        except profiles.ProfileError as exc:
            raise RunnerError(str(exc)) from None
    return {n: {k: v for k, v in params.items() if k in declared[n]} for n in names}


def ensure_kernel() -> str:
    """Register a kernelspec for this interpreter in ``sys.prefix`` (once) and return its name."""
    from jupyter_client.kernelspec import KernelSpecManager

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        if spec.argv and Path(spec.argv[0]).resolve() == Path(sys.executable).resolve():
            return KERNEL_NAME
    except Exception:  # not registered yet (NoSuchKernel) or broken
        pass
    from ipykernel.kernelspec import install

    install(kernel_name=KERNEL_NAME, display_name=f"Python (serlib: {sys.prefix})", prefix=sys.prefix)
    return KERNEL_NAME


@contextlib.contextmanager
def _headless_env() -> Iterator[None]:
    """Kernels started inside inherit ``SERLIB_PROGRESS=line`` (unless the user chose a mode)."""
    before = os.environ.get(progress.ENV_VAR)
    if before is None:
        os.environ[progress.ENV_VAR] = "line"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(progress.ENV_VAR, None)


def _kernel_config():
    """Kernel-manager settings: CurveZMQ keys for the kernel's sockets when pyzmq supports them.

    Without them ipykernel warns "Kernel is running over TCP without encryption" at every start.
    """
    import zmq
    from traitlets.config import Config

    return Config({"KernelManager": {"transport_encryption": "auto"}}) if zmq.has("curve") else Config()


def _kernel_manager_class() -> type:
    """jupyter_client's kernel manager, less the SIGINT it sends a kernel just before shutting it down.

    That interrupt (to the kernel's whole process group) makes ipykernel log "KeyboardInterrupt
    caught in kernel" when it lands while a message is being handled, and helper processes print
    KeyboardInterrupt tracebacks. A notebook the runner shuts down has finished (or failed, or timed
    out, which papermill already interrupted), so the polite shutdown request is enough; a kernel
    that does not answer it is still killed after ``shutdown_wait_time``.
    """
    from jupyter_client.manager import AsyncKernelManager

    class RunnerKernelManager(AsyncKernelManager):
        async def _async_interrupt_kernel(self) -> None:
            if self.shutting_down:
                return
            await super()._async_interrupt_kernel()

    return RunnerKernelManager


def execute(name: str, profile: str, params: dict[str, Any], out_dir: Path, kernel: str,
            folder: Path = NOTEBOOK_DIR) -> Outcome:
    """Run one notebook with papermill; never raises for a failing notebook."""
    import papermill as pm

    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{name}.ipynb"
    start = time.perf_counter()
    try:
        with _headless_env():
            pm.execute_notebook(
                str(folder / f"{name}.ipynb"), str(output), parameters={"profile": profile, **params},
                kernel_name=kernel, cwd=str(folder), progress_bar=sys.stderr.isatty(), log_output=False,
                config=_kernel_config(), kernel_manager_class=_kernel_manager_class(),
            )
        return Outcome(name, profile, "ok", time.perf_counter() - start, str(output))
    except pm.PapermillExecutionError as exc:
        msg = f"cell {exc.exec_count} (index {exc.cell_index}): {exc.ename}: {exc.evalue}"
        return Outcome(name, profile, "failed", time.perf_counter() - start, str(output), msg)
    except Exception as exc:  # kernel died, notebook unreadable, ...
        return Outcome(name, profile, "failed", time.perf_counter() - start, str(output),
                       f"{type(exc).__name__}: {exc}")


_WAV_URI = re.compile(r"data:audio/(?:wav|x-wav|wave|vnd\.wave);base64,([A-Za-z0-9+/=\s]+)")
_WAV_TYPE = re.compile(r"""type=(["'])audio/(?:wav|x-wav|wave|vnd\.wave)\1""")


def compress_audio_uri(b64_wav: str, *, seconds: float = 4.0, level: float = 0.85) -> str:
    """A base64 wav (as embedded by an audio player) -> ``data:audio/mpeg;base64,...``.

    The clip is cut to its first ``seconds`` (with a 50 ms fade-out) and encoded as constant
    bit-rate MP3 (libsndfile/LAME; ``level`` 0.85 is about 33 kbit/s at 16 kHz): about 4 kB a second
    instead of 32 kB, and playable in every browser.
    """
    import base64
    import io

    import numpy as np
    import soundfile as sf

    wav, sr = sf.read(io.BytesIO(base64.b64decode(re.sub(r"\s", "", b64_wav))), dtype="float32", always_2d=True)
    wav = wav.mean(axis=1)[: int(seconds * sr)].copy()
    fade = min(len(wav), int(0.05 * sr))
    if fade and len(wav) >= int(seconds * sr):
        wav[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    buf = io.BytesIO()
    sf.write(buf, np.clip(wav, -1, 1), sr, format="MP3", subtype="MPEG_LAYER_III", compression_level=level,
             bitrate_mode="CONSTANT")
    return "data:audio/mpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _shrink_png(b64_png: str) -> str:
    import base64
    import io

    from PIL import Image

    im = Image.open(io.BytesIO(base64.b64decode(b64_png)))
    im = im.resize((max(1, im.width * 2 // 3), max(1, im.height * 2 // 3)), Image.LANCZOS)
    buf = io.BytesIO()
    im.convert("P", palette=Image.ADAPTIVE, colors=128).save(buf, format="PNG", optimize=True)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _slim(nb, *, max_png: int, audio_seconds: float, level: float) -> None:
    """Shrink large PNGs and re-encode embedded wav audio in place (code cells only)."""
    import nbformat

    for cell in nb.cells:
        if cell.cell_type != "code":  # only code cells carry outputs (nbformat rejects them elsewhere)
            continue
        outputs = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            html = "".join(data.get("text/html", ""))
            if "<audio" in html:
                try:
                    html = _WAV_URI.sub(lambda m: compress_audio_uri(m.group(1), seconds=audio_seconds, level=level),
                                        html)
                    data["text/html"] = _WAV_TYPE.sub(r"type=\1audio/mpeg\1", html)
                except Exception as exc:  # an unreadable clip must not lose the whole reference copy
                    out = nbformat.v4.new_output("stream", name="stdout", text=(
                        f"[audio players removed from the reference copy ({type(exc).__name__}: {exc}): "
                        "run the notebook to listen]\n"))
            elif len(data.get("image/png", "")) > max_png:
                data["image/png"] = _shrink_png(data["image/png"])
            outputs.append(out)
        cell.outputs = outputs


def make_reference(executed: Path, dest_dir: Path = RUNS_DIR / "reference", *, max_png: int = 200_000,
                   audio_seconds: float = 4.0, budget: int = REFERENCE_BUDGET) -> Path:
    """Copy an executed notebook to ``runs/reference/`` small enough to commit (about ``budget`` bytes).

    Audio players keep playing: each embedded wav becomes an MP3 of at most ``audio_seconds``
    (:func:`compress_audio_uri`), so the listening sections work on the repository page; inline
    PNGs over ``max_png`` base64 characters are shrunk to 2/3 size with a 128-colour palette. When
    the copy is still over ``budget``, audio is re-encoded at a lower rate and images shrunk once
    more; a copy that stays over budget is written anyway, with a warning naming its size.
    """
    import copy

    import nbformat

    original = nbformat.read(str(executed), as_version=4)
    for level, png_limit in ((0.85, max_png), (0.9, max_png // 2)):
        nb = copy.deepcopy(original)
        _slim(nb, max_png=png_limit, audio_seconds=audio_seconds, level=level)
        text = nbformat.writes(nb)
        if len(text.encode()) <= budget:
            break
    else:
        progress.write(f"warning: the reference copy of {Path(executed).name} is {len(text.encode()) / 1e6:.2f} MB, "
                       f"over the {budget / 1e6:.1f} MB budget: show fewer audio clips or smaller figures")
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / Path(executed).name
    dest.write_text(text, encoding="utf-8")
    return dest


# --------------------------------------------------------------------------- output checks
_FIGURE_CALL = re.compile(
    r"\bplots\.(?!save\b|audio_grid\b|metric_label\b|score_table\b|no_display\b)[a-z_]+\("
    r"|\bFigure\(|\.plot[.(]|\bsns\.[a-z]+plot\(|\bplt\.")
_BARE_FIGURE = re.compile(r"^\s*<(?:matplotlib\.figure\.)?Figure size [^>]*>\s*$")
_TQDM_TEXT = re.compile(r"\d+%\|")
_WIDGET = "application/vnd.jupyter.widget-view+json"


def output_problems(source: str, outputs: Sequence[Mapping[str, Any]]) -> list[str]:
    """What a reader should not see in one executed code cell (empty list = clean).

    - a figure shown only as ``<Figure size ...>`` text (no PNG: the inline formatter is missing);
    - a cell that draws a figure (``plots.<function>(``, ``Figure(``, ``.plot``) but shows no image;
    - the same image twice (a figure displayed by the cell and again by the inline hook);
    - a traceback (an error output, or one printed to a stream);
    - progress widgets or text bars (headless runs store frozen bars), or more than one progress line.
    """
    problems = []
    images: list[str] = []
    progress_lines = 0
    for out in outputs:
        kind = out.get("output_type")
        data = out.get("data", {}) or {}
        if "image/png" in data or "image/svg+xml" in data:
            images.append(str(data.get("image/png", data.get("image/svg+xml"))))
        text = data.get("text/plain", "")
        text = "".join(text) if isinstance(text, list) else str(text)
        if _BARE_FIGURE.match(text) and "image/png" not in data:
            problems.append(f"shows {text.strip()!r} as text instead of the image")
        if _WIDGET in data:
            problems.append("stores a widget (a progress bar frozen in a headless run)")
        if kind == "error":
            problems.append(f"raised {out.get('ename', 'an error')}: {out.get('evalue', '')}"[:200])
        if kind == "stream":
            stream = out.get("text", "")
            stream = "".join(stream) if isinstance(stream, list) else str(stream)
            if "Traceback (most recent call last)" in stream:
                problems.append(f"prints a traceback to {out.get('name', 'a stream')}")
            if _TQDM_TEXT.search(stream):
                problems.append("stores a text progress bar")
            progress_lines += sum(line.startswith("⏱") for line in stream.splitlines())
    if progress_lines > 1:
        problems.append(f"stores {progress_lines} progress lines (at most one per cell)")
    if len(set(images)) < len(images):
        problems.append("shows the same image twice")
    code = "\n".join(line.split("#", 1)[0] for line in source.splitlines())
    if not images and _FIGURE_CALL.search(code):
        problems.append("draws a figure but shows no image")
    return problems


def notebook_problems(nb_or_path: Any) -> list[str]:
    """:func:`output_problems` of every code cell of an executed notebook, as ``"cell N: ..."``."""
    import nbformat

    nb = nbformat.read(str(nb_or_path), as_version=4) if isinstance(nb_or_path, (str, Path)) else nb_or_path
    return [f"cell {i}: {p}" for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
            for p in output_problems(cell.source, cell.get("outputs", []))]


# --------------------------------------------------------------------------- run timings
def _device_kind(params: Mapping[str, Any]) -> tuple[str, str]:
    """``("cuda", "<GPU name>")`` or ``("cpu", "cpu")`` for a notebook run with ``params``."""
    want = str(params.get("device") or "auto").lower()
    if want == "cpu":
        return "cpu", "cpu"
    from serlib.results import _device

    name = _device()
    if want.startswith("cuda") or name != "cpu":
        return "cuda", name
    return "cpu", "cpu"


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def record_runtime(outcome: Outcome, *, dry: bool = False, params: Mapping[str, Any] | None = None,
                   folder: Path | None = None) -> Path:
    """Add or replace the record of a successful run in ``<folder>/runtimes.json``.

    One record per notebook x profile x dry x device kind (the latest wins):
    ``{notebook, profile, dry, device, device_name, cpu_count, seconds, commit, dirty, date}``.
    ``folder`` defaults to :func:`serlib.paths.results_dir` (where the notebook wrote its results):
    the repository's ``results/`` unless ``SERLIB_RESULTS`` points elsewhere, as in the tests.
    """
    from serlib.audio import atomic_write
    from serlib.results import _git_commit

    if outcome.status != "ok":
        raise ValueError(f"record_runtime: {outcome.notebook} did not succeed ({outcome.status}); only "
                         "successful runs are timed")
    folder = Path(folder) if folder is not None else paths.results_dir()
    path = folder / RUNTIMES
    records = []
    if path.is_file():
        try:
            records = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON ({exc}); delete it to start a new timing record") from None
        if not isinstance(records, list):
            raise ValueError(f"{path} must hold a JSON list of run records; delete it to start a new one")
    device, device_name = _device_kind(params or {})
    commit, dirty = _git_commit()
    rec = {"notebook": outcome.notebook, "profile": outcome.profile, "dry": bool(dry), "device": device,
           "device_name": device_name, "cpu_count": _cpu_count(), "seconds": round(float(outcome.seconds), 1),
           "commit": commit, "dirty": dirty,
           "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()}
    key = ("notebook", "profile", "dry", "device")
    records = [r for r in records if tuple(r.get(k) for k in key) != tuple(rec[k] for k in key)] + [rec]
    records.sort(key=lambda r: (str(r.get("notebook")), str(r.get("profile")), bool(r.get("dry")),
                                str(r.get("device"))))
    text = json.dumps(records, indent=1) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    return path


def prepare(profile: str) -> None:
    """Generate the embedded corpus, cross-corpus variant and noise bank for ``profile`` (cached)."""
    from serlib import corpora, noise

    common = profiles._spec()["common"][profile]
    if profiles.is_dry():  # generate the capped corpus, not the profile's (5,500 utterances for paper)
        common = profiles.dry_caps(common)[0]
    corpora.load("synthetic", size=common["corpus_size"], seed=common["seed"])
    corpora.load("synthetic_xcorpus", size=common["corpus_size"], seed=common["seed"])
    noise.load_noise("synthetic")


def dry_environment(out_dir: Path) -> dict[str, str]:
    """Set up this process (and the notebooks it starts) for a dry run writing under ``out_dir``.

    ``SERLIB_DRY=1`` (:func:`serlib.profiles.dry_caps`), results and figures redirected to
    ``out_dir/results`` and ``out_dir/figures``. Returns the variables set.
    """
    out_dir = Path(out_dir).resolve()
    env = {profiles.DRY_ENV: "1", "SERLIB_RESULTS": str(out_dir / "results"),
           "SERLIB_FIGURES": str(out_dir / "figures")}
    os.environ.update(env)
    return env


def summary_table(outcomes: Sequence[Outcome]) -> str:
    """A plain-text table of the outcomes."""
    rows = [("notebook", "profile", "status", "seconds")]
    rows += [(o.notebook, o.profile, o.status, f"{o.seconds:.1f}") for o in outcomes]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_summaries(outcomes: Sequence[Outcome], out_dir: Path) -> None:
    """``runs/<profile>/summary.csv``, ``results/summary.md`` and the README's results block."""
    import pandas as pd

    pd.DataFrame([o.__dict__ for o in outcomes]).to_csv(out_dir / "summary.csv", index=False)
    write_summary_md(paths.results_dir())
    if not profiles.is_dry():  # a dry run leaves the README alone
        update_readme()


def write_summary_md(folder: Path) -> None:
    """``<folder>/summary.md`` from every results file in ``folder`` (nothing when there are none)."""
    from serlib import report, results

    df = results.collect(folder)
    if len(df):
        (folder / "summary.md").write_text(report.summary_markdown(df, results_dir=folder))


def update_readme() -> bool | None:
    """Rebuild the README's generated results block from the repository's ``results/``.

    True if it changed, False if it was up to date, None (after printing why) if the README has
    no results markers.
    """
    from serlib import report

    try:
        changed = report.update_readme(README, REPO_RESULTS)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    print(f"{README.name}: results block {'regenerated' if changed else 'already up to date'} "
          f"(from {REPO_RESULTS})", flush=True)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serlib.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="auto", help="smoke | quick | paper | auto (default: auto)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="notebooks to run (names or prefixes)")
    parser.add_argument("-p", "--param", nargs=2, action="append", metavar=("KEY", "VALUE"),
                        help="notebook parameter (VALUE parsed as YAML); repeatable")
    parser.add_argument("--out", type=Path, default=None, help="folder for executed notebooks (runs/<profile>)")
    parser.add_argument("--no-prepare", action="store_true", help="skip generating the embedded data first")
    parser.add_argument("--list", action="store_true", help="list notebooks and their parameters, then exit")
    parser.add_argument("--reference", action="store_true",
                        help="also copy each successful run, slimmed, to runs/reference/ (the committed reference run)")
    parser.add_argument("--dry", action="store_true",
                        help="dry run: every branch of the profile, 1 fold, 1 seed, 1 epoch of <= 2 batches, "
                             "<= 64 utterances; results and figures under the output folder")
    parser.add_argument("--update-readme", action="store_true",
                        help="only rebuild results/summary.md and the README's results block from results/, then exit")
    args = parser.parse_args(argv)
    if args.update_readme:
        write_summary_md(REPO_RESULTS)
        return 2 if update_readme() is None else 0
    try:
        names = select(args.only)
        if args.list:
            for n in names:
                print(n + ": " + ", ".join(notebook_parameters(n)))
            return 0
        try:
            profile = profiles.check_profile(args.profile)
        except profiles.ProfileError as exc:
            raise RunnerError(str(exc)) from None
        per_nb = validate_params(names, parse_params(args.param))
    except RunnerError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2

    os.environ[profiles.ENV_VAR] = profile  # notebooks run directly by a notebook see it too
    out_dir = args.out or RUNS_DIR / (f"{profile}-dry" if args.dry else profile)
    if args.dry:  # a trickle of data; results and figures under out_dir (dry_environment)
        if args.reference:
            print("error: --dry runs are never reference runs; drop --reference", file=sys.stderr)
            return 2
        dry_environment(out_dir)
    started, data_s = time.perf_counter(), 0.0
    if not args.no_prepare:
        print(f"Preparing the embedded data for profile {profile!r} ...", flush=True)
        prepare(profile)
        data_s = time.perf_counter() - started
    kernel = ensure_kernel()
    outcomes = []
    dry = bool(getattr(args, "dry", False))
    bar = progress.bar(names, desc=f"notebooks ({profile})", unit="nb")
    for name in bar:
        bar.set_postfix_str(name)
        outcome = execute(name, profile, per_nb[name], out_dir, kernel)
        outcomes.append(outcome)
        if outcome.status == "ok":
            record_runtime(outcome, dry=dry, params=per_nb[name])
            progress.write(f"{name}: ok in {outcome.seconds:.0f} s")
            for problem in notebook_problems(outcome.output):
                progress.write(f"  warning: {name} {problem}")
            if args.reference:
                make_reference(Path(outcome.output))
        else:
            progress.write(f"FAILED {name}: {outcome.error}\n  see {outcome.output}")
    full = [o.notebook for o in outcomes] == available_notebooks() and all(o.status == "ok" for o in outcomes)
    if full and not dry:  # the make-reproduce benchmark: only a complete run replaces it (serlib.reproduce)
        path = reproduce.write(outcomes, profile=profile, data_generation_s=data_s, cpu_count=_cpu_count(),
                               total_s=time.perf_counter() - started)
        print(f"wrote {path}", flush=True)
    write_summaries(outcomes, out_dir)
    print("\n" + summary_table(outcomes))
    print(f"\nexecuted notebooks: {out_dir}")
    failed = [o for o in outcomes if o.status != "ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
