"""The dashboard shows a bounded table, kept by what changed (issue 17).

Open tasks and files not listed are shown up to a bound (the last by path, and the task of
this commit always) with a line counting the rest. The state kept between commits follows
each change: after every one of many random edits (a file made open, complete, unusable,
removed, added, moved) the dashboard written is the one rendered from scratch, and a new
process renders the same bytes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot import config as configmod
from bot import dashboard
from bot.daemon import statusfile
from bot.dashboard import sources as dashsources
from bot.dashboard import state as dashstate
from bot.dashboard import taskrows as dashrows
from bot.git import unstaged
from bot.git import write as gitwrite
from bot.run.report import Report, TaskInfo
from bot.state import waiting
from bot.state.memory import Memory
from tests.kit.git import git

DASHBOARD = "tasks/DASHBOARD.md"
ACTIVE = "tasks/active"


def _task(n: int, done: bool = False) -> str:
    return (f"---\nid: TASK-{n:02d}\ntitle: Task {n}\n---\n# TASK-{n:02d}\n\n"
            f"## Acceptance Criteria\n- [x] Build\n- [{'x' if done else ' '}] Push\n\n"
            "## Progress Log\n- 2026-01-01 10:00: created\n")


BROKEN = "---\nid: [\n---\n"  # frontmatter that is no YAML: "unusable: …"


def _config(tmp_path: Path, wt: Path, state: str = "state") -> configmod.Config:
    return configmod.parse({
        "repo": {"path": str(wt), "state_dir": str(tmp_path / state), "dashboard": DASHBOARD},
        "identity": {"name": "Becker", "email": "becker@example.com"},  # its commits trusted
        "trust": {"authors": ["becker@example.com"]}}, str(tmp_path / "taskbot.toml"))


def _repo(tmp_path: Path, files: dict[str, str]) -> tuple[configmod.Config, Path]:
    wt = tmp_path / "wt"
    git(tmp_path, "init", "-q", "-b", "main", str(wt))
    (wt / "README.md").write_text("tasks\n")
    for rel, text in files.items():
        (wt / rel).parent.mkdir(parents=True, exist_ok=True)
        (wt / rel).write_text(text)
    _commit(wt, "tasks")
    return _config(tmp_path, wt), wt


def _commit(wt: Path, message: str) -> None:
    git(wt, "add", "-A")
    git(wt, "commit", "-q", "--allow-empty", "-m", message)


def _report(n: int, result: str = "partial") -> Report:
    task = TaskInfo(f"TASK-{n:02d}", f"Task {n}", "-", "active", f"{ACTIVE}/TASK-{n:02d}.md")
    return Report(task, result, 1, 2, (), (), (), (), (), "20260102T100000-test")


def _listed(text: str) -> list[str]:
    return [line.split("]")[0].removeprefix("| [") for line in text.splitlines()
            if line.startswith("| [TASK-")]


@pytest.fixture
def small_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dashboard, "OPEN_LISTED", 4)
    monkeypatch.setattr(dashboard, "COMPLETE_LISTED", 3)
    monkeypatch.setattr(dashboard, "PROBLEMS_LISTED", 2)


def test_open_tasks_beyond_the_bound_are_counted_and_this_commits_task_listed(
        tmp_path: Path, small_bounds: None) -> None:
    config, wt = _repo(tmp_path, {f"{ACTIVE}/TASK-{n:02d}.md": _task(n) for n in range(8)})
    assert dashboard.refresh(config, wt, _report(0)) is True
    text = (wt / DASHBOARD).read_text()
    # this commit's task (the first by path), then the last four open ones
    assert _listed(text) == ["TASK-00", "TASK-04", "TASK-05", "TASK-06", "TASK-07"]
    assert "| [TASK-00](active/TASK-00.md) | Task 0 | 1/2 | — | partial, 2026-01-02 10:00, " \
           "this commit |" in text
    assert "\n3 more open tasks are in `tasks/active`, not listed: see the files in " \
           "`tasks/active`.\n" in text
    assert dashboard.refresh(config, wt, _report(5)) is True  # as for complete ones: the
    # last four of the others, and this commit's
    assert _listed((wt / DASHBOARD).read_text()) == [f"TASK-0{n}" for n in range(3, 8)]


def test_files_not_listed_beyond_the_bound_are_counted(tmp_path: Path,
                                                       small_bounds: None) -> None:
    files = {f"{ACTIVE}/bad-{n}.md": BROKEN for n in range(5)}
    config, wt = _repo(tmp_path, {**files, f"{ACTIVE}/TASK-01.md": _task(1)})
    assert dashboard.refresh(config, wt) is True
    text = (wt / DASHBOARD).read_text()
    problems = [line.split(":")[0] for line in text.splitlines() if line.startswith("- tasks/")]
    assert problems == [f"- {ACTIVE}/bad-3.md", f"- {ACTIVE}/bad-4.md"]
    assert "\n3 more such files are in `tasks/active`, not shown.\n" in text
    assert _listed(text) == ["TASK-01"]


def test_below_the_bounds_nothing_is_counted(tmp_path: Path) -> None:
    config, wt = _repo(tmp_path, {f"{ACTIVE}/TASK-{n:02d}.md": _task(n) for n in range(3)})
    assert dashboard.refresh(config, wt, _report(1)) is True
    text = (wt / DASHBOARD).read_text()
    assert _listed(text) == ["TASK-00", "TASK-01", "TASK-02"]
    assert "more" not in text


def _fresh(tmp_path: Path, wt: Path, report: Report | None, changed: Sequence[str],
           round_: int) -> str:
    """The dashboard made from scratch: another state dir, a new state, every row built."""
    config = _config(tmp_path, wt, f"fresh-{round_}")
    table = dashboard.rows(config, wt, report, changed, Memory())
    return dashboard.render(config, table, dashboard.kept_branches(config, wt))


def _edit(rng: random.Random, wt: Path, names: list[str]) -> list[str]:
    """One random change under tasks/active, as a run or a push makes it: the paths written."""
    rel = f"{ACTIVE}/{rng.choice(names)}.md"
    path = wt / rel
    n = int(rel[-5:-3])
    action = rng.choice(["open", "complete", "broken", "remove", "move", "log"])
    if action == "remove" or (action == "move" and not path.exists()):
        path.unlink(missing_ok=True)
        return [rel]
    if action == "move":
        dest = f"{ACTIVE}/{rng.choice(names)}.md"
        path.rename(wt / dest)
        return [rel, dest]
    if action == "log" and path.exists():
        with path.open("a") as f:
            f.write(f"- 2026-01-02 10:{rng.randrange(60):02d}: ran\n")
        return [rel]
    text = BROKEN if action == "broken" else _task(n, done=action == "complete")
    path.write_text(text)
    return [rel]


def test_the_state_kept_follows_many_random_edits(tmp_path: Path, small_bounds: None,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(17)
    names = [f"TASK-{n:02d}" for n in range(14)]
    config, wt = _repo(tmp_path, {f"{ACTIVE}/{name}.md": _task(n, done=n % 3 == 0)
                                  for n, name in enumerate(names[:10])})
    memory = Memory()
    state = dashstate.of(memory)
    predicted: list[bool] = []
    heads: list[bool] = []
    real = dashsources.predicted

    def spy(*args: Any) -> Any:
        said = real(*args)
        predicted.append(said is not None)
        return said
    monkeypatch.setattr(dashsources, "predicted", spy)
    for round_ in range(50):
        changed = _edit(rng, wt, names)
        if rng.random() < 0.3:  # a push: committed before taskbot's next commit sees it
            _commit(wt, f"push {round_}")
            changed = []
        report = _report(rng.randrange(14), rng.choice(["partial", "complete"])) \
            if rng.random() < 0.7 else None
        known = dashrows.at_head(config, wt, state)  # HEAD as the listing knows it
        heads.append(known is not None)
        assert unstaged.differs(wt, changed, known) == unstaged.differs(wt, changed), round_
        dashboard.refresh(config, wt, report, changed, memory)
        assert (wt / DASHBOARD).read_text() == _fresh(tmp_path, wt, report, changed, round_), round_
        kept, fresh = state.listing(config.repo.state_dir), Memory()
        dashboard.rows(_config(tmp_path, wt, f"fresh-{round_}"), wt, report, changed, fresh)
        again = dashstate.of(fresh).listing(str(tmp_path / f"fresh-{round_}"))
        assert kept is not None and again is not None
        assert kept.lists == again.lists and kept.entries == again.entries, round_
        if rng.random() < 0.5:  # taskbot's commit, or the run's changes left to the next one
            # as writeback.commit makes it: the run's paths and the dashboard, then said
            sha = gitwrite.commit(wt, f"run {round_}", config.identity, [*changed, DASHBOARD])
            if sha is not None:
                state.committed(config.repo.state_dir, sha)
    assert predicted.count(True) > 5 and heads.count(True) > 5  # no tree read after
    # taskbot's commit
    text = (wt / DASHBOARD).read_bytes()
    # a new process: the cache read from disk
    assert dashboard.refresh(config, wt, report, changed, Memory()) is False
    assert (wt / DASHBOARD).read_bytes() == text


def test_a_row_follows_status_json_and_the_waiting_store_between_commits(
        tmp_path: Path) -> None:
    """Both are parsed again only when they changed: a change is seen at the next commit."""
    config, wt = _repo(tmp_path, {f"{ACTIVE}/TASK-{n:02d}.md": _task(n) for n in range(2)})
    memory, state_dir = Memory(), Path(config.repo.state_dir)
    assert dashboard.refresh(config, wt, memory=memory) is True
    assert "| Task 1 | 1/2 | — | — |" in (wt / DASHBOARD).read_text()
    entry = statusfile.task_entry(_report(1, "failed"), None, datetime.now().astimezone())
    statusfile.record_task(state_dir, "TASK-01", entry)
    assert dashboard.refresh(config, wt, memory=memory) is True
    assert "| Task 1 | 1/2 | — | failed, 2026-" in (wt / DASHBOARD).read_text()
    waiting.remember(state_dir, "TASK-01", ["TASK-00"])
    assert dashboard.refresh(config, wt, memory=memory) is True
    assert "| Task 1 | 1/2 | TASK-00 | failed, 2026-" in (wt / DASHBOARD).read_text()
    assert dashboard.refresh(config, wt, memory=memory) is False
