"""The daemon's caches live in one `Memory` it hands to every item (`bot.state.memory`): the
second push finds the worktree settled and its repository open, so its reset looks at no
file; without a memory nothing is kept and the same push gives the same commit."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from bot import config as configmod
from bot.dashboard import state as dashstate
from bot.git import worktree
from bot.pipeline import Processed, Push, process
from bot.plugin.plugins import load_handlers
from bot.state.memory import Memory
from tests.kit.git import Sandbox, git, sandbox

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 26, 14, 30).astimezone()


def _task(n: int) -> str:
    return (f"---\nid: TASK-00{n}\ntitle: One\nstatus: active\nupdated: 2026-01-01\n---\n"
            f"# TASK-00{n}\n\n## Acceptance Criteria\n"
            '- [ ] Works <!-- taskbot: shell project=demo cmd="true" -->\n')


def _push(box: Sandbox, n: int, memory: Memory | None) -> tuple[Processed, ...]:
    git(box.clone, "pull", "-q", "--ff-only", "origin", "main")
    box.write(f"tasks/active/TASK-00{n}.md", _task(n))
    old, new = box.commit_push(f"add {n}")
    return process(configmod.load(box.config), load_handlers(),
                   Push(old, new, "refs/heads/main"), now=NOW, memory=memory)


def test_a_second_push_reads_what_the_first_kept(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    box, memory = sandbox(tmp_path), Memory()
    assert [p.commit is not None for p in _push(box, 1, memory)] == [True]
    assert memory.settled.items and memory.repos.items and memory.folders.items
    looked: list[Path] = []
    real = worktree.changed_files

    def counted(path: Path) -> dict[str, int] | None:
        looked.append(path)
        return real(path)

    monkeypatch.setattr(worktree, "changed_files", counted)
    assert [p.commit is not None for p in _push(box, 2, memory)] == [True]
    assert looked == []  # settled: the reset compared two commits, looked at no file
    assert memory.own_commits.items  # the record as read, for the next push to go on from


def test_without_a_memory_nothing_is_kept_and_the_result_is_the_same(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    for n in (1, 2):
        assert [p.commit is not None for p in _push(box, n, None)] == [True]
    assert "- [x] Works" in box.main_file("tasks/active/TASK-002.md")


def test_the_dashboard_keeps_its_state_in_the_memory_it_is_handed(tmp_path: Path) -> None:
    """The pipeline hands its memory to the dashboard: the listing made at the first push and
    the commit made of it are there for the next push (which then reads no tasks_dir tree)."""
    box, memory = sandbox(tmp_path), Memory()
    text = box.config.read_text()
    assert "[repo]\n" in text
    box.config.write_text(text.replace("[repo]\n", '[repo]\ndashboard = "tasks/DASHBOARD.md"\n', 1))
    [first] = _push(box, 1, memory)
    state, state_dir = dashstate.of(memory), str(tmp_path / "state")
    assert first.commit is not None and state.listing(state_dir) is not None
    assert state.last_commit(state_dir)  # taskbot's commit, told to the dashboard
    assert [p.commit is not None for p in _push(box, 2, memory)] == [True]
    assert "TASK-002" in box.main_file("tasks/DASHBOARD.md")
