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
- ``--reference`` also copies each successful run to ``runs/reference/`` without audio players and
  with large images shrunk, small enough to commit.
- After the notebooks the README's generated results block (headline numbers, leaderboard, claims
  ledger; :func:`serlib.results.update_readme`) is rebuilt from the repository's ``results/``;
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
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import yaml

from serlib import paths, profiles

NOTEBOOK_DIR = paths.REPO / "notebooks"
RUNS_DIR = paths.REPO / "runs"
README = paths.REPO / "README.md"
REPO_RESULTS = paths.REPO / "results"
"""The committed results the README shows (whatever ``SERLIB_RESULTS`` says)."""
KERNEL_NAME = "serlib"


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


def execute(name: str, profile: str, params: dict[str, Any], out_dir: Path, kernel: str,
            folder: Path = NOTEBOOK_DIR) -> Outcome:
    """Run one notebook with papermill; never raises for a failing notebook."""
    import papermill as pm

    out_dir.mkdir(parents=True, exist_ok=True)
    output = out_dir / f"{name}.ipynb"
    start = time.perf_counter()
    try:
        pm.execute_notebook(
            str(folder / f"{name}.ipynb"), str(output), parameters={"profile": profile, **params},
            kernel_name=kernel, cwd=str(folder), progress_bar=sys.stderr.isatty(), log_output=False,
        )
        return Outcome(name, profile, "ok", time.perf_counter() - start, str(output))
    except pm.PapermillExecutionError as exc:
        msg = f"cell {exc.exec_count} (index {exc.cell_index}): {exc.ename}: {exc.evalue}"
        return Outcome(name, profile, "failed", time.perf_counter() - start, str(output), msg)
    except Exception as exc:  # kernel died, notebook unreadable, ...
        return Outcome(name, profile, "failed", time.perf_counter() - start, str(output),
                       f"{type(exc).__name__}: {exc}")


def make_reference(executed: Path, dest_dir: Path = RUNS_DIR / "reference", *, max_png: int = 200_000) -> Path:
    """Copy an executed notebook to ``runs/reference/`` small enough to commit.

    Audio players (embedded wav) are replaced by a note, and inline PNGs over ``max_png`` base64
    characters are shrunk to 2/3 size with a 128-colour palette.
    """
    import base64
    import io

    import nbformat
    from PIL import Image

    nb = nbformat.read(str(executed), as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":  # only code cells carry outputs (nbformat rejects them elsewhere)
            continue
        outputs = []
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "<audio" in "".join(data.get("text/html", "")):
                out = nbformat.v4.new_output("stream", name="stdout", text="[audio players removed from the "
                                             "reference copy to keep it small: run the notebook to listen]\n")
            elif len(data.get("image/png", "")) > max_png:
                im = Image.open(io.BytesIO(base64.b64decode(data["image/png"])))
                im = im.resize((im.width * 2 // 3, im.height * 2 // 3), Image.LANCZOS)
                buf = io.BytesIO()
                im.convert("P", palette=Image.ADAPTIVE, colors=128).save(buf, format="PNG", optimize=True)
                data["image/png"] = base64.b64encode(buf.getvalue()).decode("ascii")
            outputs.append(out)
        cell.outputs = outputs
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / Path(executed).name
    nbformat.write(nb, str(dest))
    return dest


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
    from serlib import results

    df = results.collect(folder)
    if len(df):
        (folder / "summary.md").write_text(results.summary_markdown(df, results_dir=folder))


def update_readme() -> bool | None:
    """Rebuild the README's generated results block from the repository's ``results/``.

    True if it changed, False if it was up to date, None (after printing why) if the README has
    no results markers.
    """
    from serlib import results

    try:
        changed = results.update_readme(README, REPO_RESULTS)
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

    from tqdm.auto import tqdm

    os.environ[profiles.ENV_VAR] = profile  # notebooks run directly by a notebook see it too
    out_dir = args.out or RUNS_DIR / (f"{profile}-dry" if args.dry else profile)
    if args.dry:  # a trickle of data; results and figures under out_dir (dry_environment)
        if args.reference:
            print("error: --dry runs are never reference runs; drop --reference", file=sys.stderr)
            return 2
        dry_environment(out_dir)
    if not args.no_prepare:
        print(f"Preparing the embedded data for profile {profile!r} ...", flush=True)
        prepare(profile)
    kernel = ensure_kernel()
    outcomes = []
    bar = tqdm(names, desc=f"notebooks ({profile})", unit="nb")
    for name in bar:
        bar.set_postfix_str(name)
        outcome = execute(name, profile, per_nb[name], out_dir, kernel)
        outcomes.append(outcome)
        if outcome.status == "ok" and args.reference:
            make_reference(Path(outcome.output))
        if outcome.status != "ok":
            tqdm.write(f"FAILED {name}: {outcome.error}\n  see {outcome.output}")
    write_summaries(outcomes, out_dir)
    print("\n" + summary_table(outcomes))
    print(f"\nexecuted notebooks: {out_dir}")
    failed = [o for o in outcomes if o.status != "ok"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
