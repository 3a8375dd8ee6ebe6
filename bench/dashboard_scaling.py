"""(f) The dashboard's cost in taskbot's commit: a 10-task vs a 10,000-task repository.

Each repository is made with `git fast-import`: a first commit holds the older tasks, a
second adds the 10 newest to `tasks/active` (tasks_dir), all by a trusted author; the
10 newest are open. Three layouts for 10,000 tasks:
- mostly completed: 10 in tasks/active, 9,990 in tasks/completed — taskbot moves a
  finished task there (`on_complete = "move"`);
- complete kept: 10,000 in tasks/active, 9,990 of them complete — the default
  (`on_complete = "keep"`) after many tasks, what a soak of new tasks makes;
- all active: 10,000 open tasks in tasks/active (the worst case).
Each is checked out as taskbot's worktree is. Each round (taken in turn from each layout,
so a busy machine slows all alike) edits one of the newest tasks, as a run does, then
times `dashboard.in_commit` (what the dashboard adds to the commit: which of the run's
paths changed, the rows, the file) and the whole commit step (`in_commit`, the commit of
the run's paths in process, recording it as taskbot's own, as `writeback.commit` does).
The first refreshes build the row cache (`<state_dir>/dashboard-rows.*`), judging and
reading new files for at most `dashrows.JUDGE_BUDGET` seconds a commit: how long that
takes is shown on its own. Target: each layout ÷ 10 tasks ≤ 1.2 for the dashboard's
part; the commit step's ratio is reported.
"""

from __future__ import annotations

import gc
import os
import subprocess
import time
from pathlib import Path
from typing import NamedTuple

from benchlib import git, median, parse_args, verdict, workdir

from bot import config as configmod
from bot import dashboard
from bot.dashboard import taskrows as dashrows
from bot.git import owncommits
from bot.git import write as gitwrite
from bot.run.report import Report, TaskInfo
from bot.state.memory import Memory

TARGET = 1.2
TASKS_DIR = "tasks/active"
NEWEST = 10  # added by the second commit; the rounds run these


DASHBOARD = "tasks/DASHBOARD.md"


class Layout(NamedTuple):
    name: str
    open: int  # tasks 0 … open-1: open, in tasks/active
    complete: int  # the next ones: complete, kept in tasks/active
    completed: int  # the rest: in tasks/completed

    @property
    def active(self) -> int:
        return self.open + self.complete

    def listed(self) -> int:
        """Rows the table shows after a round (its task, one of the first by path, is open)."""
        return min(self.open, dashboard.OPEN_LISTED) + (self.open > dashboard.OPEN_LISTED) + \
            min(self.complete, dashboard.COMPLETE_LISTED)


def _task(n: int, done: bool = False) -> bytes:
    return (f"---\nid: TASK-{n:05d}\ntitle: Task {n}\n---\n# TASK-{n:05d}\n\n"
            "## Acceptance Criteria\n"
            f"- [x] Build all FFL containers with version 0.1.{n}\n"
            f"- [{'x' if done else ' '}] Push all FFL images to registry 192.168.7.21:5000\n"
            "\n## Progress Log\n- 2026-01-01 10:00: created\n").encode()


def _file(path: str, data: bytes) -> bytes:
    return f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n"


def _commit(message: str, files: list[bytes], when: int) -> bytes:
    """A commit on main; the second in a stream has the first as parent (fast-import's rule)."""
    return (f"commit refs/heads/main\nauthor Bench <bench@example.com> {when} +0000\n"
            f"committer Bench <bench@example.com> {when} +0000\n"
            f"data {len(message)}\n{message}\n").encode() + b"".join(files) + b"\n"


def _path(layout: Layout, n: int) -> str:
    return f"{TASKS_DIR}/TASK-{n:05d}.md" if n < layout.active else \
        f"tasks/completed/TASK-{n:05d}.md"


def make_worktree(root: Path, layout: Layout) -> tuple[configmod.Config, Path]:
    bare = root / f"r-{layout.name}.git"
    git(root, "init", "-q", "--bare", "-b", "main", str(bare))
    total = layout.active + layout.completed
    older = [n for n in range(total) if n >= NEWEST]
    stream = _commit("older tasks", [_file("README.md", b"tasks\n")] + [
        _file(_path(layout, n), _task(n, layout.open <= n < layout.active))
        for n in older], 1767261600)
    stream += _commit("the newest tasks", [_file(_path(layout, n), _task(n))
                                           for n in range(NEWEST)], 1767265200)
    subprocess.run(["git", "fast-import", "--quiet"], cwd=bare, input=stream, check=True)
    wt = root / f"wt-{layout.name}"
    git(root, "clone", "-q", "-b", "main", str(bare), str(wt))
    git(wt, "checkout", "-q", "-b", "taskbot/TASK-00000")
    config = configmod.parse({
        "repo": {"path": str(bare), "tasks_dir": TASKS_DIR,
                 "state_dir": str(root / f"s-{layout.name}"), "dashboard": DASHBOARD},
        "identity": {"name": "taskbot", "email": "taskbot@build-host"},
        "trust": {"authors": ["bench@example.com"]}}, str(root / "taskbot.toml"))
    return config, wt


def _report(n: int) -> Report:
    task = TaskInfo(f"TASK-{n:05d}", f"Task {n}", "-", "active", f"{TASKS_DIR}/TASK-{n:05d}.md")
    return Report(task, "partial", 1, 2, (), (), (), (), (), "20260101T100000-bench")


def _edit(wt: Path, n: int, round_: int) -> str:
    rel = f"{TASKS_DIR}/TASK-{n:05d}.md"
    path = wt / rel
    path.write_bytes(path.read_bytes() + f"- 2026-01-02 10:{round_ % 60:02d}: ran\n".encode())
    return rel


def warm(config: configmod.Config, wt: Path, memory: Memory) -> tuple[float, int]:
    """Refreshes until every file is read, as the daemon's first commits after an upgrade
    would (here without committing, so the history stays as made): (seconds, refreshes)."""
    started = time.perf_counter()
    refreshes = 0
    while True:
        dashboard.refresh(config, wt, memory=memory)
        refreshes += 1
        if dashrows.PENDING not in (wt / DASHBOARD).read_text():
            _own_commit(config, wt, "dashboard", [DASHBOARD], memory)
            return time.perf_counter() - started, refreshes


def _own_commit(config: configmod.Config, wt: Path, message: str, paths: list[str],
                memory: Memory) -> None:
    """A commit as `writeback.commit` makes it: the run's paths and the dashboard, in
    process; recorded as taskbot's own, so its history stays trusted."""
    sha = gitwrite.commit(wt, message, config.identity, paths)
    assert sha is not None
    dashboard.committed(config, sha, memory)
    owncommits.record(config.repo.state_dir, sha)


class Figures(NamedTuple):
    warm_up: tuple[float, int]
    dashboard: float  # median seconds
    step: float


def one_round(config: configmod.Config, wt: Path, memory: Memory, i: int
              ) -> tuple[float, float]:
    """(dashboard part, commit step) of one run's commit, in seconds."""
    task = (i * 7) % NEWEST
    rel = _edit(wt, task, i)
    # No round pays for another's: flushing its writes (write_atomic's fsync), collecting
    # the garbage its allocations left (a full collection walks every layout's cache).
    os.sync()
    gc.collect()
    started = time.perf_counter()
    dashboard.in_commit(config, wt, _report(task), (rel,), memory)
    middle = time.perf_counter()
    _own_commit(config, wt, f"round {i}", [rel, DASHBOARD], memory)
    return middle - started, time.perf_counter() - started


def measure(root: Path, layouts: tuple[Layout, ...], n: int) -> dict[str, Figures]:
    """Rounds taken in turn from each layout, so a busy machine slows all alike."""
    made = {layout.name: make_worktree(root, layout) for layout in layouts}
    kept = {name: Memory() for name in made}  # each as a daemon's of its repository
    first = {name: warm(*made[name], kept[name]) for name in made}
    taken: dict[str, list[tuple[float, float]]] = {name: [] for name in made}
    for i in range(1, n + 1):
        for name, (config, wt) in made.items():
            taken[name].append(one_round(config, wt, kept[name], i))
    for layout in layouts:
        text = (made[layout.name][1] / DASHBOARD).read_text()
        assert text.count("\n| [TASK-") == layout.listed(), layout
    return {name: Figures(first[name], median([d for d, _ in taken[name]]),
                          median([s for _, s in taken[name]])) for name in made}


def main() -> None:
    args = parse_args(__doc__, default_n=15, smoke_n=3)
    large = 1_000 if args.smoke else 10_000  # --smoke: that it runs, in seconds
    layouts = (Layout("10_tasks", 10, 0, 0),
               Layout(f"{large}_mostly_completed", 10, 0, large - 10),
               Layout(f"{large}_complete_kept_in_active", 10, large - 10, 0),
               Layout(f"{large}_all_active", large, 0, 0))
    with workdir() as root:
        figures = measure(root, layouts, args.n)
    small = figures[layouts[0].name]
    for layout in layouts:
        f = figures[layout.name]
        print(f"dashboard_scaling.warm_up_{layout.name}: {f.warm_up[0]:.2f} s in "
              f"{f.warm_up[1]} refreshes (at most {dashrows.JUDGE_BUDGET:.0f} s of reading a "
              "commit)")
    for layout in layouts:
        print(f"dashboard_scaling.dashboard_{layout.name}: "
              f"{figures[layout.name].dashboard * 1e3:.1f} ms")
    for layout in layouts:
        print(f"dashboard_scaling.commit_step_{layout.name}: "
              f"{figures[layout.name].step * 1e3:.1f} ms")
    for layout in layouts[1:]:
        ratio = figures[layout.name].dashboard / small.dashboard
        print(f"dashboard_scaling.ratio_dashboard_{layout.name}: {ratio:.2f} "
              f"(target <= {TARGET}: {verdict(ratio <= TARGET)})")
        print(f"dashboard_scaling.ratio_commit_step_{layout.name}: "
              f"{figures[layout.name].step / small.step:.2f} (reported)")


if __name__ == "__main__":
    main()
