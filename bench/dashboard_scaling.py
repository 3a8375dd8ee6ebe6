"""(f) The dashboard's cost in taskbot's commit: a 10-task vs a 10,000-task repository.

Each repository (made with `git fast-import`, all tasks by a trusted author) is checked
out as taskbot's worktree is. Each round edits one task, as a run does, then times
`dashboard.in_commit` (what the dashboard adds: `git status`, the rows, the file) and
the whole commit step (`in_commit` + `git commit`, as `pipeline._commit` makes it).
The first refreshes build the row cache (`<state_dir>/dashboard-rows.json`), judging and
reading new files for at most `dashrows.JUDGE_BUDGET` seconds a commit: how many commits
and how long that takes is shown on its own. The rounds after it re-read only the edited
task. Target: large ÷ small ≤ 1.2 for the dashboard's part.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from benchlib import git, median, parse_args, verdict, workdir

from bot import config as configmod
from bot import dashboard, dashrows
from bot.git import write as gitwrite
from bot.report import Report, TaskInfo

TARGET = 1.2
TASKS_DIR = "tasks/active"


def _task(n: int) -> bytes:
    return (f"---\nid: TASK-{n:05d}\ntitle: Task {n}\n---\n# TASK-{n:05d}\n\n"
            "## Acceptance Criteria\n"
            f"- [x] Build all FFL containers with version 0.1.{n}\n"
            "- [ ] Push all FFL images to registry 192.168.7.21:5000\n"
            "\n## Progress Log\n- 2026-01-01 10:00: created\n").encode()


def _file(path: str, data: bytes) -> bytes:
    return f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n"


def make_worktree(root: Path, count: int) -> tuple[configmod.Config, Path]:
    bare = root / f"r-{count}.git"
    git(root, "init", "-q", "--bare", "-b", "main", str(bare))
    message = "all tasks"
    stream = (f"commit refs/heads/main\nauthor Bench <bench@example.com> 1767261600 +0000\n"
              f"committer Bench <bench@example.com> 1767261600 +0000\n"
              f"data {len(message)}\n{message}\n").encode()
    stream += b"".join(_file(f"{TASKS_DIR}/TASK-{n:05d}.md", _task(n)) for n in range(count))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=bare, input=stream + b"\n", check=True)
    wt = root / f"wt-{count}"
    git(root, "clone", "-q", "-b", "main", str(bare), str(wt))
    git(wt, "checkout", "-q", "-b", "taskbot/TASK-00000")
    config = configmod.parse({
        "repo": {"path": str(bare), "tasks_dir": TASKS_DIR, "state_dir": str(root / f"s-{count}"),
                 "dashboard": "tasks/DASHBOARD.md"},
        "identity": {"name": "taskbot", "email": "taskbot@build-host"},
        "trust": {"authors": ["bench@example.com"]}}, str(root / "taskbot.toml"))
    return config, wt


def _report(n: int) -> Report:
    task = TaskInfo(f"TASK-{n:05d}", f"Task {n}", "-", "active", f"{TASKS_DIR}/TASK-{n:05d}.md")
    return Report(task, "partial", 1, 2, (), (), (), (), (), "20260101T100000-bench")


def _edit(wt: Path, n: int, round_: int) -> None:
    path = wt / TASKS_DIR / f"TASK-{n:05d}.md"
    path.write_bytes(path.read_bytes() + f"- 2026-01-02 10:{round_ % 60:02d}: ran\n".encode())


def warm(config: configmod.Config, wt: Path) -> tuple[float, int]:
    """Refreshes until every file is read, as the daemon's first commits after an upgrade
    would (here without committing, so the history stays one commit): (seconds, refreshes)."""
    started = time.perf_counter()
    refreshes = 0
    while True:
        dashboard.refresh(config, wt)
        refreshes += 1
        if dashrows.PENDING not in (wt / "tasks/DASHBOARD.md").read_text():
            gitwrite.commit(wt, "dashboard", config.identity)
            return time.perf_counter() - started, refreshes


def rounds(config: configmod.Config, wt: Path, count: int, n: int
           ) -> tuple[tuple[float, int], float, float]:
    """(cache warm-up, median dashboard part, median commit step) in seconds."""
    first = warm(config, wt)
    dash: list[float] = []
    step: list[float] = []
    for i in range(1, n + 1):
        task = (i * 7919) % count
        _edit(wt, task, i)
        started = time.perf_counter()
        dashboard.in_commit(config, wt, _report(task))
        middle = time.perf_counter()
        assert gitwrite.commit(wt, f"round {i}", config.identity) is not None
        dash.append(middle - started)
        step.append(time.perf_counter() - started)
    assert (wt / "tasks/DASHBOARD.md").read_text().count("\n| [TASK-") == count
    return first, median(dash), median(step)


def main() -> None:
    args = parse_args(__doc__, default_n=15, smoke_n=3)
    large = 1_000 if args.smoke else 10_000  # --smoke: that it runs, in seconds
    figures = {}
    with workdir() as root:
        for count in (10, large):
            config, wt = make_worktree(root, count)
            figures[count] = rounds(config, wt, count, args.n)
    (first_s, dash_s, step_s), (first_l, dash_l, step_l) = figures[10], figures[large]
    print(f"dashboard_scaling.warm_up_10_tasks: {first_s[0]:.2f} s in {first_s[1]} refreshes")
    print(f"dashboard_scaling.warm_up_{large}_tasks: {first_l[0]:.2f} s in {first_l[1]} refreshes "
          f"(at most {dashrows.JUDGE_BUDGET:.0f} s of reading a commit)")
    print(f"dashboard_scaling.dashboard_10_tasks: {dash_s * 1e3:.1f} ms")
    print(f"dashboard_scaling.dashboard_{large}_tasks: {dash_l * 1e3:.1f} ms")
    print(f"dashboard_scaling.commit_step_10_tasks: {step_s * 1e3:.1f} ms")
    print(f"dashboard_scaling.commit_step_{large}_tasks: {step_l * 1e3:.1f} ms")
    print(f"dashboard_scaling.ratio_dashboard: {dash_l / dash_s:.2f} (target <= {TARGET}: "
          f"{verdict(dash_l / dash_s <= TARGET)})")
    print(f"dashboard_scaling.ratio_commit_step: {step_l / step_s:.2f}")


if __name__ == "__main__":
    main()
