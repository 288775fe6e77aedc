"""Imported once by the openSMILE fork server (see ``pipeline.mp_context``), never by users.

Building the ``Smile`` objects here loads the openSMILE library and fills audobject's cache of
installed distributions (``importlib.metadata.packages_distributions()`` over the whole
environment, 0.3-3 s), so every worker forked from the server starts with both ready.
``Smile`` objects are safe to inherit across a fork: each ``process_signal`` call creates its
own openSMILE instance.
"""

from __future__ import annotations

from . import functionals, pipeline  # noqa: F401  (pipeline: the workers' entry points)
from .kinds import FEATURE_KINDS

for _name, _kind in FEATURE_KINDS.items():
    if _kind.backend == "opensmile":
        functionals.smile(_name)
