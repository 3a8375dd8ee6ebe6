"""The durable spool in `<state_dir>/queue/` that the hook writes and the daemon drains.

One file per arrival, created in `queue/tmp/` and renamed (the sh hook: hard-linked)
into `queue/`, so the daemon never sees half a file. Names are `<time_ns>-<pid>.push`
and sort in arrival order.
A file holds lines: `OLD NEW REF` for a push (what git hands a post-receive hook), or
`rerun TASK-ID` for a task queued again. The installed `sh` hook writes the same format
(`bot/hooks/post-receive`).

An entry is removed (`done`) only after it was processed, so a daemon that dies
half-way processes it again when it starts. An entry that made the daemon fail is
moved to `queue/failed/` and kept for a person to look at. `lock()` takes an
exclusive `flock` so that only one daemon drains a state dir.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.atomic import write_atomic
from bot.errors import TaskbotError
from bot.state.statedir import DAEMON_LOCK, SPOOL, SPOOL_FAILED, SPOOL_MODE, SPOOL_TMP

__all__ = [
    "Entry",
    "Line",
    "QueueBusy",
    "QueueError",
    "done",
    "enqueue",
    "enqueue_reruns",
    "fail",
    "failed",
    "lock",
    "parse_line",
    "pending",
    "queue_dir",
    "rest",
    "task_id_problem",
]

SUFFIX = ".push"
_NAME_RE = re.compile(r"\d+-\d+(?:-\d+)?\.push")
_SHA_RE = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
MAX_TASK_ID = 128
_REF_RE = re.compile(r"refs/\S+")
STALE_TMP = 3600.0  # seconds after which a file left in queue/tmp/ is an abandoned write


log = logging.getLogger(__name__)


class QueueError(TaskbotError):
    """The spool cannot be written or read (missing or unwritable state dir, bad line)."""


class QueueBusy(TaskbotError):
    """Another daemon holds the state dir's lock."""


@dataclass(frozen=True)
class Line:
    """One parsed spool line: a push (`old`, `new`, `ref`) or a rerun (`task_id`)."""

    kind: str  # "push" | "rerun"
    old: str = ""
    new: str = ""
    ref: str = ""
    task_id: str = ""

    def text(self) -> str:
        if self.kind == "rerun":
            return f"rerun {self.task_id}"
        return f"{self.old} {self.new} {self.ref}"


@dataclass(frozen=True)
class Entry:
    """One spool file and its lines (blank lines dropped, order kept)."""

    path: Path
    lines: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.path.name


def queue_dir(state_dir: Path | str) -> Path:
    return Path(state_dir) / SPOOL


def task_id_problem(task_id: str) -> str:
    """'' when `task_id` can be a file name stem (any Unicode letters: `TÄSK-1`), else why not."""
    if not task_id or len(task_id) > MAX_TASK_ID:
        return f"not a task id (1 to {MAX_TASK_ID} characters): {task_id[:200]!r}"
    if task_id in (".", "..") or "/" in task_id:
        return f"not a task id (a path, not a file name): {task_id!r}"
    # Control, format (bidi overrides), unassigned characters and any whitespace.
    if any(unicodedata.category(c)[0] in "CZ" or c.isspace() for c in task_id):
        return f"not a task id (control or blank characters): {task_id!r}"
    return ""


def parse_line(line: str) -> Line:
    """A spool line, validated; raises QueueError naming what is wrong."""
    fields = line.split()
    if len(fields) == 2 and fields[0] == "rerun":
        problem = task_id_problem(fields[1])
        if problem:
            raise QueueError(problem)
        return Line("rerun", task_id=fields[1])
    if len(fields) == 3:
        old, new, ref = fields
        if _SHA_RE.fullmatch(old) and _SHA_RE.fullmatch(new) and _REF_RE.fullmatch(ref):
            return Line("push", old=old, new=new, ref=ref)
    raise QueueError(f"not a spool line ('OLD NEW REF' or 'rerun TASK-ID'): {line[:200]!r}")


def _spool_dir(path: Path) -> None:
    """A spool dir the pushers' group may write (their hook queues pushes), sticky so that
    nobody replaces or removes another's entries, setgid so entries keep the group."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        try:
            os.chmod(path, SPOOL_MODE)
        except PermissionError:  # setgid refused (systemd's RestrictSUIDSGID): sticky still
            os.chmod(path, SPOOL_MODE & ~0o2000)


def ensure_dirs(state_dir: Path | str) -> Path:
    """Create `queue/`, `queue/tmp/` and `queue/failed/` (mode 3770; the state dir too);
    returns the queue dir. The rest of the state dir is the service user's alone."""
    qdir = queue_dir(state_dir)
    try:
        for d in (qdir, qdir / SPOOL_TMP, qdir / SPOOL_FAILED):
            _spool_dir(d)
    except OSError as exc:
        raise QueueError(f"{qdir}: cannot create the spool: {exc.strerror or exc}") from exc
    return qdir


def _new_name(qdir: Path) -> str:
    """`<time_ns>-<pid>.push`, later than every entry already there (the clock may step back)."""
    stamp = time.time_ns()
    names = [n for n in os.listdir(qdir) if _NAME_RE.fullmatch(n)]
    if names:
        stamp = max(stamp, max(map(_order, names))[0] + 1)
    return f"{stamp:019d}-{os.getpid()}{SUFFIX}"


def enqueue(state_dir: Path | str, lines: Iterable[str]) -> Path:
    """Write one entry atomically (tmp file, fsync, rename); returns its path.

    Lines are validated first: nothing is written when one is malformed.
    """
    texts = [line.strip() for line in lines if line.strip()]
    for text in texts:
        parse_line(text)
    if not texts:
        raise QueueError("nothing to queue: no lines")
    qdir = queue_dir(state_dir)
    if not Path(state_dir).is_dir():
        raise QueueError(f"state dir {state_dir} does not exist (run 'taskbot init')")
    ensure_dirs(state_dir)
    data = ("\n".join(texts) + "\n").encode()
    name = _new_name(qdir)
    tmp = qdir / SPOOL_TMP / name
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, qdir / name)
        _fsync_dir(qdir)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise QueueError(f"{qdir}: cannot queue: {exc.strerror or exc}") from exc
    return qdir / name


def _warn(reason: str) -> None:
    log.warning("spool: %s", reason)


def enqueue_reruns(state_dir: Path | str, task_ids: Iterable[str], *,
                   on_skip: Callable[[str], None] = _warn) -> Path | None:
    """Queue the tasks again; an id that cannot be queued is skipped (`on_skip` hears why),
    never raised: one task must not stop the daemon."""
    ids: list[str] = []
    for task_id in dict.fromkeys(task_ids):
        problem = task_id_problem(task_id)
        if problem:
            on_skip(f"{problem}: not queued again")
        else:
            ids.append(task_id)
    return enqueue(state_dir, [f"rerun {t}" for t in ids]) if ids else None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _order(name: str) -> tuple[int, int, str]:
    """Numeric (time, pid) order, so that names of any width sort by arrival."""
    stamp, _, rest = name.removesuffix(SUFFIX).partition("-")
    pid = rest.split("-")[0]
    return int(stamp), int(pid) if pid.isdigit() else 0, name


def _read(path: Path) -> Entry | None:
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except FileNotFoundError:  # taken by `done` meanwhile
        return None
    return Entry(path, tuple(line.strip() for line in text.splitlines() if line.strip()))


def pending(state_dir: Path | str) -> list[Entry]:
    """Every entry in arrival order (an empty list when there is no spool yet)."""
    qdir = queue_dir(state_dir)
    try:
        names = sorted((n for n in os.listdir(qdir) if _NAME_RE.fullmatch(n)), key=_order)
    except FileNotFoundError:
        return []
    return [e for e in (_read(qdir / n) for n in names) if e is not None]


def failed(state_dir: Path | str) -> list[Path]:
    try:
        return sorted((queue_dir(state_dir) / SPOOL_FAILED).glob(f"*{SUFFIX}"))
    except FileNotFoundError:
        return []


def done(entry: Entry) -> None:
    """Remove a processed entry (durably), and the hook's second name for it in tmp/."""
    with contextlib.suppress(FileNotFoundError):
        entry.path.unlink()
    with contextlib.suppress(FileNotFoundError):
        (entry.path.parent / SPOOL_TMP / entry.name).unlink()
    _fsync_dir(entry.path.parent)


def rest(entry: Entry, remaining: tuple[str, ...]) -> Entry:
    """Replace an entry by its unprocessed lines (same name, so it keeps its place)."""
    if not remaining:
        done(entry)
        return Entry(entry.path, ())
    # The temp file goes to tmp/, where clean_tmp finds it if the daemon dies mid-write.
    write_atomic(entry.path, ("\n".join(remaining) + "\n").encode(), 0o644,
                 tmp_dir=entry.path.parent / SPOOL_TMP)
    return Entry(entry.path, remaining)


def fail(entry: Entry, reason: str) -> Path:
    """Move an entry that could not be processed to `queue/failed/`, with the reason beside it."""
    fdir = entry.path.parent / SPOOL_FAILED
    _spool_dir(fdir)
    target = fdir / entry.name
    write_atomic(fdir / f"{entry.name}.reason", (reason.rstrip("\n") + "\n").encode(), 0o644)
    with contextlib.suppress(FileNotFoundError):
        os.replace(entry.path, target)
    _fsync_dir(entry.path.parent)
    return target


def fail_first(entry: Entry, reason: str) -> tuple[Path, Entry]:
    """Set the entry's first line aside in `queue/failed/`, with the reason beside it; the
    lines after it stay queued in their place."""
    fdir = entry.path.parent / SPOOL_FAILED
    _spool_dir(fdir)
    target = fdir / entry.name
    write_atomic(fdir / f"{entry.name}.reason", (reason.rstrip("\n") + "\n").encode(), 0o644)
    write_atomic(target, (entry.lines[0] + "\n").encode(), 0o644)
    return target, rest(entry, entry.lines[1:])


def clean_tmp(state_dir: Path | str, *, older_than: float = STALE_TMP) -> int:
    """Tidy `queue/tmp/`; returns how many files went.

    Removed: names the sh hook left after hard-linking an entry into `queue/` (a link
    count above 1, or an entry already processed and older than `older_than`), and
    writes abandoned half-way (a hook killed mid-write) older than `older_than`.
    """
    tdir = queue_dir(state_dir) / SPOOL_TMP
    removed = 0
    limit = time.time() - older_than
    try:
        paths = list(tdir.iterdir())
    except FileNotFoundError:
        return 0
    for path in paths:
        with contextlib.suppress(OSError):
            info = path.stat()
            if info.st_nlink > 1 or info.st_mtime < limit:
                path.unlink()
                removed += 1
    return removed


@contextlib.contextmanager
def lock(state_dir: Path | str) -> Iterator[Path]:
    """Hold `<state_dir>/daemon.lock` exclusively (non-blocking); QueueBusy when taken."""
    path = Path(state_dir) / DAEMON_LOCK
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise QueueBusy(f"{state_dir}: another 'taskbot serve' is running for this "
                            "state dir (or taskbot mcp is running a task there)") from exc
        yield path
    finally:
        os.close(fd)  # closing releases the lock
