"""The task-file merge driver on a long Progress Log: `taskbot merge-file` as git runs it.

Base: a task with two criteria and one log entry. Ours ticks one box, stamps `updated:`
and appends N timed log entries; theirs ticks the other box, stamps another date and
appends N entries whose times interleave with ours. The figures are the wall and CPU
time of the console script (Python's start included, as a person's `git pull` waits for
it), median of a few runs, at N = 0, 1,000 and 8,000 a side. The scaling figure is the
merge alone, in this process: CPU time per entry at 8,000 ÷ at 1,000, near 1 (or less)
when linear. Target: 8,000 a side in under 1 s (it was 24-33 s before issue 17). CPU
time is the steadier figure on a busy machine.
"""

from __future__ import annotations

import resource
import subprocess
import time
from pathlib import Path

from benchlib import TASKBOT, median, parse_args, verdict, workdir

from bot.taskfile.merge import merge
from bot.taskfile.parse import parse_cached

TARGET = 1.0
PATH = "tasks/active/T-1.md"
HEAD = """\
---
id: T-1
title: A long log
updated: 2024-05-01
---
# A long log

## Acceptance Criteria
- [ ] one
- [ ] two

## Progress Log
- 2024-05-01 00:00: created
"""


def _entries(n: int, first: int, who: str) -> str:
    out = []
    for k in range(n):
        day, minute = divmod(first + 2 * k, 24 * 60)
        out.append(f"- 2024-{5 + day // 28:02d}-{1 + day % 28:02d} "
                   f"{minute // 60:02d}:{minute % 60:02d}: {who} did step {k}\n")
    return "".join(out)


def sides(n: int) -> tuple[str, str, str]:
    ours = HEAD.replace("- [ ] one", "- [x] one").replace("2024-05-01\n", "2024-05-09\n", 1)
    theirs = HEAD.replace("- [ ] two", "- [x] two").replace("2024-05-01\n", "2024-05-08\n", 1)
    return HEAD, ours + _entries(n, 1, "taskbot"), theirs + _entries(n, 2, "a person")


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_merge(root: Path, n: int, rounds: int) -> tuple[float, float]:
    """Median wall and CPU seconds of one `taskbot merge-file` with `n` entries a side."""
    base, ours, theirs = sides(n)
    walls, cpus = [], []
    for r in range(rounds):
        files = [root / f"{name}-{n}-{r}" for name in ("base", "ours", "theirs")]
        for f, text in zip(files, (base, ours, theirs), strict=True):
            f.write_text(text)
        cpu, started = _child_cpu(), time.perf_counter()
        done = subprocess.run([str(TASKBOT), "merge-file", *map(str, files), PATH],
                              capture_output=True, text=True, check=False)
        walls.append(time.perf_counter() - started)
        cpus.append(_child_cpu() - cpu)
        assert done.returncode == 0, done.stderr
        merged = files[1].read_text()
        assert merged.count("\n- 2024-") == 2 * n + 1 and "- [x] one\n- [x] two\n" in merged
    return median(walls), median(cpus)


def cpu_in_process(n: int, rounds: int) -> float:
    """Median CPU seconds of `bot.taskfile.merge.merge` alone with `n` entries a side."""
    base, ours, theirs = (text.encode() for text in sides(n))
    samples = []
    for _ in range(rounds):
        parse_cached.cache_clear()  # each round parses afresh, as the driver's process does
        started = time.process_time()
        merged = merge(base, ours, theirs, PATH)
        samples.append(time.process_time() - started)
        assert merged.conflicts == 0
    return median(samples)


def main() -> None:
    args = parse_args(__doc__, default_n=5, smoke_n=1)
    with workdir() as root:
        figures = {n: time_merge(root, n, args.n) for n in (0, 1000, 8000)}
    for n, (wall, cpu) in figures.items():
        print(f"merge_scaling.merge_file_{n}_a_side: {wall:.3f} s (cpu {cpu:.3f} s)")
    wall8k = figures[8000][0]
    print(f"merge_scaling.merge_file_8000_a_side_wall: {wall8k:.3f} s (target < {TARGET} s: "
          f"{verdict(wall8k < TARGET)})")
    small, large = cpu_in_process(1000, args.n + 2), cpu_in_process(8000, args.n)
    print(f"merge_scaling.merge_alone_1000_a_side: {small:.3f} s cpu")
    print(f"merge_scaling.merge_alone_8000_a_side: {large:.3f} s cpu")
    print(f"merge_scaling.per_entry_ratio: {(large / 8) / small:.2f} (8,000 ÷ 1,000 a side; "
          "near 1 or less is linear)")


if __name__ == "__main__":
    main()
