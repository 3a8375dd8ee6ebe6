"""The dashboard's row cache on disk: saved in time that follows what changed, not its size.

Two files of taskbot's own in the state dir. `dashboard-rows.bin` is a snapshot (marshal:
a name for it, the key its rows depend on, the tasks_dir tree listed, path → blob, path →
row tuple). `dashboard-rows.log` holds, after it, what each later commit changed: records
of a 4-byte length and a marshal tuple (the snapshot's name, the tree, changed blobs,
changed rows; None for a path gone). Loading replays the log onto the snapshot; a record
naming another snapshot, or cut short, ends the replay. A save appends one record; once
the log holds a quarter as many rows as the snapshot (or the state in memory is not what
the files hold) the snapshot is written again and the log removed.

The last state loaded or saved is kept in a `Memo` (the caller's: the daemon's lives in its
`Memory`, through `bot.dashboard.state`) while both files keep the inode, size and time
they had: a commit in the daemon reads neither file. Both are
read with `read_owned`; a cache that is missing, not taskbot's, cut short or made for
another key loads as empty, and the caller reads everything again.
"""

from __future__ import annotations

import marshal
import os
import secrets
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from bot.atomic import write_atomic
from bot.state.statedir import DASHBOARD_ROWS, DASHBOARD_ROWS_LOG, read_owned

__all__ = ["Memo", "Rows", "load", "save"]

_LENGTH = struct.Struct(">I")
_MIN_LOG = 64  # rows a log may hold whatever the snapshot's size

T = TypeVar("T", bound=tuple[Any, ...])


@dataclass(frozen=True)
class Rows(Generic[T]):
    tree: str = ""  # the tasks_dir tree `files` lists
    files: Mapping[str, str] | None = None  # path → blob id as committed; None: not listed yet
    entries: Mapping[str, T] | None = None  # path → row


@dataclass(frozen=True)
class _Held:
    stamps: tuple[tuple[int, ...] | None, ...]  # both files as last read or written
    key: str
    name: str  # the snapshot's
    logged: int  # rows in the log
    rows: Rows[Any]


class Memo:
    """The cache as last loaded or saved, by state dir: a few (tests use many in one
    process; the daemon one). A new one reads the files again."""

    _KEPT = 4

    def __init__(self) -> None:
        self._held: dict[str, _Held] = {}

    def get(self, state_dir: Path) -> _Held | None:
        return self._held.get(str(state_dir))

    def keep(self, state_dir: Path, held: _Held) -> None:
        self.drop(state_dir)
        while len(self._held) >= self._KEPT:
            del self._held[next(iter(self._held))]
        self._held[str(state_dir)] = held

    def drop(self, state_dir: Path) -> None:
        self._held.pop(str(state_dir), None)


def _paths(state_dir: Path) -> tuple[Path, Path]:
    return state_dir / DASHBOARD_ROWS, state_dir / DASHBOARD_ROWS_LOG


def _stamp(path: Path) -> tuple[int, ...] | None:
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return st.st_ino, st.st_dev, st.st_size, st.st_mtime_ns, st.st_uid


def _stamps(state_dir: Path) -> tuple[tuple[int, ...] | None, ...]:
    return tuple(_stamp(p) for p in _paths(state_dir))


def _held(memo: Memo, state_dir: Path, key: str) -> _Held | None:
    held = memo.get(state_dir)
    if held is None or held.key != key or held.stamps != _stamps(state_dir):
        return None
    return held


def load(memo: Memo, state_dir: Path, key: str, make: Callable[[tuple[Any, ...]], T]
         ) -> Rows[T]:
    """The cache made for `key`, or an empty one; `make` builds a row from its tuple."""
    held = _held(memo, state_dir, key)
    if held is not None:
        return held.rows
    snapshot, log = _paths(state_dir)
    stamps = _stamps(state_dir)
    try:
        doc = marshal.loads(read_owned(snapshot))  # noqa: S302 -- taskbot's own (read_owned)
        name, tree, files, entries = _snapshot(doc, key)
        tree, logged = _replay(log, name, tree, files, entries)
        rows: Rows[T] = Rows(tree, files, {p: make(e) for p, e in entries.items()})
    except (OSError, ValueError, EOFError, TypeError):  # `make` refuses a row: TypeError
        return Rows()
    memo.keep(state_dir, _Held(stamps, key, name, logged, rows))
    return rows


def _snapshot(doc: object, key: str
              ) -> tuple[str, str, dict[str, str], dict[str, tuple[Any, ...]]]:
    # taskbot's own file (read_owned): its shape is checked, not every value
    if not isinstance(doc, tuple) or len(doc) != 5 or doc[1] != key:
        raise ValueError("a cache for another key")
    name, _, tree, files, entries = doc
    if not isinstance(files, dict) or not isinstance(entries, dict):
        raise ValueError("not a cache")
    return str(name), str(tree), files, {p: e for p, e in entries.items()
                                         if isinstance(e, tuple)}


def _records(data: bytes) -> list[object]:
    """The log's records, up to the first cut short (a write a crash interrupted)."""
    out: list[object] = []
    at = 0
    while at + _LENGTH.size <= len(data):
        (size,) = _LENGTH.unpack_from(data, at)
        at += _LENGTH.size
        if at + size > len(data):
            break
        try:
            out.append(marshal.loads(data[at:at + size]))  # noqa: S302 -- taskbot's own
        except (ValueError, EOFError, TypeError):
            break
        at += size
    return out


def _replay(log: Path, name: str, tree: str, files: dict[str, str],
            entries: dict[str, tuple[Any, ...]]) -> tuple[str, int]:
    """Apply the log's records for snapshot `name` to `files` and `entries` (in place):
    (the tree the last one listed, how many rows they held)."""
    try:
        data = read_owned(log)
    except OSError:
        return tree, 0
    logged = 0
    for record in _records(data):
        if not isinstance(record, tuple) or len(record) != 4 or record[0] != name \
                or not isinstance(record[2], dict) or not isinstance(record[3], dict):
            break
        _apply(files, record[2])
        _apply(entries, {p: e for p, e in record[3].items() if e is None or isinstance(e, tuple)})
        tree, logged = str(record[1]), logged + len(record[3])
    return tree, logged


def _apply(into: dict[str, Any], changed: Mapping[str, Any]) -> None:
    for path, value in changed.items():
        if value is None:
            into.pop(path, None)
        else:
            into[path] = value


def save(memo: Memo, state_dir: Path, key: str, rows: Rows[T],
         changed_files: Mapping[str, str | None], changed_entries: Mapping[str, T | None],
         whole: bool = False) -> None:
    """Best effort (a cache that cannot be written costs a later commit a full read): `rows`
    is the new state, the `changed_*` what differs from the last one loaded or saved into
    `memo` (`whole`: unknown, the snapshot is written)."""
    held = _held(memo, state_dir, key)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        entries = rows.entries or {}
        if whole or held is None or held.logged + len(changed_entries) > max(
                _MIN_LOG, len(entries) // 4) or not _append(memo, state_dir, held, rows,
                                                             changed_files, changed_entries):
            _write_snapshot(memo, state_dir, key, rows)
    except (OSError, ValueError):
        memo.drop(state_dir)


def _write_snapshot(memo: Memo, state_dir: Path, key: str, rows: Rows[Any]) -> None:
    snapshot, log = _paths(state_dir)
    name = secrets.token_hex(8)
    entries = {p: tuple(e) for p, e in (rows.entries or {}).items()}
    write_atomic(snapshot, marshal.dumps((name, key, rows.tree, dict(rows.files or {}), entries)))
    log.unlink(missing_ok=True)  # its records name the old snapshot: ignored if left
    memo.keep(state_dir, _Held(_stamps(state_dir), key, name, 0, rows))


def _append(memo: Memo, state_dir: Path, held: _Held, rows: Rows[Any],
            changed_files: Mapping[str, str | None], changed_entries: Mapping[str, Any]
            ) -> bool:
    """One record at the log's end; False when the log is not taskbot's to write."""
    record = marshal.dumps((held.name, rows.tree, dict(changed_files),
                            {p: None if e is None else tuple(e) for p, e in changed_entries.items()}))
    _, log = _paths(state_dir)
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        if os.fstat(fd).st_uid != os.geteuid():
            return False
        os.write(fd, _LENGTH.pack(len(record)) + record)  # no fsync: a lost record is re-read
    finally:
        os.close(fd)
    memo.keep(state_dir, _Held(_stamps(state_dir), held.key, held.name,
                               held.logged + len(changed_entries), rows))
    return True
