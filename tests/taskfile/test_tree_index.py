"""Looking a task up by id in a commit's tree (no checkout), as detection sees the files."""

from __future__ import annotations

from pathlib import Path

import pygit2

from bot.taskfile.treeindex import find_in_tree
from tests.kit.git import git

TASK = "---\nid: DEP-1\ntitle: Dep\n---\n# DEP-1\n\n## Acceptance Criteria\n- [x] Done\n"


def test_an_executable_task_file_is_found_by_id_as_detection_runs_it(tmp_path: Path) -> None:
    """Detection runs a task file whose executable bit is set; a dependency on it must be
    found too, or its waiter would wait for a task that is there."""
    repo = tmp_path / "r"
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    path = repo / "tasks" / "active" / "DEP-1.md"
    path.parent.mkdir(parents=True)
    path.write_text(TASK)
    path.chmod(0o755)
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=B", "-c", "user.email=b@example.com", "commit", "-qm", "dep")
    found = find_in_tree(pygit2.Repository(str(repo)), "HEAD", "tasks", "DEP-1")
    assert found is not None and found[0] == "tasks/active/DEP-1.md"
