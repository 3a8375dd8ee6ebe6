"""(b) push returned → first handler started, and (c) push → bot commit on main.

A bare tasks repository with the hook, `taskbot serve` running as a subprocess (hook
mode). Each round appends one new criterion to a task — a `shell` action that writes
`date +%s%N` to a file — commits, and pushes. Measured from the moment `git push`
returned:
  (b) the time the handler's command wrote (it includes starting `sh` and `date`,
      shown as `command_start_overhead`; the hook queues the push before `git push`
      returns, so a value can be negative);
  (c) the time `main` in the bare repository moved to taskbot's commit.
Then the daemon is let go idle before the next round. Targets: (b) median and p90
≤ 50 ms, (c) median ≤ 400 ms.
"""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

from benchlib import (
    Sandbox,
    command_overhead,
    daemon,
    git,
    idle,
    make_sandbox,
    median,
    ms,
    p90,
    parse_args,
    verdict,
    wait_main_moves,
    workdir,
)

from bot.daemon.wake import InotifyWaker

TARGET_START = 0.050
TARGET_COMMIT = 0.400

HEAD = """\
---
id: TASK-001
title: Latency
---
# TASK-001: Latency

## Acceptance Criteria
"""


def _criterion(i: int, marks: Path) -> str:
    return f"- [ ] Mark {i} <!-- taskbot: shell project=bench cmd=\"sh -c 'date +%s%N > {marks}/{i}'\" -->\n"


def _add(body: str, line: str) -> str:
    """The task with one more criterion at the end of its Acceptance Criteria."""
    head, sep, log = body.partition("\n## Progress Log")
    return head.rstrip("\n") + "\n" + line + (sep + log if sep else "")


def _picked_up(box: Sandbox, pushed: str) -> float:
    """When the daemon logged that it took the push (its log has millisecond times)."""
    for line in (box.root / "serve.log").read_text().splitlines():
        if "processing push " in line and f"..{pushed[:8]} " in line:
            return datetime.fromisoformat(line.split(" ", 1)[0]).timestamp()
    raise LookupError(f"push {pushed[:8]} not in the daemon's log")


def main() -> None:
    args = parse_args(__doc__, default_n=25, smoke_n=3)
    with workdir() as root:
        box = make_sandbox(root)
        marks = root / "marks"
        marks.mkdir()
        body = HEAD
        starts: list[float] = []
        commits: list[float] = []
        pickups: list[float] = []
        with daemon(box) as served:
            waker = InotifyWaker([box.bare / "refs" / "heads"])
            try:
                for i in range(args.n + 1):
                    git(box.clone, "pull", "-q", "--rebase", "origin", "main")
                    if i:
                        body = (box.clone / "tasks/active/TASK-001.md").read_text()
                    box.commit("tasks/active/TASK-001.md", _add(body, _criterion(i, marks)),
                               f"mark {i}")
                    box.push()
                    returned = time.time_ns()
                    pushed = git(box.clone, "rev-parse", "HEAD")
                    committed = wait_main_moves(box, waker, pushed)
                    started = int((marks / str(i)).read_text())
                    if i:  # round 0 warms up (the daemon's private clone is made then)
                        starts.append((started - returned) / 1e9)
                        commits.append((committed - returned) / 1e9)
                        pickups.append(_picked_up(box, pushed) - returned / 1e9)
                    idle(served)
                    while list((box.state / "queue").glob("*.push")):
                        idle(served)
            finally:
                waker.close()
        overhead = command_overhead(marks)
    print(f"push_latency.rounds: {len(starts)}")
    ok_b = median(starts) <= TARGET_START and p90(starts) <= TARGET_START
    print(f"push_latency.handler_start_median: {ms(median(starts))}")
    print(f"push_latency.handler_start_p90: {ms(p90(starts))} "
          f"(target <= {ms(TARGET_START)}: {verdict(ok_b)})")
    print(f"push_latency.command_start_overhead: {ms(overhead)} (sh + date, included above)")
    print(f"push_latency.daemon_pickup_median: {ms(median(pickups))} "
          "(push returned → daemon hands the push to the pipeline)")
    print(f"push_latency.pipeline_to_handler_median: "
          f"{ms(median([s - p for s, p in zip(starts, pickups, strict=True)]))} "
          "(detection, trust, worktree, … up to the handler's command)")
    ok_c = median(commits) <= TARGET_COMMIT
    print(f"push_latency.bot_commit_median: {ms(median(commits))} "
          f"(target <= {ms(TARGET_COMMIT)}: {verdict(ok_c)})")
    print(f"push_latency.bot_commit_p90: {ms(p90(commits))}")


if __name__ == "__main__":
    main()
