"""The daemon as a subprocess for tests: sd_notify socket, start, await, stop — always waited."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
TASKBOT = Path(sys.executable).parent / "taskbot"


class NotifySocket:
    """A bound AF_UNIX datagram socket (abstract name) that records what the daemon says."""

    def __init__(self) -> None:
        self.name = f"@taskbot-test-{secrets.token_hex(6)}"
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
        """Wait for a datagram that satisfies `wanted` (earlier ones are kept in `messages`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            data = self.receive(deadline - time.monotonic())
            if data is not None and wanted(data):
                return data
        raise AssertionError(f"no matching sd_notify datagram within {timeout}s; got {self.messages}")

    def until(self, condition: Callable[[], bool], timeout: float = 30) -> None:
        """Re-check `condition` at every datagram the daemon sends (its STATUS changes)."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not met within {timeout}s; got {self.messages[-5:]}")
            self.receive(min(1.0, deadline - time.monotonic()))

    def close(self) -> None:
        self.sock.close()


class DaemonProcess:
    def __init__(self, proc: subprocess.Popen[bytes], notify: NotifySocket, log: Path) -> None:
        self.proc = proc
        self.notify = notify
        self.log = log

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def terminate(self, timeout: float = 20) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"daemon did not stop on SIGTERM:\n{self.stderr()}") from None


def env_for(notify: NotifySocket | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_DIR", "GIT_INDEX"))}
    env.pop("JOURNAL_STREAM", None)
    if notify is not None:
        env["NOTIFY_SOCKET"] = notify.name
    env.update(extra)
    return env


@contextlib.contextmanager
def running_daemon(config: Path, log: Path, *, ready: bool = True, **env: str
                   ) -> Iterator[DaemonProcess]:
    """`taskbot serve`, awaited until READY=1; SIGTERM and wait on the way out, always."""
    notify = NotifySocket()
    with log.open("wb") as err:
        proc = subprocess.Popen([str(TASKBOT), "--config", str(config), "serve"],
                                stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                env=env_for(notify, **env), cwd=config.parent)
    daemon = DaemonProcess(proc, notify, log)
    try:
        if ready:
            try:
                notify.expect(lambda m: "READY=1" in m)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{daemon.stderr()}") from None
        yield daemon
    finally:
        try:
            daemon.terminate()
        finally:
            notify.close()


def status_doc(state_dir: Path) -> dict[str, object]:
    try:
        data = json.loads((state_dir / "status.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def spool(state_dir: Path) -> list[Path]:
    qdir = state_dir / "queue"
    return sorted(qdir.glob("*.push")) if qdir.is_dir() else []


def idle_and_empty(state_dir: Path) -> Callable[[], bool]:
    def check() -> bool:
        daemon = status_doc(state_dir).get("daemon")
        return (not spool(state_dir) and isinstance(daemon, dict)
                and daemon.get("state") == "idle")
    return check


def await_entries(state_dir: Path, count: int, timeout: float = 10) -> list[Path]:
    """Wait until the spool holds `count` entries (the sh hook writes them in the background)."""
    from bot.wake import InotifyWaker

    qdir = state_dir / "queue"
    deadline = time.monotonic() + timeout
    waker = InotifyWaker([qdir])
    try:
        while len(spool(state_dir)) < count and time.monotonic() < deadline:
            waker.wait(deadline - time.monotonic())
    finally:
        waker.close()
    found = spool(state_dir)
    assert len(found) >= count, f"{len(found)} spool entries, expected {count}"
    return found
