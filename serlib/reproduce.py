"""The ``make reproduce`` benchmark: how long a full run takes, notebook by notebook and stage by stage.

A full run of the runner (every notebook, one profile, not dry) writes
``results/benchmarks/reproduce.json`` (:func:`write`); the README's runtime table is generated from it
(:func:`markdown`). Per notebook it records:

- ``wall_s``: the notebook's wall time as the runner measured it (kernel start to the last cell);
- ``stages_s``: that time split into :data:`serlib.results.STAGES` from the notebook's own timers
  (``Results.timer``, saved in ``results/<notebook>.json``): ``data``, ``features``,
  ``enhancement``, ``training`` (every fit, with the scoring of its test sets inside the same task)
  and ``evaluation`` = the rest of the wall time (tables, statistics, ledger, figures, kernel start);
- ``fits`` and ``best_epoch_before_last`` (``Results.note_fits``), and ``fits_per_min`` = fits per
  minute of the ``training`` stage.

At the top: ``data_generation_s`` (the runner generating the embedded corpus and noise before the
first notebook: zero when they were cached), ``notebooks_s`` and ``total_s`` (data generation plus
every notebook: what ``make reproduce`` costs after ``make setup``), the commit and the machine.
A partial run (``--only``), a dry run or a run with a failed notebook leaves the file alone.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from serlib import paths
from serlib.results import STAGES

FILE = Path("benchmarks") / "reproduce.json"
"""Where the record lives, relative to the results folder."""

__all__ = ["FILE", "markdown", "notebook_record", "read", "write"]


def notebook_record(notebook: str, wall_s: float, meta: Mapping[str, Any]) -> dict[str, Any]:
    """One notebook's entry from its runner wall time and its results metadata (``results/<nb>.json``)."""
    timed = {s: float((meta.get("durations_s") or {}).get(s, 0.0)) for s in STAGES if s != "evaluation"}
    stages = {**timed, "evaluation": max(0.0, float(wall_s) - sum(timed.values()))}
    fits = meta.get("fits")
    fits = int(fits) if isinstance(fits, (int, float)) else None
    training_min = stages["training"] / 60
    return {"notebook": notebook, "wall_s": round(float(wall_s), 1),
            "stages_s": {k: round(v, 1) for k, v in stages.items()}, "fits": fits,
            "fits_per_min": round(fits / training_min, 2) if fits and training_min > 0 else None,
            "best_epoch_before_last": meta.get("best_epoch_before_last")}


def write(outcomes: Sequence[Any], *, profile: str, data_generation_s: float, total_s: float, cpu_count: int,
          folder: Path | None = None) -> Path:
    """Write ``<folder>/benchmarks/reproduce.json`` from the runner's ``outcomes`` (every one ``ok``;
    ``.notebook``, ``.status``, ``.seconds``), the seconds of data generation and of the whole run.

    ``folder`` defaults to :func:`serlib.paths.results_dir` (where the notebooks wrote their results).
    """
    from serlib.audio import atomic_write
    from serlib.results import _git_commit

    bad = [o.notebook for o in outcomes if o.status != "ok"]
    if bad or not outcomes:
        raise ValueError(f"reproduce.write: every notebook must have run (failed or missing: {bad or 'all'})")
    folder = Path(folder) if folder is not None else paths.results_dir()
    rows = []
    for o in outcomes:
        meta_path = folder / f"{o.notebook}.json"
        if not meta_path.is_file():
            raise FileNotFoundError(f"reproduce.write: {meta_path} is missing; the notebook {o.notebook} saved no "
                                    "results (it must call Results.save)")
        rows.append(notebook_record(o.notebook, o.seconds, json.loads(meta_path.read_text())))
    commit, dirty = _git_commit()
    rec = {"benchmark": "reproduce", "profile": profile, "commit": commit, "dirty": dirty,
           "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
           "cpu_count": int(cpu_count), "data_generation_s": round(float(data_generation_s), 1),
           "notebooks_s": round(sum(r["wall_s"] for r in rows), 1), "total_s": round(float(total_s), 1),
           "definition": __doc__.split("\n\n", 1)[1].split("\n\nAt the top")[0].strip(), "notebooks": rows}
    path = folder / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(rec, indent=1) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))
    return path


def read(folder: Path | None = None) -> dict[str, Any] | None:
    """The record of ``<folder>/benchmarks/reproduce.json``, or None when there is none."""
    path = (Path(folder) if folder is not None else paths.results_dir()) / FILE
    if not path.is_file():
        return None
    try:
        rec = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); rerun `make reproduce` to write it again") from None
    if not isinstance(rec, dict) or not isinstance(rec.get("notebooks"), list):
        raise ValueError(f"{path}: expected the record of serlib.reproduce.write (a 'notebooks' list)")
    return rec


def _minutes(s: float) -> str:
    return f"{s / 60:.1f} min" if s >= 60 else f"{s:.0f} s"


def markdown(folder: Path | None = None) -> str:
    """The README's runtime table (Markdown) from ``reproduce.json``, or ``""`` when there is none."""
    rec = read(folder)
    if rec is None:
        return ""
    # a stage no notebook timed (e.g. data: loading is part of the untimed rest) gets no column
    stages = [k for k in STAGES if k == "evaluation" or any(r["stages_s"].get(k, 0) > 0 for r in rec["notebooks"])]
    head = ["notebook", "wall time", *stages, "fits", "fits / min", "best epoch before last"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rec["notebooks"]:
        st = r["stages_s"]
        share = r.get("best_epoch_before_last")
        cells = [r["notebook"], _minutes(r["wall_s"]), *(f"{st.get(k, 0):.0f} s" for k in stages),
                 "" if r.get("fits") is None else str(r["fits"]),
                 "" if r.get("fits_per_min") is None else f"{r['fits_per_min']:.1f}",
                 "" if share is None else f"{share:.0%}"]
        lines.append("| " + " | ".join(cells) + " |")
    commit = str(rec.get("commit"))[:9] + (" (dirty)" if rec.get("dirty") else "")
    intro = (f"`make reproduce` (profile `{rec['profile']}`), commit {commit}, {rec['cpu_count']} CPU cores, "
             f"{str(rec.get('date'))[:10]}: **{_minutes(rec['total_s'])}** in all = data generation "
             f"{_minutes(rec['data_generation_s'])} + notebooks {_minutes(rec['notebooks_s'])} "
             "(`results/benchmarks/reproduce.json`; stages from each notebook's timers, *evaluation* = the rest of "
             "its wall time; fits / min per minute of training).")
    return intro + "\n\n" + "\n".join(lines)
