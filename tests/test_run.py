"""serlib.run: the papermill runner's argument handling and failure reporting."""

from __future__ import annotations

import json

import nbformat
import pytest

from serlib import run


def test_only_nonexistent_lists_notebooks(capsys):
    assert run.main(["--only", "nonexistent", "--profile", "smoke"]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "00_data_tour" in err


def test_only_accepts_prefix_and_suffix():
    assert run.select(["00"]) == ["00_data_tour"]
    assert run.select(["00_data_tour.ipynb"]) == ["00_data_tour"]


def test_unknown_param_lists_valid_names(capsys):
    assert run.main(["--only", "00", "--profile", "smoke", "-p", "learning_rate", "0.1"]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter 'learning_rate'" in err and "snrs" in err and "corpus" in err


def test_param_of_wrong_type_is_rejected(capsys):
    assert run.main(["--only", "00", "--profile", "smoke", "-p", "snrs", "five"]) == 2
    assert "expects list" in capsys.readouterr().err


def test_bad_profile(capsys):
    assert run.main(["--profile", "turbo", "--only", "00"]) == 2
    assert "unknown profile" in capsys.readouterr().err


def test_params_parsed_as_yaml():
    assert run.parse_params([("snrs", "[0, 5]"), ("epochs", "3"), ("corpus", "iemocap")]) == {
        "snrs": [0, 5], "epochs": 3, "corpus": "iemocap"}


def _notebook(path, code):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('profile: str = "quick"\nx: int = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(code)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_failing_notebook_is_reported_and_others_still_run(tmp_path):
    _notebook(tmp_path / "a_ok.ipynb", "y = 1 + 1")
    _notebook(tmp_path / "b_bad.ipynb", "raise ValueError('boom in cell 2')")
    kernel = run.ensure_kernel()
    outcomes = [run.execute(n, "smoke", {}, tmp_path / "out", kernel, folder=tmp_path)
                for n in run.available_notebooks(tmp_path)]
    assert [o.status for o in outcomes] == ["ok", "failed"]
    assert "ValueError" in outcomes[1].error and "boom in cell 2" in outcomes[1].error
    executed = json.loads((tmp_path / "out" / "a_ok.ipynb").read_text())
    injected = [c for c in executed["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert injected and "smoke" in "".join(injected[0]["source"])
    table = run.summary_table(outcomes)
    assert "b_bad" in table and "failed" in table


def _wav_b64(seconds: float, seed: int = 0) -> str:
    import base64
    import io

    import numpy as np
    import soundfile as sf

    t = np.arange(int(seconds * 16000)) / 16000
    wav = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.random.default_rng(seed).normal(size=t.size)
    buf = io.BytesIO()
    sf.write(buf, wav.astype("float32"), 16000, format="WAV", subtype="PCM_16")
    return base64.b64encode(buf.getvalue()).decode()


def _mp3_seconds(uri: str) -> float:
    import base64
    import io

    import soundfile as sf

    assert uri.startswith("data:audio/mpeg;base64,")
    wav, sr = sf.read(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    return len(wav) / sr


def test_make_reference_keeps_playable_compressed_audio_and_shrinks_images(tmp_path):
    import base64
    import io
    import re

    from PIL import Image

    from serlib import plots

    rng = __import__("numpy").random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (600, 600, 3), dtype="uint8"))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    png = base64.b64encode(buf.getvalue()).decode()
    wavs = {f"{snr} dB": __import__("numpy").random.default_rng(snr).normal(0, 0.1, 16000 * 3) for snr in (0, 10, 20)}
    grid = plots.audio_grid({"babble": wavs, "long": {"clean": rng.normal(0, 0.1, 16000 * 10)}})
    ipy_audio = ('<audio controls="controls"><source src="data:audio/x-wav;base64,' + _wav_b64(2.0)
                 + '" type="audio/x-wav" />Your browser does not support the audio element.</audio>')
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": grid.data, "text/plain": "<HTML>"}),
                    nbformat.v4.new_output("display_data", data={"text/html": ipy_audio}),
                    nbformat.v4.new_output("display_data", data={"image/png": png}),
                    nbformat.v4.new_output("stream", name="stdout", text="kept\n")]
    nb.cells = [nbformat.v4.new_markdown_cell("# narrated"), cell]
    nbformat.write(nb, tmp_path / "x.ipynb")
    before = (tmp_path / "x.ipynb").stat().st_size
    dest = run.make_reference(tmp_path / "x.ipynb", tmp_path / "ref")
    out = nbformat.read(dest, as_version=4)
    nbformat.validate(out)  # markdown cells must not gain an `outputs` key
    outs = out.cells[1].outputs
    assert [o.get("output_type") for o in outs] == ["display_data", "display_data", "display_data", "stream"]
    html = outs[0]["data"]["text/html"]
    uris = re.findall(r'src="(data:audio/[^"]+)"', html)
    assert len(uris) == 4 and html.count("<audio") == 4 and "audio/wav" not in html
    lengths = sorted(_mp3_seconds(u) for u in uris)
    assert lengths[:3] == pytest.approx([3.0] * 3, abs=0.15) and lengths[3] == pytest.approx(4.0, abs=0.15)  # cut
    src = re.findall(r'src="(data:audio/[^"]+)"', outs[1]["data"]["text/html"])
    assert len(src) == 1 and _mp3_seconds(src[0]) == pytest.approx(2.0, abs=0.15)
    assert 'type="audio/mpeg"' in outs[1]["data"]["text/html"]
    assert len(outs[2]["data"]["image/png"]) < len(png)
    assert outs[3]["text"] == "kept\n"
    assert dest.stat().st_size < min(run.REFERENCE_BUDGET, before / 3)
    assert run.notebook_problems(out) == []


def test_make_reference_fits_a_notebook_of_clips_in_the_budget(tmp_path, capsys):
    from serlib import plots

    rng = __import__("numpy").random.default_rng(1)
    nb = nbformat.v4.new_notebook()
    for k in range(4):  # 4 grids x 10 clips of 2.6 s of noise (incompressible; more than 00_data_tour shows)
        cell = nbformat.v4.new_code_cell(f"grid{k}")
        grid = plots.audio_grid({f"row{r}": {f"{c} dB": rng.normal(0, 0.2, 41600) for c in range(5)} for r in range(2)})
        cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": grid.data})]
        nb.cells.append(cell)
    nbformat.write(nb, tmp_path / "clips.ipynb")
    dest = run.make_reference(tmp_path / "clips.ipynb", tmp_path / "ref")
    text = dest.read_text()
    assert dest.stat().st_size < run.REFERENCE_BUDGET and text.count("data:audio/mpeg;base64,") == 40
    assert "over the" not in capsys.readouterr().err
    run.make_reference(tmp_path / "clips.ipynb", tmp_path / "ref", budget=10_000)
    assert "over the 0.0 MB budget" in capsys.readouterr().err  # said, not silently dropped


def test_record_runtime_latest_wins_per_key(tmp_data, monkeypatch):
    from serlib import paths

    monkeypatch.setattr(run, "_device_kind", lambda params: ("cpu", "cpu"))
    committed = run.REPO_RESULTS / run.RUNTIMES
    before = committed.read_bytes() if committed.exists() else None
    path = run.record_runtime(run.Outcome("03_trnet", "quick", "ok", 61.23, "x.ipynb"))
    assert path == paths.results_dir() / "runtimes.json" and path.parent != run.REPO_RESULTS
    run.record_runtime(run.Outcome("03_trnet", "quick", "ok", 58.0, "x.ipynb"))  # same key: replaced
    run.record_runtime(run.Outcome("03_trnet", "paper", "ok", 12.0, "x.ipynb"), dry=True)
    run.record_runtime(run.Outcome("00_data_tour", "quick", "ok", 5.0, "x.ipynb"))
    recs = json.loads(path.read_text())
    assert [(r["notebook"], r["profile"], r["dry"], r["seconds"]) for r in recs] == [
        ("00_data_tour", "quick", False, 5.0), ("03_trnet", "paper", True, 12.0), ("03_trnet", "quick", False, 58.0)]
    rec = recs[-1]
    assert set(rec) == {"notebook", "profile", "dry", "device", "device_name", "cpu_count", "seconds", "commit",
                        "dirty", "date"}
    assert rec["device"] == "cpu" and rec["cpu_count"] >= 1 and len(rec["commit"]) == 40 and rec["date"].endswith("+00:00")
    assert (committed.read_bytes() if committed.exists() else None) == before  # tests never touch results/
    with pytest.raises(ValueError, match="did not succeed"):
        run.record_runtime(run.Outcome("03_trnet", "quick", "failed", 1.0, "x.ipynb"))
    path.write_text("{broken")
    with pytest.raises(ValueError, match="runtimes.json is not valid JSON"):
        run.record_runtime(run.Outcome("03_trnet", "quick", "ok", 1.0, "x.ipynb"))


def test_device_kind():
    assert run._device_kind({"device": "cpu"}) == ("cpu", "cpu")
    kind, name = run._device_kind({})
    assert kind in ("cpu", "cuda") and (name == "cpu") == (kind == "cpu")


def test_runner_log_is_clean(tmp_path, capfd):
    """A kernel run via the runner: no "running over TCP without encryption" warning, no KeyboardInterrupt
    traceback from the eSpeak NG helper process at kernel shutdown, headless progress (one line, no widget)."""
    code = ("from serlib import tts, progress\n"
            "wav = tts.synthesize('Hello there.', 'en-us+m1')\n"
            "for _ in progress.bar(range(3), desc='outer'):\n"
            "    for _ in progress.bar(range(2), desc='inner'):\n"
            "        pass\n"
            "print(len(wav) > 1000)")
    _notebook(tmp_path / "speak.ipynb", code)
    outcome = run.execute("speak", "smoke", {}, tmp_path / "out", run.ensure_kernel(), folder=tmp_path)
    assert outcome.status == "ok", outcome.error
    log = capfd.readouterr()
    assert "without encryption" not in log.err and "KeyboardInterrupt" not in log.err
    assert "Traceback" not in log.err + log.out
    executed = nbformat.read(tmp_path / "out" / "speak.ipynb", as_version=4)
    text = "".join(o.get("text", "") for o in executed.cells[-1].outputs)
    assert "True" in text and text.count("⏱") == 1 and "outer 3/3 it" in text and "inner" not in text
    assert run.notebook_problems(executed) == []


def test_update_readme_alone(tmp_path, monkeypatch, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:begin -->\n<!-- results:end -->\n")
    monkeypatch.setattr(run, "README", readme)
    monkeypatch.setattr(run, "REPO_RESULTS", tmp_path / "results")
    assert run.main(["--update-readme"]) == 0
    assert "regenerated" in capsys.readouterr().out
    assert "### Headline numbers" in readme.read_text() and "not run" in readme.read_text()
    assert not (tmp_path / "results" / "summary.md").exists()  # no results, no summary
    assert run.main(["--update-readme"]) == 0
    assert "already up to date" in capsys.readouterr().out
    readme.write_text("intro without markers\n")
    assert run.main(["--update-readme"]) == 2
    assert "results:begin" in capsys.readouterr().err


def test_write_summaries_regenerates_summary_and_readme(tmp_path, tmp_data, monkeypatch):
    from serlib import ledger, paths, report, results

    readme = tmp_path / "README.md"
    readme.write_text("<!-- results:begin -->\n<!-- results:end -->\n")
    monkeypatch.setattr(run, "README", readme)
    monkeypatch.setattr(run, "REPO_RESULTS", paths.results_dir())
    res = results.Results("05_densenet_highway", "smoke")
    res.add("Proposed", "uar", 0.5, seed=0, table="1", augmentation="none", corpus="IEMOCAP")  # claim c8 selects corpus
    res.set_claims(ledger.decide(res.frame(), 5))
    res.save()
    out = tmp_path / "runs"
    out.mkdir()
    run.write_summaries([run.Outcome("05_densenet_highway", "smoke", "ok", 1.0, "x.ipynb")], out)
    assert (out / "summary.csv").is_file()
    summary = (paths.results_dir() / "summary.md").read_text()
    assert "## Claims ledger (all five papers)" in summary and "### 05_densenet_highway" in summary
    block = report.readme_current_block(readme)
    assert "50.0 (1 run)" in block and "| 5_densenet_highway | c1 |" in block


@pytest.mark.parametrize("name", run.available_notebooks())
def test_papermill_reads_every_knob_of_the_parameters_cell(name):
    """Papermill skips a parameter line it cannot parse (e.g. an ``=`` inside the comment) with only a log
    line, and the runner then refuses ``-p`` for that knob: every assignment must be read."""
    import ast

    import nbformat

    nb = nbformat.read(run.NOTEBOOK_DIR / f"{name}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    body = ast.parse(cell.source).body
    assigned = {t.id for node in body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    assigned |= {node.target.id for node in body if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)}
    assert assigned, f"{name}: empty parameters cell"
    missed = assigned - set(run.notebook_parameters(name))
    assert not missed, f"{name}: papermill cannot read the parameter line(s) of {sorted(missed)} (no '=' in comments)"
