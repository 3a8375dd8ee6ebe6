"""`taskbot approve` in a person's clone: the plans it prints, the commit it makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.git.messages import approvals
from tests.kit.exactly import task_text
from tests.kit.git import Sandbox, git, sandbox


def _box(tmp_path: Path, approval: bool) -> Sandbox:
    box = sandbox(tmp_path)
    if approval:
        box.config.write_text(box.config.read_text().replace(
            "allow_shell = true\n", "allow_shell = true\napproval = true\n"))
    box.write("tasks/active/TASK-1.md", task_text("TASK-1", [("Say hi", "echo hi")]))
    box.commit_push("add TASK-1")
    return box


def test_approve_commits_the_plans_as_the_person_and_pushes_only_when_asked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    box = _box(tmp_path, approval=True)
    monkeypatch.chdir(box.clone / "tasks")
    before = git(box.bare, "rev-parse", "main")
    assert main(["--config", str(box.config), "approve", "TASK-1"]) == 0
    out = capsys.readouterr()
    head = git(box.clone, "log", "-1", "--format=%ae%n%B")
    ((task, digest),) = approvals(head)
    assert task == "TASK-1" and f"Say hi\n  plan {digest}\n    run: echo hi" in out.out
    assert head.startswith("becker@example.com\n")  # the person's own identity
    assert git(box.bare, "rev-parse", "main") == before  # not pushed
    assert main(["--config", str(box.config), "approve", "TASK-1", "--push"]) == 0
    assert git(box.bare, "rev-parse", "main") == git(box.clone, "rev-parse", "HEAD")


def test_approve_refuses_a_task_with_nothing_to_approve(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    box = _box(tmp_path, approval=False)
    monkeypatch.chdir(box.clone)
    head = git(box.clone, "rev-parse", "HEAD")
    assert main(["--config", str(box.config), "approve", "TASK-1"]) == 2
    assert "TASK-1: no open criterion needs approval" in capsys.readouterr().err
    assert main(["--config", str(box.config), "approve", "TASK-9"]) == 2
    assert git(box.clone, "rev-parse", "HEAD") == head  # no commit
