"""Re-decide the claims of stored results with the current ``serlib.ledger``, without rerunning notebooks.

    python scripts/redecide_claims.py [results_dir]        # default: the repository's results/

For each paper notebook with a ``<notebook>.csv`` / ``.json`` pair, this replays the notebook's
ledger cell on the stored tidy rows (same row selection and name mapping as the notebook) and
replaces the ``claims`` of the JSON with the new records; the JSON gains ``claims_source`` saying
so. Everything else in the JSON stays as the run wrote it.

What stored rows cannot give: the per-utterance predictions (the bootstrap for fewer than 3 runs),
notebook 03's per-utterance SNR coefficient ``c`` (claim c7) and its embeddings (claim c8). Those
records say that the run must be repeated to decide them. Use it after changing the ledger's
rules; a rerun of the notebooks (``python -m serlib.run``) writes the same records with all data.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from serlib import ledger, paths
from serlib.report import headlines
from serlib.results import _jsonable, read

SOURCE = ("re-decided from the stored rows by scripts/redecide_claims.py (serlib.ledger; no per-utterance "
          "predictions kept, so runs of fewer than 3 seeds x folds cannot be tested)")


def _not_kept(paper: str, claim: str, function: str, what: str, old: dict | None) -> dict:
    said = f"; the run's own check said {old.get('status')!r}: {old.get('evidence')}" if old else ""
    return ledger.record(paper, claim, "inconclusive",
                         f"decided by {function} from {what}, which results/ does not keep: rerun the notebook{said}",
                         n=1, test="none: n = 1 run and the per-utterance values are not kept")


def redecide(notebook: str, rows: pd.DataFrame, old: dict[str, dict]) -> pd.DataFrame:
    """The records of ``notebook``'s claims from its stored rows (mirrors the notebook's ledger cell)."""
    maps = {pid: spec.get("mapping") for pid, spec in headlines().items()}
    if notebook == "01_edrl_mea":
        return ledger.decide(rows[rows.metric == "macro_f1"], "1_edrl_mea", mapping=maps["1_edrl_mea"])
    if notebook == "02_decoupled_ladder":
        rows = rows.assign(table="2")
        led = ledger.decide(rows[rows.metric == "ccc"], "2_decoupled_ladder")
        return ledger.merge(led, ledger.ladder_decoupling(rows), ledger.ladder_clean_equal(rows))
    if notebook == "03_trnet":
        led = ledger.decide(rows[rows.table.astype(str) == "1"], "3_trnet", mapping=maps["3_trnet"])
        return ledger.merge(
            led,
            _not_kept("3_trnet", "c7", "serlib.ledger.trnet_snr_coefficient", "TRNet's per-utterance c",
                      old.get("c7")),
            _not_kept("3_trnet", "c8", "serlib.ledger.trnet_alignment", "the test embeddings", old.get("c8")))
    if notebook == "04_joint_asr_ser":
        return ledger.decide(rows, "4_joint_asr_ser")
    if notebook == "05_densenet_highway":
        uar = rows[rows.metric == "uar"].assign(corpus="IEMOCAP")
        uar.loc[uar.table.astype(str) == "4", "corpus"] = "MSP-IMPROV"
        return ledger.decide(uar[uar.table.astype(str) != "4"], "5_densenet_highway")
    raise KeyError(f"no ledger replay for {notebook}")


def main(argv: list[str]) -> int:
    folder = Path(argv[0]) if argv else paths.REPO / "results"
    for nb in ("01_edrl_mea", "02_decoupled_ladder", "03_trnet", "04_joint_asr_ser", "05_densenet_highway"):
        side = folder / f"{nb}.json"
        if not side.is_file() or not (folder / f"{nb}.csv").is_file():
            print(f"{nb}: no stored run, skipped")
            continue
        meta = json.loads(side.read_text())
        old = {str(r.get("claim")): r for r in meta.get("claims") or []}
        records = redecide(nb, read(folder / f"{nb}.csv"), old)
        meta["claims"] = _jsonable(records.to_dict("records"))
        meta["claims_source"] = SOURCE
        side.write_text(json.dumps(_jsonable(meta), indent=2, sort_keys=False) + "\n")
        print(f"{nb}: " + ", ".join(f"{c} {s}" for c, s in zip(records.claim, records.status)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
