"""Shared helpers for the bench scripts: sandboxes, the daemon as a subprocess, figures.

Every script runs with nothing to configure (`.venv/bin/python bench/<name>.py`), works
in a temporary directory it removes, and prints `name: value` lines. `--smoke` runs few
iterations: CI uses it to check that the scripts run, not how fast.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.commands import sandbox
from bot.commands.sandbox import ServeProcess, make_repos, serving
from bot.daemon.hook import taskbot_executable
from bot.daemon.wake import InotifyWaker

ROOT = Path(__file__).resolve().parents[1]
TASKBOT = taskbot_executable()

def parse_args(doc: str | None, default_n: int, smoke_n: int,
               extra: Sequence[tuple[str, str]] = ()) -> argparse.Namespace:
    """`--smoke`, `-n N`, and `extra` flags (name, help) a bench adds."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--smoke", action="store_true", help="few iterations (CI)")
    parser.add_argument("-n", type=int, default=None, help=f"iterations (default {default_n})")
    for flag, text in extra:
        parser.add_argument(flag, action="store_true", help=text)
    args = parser.parse_args()
    args.n = args.n or (smoke_n if args.smoke else default_n)
    return args


def env() -> dict[str, str]:
    """A clean git environment: no user or system config, a fixed identity."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    out.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
                "GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
                "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "bench@example.com"})
    out.pop("NOTIFY_SOCKET", None)
    out.pop("WATCHDOG_USEC", None)
    return out


def git(cwd: Path, *args: str) -> str:
    """`git` (bot.commands.sandbox's) in the clean environment: its stdout, stripped."""
    return sandbox.git(cwd, *args, env=env())


@dataclass(frozen=True)
class Sandbox:
    root: Path
    bare: Path
    clone: Path
    config: Path
    state: Path

    def commit(self, rel: str, text: str, message: str) -> None:
        sandbox.commit_file(self.clone, rel, text, message, env=env())

    def push(self) -> float:
        """`git push`; returns the wall time it took (seconds)."""
        started = time.perf_counter()
        git(self.clone, "push", "-q", "origin", "HEAD:main")
        return time.perf_counter() - started


def make_sandbox(root: Path, name: str = "tasks", *, hook: bool = True) -> Sandbox:
    root.mkdir(parents=True, exist_ok=True)
    (root / "project").mkdir(exist_ok=True)
    bare, clone = make_repos(root, name, env=env(), readme="bench\n")
    config = sandbox.write_config(root / f"{name}.toml", {
        "repo": {"path": bare, "branch": "main", "tasks_dir": "tasks/active",
                 "state_dir": root / "state"},
        "identity": {"name": "taskbot", "email": "taskbot@bench"},
        "trust": {"anyone": True},
        "limits": {"retries": 0, "command_timeout": "30s"},
        "projects.bench": {"path": root / "project", "allow_shell": True},
    })
    if hook:
        subprocess.run([str(TASKBOT), "init", "--config", str(config)], env=env(), check=True,
                       capture_output=True)
    return Sandbox(root, bare, clone, config, root / "state")


@contextlib.contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="taskbot-bench-") as tmp:
        yield Path(tmp)


@contextlib.contextmanager
def daemon(box: Sandbox) -> Iterator[ServeProcess]:
    """`taskbot serve` as the demo starts it; its log's tail is shown when a bench fails."""
    with serving(box.config, box.root / "serve.log", env=env()) as served:
        try:
            yield served
        except BaseException:
            tail = served.stderr().splitlines()[-20:]
            print("daemon log (last lines):", *tail, sep="\n  ", file=sys.stderr)
            raise


def idle(served: ServeProcess) -> None:
    """Wait for the daemon to say it is idle."""
    served.notify.expect(lambda m: "STATUS=idle" in m, 60)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def p90(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def verdict(ok: bool) -> str:
    return "meets target" if ok else "MISSES target"


def command_overhead(marks: Path, n: int = 20) -> float:
    """How long `sh -c 'date +%s%N > f'` takes to write after it was started: included in
    every "handler started" figure, which such a command marks."""
    marks.mkdir(parents=True, exist_ok=True)
    deltas = []
    for i in range(n):
        out = marks / f"probe-{i}"
        started = time.time_ns()
        subprocess.run(["sh", "-c", f"date +%s%N > {out}"], check=True)
        deltas.append((int(out.read_text()) - started) / 1e9)
    return median(deltas)


def main_sha(box: Sandbox) -> str:
    """The bare repository's main, read from its ref file (a packed ref: asked of git)."""
    ref = box.bare / "refs" / "heads" / "main"
    try:
        return ref.read_text().strip()
    except FileNotFoundError:
        return git(box.bare, "rev-parse", "main")


def wait_main_moves(box: Sandbox, waker: InotifyWaker, pushed: str, timeout: float = 60) -> int:
    """When main moved on from `pushed` (taskbot's commit landed), woken by inotify."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if main_sha(box) != pushed:
            return time.time_ns()
        waker.wait(deadline - time.monotonic())
    raise TimeoutError(f"no bot commit on main after {pushed[:12]}")
