"""`<state_dir>/status.json`, written by the daemon (atomically), and the daemon's pid file.

```json
{"version": 1, "updated": "...",
 "daemon": {"pid": 1234, "started": "...", "mode": "hook", "state": "idle", "status": "..."},
 "queue_length": 0, "failed": 0,
 "in_flight": {"entry": "...push", "item": "OLD NEW REF", "since": "...", "status": "...",
               "task": "TASK-001", "criterion": "Build the image", "command": "buildah ...",
               "criterion_since": "..."},
 "tasks": {"TASK-001": {"result": "partial", "title": "Release FFL 0.1.18", "done": "2/4",
                        "time": "...", "commit": "sha", "run_id": "..."}}}
```
`state` is `starting`, `idle`, `running`, `stopping` or `stopped`. `tasks` is also
updated by `taskbot run --commit` (`record_task`), which touches nothing else. A task id
or title from a push may hold a lone surrogate (`title: "\\uD800"`): it is written
escaped (`\\ud800`), never an error.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.atomic import write_atomic
from bot.state.statedir import PID, STATUS, owner, read_owned
from bot.text.textcap import escape_surrogates

if TYPE_CHECKING:
    from bot.run.report import Report

__all__ = ["MAX_TASKS", "StatusWriter", "bounded", "daemon_running", "read",
           "record_task", "task_entry", "write"]

# Tasks whose last result is kept: the most recent. The file is read, merged and written
# whole on every status line; it must not grow with every task that ever ran.
MAX_TASKS = 500


def write(state_dir: Path, doc: Mapping[str, Any]) -> str:
    """Replace status.json atomically; readable by others (`taskbot status` as an operator).

    Returns '' or the problem (a full disk, EIO): a status that cannot be written must not
    stop the daemon; the next write brings it up to date. `tasks` has two writers, the
    daemon (from memory) and `taskbot run --commit`: each task keeps its newest entry.
    """
    tasks = bounded(_newest(read(state_dir).get("tasks"), doc.get("tasks")))
    doc = {**doc, "tasks": tasks} if tasks or "tasks" in doc else doc
    try:
        data = _encoded(doc)
        write_atomic(state_dir / STATUS, data, 0o644)
    except OSError as exc:
        return f"cannot write {state_dir / STATUS}: {exc.strerror or exc}"
    return ""


class StatusWriter:
    """The daemon's status.json. Its task table lives here, each entry encoded once when it
    changes; the file is read back (for what `taskbot run --commit` recorded) only when
    another writer replaced it since the daemon's last write. A status line then costs the
    same with 10 tasks as with 500, and the daemon writes one at every step of a run."""

    def __init__(self, state_dir: Path, limit: int = MAX_TASKS) -> None:
        self.state_dir = state_dir
        self.limit = limit
        self._tasks: dict[str, dict[str, Any]] = {}
        self._lines: dict[str, bytes] = {}  # task id → its `"id": {...}` line, encoded
        self._table: bytes | None = None  # the lines joined, until a task's entry changes
        self._written: tuple[int, int, int, int] | None = None  # the file as we left it

    def record(self, task_id: str, entry: Mapping[str, Any]) -> None:
        self._tasks[task_id] = dict(entry)
        self._lines.pop(task_id, None)
        self._table = None
        self._bound()

    def write(self, doc: Mapping[str, Any]) -> str:
        """Replace status.json with `doc` (no `tasks`: the table is added); '' or the problem."""
        try:
            if self._signature() != self._written:
                self._merge(read(self.state_dir).get("tasks"))
            head = _encoded({k: v for k, v in doc.items() if k != "tasks"})
            if self._table is None:  # 500 lines joined once, not at every status line
                self._table = b",".join(self._line(t) for t in self._tasks)
            lines = self._table
            data = (head[:-3] + b"," if head != b"{}\n" else b"{") + b'\n "tasks": {' + lines \
                + (b"\n }" if lines else b"}") + b"\n}\n"
            self._written = _signature(write_atomic(self.state_dir / STATUS, data, 0o644))
        except OSError as exc:
            self._written = None
            return f"cannot write {self.state_dir / STATUS}: {exc.strerror or exc}"
        return ""

    def _signature(self) -> tuple[int, int, int, int] | None:
        try:
            return _signature(os.stat(self.state_dir / STATUS, follow_symlinks=False))
        except OSError:
            return None

    def _merge(self, found: object) -> None:
        merged = _newest(found, self._tasks)
        for task_id, entry in merged.items():
            if self._tasks.get(task_id) != entry:
                self._tasks[task_id] = entry
                self._lines.pop(task_id, None)
                self._table = None
        self._bound()

    def _bound(self) -> None:
        if len(self._tasks) > self.limit:
            self._tasks = bounded(self._tasks, self.limit)
            self._lines = {k: v for k, v in self._lines.items() if k in self._tasks}
            self._table = None

    def _line(self, task_id: str) -> bytes:
        line = self._lines.get(task_id)
        if line is None:
            line = b"\n  " + _encoded({task_id: self._tasks[task_id]}, indent=None)[1:-2]
            self._lines[task_id] = line
        return line


def _signature(info: os.stat_result) -> tuple[int, int, int, int]:
    return info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns


def _encoded(doc: Mapping[str, Any], indent: int | None = 1) -> bytes:
    text = json.dumps(doc, indent=indent, ensure_ascii=False) + "\n"
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # rare: only then is every string looked at
        return (json.dumps(_encodable(doc), indent=indent, ensure_ascii=False) + "\n").encode()


def _encodable(value: Any) -> Any:
    if isinstance(value, str):
        return escape_surrogates(value)
    if isinstance(value, Mapping):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(v) for v in value]
    return value


def _newest(*sources: object) -> dict[str, Any]:
    """Per task, the entry with the latest `time` (the later source on a tie)."""
    out: dict[str, Any] = {}
    for tasks in sources:
        for task_id, entry in (tasks.items() if isinstance(tasks, Mapping) else ()):
            if not isinstance(entry, Mapping):
                continue
            known = out.get(task_id)
            if known is None or _when(entry) >= _when(known):
                out[task_id] = dict(entry)
    return out


def bounded(tasks: Mapping[str, Any], limit: int = MAX_TASKS) -> dict[str, Any]:
    """The `limit` most recent entries (all of them when there are no more)."""
    if len(tasks) <= limit:
        return dict(tasks)
    newest = sorted(tasks.items(), key=lambda kv: _when(kv[1]))[-limit:]
    return dict(newest)


def _when(entry: Mapping[str, Any]) -> datetime:
    try:
        found = datetime.fromisoformat(str(entry.get("time")))
    except ValueError:
        return datetime.min.replace(tzinfo=datetime.now().astimezone().tzinfo)
    return found if found.tzinfo else found.astimezone()


def read(state_dir: Path) -> dict[str, Any]:
    """The last status.json, or {} when there is none (or it cannot be read, or is not
    taskbot's own: its content is never trusted then)."""
    try:
        data = json.loads(read_owned(state_dir / STATUS, owner(state_dir)).decode("utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def daemon_running(state_dir: Path) -> int | None:
    """The pid of the live daemon for this state dir, or None."""
    try:
        pid = int((state_dir / PID).read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        return pid
    return pid


def task_entry(report: Report, commit: str | None, now: datetime) -> dict[str, Any]:
    """A task's line in `tasks`: its last result, as the daemon and `run --commit` record it."""
    entry: dict[str, Any] = {"result": report.result, "title": report.task.title,
                             "done": f"{report.done}/{report.total}",
                             "time": now.isoformat(timespec="seconds"),
                             "commit": commit, "run_id": report.run_id}
    if report.waiting_on:  # what it waits on, cycles named
        entry["waiting_on"] = [f"{d.task_id}: {d.where}" for d in report.waiting_on]
    if report.awaiting:  # what a person is asked to approve, and how
        entry["awaiting_approval"] = [
            {"criterion": p.text, "digest": p.digest, "plan": list(p.plan),
             "approve": f"taskbot approve {report.task.id}"} for p in report.awaiting]
    return entry


def record_task(state_dir: Path, task_id: str, entry: Mapping[str, Any]) -> str:
    """Update one task's entry, leaving every other field as it is ('' or the problem)."""
    doc = read(state_dir)
    tasks = dict(doc.get("tasks") or {})
    tasks[task_id] = dict(entry)
    doc["tasks"] = tasks
    doc.setdefault("version", 1)
    doc["updated"] = datetime.now().astimezone().isoformat(timespec="seconds")
    return write(state_dir, doc)
