"""The item in flight, step by step, so that a restart resumes it instead of redoing it.

`state_dir/journal.json` is written whole (temp file, fsync, rename) after every step:
the range or task being processed, and per task file the outcome of each criterion
as soon as it ends, the process groups of the command running now, the commit, the
fast-forward, the note and the hand-over of the report. A daemon killed at any point
reads it on start: a criterion whose outcome is recorded never runs again; one that
was running when the daemon died runs once more (after its process groups are
killed) and says so in the Progress Log; the steps after the run are taken only where
the journal does not record them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.atomic import write_atomic
from bot.proc import CommandRecord
from bot.run.runmodel import FileChange, JournalStep, Outcome, Status
from bot.state.statedir import JOURNAL, JOURNAL_BAD, UNLANDED, journal_aside, read_owned

VERSION = 1


@dataclass(frozen=True)
class Recorded:
    """A criterion's outcome as the journal kept it."""

    state: str
    attempts: int
    outcome: Outcome | None


def outcome_to_json(outcome: Outcome | None) -> dict[str, Any] | None:
    if outcome is None:
        return None
    doc = dataclasses.asdict(outcome)
    doc["changes"] = [c._asdict() for c in outcome.changes]  # asdict keeps NamedTuples tuples
    return doc


def outcome_from_json(doc: Mapping[str, Any] | None) -> Outcome | None:
    if doc is None:
        return None
    record_fields = {f.name for f in dataclasses.fields(CommandRecord)}
    commands: list[CommandRecord] = []
    for c in doc.get("commands", ()):
        kept: dict[str, Any] = {k: v for k, v in c.items() if k in record_fields}
        kept["argv"] = tuple(kept.get("argv", ()))
        commands.append(CommandRecord(**kept))
    return Outcome(
        status=Status(doc["status"]), reason=str(doc.get("reason", "")), commands=tuple(commands),
        changes=tuple(FileChange(**c) for c in doc.get("changes", ())),
        evidence=tuple(doc.get("evidence", ())), diagnosis=tuple(doc.get("diagnosis", ())),
        summary=str(doc.get("summary", "")), final=bool(doc.get("final", False)))


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks (field 22 of /proc/PID/stat): with the pid,
    it names one process, so a pid reused since is never killed by mistake."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


def process_mark(pgid: int) -> list[Any]:
    return [pgid, _start_time(pgid)]


def kill_recorded(marks: list[list[Any]], grace: float = 2.0) -> list[int]:
    """SIGKILL every recorded process group whose leader is gone or the same process still;
    returns the groups killed, after waiting (bounded) for their leaders to go."""
    killed: list[int] = []
    for pgid, started in marks:
        # The leader itself is usually gone (PR_SET_PDEATHSIG killed it with the daemon)
        # while what it started lives on in its group; a pid is not handed out again while
        # a group still bears its number, so only a live leader of another start is skipped.
        now = _start_time(int(pgid))
        if started is None or (now is not None and now != started):
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(pgid), signal.SIGKILL)
            killed.append(int(pgid))
    deadline = time.monotonic() + grace
    while killed and time.monotonic() < deadline and any(
            _alive(p) for p in killed):
        time.sleep(0.01)
    return killed


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Journal:
    """The in-flight document; every change is written through before the step goes on.

    One instance per item, never shared between items. Groups of a task run side by side
    in threads: every change and every write holds `lock`, so a write never serializes a
    document another thread is changing.
    """

    def __init__(self, state_dir: Path, doc: dict[str, Any]) -> None:
        self._path = state_dir / JOURNAL
        self.doc = doc
        self.lock = threading.RLock()

    @classmethod
    def begin(cls, state_dir: Path, item: Mapping[str, Any]) -> Journal:
        """A journal for `item`, written with its first step: until something has run or been
        committed there is nothing a restart must not redo (it recomputes the same range)."""
        return cls(state_dir, {"version": VERSION, "item": dict(item), "tasks": {}})

    @classmethod
    def load(cls, state_dir: Path) -> Journal | None:
        """The journal a killed daemon left, or None (none, or unreadable: then it is moved
        aside as `journal.bad` so that it is looked at, never silently lost)."""
        path = state_dir / JOURNAL
        try:
            doc = json.loads(read_owned(path))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            with contextlib.suppress(OSError):
                path.replace(state_dir / JOURNAL_BAD)
            return None
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            with contextlib.suppress(OSError):
                path.replace(state_dir / JOURNAL_BAD)
            return None
        return cls(state_dir, doc)

    @property
    def item(self) -> Mapping[str, Any]:
        return dict(self.doc.get("item") or {})

    def save(self) -> None:
        with self.lock:
            data = json.dumps(self.doc, ensure_ascii=False, sort_keys=True).encode()
            write_atomic(self._path, data)

    def set_aside(self, why: str) -> Path:
        """Kept for the operator as `journal.<why>-<time>.json`, never resumed."""
        aside = self._path.with_name(journal_aside(why, time.time_ns()))
        with contextlib.suppress(FileNotFoundError):
            self._path.replace(aside)
        return aside

    def finish(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()

    def task(self, rel_path: str) -> TaskJournal:
        with self.lock:
            tasks: dict[str, Any] = self.doc.setdefault("tasks", {})
            entry = tasks.setdefault(rel_path, {"outcomes": [], "running": None,
                                                "interrupted": [], "steps": {}})
        return TaskJournal(self, entry)

    def running_groups(self) -> list[list[Any]]:
        marks: list[list[Any]] = []
        for entry in (self.doc.get("tasks") or {}).values():
            for running in in_flight(entry):
                marks.extend(running.get("groups") or [])
        return marks


def in_flight(entry: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The criteria of a task running now: `flight`, all of them; `running`, the oldest one,
    is all a journal written before groups ran side by side has."""
    flight = entry.get("flight")
    if isinstance(flight, list):
        return [m for m in flight if isinstance(m, dict)]
    running = entry.get("running")
    return [running] if isinstance(running, dict) else []


class TaskJournal:
    """One task file's part of the journal. Its criteria may run in several threads at once:
    each thread's commands are recorded under the criterion that thread started."""

    def __init__(self, journal: Journal, entry: dict[str, Any]) -> None:
        self._journal = journal
        self._entry = entry
        self._mine = threading.local()  # .pair: the criterion this thread runs

    def _save(self) -> None:
        self._journal.save()

    def _set_flight(self, flight: list[dict[str, Any]]) -> None:
        self._entry["flight"] = flight
        self._entry["running"] = flight[0] if flight else None

    # --- criteria ----------------------------------------------------------------------

    def recorded(self, identity: str, occurrence: int) -> Recorded | None:
        with self._journal.lock:
            for o in self._entry["outcomes"]:
                if o["identity"] == identity and o["occurrence"] == occurrence:
                    return Recorded(o["state"], int(o["attempts"]),
                                    outcome_from_json(o["outcome"]))
        return None

    def was_interrupted(self, identity: str, occurrence: int) -> bool:
        with self._journal.lock:
            return [identity, occurrence] in self._entry["interrupted"]

    def started(self, identity: str, occurrence: int) -> None:
        with self._journal.lock:
            flight = [m for m in in_flight(self._entry)
                      if (m.get("identity"), m.get("occurrence")) != (identity, occurrence)]
            flight.append({"identity": identity, "occurrence": occurrence, "groups": []})
            self._set_flight(flight)
            self._mine.pair = (identity, occurrence)
            self._save()

    def spawned(self, pgid: int) -> None:
        with self._journal.lock:
            flight = in_flight(self._entry)
            mine = getattr(self._mine, "pair", None)
            owner = next((m for m in flight
                          if (m.get("identity"), m.get("occurrence")) == mine), None)
            if owner is None and len(flight) == 1:
                owner = flight[0]  # a command of the one criterion running
            if owner is not None:
                owner.setdefault("groups", []).append(process_mark(pgid))
                self._save()

    def ended(self, identity: str, occurrence: int, state: str, attempts: int,
              outcome: Outcome | None) -> None:
        """The outcome kept; one kept before for the criterion is replaced (a gate undone)."""
        pair = (identity, occurrence)
        with self._journal.lock:
            self._entry["outcomes"] = [o for o in self._entry["outcomes"] if
                                       (o["identity"], o["occurrence"]) != pair]
            self._entry["outcomes"].append({"identity": identity, "occurrence": occurrence,
                                            "state": state, "attempts": attempts,
                                            "outcome": outcome_to_json(outcome)})
            self._set_flight([m for m in in_flight(self._entry)
                              if (m.get("identity"), m.get("occurrence")) != pair])
            self._save()

    def resume_interrupted(self) -> None:
        """Every criterion that was running when the daemon died runs once more."""
        with self._journal.lock:
            flight = in_flight(self._entry)
            if not flight:
                return
            for running in flight:
                pair = [running["identity"], running["occurrence"]]
                if pair not in self._entry["interrupted"]:
                    self._entry["interrupted"].append(pair)
            self._set_flight([])
            self._save()

    # --- steps after the run -------------------------------------------------------------

    def step(self, name: str) -> Any:
        return self._entry["steps"].get(name)

    def record(self, name: str, value: Any = True) -> None:
        with self._journal.lock:
            self._entry["steps"][name] = value
            self._save()

    def note(self, steps: Mapping[str, Any]) -> None:
        """Steps written with the next one (the run's id and time: nothing has run yet)."""
        with self._journal.lock:
            self._entry["steps"].update(steps)

    @property
    def run_id(self) -> str | None:
        value = self.step(JournalStep.RUN_ID)
        return str(value) if value else None


def pending_tasks(journal: Journal) -> Iterator[tuple[str, TaskJournal]]:
    for rel_path in list(journal.doc.get("tasks") or {}):
        yield rel_path, journal.task(rel_path)


# --- criteria done whose tick did not reach the branch ---------------------------------------


class Unlanded:
    """Criteria taskbot finished whose tick waits on a kept `taskbot/<ID>` branch (the branch
    refused it, or a person's edit conflicted). Until the tick lands they are never run again:
    a later run ticks them from this record instead. `state_dir/unlanded.json`, whole."""

    def __init__(self, state_dir: Path) -> None:
        self._path = state_dir / UNLANDED

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            doc = json.loads(read_owned(self._path))
        except (OSError, ValueError):
            return {}
        return doc if isinstance(doc, dict) else {}

    def _save(self, doc: Mapping[str, Any]) -> None:
        write_atomic(self._path, json.dumps(doc, ensure_ascii=False, sort_keys=True).encode())

    def __bool__(self) -> bool:
        return self._path.exists() and bool(self._load())

    def commits(self) -> frozenset[str]:
        """The kept commits whose ticks wait: a push bringing one lands them."""
        return frozenset(str(e.get("commit")) for entries in self._load().values()
                         if isinstance(entries, dict) for e in entries.values()
                         if isinstance(e, dict) and e.get("commit"))

    def of(self, task_id: str) -> dict[str, Any]:
        """identity → {"run_id", "branch", "outcome"} for the task."""
        found = self._load().get(task_id.lower())
        return dict(found) if isinstance(found, dict) else {}

    def add(self, task_id: str, entries: Mapping[str, Mapping[str, Any]]) -> None:
        if not entries:
            return
        doc = self._load()
        doc.setdefault(task_id.lower(), {}).update({k: dict(v) for k, v in entries.items()})
        self._save(doc)

    def drop(self, task_id: str, identities: Iterable[str] | None = None) -> None:
        """Forget the task's entries (all, or these): their ticks are on the branch now."""
        doc = self._load()
        known = doc.get(task_id.lower())
        if not known:
            return
        for identity in list(known) if identities is None else identities:
            known.pop(identity, None)
        if not known:
            doc.pop(task_id.lower(), None)
        self._save(doc)
