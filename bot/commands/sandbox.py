"""Throw-away setups for the demo, the benchmarks and the tests: a bare tasks repository with
a person's clone, and `taskbot serve` as a child process awaited through its sd_notify socket.

One home for them, so the demo a user runs and the tests that check it start the daemon the
same way: READY=1 awaited (no sleeps), SIGTERM on the way out, and the child always waited.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from bot.daemon.hook import taskbot_executable


class NotifyListener:
    """An AF_UNIX datagram socket (abstract name) that records what a daemon says."""

    def __init__(self, prefix: str = "taskbot") -> None:
        self.name = f"@{prefix}-{secrets.token_hex(6)}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(b"\0" + self.name[1:].encode())
        self.messages: list[str] = []

    def receive(self, timeout: float) -> str | None:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(4096).decode()
        except TimeoutError:
            return None
        self.messages.append(data)
        return data

    def expect(self, wanted: Callable[[str], bool], timeout: float = 20) -> str:
        """The first datagram that satisfies `wanted`; TimeoutError when none came in time."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.receive(deadline - time.monotonic())
            if data is not None and wanted(data):
                return data
        raise TimeoutError(f"no matching sd_notify datagram within {timeout}s; "
                           f"got {self.messages[-5:]}")

    def until(self, condition: Callable[[], bool], timeout: float = 30) -> None:
        """Wait for `condition`, re-checked at every datagram (the daemon's STATUS changes)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s; "
                                   f"got {self.messages[-5:]}")
            self.receive(min(1.0, deadline - time.monotonic()))

    def close(self) -> None:
        self.sock.close()


class ServeProcess:
    """A running `taskbot serve`, its notify socket and its log file."""

    def __init__(self, proc: subprocess.Popen[bytes], notify: NotifyListener, log: Path) -> None:
        self.proc = proc
        self.notify = notify
        self.log = log

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate(self, timeout: float = 20) -> int:
        """SIGTERM and wait; killed (and TimeoutError) when it does not stop in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise TimeoutError(f"taskbot serve did not stop on SIGTERM:\n{self.stderr()}") from None


@contextlib.contextmanager
def serving(config: Path, log: Path, *, env: Mapping[str, str] | None = None,
            ready: bool = True, ready_timeout: float = 30) -> Iterator[ServeProcess]:
    """`taskbot --config CONFIG serve`, awaited until READY=1; stopped and waited, always."""
    notify = NotifyListener()
    child_env = {**(os.environ if env is None else env), "NOTIFY_SOCKET": notify.name}
    with log.open("wb") as out:
        proc = subprocess.Popen([str(taskbot_executable()), "--config", str(config), "serve"],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=child_env,
                                cwd=config.parent)
    daemon = ServeProcess(proc, notify, log)
    try:
        if ready:
            try:
                notify.expect(lambda m: "READY=1" in m, ready_timeout)
            except TimeoutError as exc:
                raise TimeoutError(f"{exc}\n{daemon.stderr()}") from None
        yield daemon
    finally:
        try:
            daemon.terminate()
        finally:
            notify.close()


def git(cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env=None if env is None else dict(env),
                          check=True, capture_output=True, text=True, timeout=60)
    return done.stdout.strip()


def make_repos(root: Path, name: str = "tasks", *, env: Mapping[str, str] | None = None,
               readme: str = "tasks\n") -> tuple[Path, Path]:
    """A bare repository `<name>.git` and a clone of it with one commit pushed to main."""
    bare = root / f"{name}.git"
    clone = root / f"{name}-clone"
    git(root, "init", "-q", "--bare", "-b", "main", str(bare), env=env)
    git(root, "clone", "-q", str(bare), str(clone), env=env)
    git(clone, "checkout", "-q", "-b", "main", env=env)
    (clone / "README.md").write_text(readme)
    git(clone, "add", "-A", env=env)
    git(clone, "commit", "-q", "-m", "start", env=env)
    git(clone, "push", "-q", "origin", "main", env=env)
    return bare, clone
