"""Repository-level pytest setup: nbval executes the stored notebooks on the `smoke` profile.

It lives at the root so that `pytest notebooks/01_edrl_mea.ipynb` alone also runs on smoke
(tests/conftest.py is only loaded when tests/ is collected).
"""

import os

os.environ.setdefault("SERLIB_PROFILE", "smoke")
