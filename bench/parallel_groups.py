"""(issue 21) A long task's independent groups side by side: wall time ÷ the longest group.

The operator's build task: four project groups (build, then a quick check), whose builds
each take T seconds — the real `build` handler running each project's own build script
(`./build.sh`, a `sleep T`, in a git repository of its own, no push) — then a
"Post-Build Verification" group that checks every project (several projects: it waits for
all of them). `taskbot run TASK --json` is run twice on fresh copies: with `parallel = 4`
and with `parallel = 1` (file order, as before). The figure is the run's wall time (the
report's `timing.wall`) ÷ its longest group's; goal ≤ 1.15 with `parallel = 4`. The
sequential figure is printed beside it (about 4 + the verification's share).

`--seconds T` (default 3), `--smoke` (T = 0.5: CI checks that it runs).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import TASKBOT, env, git, verdict

from bot.commands.sandbox import TomlValue, write_config

GOAL = 1.15
PROJECTS = ("ffl", "midwestmtg", "triager", "agents")


def _project(root: Path, name: str, seconds: float) -> Path:
    path = root / name
    path.mkdir(parents=True)
    script = path / "build.sh"
    script.write_text(f"#!/bin/sh\necho building {name} $VERSION\nsleep {seconds}\n")
    script.chmod(0o755)
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "build.sh")
    git(path, "commit", "-q", "-m", "build script")
    return path


def _task() -> str:
    groups = "".join(
        f"### {name.upper()}\n"
        f"- [ ] Build all {name} containers with version 1.0.0 "
        f"<!-- taskbot: build project={name} version=1.0.0 push=false -->\n"
        f"- [ ] Check {name} build log <!-- taskbot: shell project={name} cmd=\"true\" -->\n"
        for name in PROJECTS)
    checks = "".join(f"- [ ] Verify {name} <!-- taskbot: shell project={name} cmd=\"true\" -->\n"
                     for name in PROJECTS)
    return ("---\nid: TASK-021\ntitle: Four builds\n---\n# TASK-021\n\n## Acceptance Criteria\n"
            f"{groups}### Post-Build Verification\n{checks}")


def one_run(root: Path, seconds: float, parallel: int) -> dict[str, object]:
    """A fresh workspace, one `taskbot run`: the report's timing."""
    projects: dict[str, dict[str, TomlValue]] = {
        f"projects.{n}": {"path": _project(root / "projects", n, seconds),
                          "build": ["./build.sh"], "allow_shell": True}
        for n in PROJECTS}
    tasks = root / "tasks" / "active"
    tasks.mkdir(parents=True)
    (tasks / "TASK-021.md").write_text(_task())
    config = write_config(root / "taskbot.toml", {
        "repo": {"path": root, "tasks_dir": "tasks/active", "state_dir": root / "state"},
        "trust": {"anyone": True},
        "limits": {"retries": 0, "parallel": parallel},
        **projects,
    })
    began = time.monotonic()
    done = subprocess.run([str(TASKBOT), "--config", str(config), "run", "TASK-021", "--json",
                           "--no-notify"], capture_output=True, text=True, env=env(),
                          check=False)
    report = json.loads(done.stdout)
    if report["result"] != "complete":
        raise SystemExit(f"the run did not complete: {report['title']}\n{done.stderr}")
    timing: dict[str, object] = report["timing"]
    timing["command"] = time.monotonic() - began  # the whole `taskbot run`, start-up included
    return timing


def ratio(timing: dict[str, object]) -> tuple[float, float, float, float]:
    """(wall, longest group, wall ÷ longest, the command's own wall)."""
    groups = timing["groups"]
    assert isinstance(groups, list)
    longest = max(float(g["seconds"]) for g in groups)
    wall = float(str(timing["wall"]))
    return wall, longest, wall / longest, float(str(timing["command"]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=None, help="T, each build (3)")
    parser.add_argument("--smoke", action="store_true", help="T = 0.5 (CI)")
    args = parser.parse_args()
    seconds = args.seconds or (0.5 if args.smoke else 3.0)
    figures = {}
    for parallel in (4, 1):
        with tempfile.TemporaryDirectory(prefix="taskbot-bench-") as tmp:
            figures[parallel] = ratio(one_run(Path(tmp), seconds, parallel))
    print(f"parallel_groups.build_seconds: {seconds:g} (4 project groups, then a "
          "verification group)")
    for parallel, (wall, longest, r, command) in figures.items():
        name = "parallel_4" if parallel == 4 else "sequential"
        print(f"parallel_groups.wall_{name}: {wall:.2f} s (longest group {longest:.2f} s; "
              f"the whole command {command:.2f} s)")
        print(f"parallel_groups.ratio_{name}: {r:.2f} (wall ÷ longest group)")
    ok = figures[4][2] <= GOAL
    print(f"parallel_groups.speedup: {figures[1][0] / figures[4][0]:.2f} (sequential wall ÷ "
          "parallel wall)")
    print(f"verdict: ratio_parallel_4 {figures[4][2]:.2f}: {verdict(ok)} (≤ {GOAL})")
    return 0 if ok or args.smoke else 1  # --smoke checks that it runs, not how fast


if __name__ == "__main__":
    sys.exit(main())
