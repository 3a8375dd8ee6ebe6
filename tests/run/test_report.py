"""The report of SPEC §7: sections in order, concrete next steps, JSON form, redaction."""

from __future__ import annotations

import re

from bot.api import CommandRecord, FileChange, Outcome, Status
from bot.proc import Redactor
from bot.run.actions import Action
from bot.run.report import Report, TaskInfo, to_json, to_markdown
from bot.run.runner import Result, State
from bot.taskfile import parse
from bot.taskfile.lookup import DependencyState

TASK = b"""\
---
id: TASK-001
title: Release FFL 0.1.18
priority: high
status: active
---
# TASK-001: Release FFL 0.1.18
## Acceptance Criteria
- [ ] Build all FFL containers with version 0.1.18
- [ ] Push all FFL images to registry 192.168.7.21:5000
- [ ] Update ffl HelmRelease in beckerkube to version 0.1.18
- [ ] Smoke test
- [ ] Check the `dashboards`
- [x] Write release notes
"""

SECTIONS = [
    "# Task Execution Report: TASK-001",
    "## Task: Release FFL 0.1.18",
    "## Acceptance Criteria Completed",
    "## Acceptance Criteria Remaining",
    "## Changes Made",
    "### Files Modified",
    "### Commands Executed",
    "## Progress Log Entry",
    "## Summary",
    "## Next Steps",
]


def _cmd(argv: tuple[str, ...], status: int, tail: str = "", error: str = "") -> CommandRecord:
    return CommandRecord(argv, "/srv/ffl", status, 1.25, tail, error)


def _report(result: str = "partial", waiting: tuple[DependencyState, ...] = ()) -> Report:
    task = parse(TASK, "tasks/active/TASK-001.md")
    build, push, helm, smoke, manual, _ = task.criteria
    results = (
        Result(Action(build, "build", "rule 1"), State.DONE,
               Outcome(Status.DONE, commands=(_cmd(("./scripts/build.sh", "--push", "all"), 0,
                                                   "pushed ffl/backend:0.1.18"),)), 1),
        Result(Action(push, "image", "rule 2"), State.FAILED,
               Outcome(Status.FAILED, "ffl/frontend:0.1.18 not in the registry",
                       commands=(_cmd(("skopeo", "inspect", "x`y"), 1, error="manifest unknown"),),
                       diagnosis=("registry reachable: yes", "credentials accepted: no")), 2),
        Result(Action(helm, "helmrelease", "rule 3"), State.BLOCKED,
               Outcome(Status.BLOCKED, "image ffl/frontend:0.1.18 does not exist"), 1),
        Result(Action(smoke, "verify", "annotation"), State.INTERRUPTED),
        Result(Action(manual, None, "manual"), State.MANUAL),
    )
    remaining = tuple((r.action.criterion.text, r.reason) for r in results[1:])
    return Report(
        task=TaskInfo("TASK-001", "Release FFL 0.1.18", "high", "active", "tasks/active/TASK-001.md"),
        result=result, done=2, total=6, results=results, remaining=remaining,
        changes=(FileChange("beckerkube-tasks", "tasks/active/TASK-001.md",
                            "1 criteria checked, progress log"),),
        progress_log=("- 2026-11-26 14:30: Done: Build all FFL containers with version 0.1.18",),
        waiting_on=waiting, run_id="20261126T143000-abcdef",
    )


def test_sections_in_spec_order() -> None:
    text = to_markdown(_report())
    headings = [line for line in text.splitlines() if line.startswith("#")]
    assert headings == SECTIONS
    assert "Priority: high\nStatus: active\n" in text
    assert "Completed 2 of 6 acceptance criteria. Task is partially complete." in text


def test_completed_with_command_and_output() -> None:
    text = to_markdown(_report())
    completed = text.split("## Acceptance Criteria Completed\n")[1].split("\n## ")[0]
    assert completed.splitlines() == [
        "- ✅ Build all FFL containers with version 0.1.18",
        "  - Command: `./scripts/build.sh --push all`",
        "  - Output: Success: `pushed ffl/backend:0.1.18`",
        "- ✅ 1 more checked before this run",
    ]


def test_remaining_with_reason_and_commands_with_status() -> None:
    text = to_markdown(_report())
    assert ("- ⏳ Push all FFL images to registry 192.168.7.21:5000\n"
            "  - Reason: ffl/frontend:0.1.18 not in the registry (after 2 attempts)\n") in text
    # a criterion's backticks are its text: escaped, like any Markdown from a push
    assert "- ⏳ Check the \\`dashboards\\`\n  - Reason: manual: waiting for a person\n" in text
    assert "- beckerkube-tasks: tasks/active/TASK-001.md (1 criteria checked, progress log)" in text
    assert "- `./scripts/build.sh --push all` in `/srv/ffl`: exit 0 (1.2s)" in text
    assert "- ``skopeo inspect 'x`y'`` in `/srv/ffl`: exit 1 (1.2s)" in text  # code span intact


def test_next_steps_are_concrete() -> None:
    waiting = (DependencyState("TASK-000", False, "tasks/active/TASK-000.md: 1 of 3 open"),)
    steps = _report(waiting=waiting).next_steps()
    assert steps == (
        "Waiting for TASK-000: tasks/active/TASK-000.md: 1 of 3 open",
        'Fix "Push all FFL images to registry 192.168.7.21:5000": '
        "ffl/frontend:0.1.18 not in the registry",
        "  - registry reachable: yes",
        "  - credentials accepted: no",
        'Unblock "Update ffl HelmRelease in beckerkube to version 0.1.18": '
        "image ffl/frontend:0.1.18 does not exist",
        'Re-run "Smoke test": taskbot stopped before it ran',
        'Needs a person: "Check the `dashboards`" (no rule or annotation runs it)',
        "Then re-run: taskbot run TASK-001",
    )
    text = to_markdown(_report(waiting=waiting))
    assert "- Fix \"Push all" in text and "\n  - credentials accepted: no\n" in text


def test_complete_says_to_verify() -> None:
    report = _report("complete")
    report = Report(**{**report.__dict__, "results": report.results[:1], "remaining": ()})
    assert report.title == "TASK-001 complete: 2/6 criteria done"
    assert report.next_steps()[-1] == ("All criteria are checked: verify the result and close "
                                       "the task.")


def test_json_form_and_redaction() -> None:
    redact = Redactor(("192.168.7.21",))  # any string can be a secret
    doc = to_json(_report(), redact)
    assert list(doc)[:2] == ["task", "result"]
    assert set(doc) >= {"task", "result", "criteria", "changes", "progress_log", "summary",
                        "next_steps"}
    assert doc["title"] == "TASK-001 partial: 2/6 criteria done"
    first = doc["criteria"][0]
    assert {k: first[k] for k in ("index", "text", "outcome", "handler", "attempts")} == {
        "index": 0, "text": "Build all FFL containers with version 0.1.18",
        "outcome": "done", "handler": "build", "attempts": 1}
    assert first["commands"][0]["argv"] == ["./scripts/build.sh", "--push", "all"]
    assert doc["criteria"][1]["diagnosis"] == ["registry reachable: yes",
                                               "credentials accepted: no"]
    assert "192.168.7.21" not in str(doc) and "registry ***:5000" in str(doc)
    assert "192.168.7.21" not in to_markdown(_report(), redact)


def test_markdown_has_no_unbalanced_code_spans() -> None:
    for line in to_markdown(_report()).splitlines():
        spans = re.sub(r"(`+)(.*?)\1", "", line.replace("\\`", ""))
        assert "`" not in spans, line
