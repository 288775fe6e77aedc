"""The notebook-output check: what a reader must not see in an executed notebook.

:func:`serlib.run.output_problems` decides; the root ``conftest.py`` applies it to every cell nbval
executes in ``make test`` (so a figure that does not render fails CI), the runner to every
notebook it executes (warnings).
"""

from __future__ import annotations

import os
import subprocess
import sys

import nbformat
import pytest

from serlib import paths
from serlib.run import notebook_problems, output_problems

PNG = {"image/png": "iVBORw0KGgo=", "text/plain": "<Figure size 640x480 with 1 Axes>"}


def _out(kind: str = "display_data", **data) -> dict:
    return {"output_type": kind, "data": data, "metadata": {}}


def _stream(text: str, name: str = "stdout") -> dict:
    return {"output_type": "stream", "name": name, "text": text}


def test_bare_figure_text_is_a_problem():
    bare = _out("execute_result", **{"text/plain": "<Figure size 1320x700 with 6 Axes>"})
    assert output_problems("fig", [bare]) == ["shows '<Figure size 1320x700 with 6 Axes>' as text instead of the image"]
    assert output_problems("fig", [_out("execute_result", **PNG)]) == []  # the same text beside a PNG is fine
    assert output_problems("x", [_out(**{"text/plain": "Figure size is 3"})]) == []


def test_plotting_cell_without_image_is_a_problem():
    src = 'fig = plots.metric_vs_snr(df, "uar", name="x")'
    assert output_problems(src, []) == ["draws a figure but shows no image"]
    assert output_problems(src, [_out(**PNG)]) == []
    assert output_problems(src, [_out(**PNG), _out("execute_result", **PNG)]) == ["shows the same image twice"]
    for other in ("fig = plots.Figure(figsize=(3, 2))\nax = fig.subplots()", "piv.plot.bar(ax=ax)",
                  "plots.spectrograms(wavs)"):
        assert output_problems(other, []) == ["draws a figure but shows no image"], other
    for quiet in ("plots.save(fig, 'x')", "plots.audio_grid(rows)", "plots.score_table(df, 'ccc')",
                  "x = 1  # plots.metric_vs_snr(df) would draw", "label = plots.metric_label('uar')"):
        assert output_problems(quiet, []) == [], quiet


def test_tracebacks_widgets_and_progress_bars_are_problems():
    err = {"output_type": "error", "ename": "ValueError", "evalue": "boom", "traceback": []}
    assert output_problems("x", [err]) == ["raised ValueError: boom"]
    tb = _stream("Traceback (most recent call last):\n  File ...\nKeyboardInterrupt\n", "stderr")
    assert output_problems("x", [tb]) == ["prints a traceback to stderr"]
    widget = _out(**{"application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "text/plain": "  0%|  | 0/1200"})
    assert output_problems("x", [widget]) == ["stores a widget (a progress bar frozen in a headless run)"]
    assert output_problems("x", [_stream("enhance:  40%|####      | 4/10 [00:01<00:02]\r")]) == [
        "stores a text progress bar"]
    one = _stream("⏱ lmfb ×3: 60 utt in 2.0 s\n")
    assert output_problems("x", [one]) == []
    assert output_problems("x", [one, _stream("⏱ epochs 3/3 epoch in 1.0 s\n")]) == [
        "stores 2 progress lines (at most one per cell)"]


def test_notebook_problems_names_the_cell():
    nb = nbformat.v4.new_notebook()
    good, bad = nbformat.v4.new_code_cell("fig = plots.tsne(x, y, title='t')"), nbformat.v4.new_code_cell("fig")
    good.outputs = [nbformat.v4.new_output("display_data", data=PNG)]
    bad.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "<Figure size 10x10 with 0 Axes>"},
                                          execution_count=2)]
    nb.cells = [nbformat.v4.new_markdown_cell("# t"), good, bad]
    assert notebook_problems(nb) == ["cell 2: shows '<Figure size 10x10 with 0 Axes>' as text instead of the image"]


def _write(path, *sources: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_nbval_cells_are_checked(tmp_path):
    """The root conftest's hook on nbval items: a bare Figure fails its cell; serlib figures render inline,
    once, and long work leaves one progress line."""
    _write(tmp_path / "bare.ipynb",
           "from matplotlib.figure import Figure\nfig = Figure()\nfig.subplots().plot([0, 1])\nfig",
           "y = 2")
    _write(tmp_path / "good.ipynb",
           "import numpy as np\nfrom serlib import plots, progress",
           "fig = plots.segment(np.zeros((20, 128)))",  # not the cell's value: shown at the end of the cell
           "fig = plots.segment(np.zeros((20, 128)))\nfig",  # the cell's value: shown once (a second copy fails)
           "for _ in progress.bar(range(3), desc='outer'):\n"
           "    for _ in progress.bar(range(2), desc='inner [x]'):\n        pass\n"
           "for _ in progress.bar(range(2), desc='second'):\n    pass",
           "from matplotlib.figure import Figure\nf = Figure()\nf.subplots().plot([0, 1])\nf")  # formatter registered
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(paths.REPO), os.environ.get("PYTHONPATH", "")]))
    env.pop("PYTEST_ADDOPTS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(tmp_path / "bare.ipynb"), str(tmp_path / "good.ipynb"), "-p", "conftest",
         "--rootdir", str(tmp_path), "-o", "addopts=", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider",
         "-q", "-rA"],
        cwd=paths.REPO, env=env, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "1 failed, 6 passed" in out, out
    assert "FAILED" in out and "bare.ipynb::Cell 0" in out
    assert "notebook output check: shows '<Figure size 640x480 with 1 Axes>' as text instead of the image" in out
