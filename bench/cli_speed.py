"""(e) How fast the command line answers: `taskbot --help`, `taskbot plan TASK`.

The installed console script is run as a user runs it (a new process each time, median of
N runs): `--help`; `plan TASK-00005` in a clone of 10 tasks and in one of 10,000 (all in
`tasks/active`); and `plan` by id from another directory in hook mode (read from the bare
repository's branch). Targets: `--help` and `plan` ≤ 150 ms; 10,000 ÷ 10 tasks ≤ 1.2.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from benchlib import TASKBOT, git, median, ms, parse_args, verdict, workdir

from bot.commands import sandbox

TARGET_MS = 150.0
TARGET_RATIO = 1.2
TASK = "TASK-00005"


def _task(n: int) -> str:
    return (f"---\nid: TASK-{n:05d}\ntitle: Task {n}\n---\n# TASK-{n:05d}\n\n"
            "## Acceptance Criteria\n"
            f'- [ ] Say hello {n} <!-- taskbot: shell project=bench cmd="true" -->\n'
            "- [ ] Look at the dashboard\n"
            "\n## Progress Log\n- 2026-01-01 10:00: created\n")


def make_clone(root: Path, tasks: int) -> Path:
    """A clone with `tasks` task files in tasks/active and a taskbot.toml beside them."""
    clone = root / f"clone-{tasks}"
    active = clone / "tasks" / "active"
    active.mkdir(parents=True)
    for n in range(tasks):
        (active / f"TASK-{n:05d}.md").write_text(_task(n))
    (root / "project").mkdir(exist_ok=True)
    sandbox.write_config(clone / "taskbot.toml", {
        "repo": {"path": clone, "branch": "main", "tasks_dir": "tasks/active",
                 "state_dir": root / "state"},
        "projects.bench": {"path": root / "project", "allow_shell": True},
    })
    return clone


def make_bare(root: Path, clone: Path) -> Path:
    """The clone committed and cloned bare; a config naming the bare repository."""
    git(root, "init", "-q", "-b", "main", str(clone))
    git(clone, "add", "-A")
    git(clone, "commit", "-q", "-m", "tasks")
    bare = root / "tasks.git"
    git(root, "clone", "-q", "--bare", str(clone), str(bare))
    config = root / "hook.toml"
    sandbox.write_config(config, {
        "repo": {"path": bare, "branch": "main", "tasks_dir": "tasks/active",
                 "state_dir": root / "state"},
        "projects.bench": {"path": root / "project", "allow_shell": True},
    })
    return config


def time_command(argv: Sequence[str], cwd: Path, runs: int) -> float:
    """Median wall time of `taskbot ARGV` (first run not counted: it warms the page cache)."""
    samples = []
    for i in range(runs + 1):
        started = time.perf_counter()
        done = subprocess.run([str(TASKBOT), *argv], cwd=cwd, capture_output=True,
                              check=False)
        took = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"taskbot {' '.join(argv)} exited {done.returncode}:\n"
                             f"{done.stderr.decode()}")
        if i:
            samples.append(took)
    return median(samples)


def main() -> None:
    args = parse_args(__doc__, default_n=21, smoke_n=3)
    with workdir() as root:
        small, large = make_clone(root, 10), make_clone(root, 10_000)
        hook_config = make_bare(root, small)
        elsewhere = root / "elsewhere"
        elsewhere.mkdir()
        helped = time_command(["--help"], elsewhere, args.n)
        plan_small = time_command(["plan", TASK], small, args.n)
        plan_large = time_command(["plan", TASK], large, args.n)
        plan_hook = time_command(["--config", str(hook_config), "plan", TASK], elsewhere, args.n)
    ratio = plan_large / plan_small
    fast = max(helped, plan_small) * 1000 <= TARGET_MS
    print(f"cli_speed.help: {ms(helped)}")
    print(f"cli_speed.plan_10_tasks: {ms(plan_small)}")
    print(f"cli_speed.plan_10000_tasks: {ms(plan_large)}")
    print(f"cli_speed.plan_hook_mode_bare: {ms(plan_hook)}")
    print(f"cli_speed.ratio_10000_to_10: {ratio:.2f} (target <= {TARGET_RATIO}: "
          f"{verdict(ratio <= TARGET_RATIO)})")
    print(f"cli_speed.target_ms: {TARGET_MS:.0f} (--help and plan: {verdict(fast)})")


if __name__ == "__main__":
    main()
