"""The daemon as a subprocess for tests: sd_notify socket, start, await, stop — always waited."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from bot.commands.sandbox import NotifyListener, ServeProcess, serving
from bot.daemon.hook import taskbot_executable

REPO_ROOT = Path(__file__).resolve().parents[2]
TASKBOT = taskbot_executable()  # the installed console script, as `taskbot init` finds it


NotifySocket = NotifyListener  # the tests' name for it


def env_for(notify: NotifyListener | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_DIR", "GIT_INDEX"))}
    env.pop("JOURNAL_STREAM", None)
    if notify is not None:
        env["NOTIFY_SOCKET"] = notify.name
    env.update(extra)
    return env


@contextlib.contextmanager
def running_daemon(config: Path, log: Path, **env: str) -> Iterator[ServeProcess]:
    """`taskbot serve` (bot.commands.sandbox.serving, as the demo starts it) with the test's
    env, awaited until READY=1."""
    with serving(config, log, env=env_for(None, **env)) as daemon:
        yield daemon


def until(notify: NotifyListener, condition: Callable[[], bool], timeout: float = 30) -> None:
    """Wait for `condition`, re-checked at every datagram (the daemon's STATUS changes)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout}s; "
                               f"got {notify.messages[-5:]}")
        notify.receive(min(1.0, deadline - time.monotonic()))


def status_doc(state_dir: Path) -> dict[str, object]:
    try:
        data = json.loads((state_dir / "status.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def processed(state_dir: Path, sha: str) -> bool:
    """The push up to `sha` is processed and the daemon idle: its record of the last
    processed commit says so (a refused push leaves no task's line in status.json)."""
    try:
        tip = json.loads((state_dir / "tip.json").read_text()).get("sha")
    except (OSError, ValueError, AttributeError):
        return False
    return tip == sha and idle_and_empty(state_dir)()


def spool(state_dir: Path) -> list[Path]:
    qdir = state_dir / "queue"
    return sorted(qdir.glob("*.push")) if qdir.is_dir() else []


def idle_and_empty(state_dir: Path) -> Callable[[], bool]:
    def check() -> bool:
        daemon = status_doc(state_dir).get("daemon")
        return (not spool(state_dir) and isinstance(daemon, dict)
                and daemon.get("state") == "idle")
    return check


def await_spool(state_dir: Path, condition: Callable[[list[Path]], bool], what: str,
                timeout: float = 10) -> list[Path]:
    """Wait until the spool's entries meet `condition` (the sh hook writes them in the
    background, after `git push` has returned)."""
    from bot.daemon.wake import InotifyWaker

    qdir = state_dir / "queue"
    deadline = time.monotonic() + timeout
    waker = InotifyWaker([qdir])
    try:
        while not condition(spool(state_dir)) and time.monotonic() < deadline:
            waker.wait(deadline - time.monotonic())
    finally:
        waker.close()
    found = spool(state_dir)
    assert condition(found), f"spool: {what} not within {timeout}s ({len(found)} entries)"
    return found


def await_entries(state_dir: Path, count: int, timeout: float = 10) -> list[Path]:
    """Wait until the spool holds `count` entries."""
    return await_spool(state_dir, lambda found: len(found) >= count, f"{count} entries", timeout)
