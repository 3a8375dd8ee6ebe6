"""What in `state_dir` taskbot may use: only what the service user itself owns.

Only the spool (`queue/`) is the pushers' to write; everything else — clones, worktrees,
waiting list, journal, outbox, reports, the record of taskbot's own commits — is written
by the service user alone. A file or directory there that someone else owns was put in
place by someone else: taskbot refuses to use it rather than trust its content.
"""

from __future__ import annotations

import os
from pathlib import Path

from bot.errors import TaskbotError

__all__ = ["PRIVATE_MODE", "SPOOL_MODE", "NotOwned", "open_owned", "owned", "owner",
           "private_mode", "problems", "read_owned"]

PRIVATE_MODE = 0o755  # the state dir and everything but the spool: the service user's alone
SPOOL_MODE = 0o3770  # queue/, queue/tmp/, queue/failed/: setgid + sticky, the pushers' group


class NotOwned(TaskbotError, PermissionError):
    """A state file, clone or worktree is not the service user's. A PermissionError too:
    code that copes with an unreadable state file (starts afresh, reports it) copes alike."""


def owner(state_dir: Path | str) -> int:
    """The state dir's owner: whose files readers such as `taskbot status` (run by an
    operator, not as taskbot's user) accept."""
    try:
        return os.stat(state_dir).st_uid
    except OSError:
        return os.geteuid()


def owned(path: Path | str, uid: int | None = None) -> Path:
    """`path` when it is missing or owned by `uid` (default: this process's user; the link
    itself, for a symlink); NotOwned, one line naming it, when another user owns it."""
    target = Path(path)
    try:
        found = os.lstat(target).st_uid
    except FileNotFoundError:
        return target
    if found != (os.geteuid() if uid is None else uid):
        raise _refused(target, found)
    return target


def _refused(path: Path | str, uid: int) -> NotOwned:
    return NotOwned(f"{path} is owned by uid {uid}, not by taskbot's user: "
                    "refusing to use it; remove it (taskbot recreates it) or chown it to "
                    "taskbot's user")


def open_owned(path: Path | str, uid: int | None = None) -> int:
    """A state file opened read-only when taskbot's user owns it (checked on the open file,
    links not followed); NotOwned when not, OSError (FileNotFoundError …) as `open` raises
    it. The caller closes the descriptor."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        found = os.fstat(fd).st_uid
        if found != (os.geteuid() if uid is None else uid):
            raise _refused(path, found)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_owned(path: Path | str, uid: int | None = None) -> bytes:
    """A state file's bytes when taskbot's user owns it (checked on the open file, links
    not followed); NotOwned when not, OSError (FileNotFoundError …) as `open` raises it."""
    fd = open_owned(path, uid)
    try:
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def private_mode(mode: int) -> bool:
    """Whether a state dir entry's permission bits keep others from writing it."""
    return not mode & 0o022


SPOOL = "queue"
SPOOL_SUBDIRS = ("tmp", "failed")


def _problem(path: Path, spool: bool) -> str:
    """'' when `path` is as it should be, else what is wrong and the command that fixes it."""
    info = os.lstat(path)
    if info.st_uid != os.geteuid():
        return (f"{path} is owned by uid {info.st_uid}, not taskbot's user (uid "
                f"{os.geteuid()}): chown it to taskbot's user (or run doctor as that user)")
    mode = info.st_mode & 0o7777
    if spool and mode & 0o022 and not mode & 0o1000:
        return f"{path} is writable by others without the sticky bit: chmod 3770 {path}"
    if not spool and not private_mode(mode):
        return f"{path} is writable by others (mode {mode:04o}): chmod go-w {path}"
    return ""


def problems(state_dir: Path | str) -> list[str]:
    """Every entry of the state dir whose owner or mode lets others than taskbot's user
    change what taskbot uses; one line each, with the fix. Only the spool may be shared."""
    root = Path(state_dir)
    found = [_problem(root, spool=False)]
    for path in sorted(root.iterdir()):
        spool = path.name == SPOOL
        found.append(_problem(path, spool))
        if spool:
            found.extend(_problem(path / d, True) for d in SPOOL_SUBDIRS if (path / d).exists())
    return [p for p in found if p]
