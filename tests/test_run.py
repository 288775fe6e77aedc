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


def test_make_reference_strips_audio_and_shrinks_images(tmp_path):
    import base64
    import io

    from PIL import Image

    rng = __import__("numpy").random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (600, 600, 3), dtype="uint8"))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    png = base64.b64encode(buf.getvalue()).decode()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/html": "<audio controls src='data:'></audio>"}),
                    nbformat.v4.new_output("display_data", data={"image/png": png}),
                    nbformat.v4.new_output("stream", name="stdout", text="kept\n")]
    nb.cells = [nbformat.v4.new_markdown_cell("# narrated"), cell]
    nbformat.write(nb, tmp_path / "x.ipynb")
    out = nbformat.read(run.make_reference(tmp_path / "x.ipynb", tmp_path / "ref"), as_version=4)
    nbformat.validate(out)  # markdown cells must not gain an `outputs` key
    out.cells = out.cells[1:]
    kinds = [o.get("output_type") for o in out.cells[0].outputs]
    assert kinds == ["stream", "display_data", "stream"]
    assert "audio players removed" in out.cells[0].outputs[0]["text"]
    assert len(out.cells[0].outputs[1]["data"]["image/png"]) < len(png)
    assert out.cells[0].outputs[2]["text"] == "kept\n"


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
    assert "50.0 (1 seed)" in block and "| 5_densenet_highway | c1 |" in block
