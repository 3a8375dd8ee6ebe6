"""`taskbot mcp` against what a hostile or careless caller sends, over stdio to a real
server: secrets that reached a task file, an argument of any size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession

from tests.agent.mcpkit import TASK, doc, mcp_sandbox, text, with_server

pytestmark = pytest.mark.integration

SECRET = "Sup3rS3cretPW"


def test_secrets_are_redacted_in_tool_results_and_errors(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text(f"{SECRET}\n")
    box = mcp_sandbox(tmp_path, extra=f'\n[registry]\nurl = "127.0.0.1:1"\nusername = "u"\n'
                                      f'password_file = "{tmp_path / "pw"}"\n')
    # someone pasted the registry password into a task: the agent must not read it back
    box.write("tasks/active/TASK-007.md", TASK.replace("TASK-001", "TASK-007")
              .replace("Through MCP", f"Login with {SECRET}")
              .replace("echo hello", f"echo {SECRET}"))
    box.commit_push("add TASK-007")

    async def body(session: ClientSession) -> list[Any]:
        return [await session.call_tool("list_tasks", {}),
                await session.call_tool("plan_task", {"task": "TASK-007"}),
                await session.call_tool("plan_task", {"task": SECRET})]

    listed, planned, refused = with_server(box.config, body)
    for result in (listed, planned, refused):
        assert SECRET not in text(result)
        assert SECRET not in str(result.structured_content)
    titles = {t["id"]: t["title"] for t in doc(listed)["tasks"]}
    assert titles["TASK-007"] == "Login with ***"
    assert "echo ***" in text(planned)
    assert refused.is_error and text(refused).startswith("***: no task with this id")


def test_an_argument_of_any_size_gets_a_short_error(tmp_path: Path) -> None:
    box = mcp_sandbox(tmp_path)

    async def body(session: ClientSession) -> Any:
        return await session.call_tool("plan_task", {"task": "A" * 1_000_000})

    refused = with_server(box.config, body)
    assert refused.is_error
    said = text(refused)
    assert said.startswith("plan_task: argument task: 'AAAA") and "\n" not in said
    assert len(said) < 1000
