"""systemd's notify protocol: datagrams to `$NOTIFY_SOCKET` (abstract `@name` sockets too).

Without `$NOTIFY_SOCKET` every call does nothing, so the daemon runs the same in a
terminal. A failed send is ignored: notifications must never stop the daemon.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Mapping

__all__ = ["Notifier", "Watchdog", "watchdog_interval"]


class Notifier:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self.address: str | bytes | None = None
        if address.startswith("@"):
            self.address = b"\0" + address[1:].encode()
        elif address.startswith("/"):
            self.address = address
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        if self.address is not None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def notify(self, *fields: str) -> bool:
        """Send `KEY=value` fields in one datagram; False when not sent."""
        if self._sock is None or self.address is None:
            return False
        data = "\n".join(f.replace("\n", " ") for f in fields).encode()
        with self._lock, contextlib.suppress(OSError):
            # Never wait: a listener that stopped reading must not stall the daemon (a full
            # socket drops a STATUS= line; the next one says what is current).
            self._sock.sendto(data, socket.MSG_DONTWAIT, self.address)
            return True
        return False

    def ready(self, status: str = "") -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def stopping(self, status: str = "") -> bool:
        return self.notify("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Half of `$WATCHDOG_USEC` in seconds, when the watchdog is meant for this process."""
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if usec <= 0 or (pid and pid != str(os.getpid())):
        return None
    return usec / 2 / 1_000_000


class Watchdog:
    """A thread sending `WATCHDOG=1` every interval (half of `WatchdogSec=`) while `healthy()`.

    The thread alone proves only that the process exists; `healthy` lets the main loop say
    it is still turning, so a loop that hangs stops the pings and systemd restarts it.
    """

    def __init__(self, notifier: Notifier, interval: float,
                 healthy: Callable[[], bool] = lambda: True) -> None:
        self._notifier = notifier
        self._interval = interval
        self._healthy = healthy
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="taskbot-watchdog", daemon=True)

    def start(self) -> None:
        self._notifier.notify("WATCHDOG=1")
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if self._healthy():
                self._notifier.notify("WATCHDOG=1")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
