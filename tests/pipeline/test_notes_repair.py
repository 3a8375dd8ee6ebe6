"""Issue 9, item 6: a git note lost to a kill during its push is repaired on the next start."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot import config as configmod
from bot.git import write as gitrepo
from bot.pipeline import Push, process, repair_notes
from bot.plugin.plugins import load_handlers
from tests.kit.git import git, sandbox
from tests.pipeline.test_pipeline import NOW, TASK

pytestmark = pytest.mark.integration


def _note(repo: Path, rev: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "notes", "--ref=taskbot", "show", rev], cwd=repo,
                          capture_output=True, text=True, check=False)


def test_a_note_that_never_reached_the_repository_is_added_and_pushed_again(
        tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", TASK)
    old, new = box.commit_push("add task")
    config = configmod.load(box.config)
    process(config, load_handlers(), Push(old, new, "refs/heads/main"), now=NOW)
    bot_commit = git(box.bare, "rev-parse", "main")
    before = _note(box.bare, bot_commit).stdout
    assert "TASK-001" in before
    # As after a kill between `git notes add` and its push, or before the note was made:
    git(box.bare, "update-ref", "-d", gitrepo.NOTES_REF)
    clone = next((box.root / "state" / "clones").iterdir())
    git(clone, "notes", "--ref=taskbot", "remove", bot_commit)
    assert _note(box.bare, bot_commit).returncode != 0

    assert repair_notes(config) == (bot_commit,)
    assert _note(box.bare, bot_commit).stdout == before  # the stored report, as it was
    assert repair_notes(config) == ()  # nothing left to repair


def test_a_commit_that_only_looks_like_taskbots_gets_no_note(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", TASK)
    box.commit_push("add task\n\nTask-Id: TASK-001\nTaskbot-Run: 20261126T143000-aaaaaa")
    config = configmod.load(box.config)
    assert repair_notes(config) == ()
    assert _note(box.bare, "main").returncode != 0
