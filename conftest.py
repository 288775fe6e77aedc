"""Repository-level pytest setup, loaded for every pytest run (also `pytest notebooks/X.ipynb`).

- nbval executes the stored notebooks on the `smoke` profile (SERLIB_PROFILE=smoke).
- Results and figures written during tests go to a temporary folder, so `make test` never
  overwrites the committed reference run in results/ and figures/ with smoke numbers.
  (The data cache under data/ is shared: smoke data are a subset of quick data.)
- Progress is reported headless (SERLIB_PROGRESS=line: one summary line per cell, no widgets).
- Every cell nbval executes is also checked for what a reader should not see
  (:func:`serlib.run.output_problems`: a figure shown as ``<Figure size ...>`` text, a plotting
  cell without an image, a traceback, frozen progress bars); a problem fails that cell. nbval runs
  in lax mode (outputs are not compared), so this is the check that figures really render.
"""

import os
import tempfile

import pytest

os.environ.setdefault("SERLIB_PROFILE", "smoke")
os.environ.setdefault("SERLIB_PROGRESS", "line")
_out = tempfile.mkdtemp(prefix="serlib-test-")
os.environ.setdefault("SERLIB_RESULTS", os.path.join(_out, "results"))
os.environ.setdefault("SERLIB_FIGURES", os.path.join(_out, "figures"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After nbval ran a notebook cell (it keeps the outputs in ``item.test_outputs``), check them."""
    result = yield
    outputs = getattr(item, "test_outputs", None)
    cell = getattr(item, "cell", None)
    if outputs is not None and cell is not None:
        from serlib.run import output_problems

        problems = output_problems(cell.source, outputs)
        if problems:
            pytest.fail("notebook output check: " + "; ".join(problems), pytrace=False)
    return result

