"""`list_tasks` in process: from repo.branch's tree (hook mode) and from a folder on disk,
dependencies judged as `plan` judges them, approvals from status.json, files beside the
folders left out, a broken file a row with its error."""

from __future__ import annotations

import os
from pathlib import Path

from bot import config as configmod
from bot.agent.tasks import listing
from tests.agent.mcpkit import TASK
from tests.kit.config import local_workspace
from tests.kit.git import sandbox

WAITER = TASK.replace("TASK-001", "TASK-002").replace(
    "## Acceptance Criteria", "## Dependencies\n- TASK-001\n\n## Acceptance Criteria")
AWAITING = {"TASK-001": {"awaiting_approval": [{"criterion": "Say hello", "digest": "0123abcd"}]}}


def test_from_the_branch_in_hook_mode(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", TASK)
    box.write("tasks/backlog/TASK-002.md", WAITER)
    box.write("tasks/README.md", "# Tasks\n")
    box.write("tasks/active/TASK-003.md", "---\nid: [\n---\n")
    box.commit_push("tasks")
    config = configmod.load(box.config)
    rows = {r["id"]: r for r in listing(config, "", AWAITING)}
    assert set(rows) == {"TASK-001", "TASK-002", "TASK-003"}
    assert rows["TASK-001"]["waits_for"] == ["approval of plan 0123abcd: Say hello"]
    assert rows["TASK-001"]["path"] == "main:tasks/active/TASK-001.md"
    assert rows["TASK-002"]["folder"] == "backlog"
    assert [w.split(":")[0] for w in rows["TASK-002"]["waits_for"]] == ["TASK-001"]
    assert "error" in rows["TASK-003"] and rows["TASK-003"]["open"] == []
    assert [r["id"] for r in listing(config, "backlog", {})] == ["TASK-002"]


def test_from_a_folder_on_disk(tmp_path: Path) -> None:
    cfg, path = local_workspace(tmp_path, "TASK-001.md", TASK.replace("- [ ] Say", "- [x] Say"))
    (path.parent / "TASK-002.md").write_text(WAITER)
    rows = listing(configmod.load(cfg), "active", {})
    assert [(r["id"], r["open"]) for r in rows] == [("TASK-001", ["Touch a file"]),
                                                    ("TASK-002", ["Say hello", "Touch a file"])]
    assert rows[1]["waits_for"][0].startswith("TASK-001: ")
    assert rows[0]["criteria"] == 2 and rows[0]["status"] == "active"


def test_on_disk_a_symlink_or_a_fifo_is_a_row_with_its_error_never_read(tmp_path: Path) -> None:
    cfg, path = local_workspace(tmp_path, "TASK-001.md", TASK)
    outside = tmp_path / "elsewhere.md"
    outside.write_text(TASK.replace("TASK-001", "TASK-009").replace("Through MCP", "Stolen"))
    (path.parent / "TASK-009.md").symlink_to(outside)
    os.mkfifo(path.parent / "TASK-010.md")  # read as a file, it would never end
    rows = {r["id"]: r for r in listing(configmod.load(cfg), "active", {})}
    assert rows["TASK-009"]["title"] == "" and "is a symlink" in rows["TASK-009"]["error"]
    assert "is not a regular file" in rows["TASK-010"]["error"]
    assert rows["TASK-001"]["title"] == "Through MCP"
