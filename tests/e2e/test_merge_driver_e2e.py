"""A person who did not pull: with the driver from `taskbot init --clone`, `git pull --rebase`
over taskbot's commit finishes without a conflict and keeps both sides' work."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.daemon.hook import taskbot_executable

pytestmark = pytest.mark.integration

REL = "tasks/active/T-7.md"
TASK = """\
---
id: T-7
title: Rotate the keys
updated: 2024-05-01
---
# Rotate the keys

Rotate them all.
Then tell people.

## Acceptance Criteria
- [ ] new keys generated
- [ ] old keys revoked

## Progress Log
- 2024-05-01 10:00: created
"""


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout.strip()


def _clone(bare: Path, where: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(bare), str(where)], check=True,
                   capture_output=True)
    return where


def test_pull_rebase_over_taskbots_commit(tmp_path: Path) -> None:
    taskbot = taskbot_executable()
    if taskbot.name != "taskbot":
        pytest.skip("the taskbot console script is not installed next to the interpreter")
    bare = tmp_path / "tasks.git"
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    a = _clone(bare, tmp_path / "a")
    (a / REL).parent.mkdir(parents=True)
    (a / REL).write_text(TASK)
    _git(a, "add", "-A")
    _git(a, "commit", "-q", "-m", "add T-7")
    _git(a, "push", "-q", "origin", "HEAD:main")
    b = _clone(bare, tmp_path / "b")

    # taskbot (clone A): ticks a box, sets updated:, appends a log line, adds its note
    (a / REL).write_text(TASK.replace("- [ ] new keys", "- [x] new keys")
                         .replace("updated: 2024-05-01", "updated: 2024-05-03")
                         .replace("created\n", "created\n- 2024-05-03 09:00: keys generated\n"))
    _git(a, "commit", "-q", "-am", "taskbot(T-7): new keys generated")
    _git(a, "notes", "--ref=taskbot", "add", "-m", "report: complete")
    _git(a, "push", "-q", "origin", "HEAD:main", "refs/notes/taskbot")

    # the person (clone B) has not pulled
    done = subprocess.run([str(taskbot), "init", "--clone", str(b)], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "merge.taskbot.driver" in done.stdout
    again = subprocess.run([str(taskbot), "init", "--clone", str(b)], capture_output=True,
                           text=True, check=True)
    assert "already" in again.stdout
    attributes = (b / ".git/info/attributes").read_text()
    assert attributes.count("tasks/**/*.md merge=taskbot") == 1
    fetch = _git(b, "config", "--get-all", "remote.origin.fetch").splitlines()
    assert fetch.count("+refs/notes/taskbot:refs/notes/taskbot") == 1
    assert _git(b, "status", "--porcelain") == ""  # nothing to commit

    (b / REL).write_text(TASK.replace("Then tell people.", "Then tell everyone.")
                         .replace("updated: 2024-05-01", "updated: 2024-05-02")
                         .replace("created\n", "created\n- 2024-05-02 17:30: asked security\n"))
    _git(b, "commit", "-q", "-am", "my notes")
    _git(b, "pull", "-q", "--rebase")  # fetches the notes too

    text = (b / REL).read_text()
    assert "- [x] new keys generated\n- [ ] old keys revoked\n" in text
    assert "updated: 2024-05-03\n" in text and "Then tell everyone." in text
    assert text.endswith("- 2024-05-01 10:00: created\n- 2024-05-02 17:30: asked security\n"
                         "- 2024-05-03 09:00: keys generated\n")
    assert "<<<<<<<" not in text
    assert _git(b, "log", "-1", "--format=%s") == "my notes"
    assert _git(b, "notes", "--ref=taskbot", "show", "HEAD~1") == "report: complete"
