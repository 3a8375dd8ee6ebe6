"""(e) How fast the command line answers: `taskbot --help`, `taskbot plan TASK`.

The installed console script is run as a user runs it (a new process each time, median of
N runs): `--help`; `plan TASK-00005` in a clone of 10 tasks and in one of 10,000 (all in
`tasks/active`); and `plan` by id from another directory in hook mode (read from the bare
repository's branch). Targets: `--help` and `plan` ≤ 150 ms; 10,000 ÷ 10 tasks ≤ 1.2.
"""

from __future__ import annotations

import subprocess
import sys
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


# A Python that imports only what reading a task file needs (argparse, tomllib, PyYAML,
# markdown-it) and parses one: what no taskbot command can go below here.
FLOOR = [sys.executable, "-c",
         "import argparse, tomllib, dataclasses, pathlib, yaml\n"
         "from markdown_it import MarkdownIt\n"
         "MarkdownIt('commonmark').parse('# T\\n- [ ] x\\n'); yaml.safe_load('a: 1')\n"]


def _once(argv: Sequence[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, capture_output=True, check=False)
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr.decode()}")
    return took


def time_commands(commands: Sequence[tuple[Sequence[str], Path]], runs: int) -> list[float]:
    """Median wall time of each ARGV, the commands taking turns round by round: a slower
    spell of this shared machine then weighs on each of them alike, which keeps the
    10,000 ÷ 10 ratio and plan − floor honest (a first round warms the page cache and is
    not counted)."""
    samples: list[list[float]] = [[] for _ in commands]
    for i in range(runs + 1):
        for kept, (argv, cwd) in zip(samples, commands, strict=True):
            took = _once(argv, cwd)
            if i:
                kept.append(took)
    return [median(kept) for kept in samples]


def main() -> None:
    args = parse_args(__doc__, default_n=21, smoke_n=3)
    with workdir() as root:
        small, large = make_clone(root, 10), make_clone(root, 10_000)
        hook_config = make_bare(root, small)
        elsewhere = root / "elsewhere"
        elsewhere.mkdir()
        taskbot = str(TASKBOT)
        helped, plan_small, plan_large, plan_hook, floor = time_commands([
            ([taskbot, "--help"], elsewhere), ([taskbot, "plan", TASK], small),
            ([taskbot, "plan", TASK], large),
            ([taskbot, "--config", str(hook_config), "plan", TASK], elsewhere),
            (FLOOR, elsewhere)], args.n)
    ratio = plan_large / plan_small
    fast = max(helped, plan_small) * 1000 <= TARGET_MS
    print(f"cli_speed.help: {ms(helped)}")
    print(f"cli_speed.plan_10_tasks: {ms(plan_small)}")
    print(f"cli_speed.plan_10000_tasks: {ms(plan_large)}")
    print(f"cli_speed.plan_hook_mode_bare: {ms(plan_hook)} (reads repo.branch through libgit2)")
    print(f"cli_speed.python_floor: {ms(floor)} (python importing PyYAML and markdown-it and "
          "parsing one task: below this no command goes)")
    print(f"cli_speed.plan_over_floor: {ms(plan_small - floor)} (taskbot's own part of plan)")
    print(f"cli_speed.ratio_10000_to_10: {ratio:.2f} (target <= {TARGET_RATIO}: "
          f"{verdict(ratio <= TARGET_RATIO)})")
    print(f"cli_speed.target_ms: {TARGET_MS:.0f} (--help and plan: {verdict(fast)})")


if __name__ == "__main__":
    main()
