"""Shared helpers of the notebook-run tests (``test_notebooks_real.py``, ``test_notebooks_dry.py``)."""

from __future__ import annotations

from pathlib import Path

from serlib import run

MIXES_NOISE = {"00_data_tour", "01_edrl_mea", "02_decoupled_ladder", "03_trnet", "04_joint_asr_ser",
               "05_densenet_highway", "10_robustness_leaderboard"}
"""Notebooks whose test noise comes from a bank of the user's choice: all of them (02's booth radio plays
the bank's own types when it has no radio type; 10's families come from the bank)."""


def emodb_params(name: str, shared: Path) -> dict:
    """Parameters that run notebook ``name`` on the real EmoDB (+ the ESC-10 folder as noise)."""
    params = {"corpus": "emodb", "corpus_root": str(shared / "emodb")}
    if name in MIXES_NOISE:
        params |= {"noise": "esc50", "noise_root": str(shared / "esc10")}
    if name == "02_decoupled_ladder":
        params["ratings_from_categories"] = True
    declared = run.notebook_parameters(name)
    return {k: v for k, v in params.items() if k in declared}


def per_notebook_classes(what: str, test_name: str, body, names: list[str]) -> dict[str, type]:
    """One pytest class per notebook, ``Test<what>_<NN>`` with a single method ``test_name`` that calls
    ``body(name, **fixtures)``. ``pytest -n 2 --dist loadscope`` schedules whole classes (a module of plain
    test functions is one unit), so the notebook runs of one module spread over the workers."""
    import inspect

    fixtures = list(inspect.signature(body).parameters)[1:]
    classes = {}
    for name in names:
        def test(self, _name=name, **kw):
            body(_name, **kw)
        test.__signature__ = inspect.Signature(
            [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
            + [inspect.Parameter(f, inspect.Parameter.KEYWORD_ONLY) for f in fixtures])
        test.__name__ = test_name
        cls = f"Test{what}_{name.split('_')[0]}"
        classes[cls] = type(cls, (), {test.__name__: test, "__doc__": f"{what}: {name}"})
    return classes


def check(outcome: run.Outcome) -> None:
    """The notebook ran, and a reader sees nothing broken in it (:func:`serlib.run.notebook_problems`)."""
    assert outcome.status == "ok", f"{outcome.notebook}: {outcome.error} (see {outcome.output})"
    problems = run.notebook_problems(outcome.output)
    assert not problems, f"{outcome.notebook}: " + "; ".join(problems)


def folder_corpus(root: Path, n_per_cell: int = 3) -> Path:
    """A corpus in the generic ``folder`` layout: ``<emotion>/<speaker>_<n>.wav``, 48 kHz stereo files
    made from the embedded smoke corpus (another shape: no sessions, no ratings, other names)."""
    import numpy as np
    import soundfile as sf

    from serlib import corpora
    from serlib.audio import load_audio

    m = corpora.to_4class(corpora.load("synthetic", size="smoke"), warn=False)
    names = {"angry": "Anger", "happy": "joy", "neutral": "Neutral", "sad": "SAD"}
    for (emo, spk), g in m.groupby(["emotion", "speaker"]):
        for i, r in enumerate(g.head(n_per_cell).itertuples()):
            x = load_audio(r.path)
            x48 = np.interp(np.arange(len(x) * 3) / 3, np.arange(len(x)), x).astype(np.float32)
            folder = root / names[emo]
            folder.mkdir(parents=True, exist_ok=True)
            sf.write(folder / f"{spk}_{i:02d}.wav", np.stack([x48, 0.9 * x48], axis=1), 48000)
    return root
