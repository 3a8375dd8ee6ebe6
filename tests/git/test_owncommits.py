"""taskbot's own commits are recognised only by its record in state_dir; forgeries are judged."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from bot import config as configmod
from bot.git import owncommits
from bot.pipeline import Processed, Push, Rerun, process
from bot.plugin.plugins import load_handlers
from bot.state import statedir
from bot.state.memory import Memory
from tests.kit.git import Sandbox, git, sandbox, signing_sandbox

NOW = datetime(2026, 11, 26, 14, 30).astimezone()
A, B, C = "a" * 40, "b" * 40, "c" * 40

TASK = """\
---
id: TASK-001
title: By hand
status: active
updated: 2026-01-01
---
# TASK-001

## Acceptance Criteria
- [ ] By hand

## Progress Log
- 2026-01-01 10:00: created
"""
CANARY = '- [ ] Sneaky <!-- taskbot: shell project=demo cmd="touch CANARY" -->\n'
FORGED = "taskbot(TASK-001): partial, 0/1 criteria done\n\nTask-Id: TASK-001\nTaskbot-Run: x\n"


def test_record_and_load(tmp_path: Path) -> None:
    assert owncommits.load(tmp_path) == frozenset()
    owncommits.record(tmp_path, A)
    owncommits.record(tmp_path, B)
    assert owncommits.load(tmp_path) == {A, B}


def test_a_torn_last_line_is_left_out_and_the_next_record_is_whole(tmp_path: Path) -> None:
    owncommits.record(tmp_path, A)
    with open(tmp_path / statedir.OWN_COMMITS, "a") as fh:
        fh.write(B[:17])  # a crash mid-write
    assert owncommits.load(tmp_path) == {A}
    owncommits.record(tmp_path, C)
    assert owncommits.load(tmp_path) == {A, C}


APPEND = """
import sys
from bot.git import owncommits
owncommits.record(sys.argv[1], sys.argv[2])
"""


def _append_from_another_process(state: Path, sha: str) -> None:
    subprocess.run([sys.executable, "-c", APPEND, str(state), sha], check=True)


def _bytes_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every byte count a read or pread of the process returned, from now on."""
    counted: list[int] = []
    real_read, real_pread = os.read, os.pread

    def read(fd: int, n: int) -> bytes:
        data = real_read(fd, n)
        counted.append(len(data))
        return data

    def pread(fd: int, n: int, offset: int) -> bytes:
        data = real_pread(fd, n, offset)
        counted.append(len(data))
        return data

    monkeypatch.setattr(os, "read", read)
    monkeypatch.setattr(os, "pread", pread)
    return counted


def test_a_load_reads_only_what_was_appended_since_the_last(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The record grows by a sha a commit; each push looks it up. After the first load,
    a load reads what another process appended since, not the whole record again."""
    memory = Memory()  # the process's, as the daemon's
    many = [f"{n:040x}" for n in range(20_000)]
    owncommits.record(tmp_path, *many)
    assert len(owncommits.load(tmp_path, memory)) == 20_000
    _append_from_another_process(tmp_path, B)
    counted = _bytes_read(monkeypatch)
    own = owncommits.load(tmp_path, memory)
    assert B in own and len(own) == 20_001
    assert sum(counted) < 200, counted  # a line or two, not 820 KB
    counted.clear()
    assert owncommits.load(tmp_path, memory) == own and sum(counted) < 100


def test_a_torn_line_completed_later_and_a_replaced_record_are_read_right(
        tmp_path: Path) -> None:
    """What a load kept never outlives the file it read: a torn line is taken once whole;
    a record replaced, cut or rewritten is read again from its start."""
    path, memory = tmp_path / statedir.OWN_COMMITS, Memory()
    owncommits.record(tmp_path, A)
    with path.open("a") as fh:
        fh.write(B[:17])  # a crash mid-write …
    assert owncommits.load(tmp_path, memory) == {A}
    with path.open("a") as fh:
        fh.write(B[17:] + "\n")  # … and the line finished (as no writer does, but whole now)
    assert owncommits.load(tmp_path, memory) == {A, B}
    path.write_text(C + "\n")  # rewritten in place: same inode, shorter
    assert owncommits.load(tmp_path, memory) == {C}
    path.write_text(A + "\n" + B + "\n")  # same inode, as long as before, other bytes
    assert owncommits.load(tmp_path, memory) == {A, B}
    path.write_text(C + "\n" + B + "\n" + A + "\n")  # longer, the start changed
    assert owncommits.load(tmp_path, memory) == {A, B, C}
    replaced = tmp_path / "new"
    replaced.write_text(B + "\n")
    replaced.replace(path)  # another inode
    assert owncommits.load(tmp_path, memory) == {B}
    path.unlink()
    assert owncommits.load(tmp_path, memory) == frozenset()


def test_not_a_sha_is_never_recorded(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        owncommits.record(tmp_path, "HEAD\nfeed")


def _process(box: Sandbox, old: str, new: str) -> tuple[Processed, ...]:
    config = configmod.load(box.config)
    return process(config, load_handlers(), Push(old, new, "refs/heads/main"), now=NOW)


def _forge_and_push(box: Sandbox) -> tuple[str, str, str]:
    """An untrusted person's commit dressed as taskbot's adds a criterion; a README edit
    goes with it. Returns (old, new, forged sha)."""
    old = git(box.bare, "rev-parse", "main")
    git(box.clone, "pull", "-q", "origin", "main")
    path = box.clone / "tasks/active/TASK-001.md"
    path.write_text(path.read_text().replace("- [ ] By hand\n", "- [ ] By hand\n" + CANARY))
    git(box.clone, "add", "-A")
    git(box.clone, "-c", "user.name=Mallory", "-c", "user.email=m@evil.example", "commit", "-q",
        "--no-gpg-sign", "--author", "taskbot <taskbot@build-host>", "-m", FORGED)
    forged = git(box.clone, "rev-parse", "HEAD")
    (box.clone / "README.md").write_text("tasks, edited\n")
    git(box.clone, "add", "-A")
    git(box.clone, "-c", "user.name=Mallory", "-c", "user.email=m@evil.example", "commit", "-q",
        "--no-gpg-sign", "--author", "Mallory <m@evil.example>", "-m", "readme")
    git(box.clone, "push", "-q", "origin", "HEAD:main")
    return old, git(box.bare, "rev-parse", "main"), forged


def _assert_refused(box: Sandbox, results: tuple[Processed, ...], forged: str, why: str
                    ) -> None:
    assert not (box.root / "demo" / "CANARY").exists()
    assert [r.commit for r in results] == [None]
    assert forged[:12] in results[0].message and why in results[0].message


def test_a_forged_bot_commit_is_judged_like_anyones(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", TASK)
    _process(box, *box.commit_push("add task"))
    old, new, forged = _forge_and_push(box)
    results = _process(box, old, new)
    _assert_refused(box, results, forged, "taskbot@build-host is not in [trust] authors")
    assert git(box.bare, "rev-parse", "main") == new



def test_a_forged_bot_commit_needs_a_signature_too(tmp_path: Path) -> None:
    box = signing_sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", TASK)
    _process(box, *box.commit_push("add task", "-S"))
    old, new, forged = _forge_and_push(box)
    _assert_refused(box, _process(box, old, new), forged, "no valid ssh signature")


def test_taskbots_recorded_commits_are_still_skipped(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", TASK.replace(
        "- [ ] By hand\n", '- [ ] Works <!-- taskbot: shell project=demo cmd="true" -->\n'
        "- [ ] Still by hand\n"))  # not complete: a complete task is never run again
    _process(box, *box.commit_push("add task"))
    bot_tip = git(box.bare, "rev-parse", "main")
    assert bot_tip in owncommits.load(box.root / "state")
    config = configmod.load(box.config)
    # Its file's history holds taskbot's commit: a rerun is allowed while it is recorded …
    again = process(config, load_handlers(), Rerun("TASK-001"), now=NOW)
    assert "not run again" not in again[0].message
    # … and judged like anyone's once the record is gone (a lost state dir).
    (box.root / "state" / statedir.OWN_COMMITS).unlink()
    refused = process(config, load_handlers(), Rerun("TASK-001"), now=NOW)
    assert "taskbot@build-host is not in [trust] authors" in refused[0].message


HOOKS = ("post-checkout", "post-commit", "pre-push", "reference-transaction", "pre-commit",
         "post-rewrite", "post-index-change")


def test_hooks_in_taskbots_clone_never_run(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", TASK.replace(
        "- [ ] By hand\n", '- [ ] Works <!-- taskbot: shell project=demo cmd="true" -->\n'))
    _process(box, *box.commit_push("add task"))
    (clone,) = (box.root / "state" / "clones").iterdir()
    hooks = clone / ".git" / "hooks"
    for name in HOOKS:
        (hooks / name).write_text(f"#!/bin/sh\ntouch {box.root}/ran-{name}\n")
        (hooks / name).chmod(0o755)
    git(box.clone, "pull", "-q", "origin", "main")
    box.write("tasks/active/TASK-002.md", TASK.replace("TASK-001", "TASK-002").replace(
        "- [ ] By hand\n", '- [ ] Works <!-- taskbot: shell project=demo cmd="true" -->\n'))
    results = _process(box, *box.commit_push("second task"))
    assert results[0].commit is not None and results[0].commit == git(box.bare, "rev-parse", "main")
    assert sorted(p.name for p in box.root.glob("ran-*")) == []
