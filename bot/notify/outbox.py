"""The durable outbox: every notification is a file until every target has taken it.

`<state_dir>/outbox/<id>.json` holds one pending message, written atomically (temp file
+ rename). `deliver_due(now)` sends the entries whose time has come; a target that takes
the message is remembered in the entry (it never gets a second copy), and the file is
removed only once every target has taken it. A failed attempt schedules the next one
with exponential backoff (1 s, 2 s, 4 s, … at most 5 min). The outbox survives restarts
simply by being files; an flock on `outbox/.lock` lets any number of processes (the
daemon, `taskbot run`) call `deliver_due` at the same time without sending twice.

A crash between a target accepting a message and the entry being rewritten can make that
target receive it again: delivery is at least once, exactly once in every other case.
A full or failing disk (ENOSPC, EIO) never stops a pass: the entry stays as it was on
disk and is tried again. Entries, and the outbox dir, that taskbot's user does not own
are never read or sent.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from bot.atomic import write_atomic
from bot.config import NotifyConfig
from bot.notify import targets as notify
from bot.notify.targets import Delivery, Message
from bot.state.statedir import OUTBOX, OUTBOX_LOCK, NotOwned, owned, owner, read_owned

__all__ = ["BACKOFF_BASE", "BACKOFF_CAP", "Entry", "Outbox", "Pass", "backoff", "describe"]

BACKOFF_BASE = 1.0
BACKOFF_CAP = 300.0
STALE_TEMP = 3600.0  # seconds after which a temp file left by a crash is removed

Sender = Callable[[Message, frozenset[str]], Delivery]

log = logging.getLogger(__name__)


def backoff(attempts: int, base: float = BACKOFF_BASE, cap: float = BACKOFF_CAP) -> float:
    """Seconds to wait after the `attempts`-th failed attempt: base, 2·base, 4·base … ≤ cap."""
    return min(cap, base * 2.0 ** min(max(attempts - 1, 0), 60))


@dataclass(frozen=True)
class Entry:
    """One pending message and its delivery history (times are Unix epoch seconds)."""

    id: str
    message: Message
    created: float
    attempts: int = 0
    next_attempt: float = 0.0
    last_error: str = ""
    delivered_to: tuple[str, ...] = ()  # ids (URL hashes) of targets that took it

    def to_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc["delivered_to"] = list(self.delivered_to)
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Entry:
        return cls(
            id=str(doc["id"]),
            message=Message(**doc["message"]),
            created=float(doc["created"]),
            attempts=int(doc["attempts"]),
            next_attempt=float(doc["next_attempt"]),
            last_error=str(doc["last_error"]),
            delivered_to=tuple(str(t) for t in doc["delivered_to"]),
        )


@dataclass(frozen=True)
class Pass:
    """What one `deliver_due` did: entries now fully delivered, entries that failed again."""

    delivered: tuple[Entry, ...] = ()
    failed: tuple[Entry, ...] = ()  # as rewritten: attempts, next_attempt, last_error


class Outbox:
    """`Outbox(state_dir, config.notify)`; `pending()` and `next_due()` need no config."""

    def __init__(self, state_dir: str | os.PathLike[str], config: NotifyConfig | None = None,
                 *, send: Sender | None = None, base: float = BACKOFF_BASE,
                 cap: float = BACKOFF_CAP) -> None:
        self.dir = Path(state_dir) / OUTBOX
        self._config = config
        self._send = send
        self._base = base
        self._cap = cap

    # --- reading ---------------------------------------------------------------------

    def _files(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        try:
            owned(self.dir, owner(self.dir.parent))
        except NotOwned as exc:
            log.warning("outbox: %s", exc)
            return []
        return sorted(p for p in self.dir.glob("*.json") if not p.name.startswith("."))

    def _read(self, path: Path) -> Entry | None:
        try:
            return Entry.from_json(json.loads(read_owned(path, owner(self.dir.parent))))
        except FileNotFoundError:
            return None  # delivered by another process meanwhile
        except (OSError, NotOwned, ValueError, KeyError, TypeError) as exc:
            log.warning("outbox: %s: unreadable entry kept, not sent: %s", path, exc)
            return None

    def pending(self) -> tuple[Entry, ...]:
        """Every message not yet delivered to all its targets, oldest first."""
        return tuple(e for e in (self._read(p) for p in self._files()) if e is not None)

    def next_due(self) -> float | None:
        """When the earliest pending entry is due (epoch seconds), None when nothing waits."""
        return min((e.next_attempt for e in self.pending()), default=None)

    # --- writing ---------------------------------------------------------------------

    def _path(self, entry_id: str) -> Path:
        return self.dir / f"{entry_id}.json"

    def _write(self, entry: Entry) -> None:
        data = json.dumps(entry.to_json(), indent=2, ensure_ascii=False).encode()
        write_atomic(self._path(entry.id), data)

    def enqueue(self, message: Message, now: float | None = None) -> Entry:
        """Keep `message` until it is delivered; it is due at once. The same run's same
        message already waiting is not added twice (a daemon resumed after a kill hands its
        report over again)."""
        if message.run_id:
            key = (message.task, message.run_id, message.result)
            for waiting in self.pending():
                m = waiting.message
                if (m.task, m.run_id, m.result) == key:
                    return waiting
        at = time.time() if now is None else now
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        entry = Entry(f"{int(at * 1000):013d}-{secrets.token_hex(4)}", message, at, next_attempt=at)
        self._write(entry)
        return entry

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.dir / OUTBOX_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def _sender(self) -> Sender:
        if self._send is not None:
            return self._send
        config = self._config
        if config is None:
            raise ValueError("Outbox: deliver_due needs the [notify] configuration")
        return lambda message, skip: notify.deliver(message, config, skip)

    def deliver_due(self, now: float | None = None) -> Pass:
        """Try every entry due at `now` (default: the current time); see the module doc."""
        send = self._sender()
        at = time.time() if now is None else now
        delivered: list[Entry] = []
        failed: list[Entry] = []
        try:
            with self._locked():
                self._remove_stale_temps(at)
                for path in self._files():
                    self._try(path, at, send, delivered, failed)
        except OSError as exc:  # the lock file cannot be made (a full disk): next pass
            log.warning("outbox: %s: %s", self.dir, exc.strerror or exc)
        return Pass(tuple(delivered), tuple(failed))

    def _try(self, path: Path, at: float, send: Sender, delivered: list[Entry],
             failed: list[Entry]) -> None:
        entry = self._read(path)  # re-read under the lock: another pass may have sent it
        if entry is None or entry.next_attempt > at:
            return
        result = send(entry.message, frozenset(entry.delivered_to))
        entry = replace(entry, attempts=entry.attempts + 1,
                        delivered_to=entry.delivered_to + result.delivered)
        if result.ok:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            delivered.append(entry)
            return
        entry = replace(entry, last_error="; ".join(result.errors),
                        next_attempt=at + backoff(entry.attempts, self._base, self._cap))
        try:
            self._write(entry)
        except OSError as exc:  # the old entry stays on disk: tried again, never lost
            log.warning("outbox: cannot rewrite %s: %s", path, exc.strerror or exc)
        failed.append(entry)

    def send(self, message: Message, now: float | None = None) -> Entry | None:
        """Enqueue and try at once: None when delivered, else the entry left pending."""
        entry = self.enqueue(message, now)
        result = self.deliver_due(now)
        return next((e for e in result.failed if e.id == entry.id), None)

    def _remove_stale_temps(self, now: float) -> None:
        for tmp in self.dir.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                if now - tmp.stat().st_mtime > STALE_TEMP:
                    tmp.unlink()


def describe(entries: Iterable[Entry], now: float | None = None) -> list[str]:
    """One line per pending entry, for `taskbot status`."""
    at = time.time() if now is None else now
    lines = []
    for e in entries:
        due = "due now" if e.next_attempt <= at else f"next try in {e.next_attempt - at:.0f}s"
        tried = f"{e.attempts} attempt{'s' * (e.attempts != 1)}"
        why = f": {e.last_error}" if e.last_error else ""
        lines.append(f"{e.message.title} ({tried}, {due}){why}")
    return lines
