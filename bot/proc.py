"""The one way taskbot runs a command.

argv only (never a shell), the repository-locating `GIT_*` variables stripped from the
environment, its own process group that is killed on timeout and cleaned up after exit,
output captured without deadlock (stdout up to 64 KiB, tails of the rest), and secrets
redacted from everything recorded (`bot.redact`); what a record keeps of the output is
cut by `bot.text.tails`.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import math
import os
import select
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from bot import heartbeat
from bot.redact import Redactor
from bot.text.durations import format_duration
from bot.text.tails import Tail, keep_end, last_line, tail

__all__ = ["CommandRecord", "Redactor", "run_command"]

STREAM_CAP = 1 << 20  # bytes of each stream (and of the combined output) kept in memory
STDOUT_CAP = 64 << 10  # bytes of stdout kept in a record, for handlers to parse
TERM_GRACE = 2.0  # seconds between SIGTERM and SIGKILL on timeout
_POLL_SLICE_MS = 60_000
DRAIN_GRACE = 1.0  # seconds to wait for the pipes to close once the group is dead
_CHUNK = 65536
# Variables that point git at another repository, index or work tree: a child that runs
# git must find the repository of its cwd. Transport settings an operator sets for pushes
# (ssh, askpass, TLS, proxy, GIT_CONFIG_*) are kept, as pre-commit's no_git_env does.
_GIT_KEPT = frozenset({
    "GIT_EXEC_PATH", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSL_CAINFO", "GIT_SSL_NO_VERIFY",
    "GIT_CONFIG_COUNT", "GIT_HTTP_PROXY_AUTHMETHOD", "GIT_ALLOW_PROTOCOL", "GIT_ASKPASS",
})
_GIT_KEPT_PREFIXES = ("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_")


@dataclass(frozen=True)
class CommandRecord:
    """What happened when a command ran; every text field is already redacted.

    `output_tail` is what a person reads (the last lines of stdout and stderr as they
    interleaved); `stdout` is what a handler parses (whole lines, the last STDOUT_CAP
    bytes when there was more), `stderr_tail` the last lines of stderr alone.
    """

    argv: tuple[str, ...]
    cwd: str
    exit_status: int | None  # None when it timed out or could not start
    duration: float
    output_tail: str
    error_line: str
    timed_out: bool = False
    error: str = ""
    stdout: str = ""
    stderr_tail: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    def describe(self) -> str:
        cmd = shlex.join(self.argv)
        if self.timed_out:
            return f"{cmd} {self.error}" if self.error else f"{cmd} timed out"
        if self.exit_status is None:
            return f"{cmd} could not start: {self.error}"
        if self.exit_status < 0:
            what = f"was killed by {_signal_name(-self.exit_status)}"
        else:
            what = f"exited {self.exit_status}"
        return f"{cmd} {what}: {self.error_line}" if self.error_line else f"{cmd} {what}"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class _Capture:
    """Drains the pipes in threads, keeping each stream's tail and a combined tail.

    Complete lines go to the combined tail as they arrive, so stdout and stderr
    interleave line by line rather than mid-line.
    """

    def __init__(self, on_line: Callable[[bytes], None] | None = None) -> None:
        self._lock = threading.Lock()
        self._on_line = on_line
        self._streams: dict[str, Tail] = {}
        self._combined = Tail(STREAM_CAP)
        self._threads: list[threading.Thread] = []

    def start(self, name: str, pipe: IO[bytes]) -> None:
        self._streams[name] = Tail(STREAM_CAP)
        thread = threading.Thread(target=self._drain, args=(name, pipe), daemon=True)
        thread.start()
        self._threads.append(thread)

    def _drain(self, name: str, pipe: IO[bytes]) -> None:
        pending = b""
        try:
            fd = pipe.fileno()
            while chunk := os.read(fd, _CHUNK):
                pending += chunk
                cut = pending.rfind(b"\n") + 1
                if cut == 0 and len(pending) > _CHUNK:
                    cut = len(pending)
                with self._lock:
                    self._streams[name].append(chunk)
                    if cut:
                        self._combined.append(pending[:cut])
                if cut and self._on_line is not None:
                    self._on_line(pending[:cut])
                pending = pending[cut:]
        except OSError:
            pass
        finally:
            if pending:
                with self._lock:
                    self._combined.append(pending + b"\n")
            pipe.close()

    def join(self, deadline: float) -> None:
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def snapshot(self) -> tuple[str, str, str]:
        """(combined, stdout, stderr) decoded as UTF-8 with replacement characters."""
        empty = Tail(STREAM_CAP)
        with self._lock:
            return (
                self._combined.text(),
                self._streams.get("stdout", empty).text(),
                self._streams.get("stderr", empty).text(),
            )


def _kept(name: str) -> bool:
    return not name.startswith("GIT_") or name in _GIT_KEPT or name.startswith(_GIT_KEPT_PREFIXES)


def _child_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if _kept(k)}
    if extra:
        env.update(extra)
    return env


def _exited(pid: int) -> bool:
    """Has the child exited? Leaves it unreaped, so its process group id stays reserved."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def _wait_exit(pid: int, deadline: float) -> bool:
    """Has the child exited by `deadline`? Leaves it unreaped (see `_exited`).

    A pidfd becomes readable the moment the process exits: a 5 ms git command is awaited
    for 5 ms, where polling with a growing sleep overshoots by up to half its run, on
    every step of a push."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    except (OSError, AttributeError):  # a kernel older than 5.3, or not Linux
        return _poll_exit(pid, deadline)
    try:
        waiter = select.poll()
        waiter.register(pidfd, select.POLLIN)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _exited(pid)
            # poll() takes an int of milliseconds: a `build_timeout` of weeks waits in slices
            if waiter.poll(min(_POLL_SLICE_MS, max(1, math.ceil(remaining * 1000)))):
                return True
    finally:
        os.close(pidfd)


def _poll_exit(pid: int, deadline: float) -> bool:
    delay = 0.0005
    while not _exited(pid):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.05)
    return True


def _kill_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _feed(pipe: IO[bytes], data: bytes) -> None:
    with contextlib.suppress(OSError):
        pipe.write(data)
    with contextlib.suppress(OSError):
        pipe.close()


def _start_error(exc: OSError, argv0: str, cwd: str) -> str:
    if exc.filename is not None and os.fsdecode(exc.filename) == cwd:
        return f"working directory {cwd}: {exc.strerror or exc}"
    if isinstance(exc, FileNotFoundError):
        return f"command not found: {argv0}"
    if isinstance(exc, PermissionError):
        return f"permission denied: {argv0}"
    return f"{argv0}: {exc.strerror or exc}"


_NO_SECRETS = Redactor()


def _load_prctl() -> Callable[..., int] | None:
    # glibc's soname first: find_library runs `ldconfig -p`, tens of ms on every start
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        except OSError:
            return None
    return getattr(libc, "prctl", None)


_PRCTL = _load_prctl()  # resolved once: the child between fork and exec must not load libraries
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> Callable[[], None] | None:
    """In the child, before exec: SIGKILL when the thread that started it dies (the daemon
    killed with -9 takes its commands along); exit at once if that already happened."""
    if _PRCTL is None:
        return None
    prctl = _PRCTL

    def set_deathsig() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:
            os._exit(137)

    return set_deathsig


def _line_reporter(on_output: Callable[[str], None], redactor: Redactor
                   ) -> Callable[[bytes], None]:
    def report(chunk: bytes) -> None:
        line = last_line(chunk.decode("utf-8", errors="replace"))
        if line:
            with contextlib.suppress(Exception):  # a display must never break the capture
                on_output(redactor(line))

    return report


def run_command(
    argv: Sequence[str],
    cwd: str,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float,
    redactor: Redactor = _NO_SECRETS,
    input: bytes | None = None,
    on_spawn: Callable[[int], None] | None = None,
    on_output: Callable[[str], None] | None = None,
    kill_leftovers: bool = True,
) -> CommandRecord:
    """Run `argv` in `cwd` and record what happened; never raises for a failing command.

    Raises ValueError for an empty argv. A command that cannot start, fails or times
    out is described by the returned record (`ok`, `timed_out`, `error`, `describe()`).
    `on_spawn` gets the command's process group as soon as it exists (the journal keeps
    it, so a restarted daemon can kill what a killed one left running). `on_output` gets
    the last non-empty line of each chunk of output as it arrives, redacted, from a reader
    thread (a terminal shows what a long build does now). `kill_leftovers=False` lets what
    the command left running in its process group live on after it exited by itself (a
    hook's background child on the far side of a local `git push`); a timeout or an
    interruption still kills the whole group.
    """
    args = tuple(str(a) for a in argv)
    if not args:
        raise ValueError("run_command: empty argv")
    shown = tuple(redactor(a) for a in args)
    shown_cwd = redactor(cwd)
    started = time.monotonic()
    heartbeat.beat(timeout + TERM_GRACE + DRAIN_GRACE)  # bounded by its own timeout
    try:
        proc = subprocess.Popen(
            args,
            cwd=cwd,
            env=_child_env(env),
            stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            shell=False,
            start_new_session=True,
            preexec_fn=_die_with_parent(os.getpid()),  # noqa: PLW1509 - prctl only, no locks
        )
    except OSError as exc:
        error = redactor(_start_error(exc, args[0], cwd))
        return CommandRecord(
            shown, shown_cwd, None, time.monotonic() - started, "", error, error=error
        )

    capture = _Capture(_line_reporter(on_output, redactor) if on_output else None)
    assert proc.stdout is not None and proc.stderr is not None
    capture.start("stdout", proc.stdout)
    capture.start("stderr", proc.stderr)
    if input is not None:
        assert proc.stdin is not None
        threading.Thread(target=_feed, args=(proc.stdin, input), daemon=True).start()

    pgid = proc.pid  # start_new_session: the child leads its own group
    ended_alone = False
    try:
        if on_spawn is not None:
            on_spawn(pgid)
        timed_out = not _wait_exit(proc.pid, started + timeout)
        if timed_out:
            _kill_group(pgid, signal.SIGTERM)
            _wait_exit(proc.pid, time.monotonic() + TERM_GRACE)
        ended_alone = not timed_out
    finally:
        # The leader has exited but is not reaped yet, so `pgid` cannot have been reused:
        # kill what is left of the group (background children; everything on timeout or
        # when we are interrupted), then reap the leader.
        if kill_leftovers or not ended_alone:
            _kill_group(pgid, signal.SIGKILL)
        returncode = proc.wait()
    duration = time.monotonic() - started
    heartbeat.beat()
    # Pipes close once every holder is dead; bound the wait in case a process that
    # left the group (setsid, daemonised) still holds one.
    capture.join(time.monotonic() + DRAIN_GRACE)
    combined, stdout, stderr = (redactor(text) for text in capture.snapshot())

    error = f"timed out after {format_duration(timeout)}" if timed_out else ""
    return CommandRecord(
        argv=shown,
        cwd=shown_cwd,
        exit_status=None if timed_out else returncode,
        duration=duration,
        output_tail=tail(combined),
        error_line=last_line(stderr, stdout),
        timed_out=timed_out,
        error=error,
        stdout=keep_end(stdout, STDOUT_CAP),
        stderr_tail=tail(stderr),
    )
