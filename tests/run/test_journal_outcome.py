"""A criterion's outcome survives the journal on disk: a daemon killed after a criterion
ended reads back what it ran, changed and saw, and never runs it again."""

from __future__ import annotations

import json
from pathlib import Path

from bot.api import FileChange, Outcome, Status
from bot.proc import CommandRecord
from bot.run.journal import Journal

OUTCOME = Outcome(
    Status.DONE, "",
    commands=(CommandRecord(("kubectl", "kustomize", "apps/ffl"), "/gitops", 0, 0.25,
                            "ok", "", stdout="kind: HelmRelease\n"),),
    changes=(FileChange("gitops", "apps/ffl/helmrelease.yaml", "tag 0.1.17 → 0.1.18"),),
    evidence=("kustomize build apps/ffl: ok",))


def test_an_outcome_reads_back_as_it_was_recorded(tmp_path: Path) -> None:
    journal = Journal.begin(tmp_path, {"kind": "push"})
    journal.task("tasks/active/TASK-002.md").ended("Bump ffl", 1, "done", 1, OUTCOME)
    on_disk = json.loads((tmp_path / "journal.json").read_text())
    kept = on_disk["tasks"]["tasks/active/TASK-002.md"]["outcomes"][0]["outcome"]
    assert kept["changes"] == [{"repo": "gitops", "path": "apps/ffl/helmrelease.yaml",
                                "what": "tag 0.1.17 → 0.1.18"}]
    loaded = Journal.load(tmp_path)
    assert loaded is not None
    recorded = loaded.task("tasks/active/TASK-002.md").recorded("Bump ffl", 1)
    assert recorded is not None and (recorded.state, recorded.attempts) == ("done", 1)
    assert recorded.outcome == OUTCOME
