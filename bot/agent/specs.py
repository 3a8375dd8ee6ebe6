"""The six tools `taskbot mcp` offers: names, what each does, the JSON Schemas of their
arguments and of their results (a result is the document the CLI's `--json` prints; a
report is the one `docs/report.schema.json` describes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from bot.run.schema import report_schema

__all__ = ["READ_ONLY", "Answer", "Spec", "specs"]

READ_ONLY = ("list_tasks", "plan_task", "task_status", "get_report")  # what --read-only offers

Schema = dict[str, Any]

_TASK = {"type": "string", "minLength": 1, "maxLength": 128,
         "description": "task id, as in the task file's frontmatter (TASK-001)"}
_STRING = {"type": "string"}
_STRINGS = {"type": "array", "items": _STRING}


class Answer(NamedTuple):
    """A tool's result: the structured document, and Markdown to show beside it ('' none).
    `later`: the real answer, made after the write is done and outside its lock (a wait for
    the daemon's run must not hold the other calls back); `doc` is then unused."""

    doc: dict[str, Any]
    markdown: str = ""
    later: Callable[[], Answer] | None = None


class Spec(NamedTuple):
    name: str
    title: str
    description: str
    input_schema: Schema
    output_schema: Schema
    writes: bool = False  # runs or commits something: not offered with --read-only


def _input(properties: dict[str, Any], *required: str) -> Schema:
    return {"type": "object", "properties": properties, "required": list(required),
            "additionalProperties": False}


def _with_report(properties: dict[str, Any], *required: str) -> Schema:
    """An object with `properties`, where `{"$ref": "#/$defs/report"}` is a run's report."""
    report = dict(report_schema())
    defs = report.pop("$defs")
    report.pop("$schema", None)
    return {"type": "object", "properties": properties, "required": list(required),
            "$defs": {**defs, "report": report}}


_REPORT = {"$ref": "#/$defs/report"}
_MARKDOWN = {"type": "string", "description": "the same report as Markdown"}

_TASK_ROW = {
    "type": "object",
    "required": ["id", "title", "status", "priority", "folder", "path", "criteria", "open",
                 "waits_for"],
    "properties": {
        "id": _STRING, "title": _STRING, "status": _STRING, "priority": _STRING,
        "folder": {"type": "string", "description": "its folder under the tasks root: "
                                                    "active, backlog, completed, ..."},
        "path": _STRING,
        "criteria": {"type": "integer", "minimum": 0},
        "open": {**_STRINGS, "description": "the unchecked criteria, in order"},
        "waits_for": {**_STRINGS, "description": "incomplete dependencies and plans waiting "
                                                 "for approval"},
        "error": {"type": "string", "description": "why the file could not be read"},
    },
}

_PLAN = {
    "type": "object",
    "required": ["task", "dependencies", "criteria", "not_executed"],
    "properties": {
        "task": {"type": "object", "required": ["id", "title", "path"],
                 "properties": {"id": _STRING, "title": _STRING, "path": _STRING,
                                "where": _STRING}},
        "dependencies": {"type": "array", "items": {"type": "object"}},
        "criteria": {"type": "array", "items": {
            "type": "object", "required": ["index", "line", "text", "checked", "action"],
            "properties": {"index": {"type": "integer"}, "line": {"type": "integer"},
                           "text": _STRING, "checked": {"type": "boolean"},
                           "group": {"type": ["string", "null"]},
                           "action": {"type": ["object", "null"]},
                           "waits_on": _STRING, "approval": {"type": "object"}}}},
        "not_executed": {"type": "array", "items": {"type": "object"}},
    },
}

_STATUS = {
    "type": "object",
    "required": ["state_dir", "daemon", "in_flight", "queue", "queue_length", "failed",
                 "outbox_pending", "tasks"],
    "properties": {
        "state_dir": _STRING,
        "daemon": {"type": "object", "required": ["running", "pid"],
                   "properties": {"running": {"type": "boolean"},
                                  "pid": {"type": ["integer", "null"]}}},
        "in_flight": {"type": ["object", "null"]},
        "queue": {"type": "array", "items": {
            "type": "object", "required": ["entry", "lines"],
            "properties": {"entry": _STRING, "lines": _STRINGS}}},
        "queue_length": {"type": "integer", "minimum": 0},
        "failed": _STRINGS,
        "outbox_pending": _STRINGS,
        "tasks": {"type": "object", "description": "last result per task, with what it "
                                                   "waits for (waiting_on, awaiting_approval)"},
        "forge": {"type": ["object", "null"]},
        "updated": {"type": ["string", "null"]},
    },
}

_QUEUED = {
    "type": ["object", "null"],
    "description": "the run went to the daemon's queue and had not finished within "
                   "wait_seconds: get_report shows it once it has",
    "required": ["entry", "state"],
    "properties": {"entry": {"type": "string", "description": "the queue entry"},
                   "state": {"enum": ["queued", "running", "done"],
                             "description": "done: the daemon took the entry off the queue "
                                            "and stored no new report (nothing ran: "
                                            "task_status says why)"}},
}


def _tools() -> tuple[Spec, ...]:
    return (
        Spec("list_tasks", "List tasks",
             "The tasks on the tasks branch (or in the tasks folder): id, title, status, "
             "priority, open criteria, what each waits for. `folder` keeps one folder of the "
             "tasks root (active, backlog, completed).",
             _input({"folder": {"type": "string", "minLength": 1,
                                "description": "a folder of the tasks root, like active"}}),
             {"type": "object", "required": ["tasks"],
              "properties": {"tasks": {"type": "array", "items": _TASK_ROW}}}),
        Spec("plan_task", "Plan a task",
             "What each unchecked criterion of the task would run; runs nothing. The "
             "document `taskbot plan TASK --json` prints.",
             _input({"task": _TASK}, "task"), _PLAN),
        Spec("run_task", "Run a task",
             "Execute the task's unchecked criteria as `taskbot run --commit` does: in "
             "taskbot's own worktree, committed on the tasks branch, judged by [trust] like a "
             "push. With the daemon running the run goes through its queue; the report is "
             "returned if it finishes within wait_seconds, else the queue entry. dry_run: "
             "resolve everything, run nothing, commit nothing.",
             _input({"task": _TASK,
                     "dry_run": {"type": "boolean", "default": False},
                     "wait_seconds": {"type": "integer", "minimum": 0, "maximum": 3600,
                                      "default": 60,
                                      "description": "with the daemon: how long to wait "
                                                     "for the report"}}, "task"),
             _with_report({"ran": {"enum": ["here", "daemon"]},
                           "report": {"anyOf": [_REPORT, {"type": "null"}]},
                           "markdown": {"type": ["string", "null"]},
                           "commit": {"type": ["string", "null"],
                                      "description": "taskbot's commit on the tasks branch"},
                           "queued": _QUEUED},
                          "ran", "report", "markdown", "commit", "queued"),
             writes=True),
        Spec("task_status", "taskbot's status",
             "The daemon, the run in flight, the queue, the last result per task and what "
             "each waits for (a dependency, an approval). The document `taskbot status "
             "--json` prints.", _input({}), _STATUS),
        Spec("get_report", "A task's report",
             "The task's last report (or that of run_id), as JSON (docs/report.schema.json, "
             "with next_action) and as Markdown.",
             _input({"task": _TASK, "run_id": {"type": "string", "minLength": 1}}, "task"),
             _with_report({"report": _REPORT, "markdown": _MARKDOWN}, "report", "markdown")),
        Spec("approve_task", "Approve a task's plan",
             "Approve the plan with this digest (from plan_task or a report's "
             "awaiting_approval) by an approval commit on the tasks branch as taskbot's "
             "[identity]; it counts when that identity is trusted, as any approval.",
             _input({"task": _TASK, "digest": {"type": "string", "pattern": "^[0-9a-f]{8,64}$"}},
                    "task", "digest"),
             {"type": "object", "required": ["task", "digests", "commit", "branch"],
              "properties": {"task": _STRING, "digests": _STRINGS, "commit": _STRING,
                             "branch": _STRING}},
             writes=True),
    )


def specs(*, read_only: bool) -> tuple[Spec, ...]:
    """The tools a server offers: with `read_only`, only those that change nothing."""
    return tuple(s for s in _tools() if not read_only or s.name in READ_ONLY)
