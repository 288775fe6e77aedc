"""Repository-level pytest setup, loaded for every pytest run (also `pytest notebooks/X.ipynb`).

- nbval executes the stored notebooks on the `smoke` profile (SERLIB_PROFILE=smoke).
- Results and figures written during tests go to a temporary folder, so `make test` never
  overwrites the committed reference run in results/ and figures/ with smoke numbers.
  (The data cache under data/ is shared: smoke data are a subset of quick data.)
"""

import os
import tempfile

os.environ.setdefault("SERLIB_PROFILE", "smoke")
_out = tempfile.mkdtemp(prefix="serlib-test-")
os.environ.setdefault("SERLIB_RESULTS", os.path.join(_out, "results"))
os.environ.setdefault("SERLIB_FIGURES", os.path.join(_out, "figures"))
