"""Issue 20 through a push: a task whose Dependencies say which tasks need it ("Required
for") or that a dependency is done (`COMPLETED ✅`) runs without waiting."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot import config as configmod
from bot.pipeline import Push, process
from bot.plugin.plugins import load_handlers
from tests.kit.git import sandbox
from tests.pipeline.test_pipeline import NOW

pytestmark = pytest.mark.integration

NEEDED = """\
---
id: TASK-005
title: Registry
---
# TASK-005

## Acceptance Criteria
- [ ] Registry answers <!-- taskbot: shell project=demo cmd="true" -->

## Dependencies
- **Required For:** TASK-002, TASK-003
- TASK-006 – monitoring stack (COMPLETED ✅)
"""

NEEDING = """\
---
id: {me}
title: Needs the registry
---
# {me}

## Acceptance Criteria
- [ ] Uses the registry <!-- taskbot: shell project=demo cmd="true" -->
- [ ] Checked by a person

## Dependencies
- **Blocked by:** TASK-005
"""

MONITORING = """\
---
id: TASK-006
title: Monitoring stack
---
# TASK-006

## Acceptance Criteria
- [ ] Grafana dashboards reviewed
- [ ] Alerts routed
"""


def test_a_task_required_for_others_runs_without_waiting(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-005.md", NEEDED)
    box.write("tasks/active/TASK-002.md", NEEDING.format(me="TASK-002"))
    box.write("tasks/active/TASK-003.md", NEEDING.format(me="TASK-003"))
    box.write("tasks/active/TASK-006.md", MONITORING)
    old, new = box.commit_push("the registry and the tasks that need it")
    config = configmod.load(box.config)
    done = {p.task_id: p for p in process(config, load_handlers(), Push(old, new,
                                                                         "refs/heads/main"),
                                          now=NOW)}
    report = done["TASK-005"].report
    assert report is not None and report.result == "complete" and not report.waiting_on
    assert "- [x] Registry answers" in box.main_file("tasks/active/TASK-005.md")
    assert ("TASK-006: completed, as this task says (its file has 2 open criteria)"
            in report.notes)
    waiting = json.loads((box.root / "state" / "waiting.json").read_text())
    assert waiting == {"TASK-002": ["TASK-005"], "TASK-003": ["TASK-005"]}
