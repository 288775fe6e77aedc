"""Shared pytest fixtures.

- ``tmp_data``: points SERLIB_DATA / SERLIB_RESULTS / SERLIB_FIGURES at a temporary folder,
  so unit tests never touch the user's caches.
- nbval runs notebooks on ``smoke``: the root ``conftest.py`` sets SERLIB_PROFILE=smoke.
- ``shared_data``: the team's real-audio folder ``../shared/data`` or a skip with the reason.
- ``smoke_corpus``: the embedded ``smoke`` corpus, generated once per session in a temporary folder.
- ``one_torch_thread``: one intra-op torch thread for a module of tiny models (restored after).
- markers ``gpu`` and ``real_data`` select those layers (``pytest -m gpu``); see tests/README.md.
- every test runs under :func:`_leaves_global_state_as_found` (autouse): a test that changes
  torch's thread count, grad mode or default dtype, the working directory or an environment
  variable fails, and the state is put back so the next test starts clean.
"""

from __future__ import annotations

import os

import pytest

from serlib import paths

def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a CUDA GPU (skipped with the reason without one); run with -m gpu")
    config.addinivalue_line("markers", "real_data: reads ../shared/data (skipped without it); run with -m real_data")
    config.addinivalue_line("markers", "notebook: executes whole notebooks (real corpora, dry paper runs); run with -m notebook")


def pytest_collection_modifyitems(config, items):
    """Layer markers: a test using the ``shared_data`` fixture is ``real_data``; a test in a
    ``test_gpu*.py`` module is ``gpu`` (others carry ``@pytest.mark.gpu`` themselves)."""
    for item in items:
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.real_data)
        if item.path.name.startswith("test_gpu"):
            item.add_marker(pytest.mark.gpu)


_SET_BY_DESIGN = {
    # serlib sets these on purpose; restored after each test without failing it
    "PYTHONHASHSEED",  # serlib.training.seed_everything: the seed for worker processes started later
    "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE",  # serlib.models.joint_asr_ser: never download
}
_SET_BY_LIBRARIES = {
    # set once per process by third-party code on first use: left alone
    "TORCHINDUCTOR_CACHE_DIR",  # torch._inductor's cache folder
    "SB_LOG_LEVEL",  # speechbrain's logger
    "KMP_DUPLICATE_LIB_OK", "KMP_INIT_AT_FORK",  # scikit-learn / threadpoolctl, on import (OpenMP runtimes)
    "MPLCONFIGDIR",  # matplotlib, on import when the default config folder is not writable
    "PYTEST_CURRENT_TEST",  # pytest's own
}


@pytest.fixture(autouse=True)
def _leaves_global_state_as_found():
    """Fail a test that leaves torch threads / grad mode / default dtype, the cwd or the environment changed."""
    import torch

    threads, grad, dtype = torch.get_num_threads(), torch.is_grad_enabled(), torch.get_default_dtype()
    cwd, env = os.getcwd(), dict(os.environ)
    yield
    problems = []
    if torch.get_num_threads() != threads:
        problems.append(f"torch threads {threads} -> {torch.get_num_threads()} (use the one_torch_thread fixture)")
        torch.set_num_threads(threads)
    if torch.is_grad_enabled() != grad:
        problems.append(f"torch grad mode {grad} -> {torch.is_grad_enabled()}")
        torch.set_grad_enabled(grad)
    if torch.get_default_dtype() != dtype:
        problems.append(f"torch default dtype {dtype} -> {torch.get_default_dtype()}")
        torch.set_default_dtype(dtype)
    if os.getcwd() != cwd:
        problems.append(f"working directory {cwd} -> {os.getcwd()} (use monkeypatch.chdir)")
        os.chdir(cwd)
    now = dict(os.environ)
    changed = sorted(k for k in set(env) | set(now) if env.get(k) != now.get(k) and k not in _SET_BY_LIBRARIES)
    for k in changed:
        if k in env:
            os.environ[k] = env[k]
        else:
            del os.environ[k]
    changed = [k for k in changed if k not in _SET_BY_DESIGN]
    if changed:
        problems.append(f"environment variables {changed} changed (use monkeypatch.setenv / delenv)")
    if problems:
        pytest.fail("the test left global state changed: " + "; ".join(problems), pytrace=False)


@pytest.fixture
def tmp_data(tmp_path, monkeypatch):
    monkeypatch.setenv("SERLIB_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("SERLIB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("SERLIB_FIGURES", str(tmp_path / "figures"))
    return tmp_path / "data"


@pytest.fixture(scope="session")
def smoke_corpus(tmp_path_factory):
    """The embedded corpus at size ``smoke`` (40 utterances, 10 speakers), generated once per session
    in a temporary data folder: tests never read or write the repository's shared ``data/``.
    Features extracted from it still go to ``SERLIB_DATA``: combine with ``tmp_data``."""
    from serlib import corpora

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SERLIB_DATA", str(tmp_path_factory.mktemp("smoke-data")))
        return corpora.load("synthetic", size="smoke", progress=False)


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


@pytest.fixture(scope="session")
def kernel():
    """The Jupyter kernel of this interpreter that the runner uses (registered once)."""
    from serlib import run

    return run.ensure_kernel()
