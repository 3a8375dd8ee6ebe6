"""(d) Detection time for one changed task file: a 10-task vs a 10,000-task repository.

Both repositories are made with `git fast-import`; a second commit adds one criterion
to one task. `bot.detect.detect(repo, old, new, tasks_dir)` is timed (median of many
calls) on each. Two layouts for the large one: all 10,000 tasks in `tasks/active`
(the worst case: one flat directory to diff), and 10 active + 9,990 under
`tasks/completed`. Target: large ÷ small ≤ 1.5.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pygit2
from benchlib import git, median, parse_args, verdict, workdir

from bot.git.detect import detect

TARGET = 1.5
TASKS_DIR = "tasks/active"


def _task(n: int, extra: str = "") -> bytes:
    return (f"---\nid: TASK-{n:05d}\ntitle: Task {n}\n---\n# TASK-{n:05d}\n\n"
            "## Acceptance Criteria\n"
            f"- [x] Build all FFL containers with version 0.1.{n}\n"
            f"- [ ] Push all FFL images to registry 192.168.7.21:5000\n{extra}"
            "\n## Progress Log\n- 2026-01-01 10:00: created\n").encode()


def _file(path: str, data: bytes) -> bytes:
    return f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n"


def _commit(message: str, files: list[bytes]) -> bytes:
    """A commit on main; the second in a stream has the first as parent (fast-import's rule)."""
    head = (f"commit refs/heads/main\ncommitter Bench <bench@example.com> 1767261600 +0000\n"
            f"data {len(message)}\n{message}\n").encode()
    return head + b"".join(files) + b"\n"


def make_repo(root: Path, active: int, completed: int) -> tuple[pygit2.Repository, str, str]:
    repo = root / f"r-{active}-{completed}.git"
    git(root, "init", "-q", "--bare", "-b", "main", str(repo))
    files = [_file(f"{TASKS_DIR}/TASK-{n:05d}.md", _task(n)) for n in range(active)]
    files += [_file(f"tasks/completed/TASK-{n:05d}.md", _task(n))
              for n in range(active, active + completed)]
    changed = active // 2
    stream = _commit("all tasks", files) + _commit(
        "one more criterion",
        [_file(f"{TASKS_DIR}/TASK-{changed:05d}.md", _task(changed, "- [ ] Smoke test\n"))])
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=stream, check=True)
    return pygit2.Repository(str(repo)), git(repo, "rev-parse", "main~1"), git(repo, "rev-parse", "main")


def time_detect(repo: pygit2.Repository, old: str, new: str, rounds: int) -> float:
    triggers = detect(repo, old, new, TASKS_DIR)
    assert len(triggers) == 1 and len(triggers[0].indices) == 1, triggers
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        detect(repo, old, new, TASKS_DIR)
        samples.append(time.perf_counter() - started)
    return median(samples)


def main() -> None:
    args = parse_args(__doc__, default_n=300, smoke_n=20)
    with workdir() as root:
        small = time_detect(*make_repo(root, 10, 0), args.n)
        flat = time_detect(*make_repo(root, 10_000, 0), args.n)
        split = time_detect(*make_repo(root, 10, 9_990), args.n)
    print(f"detect_scaling.small_10_tasks: {small * 1e3:.3f} ms")
    print(f"detect_scaling.large_10000_active: {flat * 1e3:.3f} ms")
    print(f"detect_scaling.large_10_active_9990_completed: {split * 1e3:.3f} ms")
    print(f"detect_scaling.ratio_all_active: {flat / small:.2f} (target <= {TARGET}: "
          f"{verdict(flat / small <= TARGET)})")
    print(f"detect_scaling.ratio_mostly_completed: {split / small:.2f} (target <= {TARGET}: "
          f"{verdict(split / small <= TARGET)})")


if __name__ == "__main__":
    main()
