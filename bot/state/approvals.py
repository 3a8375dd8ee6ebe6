"""The approvals seen in pushes: `state_dir/approvals.json`, trusted or not, so a restart
keeps them and a run can say which ones count and why the others do not.

One JSON list, each entry one `Taskbot-Approve:` trailer of one commit: the task, the plan
digest, the commit, its author, its committer date and trust's verdict. The push stage
judges and records; the run decides whether an approval matches its plan and is fresh.
Written whole (temp file, fsync, rename); a missing, unreadable or foreign-owned file
reads as "no approval": nothing runs that waits for one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from bot.atomic import write_atomic
from bot.state.statedir import APPROVALS, read_owned

__all__ = ["KEPT", "Seen", "add", "load", "of"]

KEPT = 1000  # entries kept, the newest: an old approval has long expired


class Seen(NamedTuple):
    """One approval trailer as a push brought it, and whether its commit is trusted."""

    task_id: str
    digest: str
    commit: str
    author: str
    time: int  # the commit's committer date, seconds since the epoch
    trusted: bool
    why: str = ""  # why it is not trusted ("" when it is)

    @property
    def named(self) -> str:
        """How a report names it: the commit and who made it."""
        return f"approval in commit {self.commit[:12]} by {self.author}"


def _file(state_dir: Path | str) -> Path:
    return Path(state_dir) / APPROVALS


def _entry(item: Any) -> Seen | None:
    if not isinstance(item, dict):
        return None
    try:
        return Seen(str(item["task_id"]), str(item["digest"]), str(item["commit"]),
                    str(item["author"]), int(item["time"]), item["trusted"] is True,
                    str(item.get("why", "")))
    except (KeyError, TypeError, ValueError):
        return None


def load(state_dir: Path | str) -> tuple[Seen, ...]:
    """Every approval recorded, oldest first; () when there is no usable record."""
    try:
        data = json.loads(read_owned(_file(state_dir)))
    except (OSError, ValueError):
        return ()
    if not isinstance(data, list):
        return ()
    return tuple(s for s in map(_entry, data) if s is not None)


def add(state_dir: Path | str, seen: Sequence[Seen]) -> None:
    """Record `seen` (an entry already there, same commit, task and digest, once)."""
    kept = list(load(state_dir))
    known = {(s.commit, s.task_id, s.digest) for s in kept}
    new = {(s.commit, s.task_id, s.digest): s for s in seen}
    fresh = [s for key, s in new.items() if key not in known]
    if fresh:
        _save(state_dir, _bounded(kept + fresh))


def _bounded(seen: list[Seen]) -> list[Seen]:
    """The newest KEPT entries, trusted ones first: a flood of untrusted trailers never
    pushes a person's approval out."""
    if len(seen) <= KEPT:
        return seen
    trusted = [i for i, s in enumerate(seen) if s.trusted][-KEPT:]
    others = [i for i, s in enumerate(seen) if not s.trusted]
    room = KEPT - len(trusted)
    keep = set(trusted) | set(others[len(others) - room:] if room else ())
    return [s for i, s in enumerate(seen) if i in keep]


def of(state_dir: Path | str, task_id: str) -> tuple[Seen, ...]:
    """The approvals that name `task_id` (any case)."""
    return tuple(s for s in load(state_dir) if s.task_id.lower() == task_id.lower())


def _save(state_dir: Path | str, seen: Iterable[Seen]) -> None:
    path = _file(state_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps([s._asdict() for s in seen], indent=1).encode())
