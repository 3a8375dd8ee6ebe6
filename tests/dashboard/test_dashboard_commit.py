"""The dashboard's part of taskbot's commit does not grow with the repository (issue 17).

Counted, not timed: for one commit the dashboard starts no git process, parses only the
file the run wrote and walks no history, whether 300 other tasks sit in tasks/completed
or in tasks/active; its cache comes back after a restart without a file read again; a
file the run moved to completed/ leaves the table; a run that wrote the bytes HEAD has
(through git's line-ending conversion) adds no dashboard change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot import config as configmod
from bot import dashboard, taskfile
from bot.daemon import statusfile
from bot.dashboard import taskrows as dashrows
from bot.git import read
from bot.run.pending import Pending
from bot.run.report import Report, TaskInfo
from bot.state.memory import Memory
from tests.kit.git import git

DASHBOARD = "tasks/DASHBOARD.md"


def _task(n: int) -> str:
    return (f"---\nid: TASK-{n}\ntitle: Task {n}\n---\n# TASK-{n}\n\n## Acceptance Criteria\n"
            "- [x] Build\n- [ ] Push\n\n## Progress Log\n- 2026-01-01 10:00: created\n")


def _repo(tmp_path: Path, active: int, completed: int
          ) -> tuple[configmod.Config, Path, Memory]:
    wt = tmp_path / "wt"
    git(tmp_path, "init", "-q", "-b", "main", str(wt))
    for n in range(active + completed):
        folder = "active" if n < active else "completed"
        path = wt / "tasks" / folder / f"TASK-{n}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_task(n))
    _commit(wt, "tasks")
    config = configmod.parse({
        "repo": {"path": str(wt), "state_dir": str(tmp_path / "state"), "dashboard": DASHBOARD},
        "trust": {"authors": ["becker@example.com"]}}, str(tmp_path / "taskbot.toml"))
    memory = Memory()  # the process's, kept between its commits
    # the cache is built, as by earlier commits
    assert dashboard.refresh(config, wt, memory=memory) is True
    _commit(wt, "dashboard")
    return config, wt, memory


def _commit(wt: Path, message: str) -> None:
    git(wt, "add", "-A")
    git(wt, "commit", "-qm", message)


def _run_wrote(wt: Path, n: int) -> str:
    rel = f"tasks/active/TASK-{n}.md"
    with (wt / rel).open("a") as f:
        f.write("- 2026-01-02 10:00: ran\n")
    return rel


def _report(n: int) -> Report:
    task = TaskInfo(f"TASK-{n}", f"Task {n}", "-", "active", f"tasks/active/TASK-{n}.md")
    return Report(task, "partial", 1, 2, (), (), (), (), (), "20260102T100000-test")


class _Counts:
    def __init__(self) -> None:
        self.git: list[list[str]] = []
        self.parsed: list[str] = []
        self.judged: list[str] = []


def _counting(monkeypatch: pytest.MonkeyPatch) -> _Counts:
    counts = _Counts()

    def spy(name: str, into: list[Any], pick: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            into.append(pick(*args))
            return real[name](*args, **kwargs)
        return wrapper

    real: dict[str, Callable[..., Any]] = {
        "git": getattr(read, "run_command"), "parse": taskfile.parse,  # noqa: B009
        "judge": getattr(dashrows, "check_file")}  # noqa: B009
    monkeypatch.setattr("bot.git.read.run_command",
                        spy("git", counts.git, lambda argv, *_: list(argv)))
    monkeypatch.setattr(dashrows, "parse_task", spy("parse", counts.parsed, lambda _, path, *r: path))
    monkeypatch.setattr("bot.dashboard.taskrows.check_file", spy("judge", counts.judged, lambda *a: a[2]))
    return counts


@pytest.mark.parametrize(("active", "completed"), [(3, 0), (3, 300), (300, 0)])
def test_one_commit_starts_no_git_and_reads_only_what_the_run_wrote(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, active: int, completed: int) -> None:
    config, wt, memory = _repo(tmp_path, active, completed)
    monkeypatch.setattr(dashboard, "OPEN_LISTED", max(active, dashboard.OPEN_LISTED))  # all rows
    rel = _run_wrote(wt, 1)
    counts = _counting(monkeypatch)
    assert dashboard.in_commit(config, wt, _report(1), [rel], memory=memory) is True
    text = (wt / DASHBOARD).read_text()
    assert "| [TASK-1](active/TASK-1.md) | Task 1 | 1/2 | — | partial, 2026-01-02 10:00, " \
           "this commit |" in text
    assert text.count("\n| [TASK-") == active
    assert counts.git == []  # no `git status`: only the run's path compared with HEAD
    assert counts.parsed == [rel]
    assert counts.judged == []  # taskbot's edit of a file judged trusted at HEAD


def test_the_row_cache_comes_back_after_a_restart_without_reading_a_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config, wt, memory = _repo(tmp_path, 4, 0)
    snapshot = tmp_path / "state" / "dashboard-rows.bin"
    before = snapshot.stat().st_ino
    for n in (0, 1, 2, 1):
        assert dashboard.in_commit(config, wt, _report(n), [_run_wrote(wt, n)], memory=memory) is True
        _commit(wt, f"run {n}")
    assert snapshot.stat().st_ino == before  # each commit appended its rows to the log
    text = (wt / DASHBOARD).read_text()
    memory = Memory()  # a new process
    counts = _counting(monkeypatch)
    assert dashboard.refresh(config, wt, _report(1), [], memory=memory) is False  # the same table
    assert (wt / DASHBOARD).read_text() == text
    assert counts.parsed == [] and counts.judged == []


def test_a_task_moved_to_completed_leaves_the_table(tmp_path: Path) -> None:
    config, wt, memory = _repo(tmp_path, 2, 1)
    rel, dest = _run_wrote(wt, 0), "tasks/completed/TASK-0.md"
    git(wt, "mv", rel, dest)  # as pipeline._move_if_complete does
    assert dashboard.in_commit(config, wt, _report(0), [rel, dest], memory=memory) is True
    text = (wt / DASHBOARD).read_text()
    assert "TASK-0" not in text and "| [TASK-1](active/TASK-1.md) | Task 1 | 1/2 |" in text


@pytest.fixture
def crlf_checkout(tmp_path: Path) -> Iterator[tuple[configmod.Config, Path, Memory]]:
    config, wt, memory = _repo(tmp_path, 2, 0)
    (wt / ".gitattributes").write_text("*.md text eol=crlf\n")
    _commit(wt, "line endings")
    (wt / "tasks/active/TASK-1.md").unlink()
    git(wt, "checkout", "--", "tasks/active/TASK-1.md")  # written with CRLF, stored with LF
    yield config, wt, memory


def test_a_run_that_wrote_what_head_has_adds_no_dashboard_change(
        crlf_checkout: tuple[configmod.Config, Path, Memory]) -> None:
    config, wt, memory = crlf_checkout
    path = wt / "tasks/active/TASK-1.md"
    assert b"\r\n" in path.read_bytes()
    path.write_bytes(path.read_bytes())  # a run that changed nothing but wrote the file
    before = (wt / DASHBOARD).read_bytes()
    assert dashboard.in_commit(config, wt, _report(1), ["tasks/active/TASK-1.md"], memory=memory) is False
    assert (wt / DASHBOARD).read_bytes() == before
    with path.open("ab") as f:
        f.write(b"- 2026-01-02 10:00: ran\r\n")
    assert dashboard.in_commit(config, wt, _report(1), ["tasks/active/TASK-1.md"], memory=memory) is True
    assert "this commit" in (wt / DASHBOARD).read_text()


def test_a_log_cut_short_loads_up_to_its_last_whole_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash in the middle of an append: only the rows of the lost record are read again."""
    config, wt, memory = _repo(tmp_path, 3, 0)
    for n in (0, 1):
        assert dashboard.in_commit(config, wt, _report(n), [_run_wrote(wt, n)], memory=memory) is True
        _commit(wt, f"run {n}")
    log = tmp_path / "state" / "dashboard-rows.log"
    log.write_bytes(log.read_bytes()[:-5])
    text = (wt / DASHBOARD).read_text()
    memory = Memory()  # a new process
    counts = _counting(monkeypatch)
    assert dashboard.refresh(config, wt, _report(1), [], memory=memory) is False
    assert (wt / DASHBOARD).read_text() == text
    assert counts.parsed == ["tasks/active/TASK-1.md"]


def test_complete_tasks_beyond_the_last_twenty_are_counted_not_listed(tmp_path: Path) -> None:
    config, wt, memory = _repo(tmp_path, 1, 0)
    (wt / "tasks" / "active" / "TASK-0.md").unlink()
    for n in range(30):  # 25 complete, then 5 open (one of them this commit's)
        path = wt / "tasks" / "active" / f"TASK-{n:02d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_task(n).replace(f"TASK-{n}", f"TASK-{n:02d}")
                        .replace("- [ ] Push", "- [x] Push" if n < 25 else "- [ ] Push"))
    _commit(wt, "thirty tasks")
    finished = Report(TaskInfo("TASK-00", "Task 0", "-", "active", "tasks/active/TASK-00.md"),
                      "complete", 2, 2, (), (), (), (), (), "20260102T100000-test")
    assert dashboard.refresh(config, wt, finished, memory=memory) is True
    text = (wt / DASHBOARD).read_text()
    listed = [line.split("]")[0].removeprefix("| [") for line in text.splitlines()
              if line.startswith("| [TASK-")]
    # this commit's task, the last twenty complete ones by path, every open one
    assert listed == ["TASK-00", *[f"TASK-{n:02d}" for n in range(5, 30)]]
    assert "| [TASK-00](active/TASK-00.md) | Task 0 | 2/2 | — | complete, " in text
    assert "\n4 more complete tasks (every criterion checked) are in `tasks/active`, " \
        "not listed.\n" in text


def test_a_row_says_which_plans_wait_for_approval_and_how_to_approve(tmp_path: Path) -> None:
    config, wt, memory = _repo(tmp_path, 2, 0)
    waiting = replace(_report(1), result="waiting",
                      awaiting=(Pending(1, "Push", "0123456789abcdef", ("run: push",)),))
    entry = statusfile.task_entry(waiting, None, datetime.now().astimezone())
    assert entry["awaiting_approval"] == [{"criterion": "Push", "digest": "0123456789abcdef",
                                           "plan": ["run: push"],
                                           "approve": "taskbot approve TASK-1"}]
    statusfile.record_task(Path(config.repo.state_dir), "TASK-1", entry)
    said = "waiting for approval of plan 0123456789abcdef (taskbot approve TASK-1)"
    rows = {r.task_id: r for r in dashboard.rows(config, wt, memory=memory)}  # from status.json
    assert rows["TASK-1"].waits_on == (said,) and rows["TASK-0"].waits_on == ()
    rel = _run_wrote(wt, 1)
    assert dashboard.in_commit(config, wt, waiting, [rel], memory=memory) is True  # the run committed now
    assert said in (wt / DASHBOARD).read_text()


def test_an_error_in_the_dashboard_costs_the_run_no_commit_and_the_next_lists_afresh(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    """The dashboard is a view: whatever goes wrong in it (a libgit2 error halfway through a
    listing), the run's commit is made without it, and the state it kept is dropped, so the
    next commit lists afresh rather than from lists an error left half changed."""
    config, wt, memory = _repo(tmp_path, 3, 0)
    real = dashrows.sources.overlay

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("libgit2 said no")
    monkeypatch.setattr(dashrows.sources, "overlay", broken)
    rel = _run_wrote(wt, 1)
    assert dashboard.in_commit(config, wt, _report(1), [rel], memory=memory) is False
    assert "tasks/DASHBOARD.md not refreshed in this commit: libgit2 said no" \
        in capsys.readouterr().err
    monkeypatch.setattr(dashrows.sources, "overlay", real)
    (wt / "tasks/active/TASK-2.md").unlink()  # gone since: the lists must follow
    assert dashboard.in_commit(config, wt, _report(1), [rel, "tasks/active/TASK-2.md"],
                               memory=memory) is True
    text = (wt / DASHBOARD).read_text()
    assert "TASK-2" not in text and "this commit" in text and "| [TASK-0]" in text
