"""Shared pytest fixtures.

- ``tmp_data``: points SERLIB_DATA / SERLIB_RESULTS / SERLIB_FIGURES at a temporary folder,
  so unit tests never touch the user's caches.
- nbval runs notebooks on ``smoke``: the root ``conftest.py`` sets SERLIB_PROFILE=smoke.
- ``shared_data``: the team's real-audio folder ``../shared/data`` or a skip with the reason.
"""

from __future__ import annotations

import pytest

from serlib import paths


@pytest.fixture
def tmp_data(tmp_path, monkeypatch):
    monkeypatch.setenv("SERLIB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SERLIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("SERLIB_FIGURES", str(tmp_path / "figures"))
    return tmp_path / "data"


@pytest.fixture
def shared_data():
    root = paths.shared_data_dir()
    if root is None:
        pytest.skip("../shared/data (the team's small real-audio set) is not present beside the checkout")
    return root


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models: one intra-op thread is faster than two that thrash on a shared 2-core CPU.

    Use per module: ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
