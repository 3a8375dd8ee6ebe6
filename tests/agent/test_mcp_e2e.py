"""`taskbot mcp` end to end: the SDK's stdio client against a real server subprocess, over a
real bare tasks repository (hook mode) — tools and schemas, every tool called, a shell
task run and committed on main, --read-only, [mcp] switches, and trust."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from mcp import ClientSession

from bot.run.schema import report_schema
from tests.agent.mcpkit import doc, mcp_sandbox, text, with_server
from tests.kit.git import git

pytestmark = pytest.mark.integration

ALL = {"list_tasks", "plan_task", "run_task", "task_status", "get_report", "approve_task"}


def test_every_tool_over_stdio_and_a_run_committed_on_main(tmp_path: Path) -> None:
    box = mcp_sandbox(tmp_path)
    before = box.log()

    async def body(session: ClientSession) -> dict[str, Any]:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        out: dict[str, Any] = {"tools": tools}
        out["list"] = doc(await session.call_tool("list_tasks", {}))
        out["plan"] = doc(await session.call_tool("plan_task", {"task": "TASK-001"}))
        out["status"] = doc(await session.call_tool("task_status", {}))
        out["run"] = doc(await session.call_tool("run_task", {"task": "TASK-001"}))
        out["report"] = doc(await session.call_tool("get_report", {"task": "TASK-001"}))
        out["by_run"] = doc(await session.call_tool("get_report", {
            "task": "TASK-001", "run_id": out["run"]["report"]["run_id"]}))
        out["backlog"] = doc(await session.call_tool("list_tasks", {"folder": "backlog"}))
        out["after"] = doc(await session.call_tool("list_tasks", {"folder": "active"}))
        out["approve"] = await session.call_tool("approve_task", {"task": "TASK-001",
                                                                  "digest": "0123abcd"})
        out["bad"] = await session.call_tool("plan_task", {"task": "../etc/passwd"})
        out["missing"] = await session.call_tool("get_report", {"task": "TASK-404"})
        return out

    got = with_server(box.config, body)
    tools = got["tools"]
    assert set(tools) == ALL
    for tool in tools.values():
        assert tool.input_schema["type"] == "object" and tool.output_schema["type"] == "object"
        assert tool.description
    assert tools["run_task"].input_schema["required"] == ["task"]
    assert set(tools["run_task"].input_schema["properties"]) == {"task", "dry_run", "wait_seconds"}
    assert tools["plan_task"].annotations.read_only_hint is True
    assert tools["run_task"].annotations.read_only_hint is False

    (row,) = got["list"]["tasks"]
    assert row["id"] == "TASK-001" and row["folder"] == "active" and row["priority"] == "high"
    assert row["open"] == ["Say hello", "Touch a file"] and row["waits_for"] == []
    plan = got["plan"]
    assert plan["task"]["id"] == "TASK-001"
    assert [c["action"]["commands"] for c in plan["criteria"]] == [[["echo", "hello"]],
                                                                   [["touch", "made-by-mcp"]]]
    assert got["status"]["daemon"]["running"] is False

    run = got["run"]
    assert run["ran"] == "here" and run["queued"] is None
    report = run["report"]
    assert report["result"] == "complete" and report["done"] == 2
    assert report["next_action"]["action"] == "verify"
    assert "# Task Execution Report: TASK-001" in run["markdown"]
    after = box.log()
    assert len(after) > len(before)
    assert run["commit"] in {line.split()[0] for line in after}
    assert any("taskbot@build-host" in line for line in after[: len(after) - len(before)])
    assert "- [x] Say hello" in box.main_file("tasks/active/TASK-001.md") or \
        "- [x] Say hello" in git(box.bare, "show", "main:tasks/completed/TASK-001.md")
    assert (tmp_path / "demo" / "made-by-mcp").is_file()

    assert got["report"]["report"] == report == got["by_run"]["report"]
    assert got["backlog"] == {"tasks": []}
    assert [(t["id"], t["open"]) for t in got["after"]["tasks"]] in ([], [("TASK-001", [])])
    stored = json.loads(next((tmp_path / "state" / "reports" / "TASK-001").glob("*.json"))
                        .read_text())
    for real in (report, stored):  # a real run's report, as returned and as stored
        Draft202012Validator(report_schema()).validate(real)
    assert got["report"]["markdown"] == run["markdown"]
    assert got["approve"].is_error and "no plan waits for approval" in text(got["approve"])
    assert got["bad"].is_error and "not a task id" in text(got["bad"])
    assert got["missing"].is_error and "no report stored yet" in text(got["missing"])


def test_read_only_offers_four_tools_and_refuses_run_task(tmp_path: Path) -> None:
    box = mcp_sandbox(tmp_path)
    before = box.log()

    async def body(session: ClientSession) -> tuple[set[str], str]:
        names = {t.name for t in (await session.list_tools()).tools}
        refused = await session.call_tool("run_task", {"task": "TASK-001"})
        assert refused.is_error
        return names, text(refused)

    names, said = with_server(box.config, body, "--read-only")
    assert names == {"list_tasks", "plan_task", "task_status", "get_report"}
    assert said.startswith("taskbot mcp --read-only: run_task is not offered")
    assert box.log() == before


def test_run_and_approve_are_off_unless_the_config_allows_them(tmp_path: Path) -> None:
    box = mcp_sandbox(tmp_path, mcp="")

    async def body(session: ClientSession) -> tuple[set[str], str]:
        names = {t.name for t in (await session.list_tools()).tools}
        return names, text(await session.call_tool("run_task", {"task": "TASK-001"}))

    names, said = with_server(box.config, body)
    assert names == ALL - {"run_task", "approve_task"}
    assert said == f"run_task is off: set [mcp] allow_run = true in {box.config}"


def test_an_untrusted_task_is_refused_through_mcp(tmp_path: Path) -> None:
    box = mcp_sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md",
              box.main_file("tasks/active/TASK-001.md").replace("echo hello", "echo pwned"))
    box.commit_push("edit", "--author=Mallory <mallory@example.com>")
    before = box.log()

    async def body(session: ClientSession) -> list[Any]:
        return [await session.call_tool("run_task", {"task": "TASK-001"}),
                await session.call_tool("run_task", {"task": "TASK-001", "dry_run": True})]

    for refused in with_server(box.config, body):
        assert refused.is_error
        assert text(refused).startswith("TASK-001 not run: commit ")
        assert "mallory@example.com is not in [trust] authors" in text(refused)
    assert box.log() == before
    assert not (tmp_path / "demo" / "made-by-mcp").exists()


def test_dry_run_runs_nothing_and_commits_nothing(tmp_path: Path) -> None:
    box = mcp_sandbox(tmp_path)
    before = box.log()

    async def body(session: ClientSession) -> dict[str, Any]:
        return doc(await session.call_tool("run_task", {"task": "TASK-001", "dry_run": True}))

    run = with_server(box.config, body)
    assert run["commit"] is None
    assert [c["outcome"] for c in run["report"]["criteria"]] == ["skipped", "skipped"]
    assert run["report"]["next_action"]["action"] == "none"
    assert box.log() == before
    assert not (tmp_path / "demo" / "made-by-mcp").exists()
