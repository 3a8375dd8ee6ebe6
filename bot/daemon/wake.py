"""What the idle daemon blocks on: a change in watched directories, a stop, or a deadline.

Two implementations behind one small interface (`wait`, `wake`, `close`):

- `InotifyWaker` (Linux, the default): the kernel's inotify through libc, polled
  together with a self-pipe. It costs nothing while idle and wakes within a
  millisecond of the rename that queued a push. Watches are in place when the
  constructor returns, so a scan made after it can miss nothing.
- `WatchfilesWaker`: watchfiles (`debounce=50, step=10`) in a thread, for systems
  without inotify. watchfiles checks its change set every `step` ms; on a small VM
  that alone costs ~0.8 % CPU while idle, which is why it is only the fallback.

`wake()` writes one byte to a pipe, so it is safe from a signal handler.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import select
import struct
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import watchfiles

__all__ = ["InotifyWaker", "NoInotify", "Waker", "WatchLost", "WatchfilesWaker", "make_waker"]

IN_MODIFY = 0x2
IN_CLOSE_WRITE = 0x8
IN_MOVED_TO = 0x80
IN_CREATE = 0x100
IN_DELETE = 0x200
IN_DELETE_SELF = 0x400
IN_MOVE_SELF = 0x800
IN_Q_OVERFLOW = 0x4000
IN_IGNORED = 0x8000
IN_ONLYDIR = 0x1000000
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
MASK = (IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF
        | IN_ONLYDIR)
_EVENT = struct.Struct("iIII")
DEBOUNCE_MS = 50
STEP_MS = 10
ARM_TIMEOUT = 5.0


class WatchLost(RuntimeError):
    """A watched directory went away (state dir removed, clone moved)."""


class NoInotify(OSError):
    """This system offers no inotify (not Linux, or no instance left)."""


class Waker(Protocol):
    def wait(self, timeout: float | None) -> None:
        """Block until a change, a `wake()`, or `timeout` seconds (None: no limit)."""

    def wake(self) -> None:
        """Make the current or next `wait` return (async-signal-safe)."""

    def close(self) -> None: ...


class _Pipe:
    def __init__(self) -> None:
        self.r, self.w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self.w, b"!")

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.r, 4096):
                pass

    def close(self) -> None:
        for fd in (self.r, self.w):
            with contextlib.suppress(OSError):
                os.close(fd)


def _poll(fds: Sequence[int], timeout: float | None) -> list[int]:
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    ms = None if timeout is None else max(0, int(timeout * 1000 + 0.999))
    return [fd for fd, _ in poller.poll(ms)]


class InotifyWaker:
    def __init__(self, dirs: Sequence[Path]) -> None:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
            self._add = libc.inotify_add_watch
            init = libc.inotify_init1
        except (OSError, AttributeError) as exc:
            raise NoInotify(str(exc)) from exc
        self._add.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
        self._add.restype = ctypes.c_int
        init.argtypes = (ctypes.c_int,)
        init.restype = ctypes.c_int
        fd = init(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise NoInotify(err, f"inotify_init1: {os.strerror(err)}")
        self._fd = fd
        self._pipe = _Pipe()
        self._watches: dict[int, Path] = {}
        try:
            for d in dirs:
                wd = self._add(fd, os.fsencode(d), MASK)
                if wd < 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"inotify_add_watch {d}: {os.strerror(err)}")
                self._watches[wd] = d
        except BaseException:
            self.close()
            raise

    def wait(self, timeout: float | None) -> None:
        ready = _poll([self._fd, self._pipe.r], timeout)
        if self._pipe.r in ready:
            self._pipe.drain()
        if self._fd in ready:
            self._read_events()

    def _read_events(self) -> None:
        lost: list[Path] = []
        while True:
            try:
                data = os.read(self._fd, 65536)
            except BlockingIOError:
                break
            offset = 0
            while offset + _EVENT.size <= len(data):
                wd, mask, _cookie, length = _EVENT.unpack_from(data, offset)
                offset += _EVENT.size + length
                if mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF) and wd in self._watches:
                    lost.append(self._watches[wd])
        if lost:
            raise WatchLost(f"{lost[0]} was removed or moved; no longer watched")

    def wake(self) -> None:
        self._pipe.wake()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)
        self._pipe.close()


class WatchfilesWaker:
    """watchfiles in a thread; each batch of changes writes a byte to the pipe."""

    def __init__(self, dirs: Sequence[Path]) -> None:
        self._pipe = _Pipe()
        self._stop = threading.Event()
        self._armed = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(list(dirs),),
                                        name="taskbot-watch", daemon=True)
        self._thread.start()
        # watchfiles starts watching inside its thread: touch a probe file until it reports
        # a change, so that nothing written after the caller's next scan can be missed.
        probe = dirs[0] / ".taskbot-probe"
        deadline = time.monotonic() + ARM_TIMEOUT
        while not self._armed.wait(0.02) and self._error is None and time.monotonic() < deadline:
            probe.write_bytes(b"")
        with contextlib.suppress(FileNotFoundError):
            probe.unlink()
        if not self._armed.is_set():
            self.close()
            raise WatchLost(f"the file watcher did not start on {', '.join(map(str, dirs))}: "
                            f"{self._error or 'no event within 5 s'}")

    def _run(self, dirs: list[Path]) -> None:
        try:
            for _changes in watchfiles.watch(*dirs, debounce=DEBOUNCE_MS, step=STEP_MS,
                                             stop_event=self._stop, watch_filter=None,
                                             rust_timeout=0):
                self._armed.set()
                self._pipe.wake()
        except BaseException as exc:
            self._error = exc
            self._pipe.wake()

    def wait(self, timeout: float | None) -> None:
        if self._error is not None:
            raise WatchLost(f"file watcher failed: {self._error}")
        if _poll([self._pipe.r], timeout):
            self._pipe.drain()

    def wake(self) -> None:
        self._pipe.wake()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._pipe.close()


def make_waker(dirs: Sequence[Path]) -> Waker:
    """inotify where the kernel has it, watchfiles otherwise."""
    try:
        return InotifyWaker(dirs)
    except NoInotify:
        return WatchfilesWaker(dirs)
