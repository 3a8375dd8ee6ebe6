"""A real `taskbot mcp` subprocess driven by the MCP SDK's own stdio client, for tests."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import CallToolResult, TextContent

from tests.kit.daemon import TASKBOT, env_for
from tests.kit.git import Sandbox, sandbox

T = TypeVar("T")

TASK = """\
---
id: TASK-001
title: Through MCP
priority: high
status: active
updated: 2026-01-01
---
# TASK-001

## Acceptance Criteria
- [ ] Say hello <!-- taskbot: shell project=demo cmd="echo hello" -->
- [ ] Touch a file <!-- taskbot: shell project=demo cmd="touch made-by-mcp" -->

## Progress Log
- 2026-01-01 10:00: created
"""


def mcp_sandbox(root: Path, mcp: str = "allow_run = true\nallow_approve = true\n",
                extra: str = "") -> Sandbox:
    """`tests.kit.git.sandbox` with TASK-001 pushed and an `[mcp]` section."""
    box = sandbox(root)
    box.config.write_text(box.config.read_text() + f"\n[mcp]\n{mcp}{extra}")
    box.write("tasks/active/TASK-001.md", TASK)
    box.commit_push("add TASK-001")
    return box


def with_server(config: Path, body: Callable[[ClientSession], Awaitable[T]],
                *extra: str) -> T:
    """Start `taskbot mcp --config CONFIG EXTRA...`, initialize a session, run `body`."""
    async def main() -> T:
        params = StdioServerParameters(command=str(TASKBOT),
                                       args=["mcp", "--config", str(config), *extra],
                                       env=env_for(None), cwd=str(config.parent))
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            return await body(session)
    return anyio.run(main)


def text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


def doc(result: CallToolResult) -> dict[str, Any]:
    """The structured result, which must equal the JSON text beside it."""
    assert not result.is_error, text(result)
    assert isinstance(result.structured_content, dict)
    first = result.content[0]
    assert isinstance(first, TextContent) and json.loads(first.text) == result.structured_content
    return result.structured_content
