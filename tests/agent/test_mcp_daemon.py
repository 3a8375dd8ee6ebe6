"""`taskbot mcp` beside a running daemon: run_task goes through the daemon's queue (never a
second run beside it) and returns the report or the queue entry; approve_task's commit is
taken by the daemon as a push's approval and the task runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession

from tests.agent.mcpkit import TASK, doc, mcp_sandbox, text, with_server
from tests.kit.daemon import idle_and_empty, running_daemon

pytestmark = pytest.mark.integration


def test_run_task_goes_through_the_daemons_queue(tmp_path: Path) -> None:
    box = mcp_sandbox(tmp_path)
    (tmp_path / "state").mkdir(exist_ok=True)
    box.write("tasks/active/TASK-002.md", TASK.replace("TASK-001", "TASK-002")
              .replace("made-by-mcp", "second"))
    box.commit_push("add TASK-002")

    async def body(session: ClientSession) -> list[Any]:
        return [doc(await session.call_tool("run_task", {"task": "TASK-001",
                                                         "wait_seconds": 60})),
                doc(await session.call_tool("run_task", {"task": "TASK-002",
                                                         "wait_seconds": 0})),
                await session.call_tool("run_task", {"task": "TASK-404", "wait_seconds": 5})]

    with running_daemon(box.config, tmp_path / "serve.log"):
        waited, queued, missing = with_server(box.config, body)
        deadline = time.monotonic() + 30
        while not idle_and_empty(tmp_path / "state")() and time.monotonic() < deadline:
            time.sleep(0.1)
    assert waited["ran"] == "daemon" and waited["queued"] is None
    assert waited["report"]["result"] == "complete"
    assert waited["commit"] in {line.split()[0] for line in box.log()}
    assert "# Task Execution Report: TASK-001" in waited["markdown"]
    assert queued["ran"] == "daemon" and queued["report"] is None
    assert queued["queued"]["state"] in ("queued", "running")
    assert queued["queued"]["entry"].endswith(".push")
    assert (tmp_path / "demo" / "second").is_file()  # the daemon ran it, later
    # a task the branch does not have is an error, never queued and read as "done"
    assert missing.is_error and text(missing).startswith("TASK-404: no such task under tasks/")


def test_an_approval_through_mcp_is_taken_by_the_daemon(tmp_path: Path) -> None:
    box = mcp_sandbox(tmp_path, extra='\n[approval]\nhandlers = ["shell"]\n')
    text = box.config.read_text().replace('authors = ["becker@example.com"]',
                                          'authors = ["becker@example.com", "taskbot@build-host"]')
    box.config.write_text(text)
    (tmp_path / "state").mkdir(exist_ok=True)

    async def body(session: ClientSession) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        first = doc(await session.call_tool("run_task", {"task": "TASK-001",
                                                         "wait_seconds": 60}))
        return first, [doc(await session.call_tool("approve_task", {"task": "TASK-001",
                                                                    "digest": a["digest"]}))
                       for a in first["report"]["awaiting_approval"]]

    with running_daemon(box.config, tmp_path / "serve.log"):
        first, approved = with_server(box.config, body)
        deadline = time.monotonic() + 60
        while not (tmp_path / "demo" / "made-by-mcp").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
    assert first["report"]["next_action"]["action"] == "approve"
    assert first["report"]["done"] == 0 and len(approved) == 2
    log = box.log()
    for each in approved:
        assert each["branch"] == "main"
        assert any(line.startswith(each["commit"]) and "taskbot@build-host" in line
                   and "Approve TASK-001" in line for line in log)
    assert (tmp_path / "demo" / "made-by-mcp").exists()  # the approved plans ran
