"""What in `state_dir` taskbot may use: only what the service user itself owns.

Only the spool (`queue/`) is the pushers' to write; everything else — clones, worktrees,
waiting list, journal, outbox, reports, the record of taskbot's own commits — is written
by the service user alone. A file or directory there that someone else owns was put in
place by someone else: taskbot refuses to use it rather than trust its content.

This module is also the one registry of what the state dir holds: every file and folder
taskbot keeps there is named below, and no other module spells one (a test checks it).
The modules that read and write each entry own its content, not its name.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from bot.errors import TaskbotError

__all__ = ["APPROVALS", "CLONES", "DAEMON_LOCK", "DASHBOARD_ROWS", "DASHBOARD_ROWS_LOG", "JOURNAL",
           "JOURNAL_BAD", "OUTBOX", "OUTBOX_LOCK", "OWN_COMMITS", "PID", "PRIVATE_MODE",
           "REPORTS", "SPOOL", "SPOOL_FAILED", "SPOOL_MODE", "SPOOL_SUBDIRS", "SPOOL_TMP", "SSH",
           "STALLED", "STATUS", "TIP", "UNLANDED", "VERIFIED_SIGNATURES", "WAITING", "WATCH",
           "WEBHOOK_DELIVERIES", "WORKTREES", "NotOwned", "digest", "journal_aside", "open_owned",
           "own", "owned", "owner", "private_mode", "problems", "read_owned", "slug"]

# --- what the state dir holds (names relative to it) ----------------------------------
JOURNAL = "journal.json"  # the item being processed, step by step (bot/run/journal.py)
JOURNAL_BAD = "journal.bad"  # an unreadable journal, set aside to be looked at
UNLANDED = "unlanded.json"  # work committed but not yet on the branch (bot/run/journal.py)
WAITING = "waiting.json"  # tasks waiting on others (bot/state/waiting.py)
APPROVALS = "approvals.json"  # approvals seen in pushes, trusted or not (bot/state/approvals.py)
STATUS = "status.json"  # the daemon's status document (bot/daemon/statusfile.py)
PID = "daemon.pid"  # the running daemon's pid
DAEMON_LOCK = "daemon.lock"  # held by the one daemon of this state dir (bot/daemon/spool.py)
WATCH = "watch.json"  # watch mode: the branch tip last seen (bot/daemon/watchstate.py)
TIP = "tip.json"  # the tip taskbot last moved the branch to (bot/daemon/tip.py)
STALLED = "stalled.json"  # the item set aside for stalling (bot/daemon/quarantine.py)
OWN_COMMITS = "own-commits"  # the commits taskbot wrote (bot/git/owncommits.py)
VERIFIED_SIGNATURES = "verified-signatures"  # signed commits already checked
WEBHOOK_DELIVERIES = "webhook-deliveries"  # delivery ids seen, refused if replayed
DASHBOARD_ROWS = "dashboard-rows.bin"  # the dashboard's rows snapshot (bot/dashboard/cache.py)
DASHBOARD_ROWS_LOG = "dashboard-rows.log"  # rows changed since the snapshot
REPORTS = "reports"  # reports/<task>/<run>.md|.json (bot/notify/reportstore.py)
OUTBOX = "outbox"  # notifications not yet delivered (bot/notify/outbox.py)
OUTBOX_LOCK = ".lock"  # in OUTBOX: one sender at a time
CLONES = "clones"  # taskbot's private clones (bot/git/write.py, bot/forge/remote.py)
WORKTREES = "worktrees"  # one folder per repository, a slot per run (bot/git/worktree.py)
SSH = "ssh"  # ssh's shared connections (bot/forge/remote.py)
SPOOL = "queue"  # pushes waiting for the daemon: the pushers' to write (bot/daemon/spool.py)
SPOOL_TMP = "tmp"  # in SPOOL: entries being written
SPOOL_FAILED = "failed"  # in SPOOL: entries that could not be processed, with a .reason
SPOOL_SUBDIRS = (SPOOL_TMP, SPOOL_FAILED)


def journal_aside(why: str, stamp: int) -> str:
    """The name a journal is set aside under (`journal.<why>-<stamp>.json`), kept for the
    operator; `stamp` makes it unique (a time)."""
    return f"journal.{why}-{stamp}.json"


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


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "x"


def digest(repo: Path) -> str:
    return hashlib.sha256(str(repo.resolve()).encode()).hexdigest()[:8]


def own(*paths: Path) -> None:
    """A clone or worktree someone else put under state_dir is never used (its config
    and hooks would run as taskbot)."""
    for path in paths:
        owned(path)


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
