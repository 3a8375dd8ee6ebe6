"""sd_notify datagrams, received on a socket the test binds (path and abstract names)."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from bot.daemon.sdnotify import Notifier, Watchdog, watchdog_interval
from tests.kit.daemon import NotifySocket, running_daemon
from tests.kit.git import sandbox


def _recv(sock: socket.socket) -> str:
    sock.settimeout(5)
    return sock.recv(4096).decode()


def test_notifier_sends_to_a_path_socket(tmp_path: Path) -> None:
    path = tmp_path / "n.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        notifier = Notifier({"NOTIFY_SOCKET": str(path)})
        assert notifier.enabled
        assert notifier.ready("ready: 0 queued")
        assert _recv(sock) == "READY=1\nSTATUS=ready: 0 queued"
        assert notifier.status("processing\npush")  # one line per field, always
        assert _recv(sock) == "STATUS=processing push"
        assert notifier.stopping()
        assert _recv(sock) == "STOPPING=1"
        notifier.close()


def test_notifier_sends_to_an_abstract_socket() -> None:
    listener = NotifySocket()
    try:
        notifier = Notifier({"NOTIFY_SOCKET": listener.name})
        assert notifier.status("idle")
        assert listener.expect(lambda m: True, timeout=5) == "STATUS=idle"
        notifier.close()
    finally:
        listener.close()


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.ready() is False and notifier.status("x") is False


def test_a_vanished_socket_does_not_raise(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone.sock")})
    assert notifier.status("x") is False
    notifier.close()


def test_watchdog_interval_is_half_of_watchdog_usec() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None


def test_watchdog_thread_pings_until_stopped() -> None:
    listener = NotifySocket()
    try:
        notifier = Notifier({"NOTIFY_SOCKET": listener.name})
        dog = Watchdog(notifier, 0.02)
        dog.start()
        for _ in range(3):
            assert listener.expect(lambda m: True, timeout=5) == "WATCHDOG=1"
        dog.stop()
        notifier.close()
    finally:
        listener.close()


def test_watchdog_is_silent_while_the_loop_is_not_healthy() -> None:
    listener = NotifySocket()
    healthy = threading.Event()
    asked = threading.Event()

    def check() -> bool:
        asked.set()
        return healthy.is_set()

    try:
        notifier = Notifier({"NOTIFY_SOCKET": listener.name})
        dog = Watchdog(notifier, 0.02, check)
        dog.start()
        assert listener.expect(lambda m: True, timeout=5) == "WATCHDOG=1"  # the first, at start
        assert asked.wait(5)
        with pytest.raises(TimeoutError, match="no matching"):
            listener.expect(lambda m: True, timeout=0.2)  # an unhealthy loop gets no pings
        healthy.set()
        assert listener.expect(lambda m: True, timeout=5) == "WATCHDOG=1"
        dog.stop()
        notifier.close()
    finally:
        listener.close()


@pytest.mark.integration
def test_daemon_says_ready_status_watchdog_and_stopping(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    (box.root / "state").mkdir()
    with running_daemon(box.config, tmp_path / "serve.log", WATCHDOG_USEC="200000") as daemon:
        ready = next(m for m in daemon.notify.messages if "READY=1" in m)
        assert "STATUS=ready: 0 queued" in ready
        daemon.notify.expect(lambda m: m == "STATUS=idle: waiting for pushes")
        daemon.notify.expect(lambda m: m == "WATCHDOG=1")
        daemon.notify.expect(lambda m: m == "WATCHDOG=1")
        assert daemon.terminate() == 0
        daemon.notify.expect(lambda m: "STOPPING=1" in m)
    log = daemon.stderr()
    assert "warning: no taskbot post-receive hook" in log  # init was not run here
    assert "stopping (SIGTERM)" in log and log.rstrip().endswith("taskbot: stopped")
