"""One untrusted push of thousands of files: one refusal, at once, in its own place.

A refusal is reported once a push however many files it brings (the first 20 named, the
rest counted), kept apart from the tasks' own reports, and never takes a task's line in
`taskbot status`: a file named like a trusted task (`evil/TASK-1.md`) or a thousand names
change nothing of what `taskbot report TASK-1` and `status` say. Real daemon, real hook,
real `git push`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.notify import reportstore
from tests.kit.daemon import idle_and_empty, running_daemon, status_doc
from tests.kit.exactly import installed, task_text, wait_until
from tests.kit.git import Sandbox, git
from tests.kit.receivers import HttpReceiver

pytestmark = pytest.mark.integration

EVIL = "--author=Mallory <mallory@example.com>"
FILES = 1200


def _tip(state: Path) -> str:
    try:
        return str(json.loads((state / "tip.json").read_text())["sha"])
    except (OSError, ValueError, KeyError):
        return ""


def _settled(box: Sandbox, state: Path, sha: str = "", done: str = "") -> None:
    """Processed: a refused push leaves the record of the last processed commit at `sha`; a
    run's (`done`: a line its commit brings to main) moves it on to taskbot's own commit."""
    if sha:
        wait_until(lambda: _tip(state) == sha, timeout=120, what=f"{sha[:12]} processed")
    if done:
        rel, line = done.split(":", 1)
        wait_until(lambda: line in box.main_file(rel), timeout=60, what=f"{done} on main")
    wait_until(idle_and_empty(state), timeout=60, what="the daemon idle")
    wait_until(lambda: not any((state / "outbox").glob("*.json")), timeout=60,
               what="the outbox delivered")


def test_thousands_of_untrusted_files_make_one_refusal_and_touch_no_task(tmp_path: Path
                                                                        ) -> None:
    with HttpReceiver() as receiver:
        box = installed(tmp_path, notify_url=receiver.url())
        text = box.config.read_text()
        box.config.write_text(text.replace("[limits]\n", '[limits]\nstall_timeout = "5s"\n', 1))
        state = tmp_path / "state"
        with running_daemon(box.config, tmp_path / "serve.log") as daemon:
            box.write("tasks/active/TASK-1.md", task_text("TASK-1", [("Say ok", "true")]))
            box.commit_push("add TASK-1")
            _settled(box, state, done="tasks/active/TASK-1.md:- [x] Say ok")
            trusted_run = reportstore.last(state, "TASK-1").run_id
            git(box.clone, "pull", "-q", "--rebase", "origin", "main")
            for i in range(FILES):
                box.write(f"tasks/active/spam/S{i:05d}.md", "## Acceptance Criteria\n- [ ] x\n")
            box.write("tasks/active/evil/TASK-1.md", "## Acceptance Criteria\n- [ ] x\n")
            _, flood = box.commit_push("many files", EVIL)
            _settled(box, state, flood)
            tasks: dict[str, Any] = dict(status_doc(state).get("tasks") or {})
            log = daemon.stderr()
        posts = [p for p in receiver.posts if "mallory@example.com" in p.message]

    assert "stalled" not in log
    assert len(posts) == 1, [p.title for p in posts]
    assert posts[0].title.startswith(f"{FILES + 1} files of push {flood[:12]} blocked")
    assert f"and {FILES + 1 - 20} more files not run" in posts[0].message
    assert reportstore.last(state, "TASK-1").run_id == trusted_run
    stored = reportstore.last(state, ".refused").markdown_path.read_text()
    assert stored.count("mallory@example.com is not in") == 20
    assert "tasks/active/evil/TASK-1.md: push" in stored or "S00000.md: push" in stored
    assert list(tasks) == ["TASK-1"] and tasks["TASK-1"]["result"] == "complete"
    assert list((state / "queue" / "failed").iterdir()) == []


def test_a_trusted_task_whose_id_cannot_name_a_branch_is_refused_with_a_report(
        tmp_path: Path) -> None:
    with HttpReceiver() as receiver:
        box = installed(tmp_path, notify_url=receiver.url())
        state = tmp_path / "state"
        box.write("tasks/active/T0.md", '---\nid: "a b"\ntitle: t\n---\n## Acceptance Criteria\n'
                  '- [ ] Do <!-- taskbot: shell project=demo cmd="touch done" -->\n')
        box.write("tasks/active/T1.md", task_text("T1", [("Fine", "true")]))
        with running_daemon(box.config, tmp_path / "serve.log"):
            box.commit_push("two tasks", "--author", "Becker <becker@example.com>")
            _settled(box, state, done="tasks/active/T1.md:- [x] Fine")
        said = [p.message for p in receiver.posts]
    assert not (tmp_path / "demo" / "done").exists()
    assert any("its id 'a b' cannot name taskbot's work branch (taskbot/a b)" in m
               for m in said), said
    assert "- [x] Fine" in box.main_file("tasks/active/T1.md")  # the other task ran
