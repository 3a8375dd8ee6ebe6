"""The report's `next_action` for an orchestrator, and the JSON form checked against the
published schema (docs/report.schema.json, shipped as bot/run/report.schema.json)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from bot.run.pending import Pending
from bot.run.report import NEXT_ACTIONS, Report, to_json
from bot.run.runmodel import TaskResult
from bot.run.runner import State
from bot.run.schema import SCHEMA_FILE, report_schema
from bot.taskfile.lookup import DependencyState
from tests.run.test_report import _report

DOCS = Path(__file__).resolve().parents[2] / "docs" / "report.schema.json"


def _valid(doc: dict[str, Any]) -> None:
    problems = [p.message for p in Draft202012Validator(report_schema()).iter_errors(doc)]
    assert problems == []


def _only(report: Report, *states: State) -> Report:
    return replace(report, results=tuple(r for r in report.results if r.state in states))


def test_a_failure_comes_first() -> None:
    assert _report().next_action() == ("fix-blocker", '"Push all FFL images to registry '
                                       '192.168.7.21:5000": ffl/frontend:0.1.18 not in the registry')


def test_approve_wait_verify_none() -> None:
    plain = _only(_report(), State.DONE)
    asking = replace(plain, awaiting=(Pending(1, "Push", "0123abcd", ("run: x",)),))
    assert asking.next_action() == ("approve", "1 plan(s) wait for approval: taskbot approve "
                                               "TASK-001")
    waiting = replace(plain, waiting_on=(DependencyState("TASK-2", False, "open in active/"),))
    assert waiting.next_action() == ("wait", "waiting for TASK-2: open in active/")
    manual = _only(_report(), State.DONE, State.MANUAL)
    assert manual.next_action() == ("wait", 'needs a person: "Check the `dashboards`"')
    assert replace(plain, result=TaskResult.COMPLETE).next_action()[0] == "verify"
    assert plain.next_action() == ("none", "nothing for taskbot to do")
    refused = replace(plain, results=(), result=TaskResult.BLOCKED, notes=("x.md: untrusted",))
    assert refused.next_action() == ("fix-blocker", "x.md: untrusted")


def test_every_next_action_is_one_the_schema_names() -> None:
    named = report_schema()["properties"]["next_action"]["properties"]["action"]["enum"]
    assert tuple(named) == NEXT_ACTIONS


def test_reports_fit_the_published_schema() -> None:
    for report in (_report(), _report("complete"), _only(_report(), State.DONE),
                   replace(_report(), awaiting=(Pending(1, "Push", "0123abcd", ("run: x",)),))):
        doc = to_json(report)
        assert doc["next_action"]["action"] in NEXT_ACTIONS
        _valid(json.loads(json.dumps(doc)))  # as printed and stored


def test_the_docs_copy_is_the_shipped_schema() -> None:
    assert json.loads(DOCS.read_text(encoding="utf-8")) == report_schema()
    assert SCHEMA_FILE.read_bytes() == DOCS.read_bytes()
    Draft202012Validator.check_schema(report_schema())
