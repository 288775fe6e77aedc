"""serlib.progress: live bars where someone watches, one line in headless runs.

(The in-kernel behaviour, one summary line per cell, is exercised through real kernels in
``test_run.py::test_runner_log_is_clean`` and ``test_notebook_outputs.py::test_nbval_cells_are_checked``.)
"""

from __future__ import annotations

import pytest

from serlib import progress


@pytest.fixture
def mode(monkeypatch):
    def set_mode(value: str | None):
        if value is None:
            monkeypatch.delenv(progress.ENV_VAR, raising=False)
        else:
            monkeypatch.setenv(progress.ENV_VAR, value)
    return set_mode


def test_mode_choice(mode, monkeypatch):
    mode("off")
    assert progress.mode() == "off"
    mode("BAR")
    assert progress.mode() == "bar"
    mode(None)  # auto, outside a kernel: live only on a terminal
    monkeypatch.setattr("sys.stderr.isatty", lambda: False, raising=False)
    assert progress.mode() == "line"
    mode("fancy")
    with pytest.raises(ValueError, match="SERLIB_PROGRESS='fancy' is not one of auto, bar, line, off"):
        progress.mode()


def test_bar_mode_is_tqdm(mode):
    from tqdm.auto import tqdm

    mode("bar")
    b = progress.bar(total=3, desc="x", disable=True)
    assert isinstance(b, tqdm)
    b.close()


def test_line_mode_prints_one_line_for_the_outermost_bar(mode, capsys):
    mode("line")
    with progress.bar(total=4, desc="features [babble 0 dB]", unit="utt") as outer:
        for _ in progress.bar(range(3), desc="epochs", unit="epoch", leave=False):  # nested: silent
            pass
        outer.update(2)
        outer.set_postfix_str("Ses01F")
        outer.update(2)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("⏱ features [babble 0 dB] 4/4 utt in ")
    for _ in progress.bar([1, 2], desc="disabled", disable=True):
        pass
    progress.bar(total=5, desc="nothing done").close()  # no work, no line
    assert capsys.readouterr().err == ""


def test_line_mode_api(mode, capsys):
    mode("line")
    b = progress.bar(total=10, desc="a")
    b.set_postfix(loss=0.5, val="0.6")
    assert b.postfix == "loss=0.5, val=0.6"
    b.set_description("b")
    b.update(3)
    assert (b.n, b.total, len(b), b.desc) == (3, 10, 10, "b")
    b.reset(total=20)
    assert (b.n, b.total) == (0, 20)
    b.close()
    b.close()  # idempotent
    assert capsys.readouterr().err == ""  # reset to 0 done: nothing to report
    items = list(progress.bar(iter(range(5)), desc="gen"))  # no len(): total unknown
    assert items == list(range(5))
    assert "⏱ gen 5 it in " in capsys.readouterr().err
    with pytest.raises(TypeError, match="update"):
        list(progress.bar(total=3, desc="no iterable"))


def test_off_mode_is_silent(mode, capsys):
    mode("off")
    assert [x for x in progress.bar(range(3), desc="quiet")] == [0, 1, 2]
    progress.write("still said")
    captured = capsys.readouterr()
    assert "⏱" not in captured.err and "still said" in captured.err


def test_summary_groups_bars_by_description():
    bars = []
    for desc, n, sec in (("lmfb [clean]", 10, 1.0), ("lmfb [babble 0 dB]", 10, 2.0), ("epochs", 7, 65.0)):
        b = progress._Quiet(total=n, desc=desc, unit="utt" if "lmfb" in desc else "epoch")
        b.n, b.seconds = n, sec
        bars.append(b)
    assert progress._describe(bars) == "lmfb ×2: 20 utt in 3.0 s · epochs 7/7 epoch in 1m05s"
    many = []
    for k in range(6):
        b = progress._Quiet(total=1, desc=f"step{k}")
        b.n, b.seconds = 1, 0.5
        many.append(b)
    assert progress._describe(many).endswith("· +2 more")


def test_a_bar_dropped_without_close_does_not_silence_later_bars(mode, capsys):
    mode("line")
    forgotten = progress.bar(total=2, desc="forgotten")
    forgotten.update(1)
    del forgotten  # collected: closed, and it reports what it did
    with pytest.raises(TypeError):
        list(progress.bar(total=3, desc="no iterable"))
    for _ in progress.bar(range(2), desc="later"):
        pass
    err = capsys.readouterr().err
    assert "⏱ forgotten 1/2 it" in err and "⏱ later 2/2 it" in err


def test_library_bars_quiet_hugging_face_only_headless(mode):
    hf = pytest.importorskip("transformers.utils.logging")
    assert hf.is_progress_bar_enabled()
    mode("line")
    with progress.library_bars():
        assert not hf.is_progress_bar_enabled()  # transformers' "Loading weights" would be a frozen widget
    assert hf.is_progress_bar_enabled()  # restored
    mode("bar")
    with progress.library_bars():
        assert hf.is_progress_bar_enabled()  # live front end: their bars stay
