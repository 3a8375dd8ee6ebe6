"""Flat over time: many trusted pushes, each a new task; the state dir, latency and memory stay flat.

A bare tasks repository with the hook and `taskbot serve` as a subprocess (hook mode), the
pusher a trusted author. Each round adds one new task file with one trivial criterion (a
`shell` action running `true`), commits and pushes, and waits for taskbot's commit on
`main`. At the end:
  - the state dir's size on disk and its number of entries (goal: < 50 MB);
  - push → taskbot's commit on main, median of the last 200 rounds ÷ the first 200
    (a tenth of the rounds each when fewer than 2,000; goal: ≤ 1.2);
  - the daemon's RSS growth from the first rounds to the end (goal: ≤ 10 MB).
`--pushes N` for a short run (default 2,000); `--no-dashboard` runs with `dashboard = ""`;
`--seed N` starts with N finished tasks already in `tasks/active` (one commit), to see what a
large repository costs without pushing N times (not the goal's measure). Besides wall time,
each round's CPU time of the daemon and the git processes it ran is shown: it grows with
what taskbot does, not with what else runs on the machine.
Exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from benchlib import (
    Sandbox,
    daemon,
    git,
    idle,
    make_sandbox,
    median,
    ms,
    verdict,
    wait_main_moves,
    workdir,
)

from bot.commands import sandbox
from bot.daemon.wake import InotifyWaker

GOAL_MB = 50.0
GOAL_RATIO = 1.2
GOAL_RSS_MB = 10.0
WARM = 10  # rounds before the first RSS reading: imports, the private clone, caches


def _task(i: int) -> str:
    return (f"---\nid: SOAK-{i:05d}\ntitle: Soak {i}\n---\n# SOAK-{i:05d}: Soak {i}\n\n"
            "## Acceptance Criteria\n"
            "- [ ] Quick check <!-- taskbot: shell project=bench cmd=true -->\n")


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pushes", type=int, default=2000, help="rounds (default 2,000)")
    parser.add_argument("--smoke", action="store_true", help="a few rounds (CI)")
    parser.add_argument("--no-dashboard", action="store_true", help='run with dashboard = ""')
    parser.add_argument("--keep", type=Path, help="work in this (new) folder and leave it")
    parser.add_argument("--seed", type=int, default=0, help="finished tasks there at the start")
    parser.add_argument("--no-bare-gc", dest="bare_gc", action="store_false",
                        help="turn git's gc --auto off in the bare repository")
    args = parser.parse_args()
    if args.smoke:
        args.pushes = 12
    return args


def _configure(box: Sandbox, dashboard: bool, bare_gc: bool = True) -> None:
    """The pusher trusted by name (not `anyone`), so trust is judged as in production.
    `--no-bare-gc` turns off git's own housekeeping of the bare repository (`gc --auto`
    after a push, detached), to see whether it is what grows (it was not: 1.49 without)."""
    if not bare_gc:
        git(box.bare, "config", "gc.auto", "0")
    sandbox.write_config(box.config, {
        "repo": {"path": box.bare, "branch": "main", "tasks_dir": "tasks/active",
                 "state_dir": box.state, **({} if dashboard else {"dashboard": ""})},
        "identity": {"name": "taskbot", "email": "taskbot@bench"},
        "trust": {"authors": ["bench@example.com"]},
        "limits": {"retries": 0, "command_timeout": "30s"},
        "projects.bench": {"path": box.root / "project", "allow_shell": True},
    })


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _footprint(root: Path) -> tuple[float, int]:
    """Disk usage (MB, allocated blocks as `du` counts them) and entries under `root`."""
    used, entries = os.lstat(root).st_blocks * 512, 0
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            entries += 1
            used += os.lstat(os.path.join(folder, name)).st_blocks * 512
    return used / 1e6, entries


def _cpu(pid: int) -> float:
    """CPU seconds of the daemon and its reaped children (git, the hook's commands)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _seed(box: Sandbox, n: int) -> None:
    """N tasks as taskbot leaves them after their run, in one commit."""
    for i in range(n):
        path = box.clone / f"tasks/active/SEED-{i:05d}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_task(i).replace("SOAK-", "SEED-").replace("- [ ]", "- [x]"))
    git(box.clone, "add", "-A")
    git(box.clone, "commit", "-q", "-m", f"{n} finished tasks")
    box.push()


def _round(box: Sandbox, waker: InotifyWaker, served: sandbox.ServeProcess, i: int) -> float:
    git(box.clone, "pull", "-q", "--rebase", "origin", "main")
    box.commit(f"tasks/active/SOAK-{i:05d}.md", _task(i), f"soak {i}")
    box.push()
    returned = time.time_ns()
    pushed = git(box.clone, "rev-parse", "HEAD")
    committed = wait_main_moves(box, waker, pushed)
    idle(served)
    while list((box.state / "queue").glob("*.push")):
        idle(served)
    return (committed - returned) / 1e9


def main() -> int:
    args = _args()
    label = "soak" + (".no_dashboard" if args.no_dashboard else "")
    window = max(1, min(200, args.pushes // 10))
    with workdir() as tmp:
        root = args.keep or tmp
        box = make_sandbox(root)
        _configure(box, dashboard=not args.no_dashboard, bare_gc=args.bare_gc)
        latencies: list[float] = []
        cpu: list[float] = []
        started_at = time.monotonic()
        if args.seed:
            _seed(box, args.seed)
        with daemon(box) as served:
            waker = InotifyWaker([box.bare / "refs" / "heads"])
            try:
                size0 = _footprint(box.state)
                if args.seed:
                    idle(served)
                for i in range(args.pushes):
                    before = _cpu(served.proc.pid)
                    latencies.append(_round(box, waker, served, i))
                    cpu.append(_cpu(served.proc.pid) - before)
                    if i + 1 == min(WARM, args.pushes):
                        rss0 = _rss_mb(served.proc.pid)
                    if (i + 1) % 100 == 0:
                        print(f"  {i + 1} pushes, last: {ms(latencies[-1])}, "
                              f"{_footprint(box.state)[0]:.1f} MB", file=sys.stderr, flush=True)
                rss1 = _rss_mb(served.proc.pid)
            finally:
                waker.close()
            size, entries = _footprint(box.state)
            parts = {p.name: _footprint(p) for p in sorted(box.state.iterdir()) if p.is_dir()}
    first, last = median(latencies[:window]), median(latencies[-window:])
    ratio = last / first
    ok_size, ok_ratio, ok_rss = size < GOAL_MB, ratio <= GOAL_RATIO, rss1 - rss0 <= GOAL_RSS_MB
    print(f"{label}.pushes: {args.pushes} ({time.monotonic() - started_at:.0f} s)")
    print(f"{label}.state_dir_mb: {size:.2f} (from {size0[0]:.2f}; "
          f"goal < {GOAL_MB:.0f}: {verdict(ok_size)})")
    print(f"{label}.state_dir_entries: {entries} (from {size0[1]}; "
          + ", ".join(f"{k}/ {mb:.1f} MB {n}" for k, (mb, n) in parts.items()) + ")")
    print(f"{label}.commit_first_{window}: {ms(first)}")
    print(f"{label}.commit_last_{window}: {ms(last)}")
    print(f"{label}.commit_ratio: {ratio:.2f} (goal <= {GOAL_RATIO}: {verdict(ok_ratio)})")
    print(f"{label}.cpu_per_round: first {window} {ms(median(cpu[:window]))}, "
          f"last {window} {ms(median(cpu[-window:]))} (the daemon and the processes it ran)")
    print(f"{label}.rss_growth_mb: {rss1 - rss0:.1f} ({rss0:.1f} → {rss1:.1f} MB; "
          f"goal <= {GOAL_RSS_MB:.0f}: {verdict(ok_rss)})")
    return 0 if ok_size and ok_ratio and ok_rss else 1


if __name__ == "__main__":
    sys.exit(main())
