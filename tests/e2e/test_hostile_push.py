"""The issue's hostile file, pushed to a real daemon through its hook: a task with 1,000
criteria groups and 2,000 dependency lines (29 KB) used to hold the daemon for about a
minute per parse, before trust was judged and again on every dashboard. Now an untrusted
push of it is refused without a parse, a trusted one is refused by the limits with the
reason, and the next task runs at once (pytest's 60 s timeout is the bound here)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.notify import reportstore
from tests.kit.daemon import processed, running_daemon, until
from tests.kit.exactly import installed, task_text, wait_until
from tests.kit.git import git

pytestmark = pytest.mark.integration

EVIL = "--author=Mallory <mallory@example.com>"


def _hostile() -> str:
    groups = "".join(f"### Group {i}\n- [ ] Step {i}\n" for i in range(1000))
    deps = "".join(f"- TASK-{i} blocks Group {i % 1000}\n" for i in range(2000))
    return (f"---\nid: HOSTILE-1\ntitle: h\n---\n## Acceptance Criteria\n{groups}"
            f"## Dependencies\n{deps}")


def test_the_hostile_file_holds_the_daemon_neither_untrusted_nor_trusted(tmp_path: Path
                                                                        ) -> None:
    box = installed(tmp_path)
    state = tmp_path / "state"
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        box.write("tasks/active/HOSTILE-1.md", _hostile())
        _, untrusted = box.commit_push("hostile, untrusted", EVIL)
        until(daemon.notify, lambda: processed(box.root / "state", untrusted))
        git(box.clone, "rm", "-q", "tasks/active/HOSTILE-1.md")
        box.commit_push("gone")
        box.write("tasks/active/HOSTILE-2.md", _hostile().replace("HOSTILE-1", "HOSTILE-2"))
        _, trusted = box.commit_push("hostile, trusted")
        until(daemon.notify, lambda: processed(box.root / "state", trusted))
        git(box.clone, "pull", "-q", "--rebase", "origin", "main")
        box.write("tasks/active/TASK-1.md", task_text("TASK-1", [("Say ok", "true")]))
        _, after = box.commit_push("a task")
        wait_until(lambda: "- [x] Say ok" in box.main_file("tasks/active/TASK-1.md"),
                   timeout=30, what="TASK-1 run")
        log = daemon.stderr()
    refused = reportstore.last(state, ".refused").markdown_path.read_text()
    assert "HOSTILE-2.md: 1,002 headings, more than the 1,000 taskbot reads" in refused
    assert "mallory@example.com" in log and "stalled" not in log
    assert after
