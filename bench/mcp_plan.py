"""(o) How fast `taskbot mcp` answers `plan_task` once it is up.

A real `taskbot mcp --read-only` subprocess in hook mode (the bare repository's branch, 10
tasks), driven by the MCP SDK's own stdio client as an agent drives it: the time from
spawning the server to an initialized session, then `plan_task` N times (after one call
that warms the server up: the server keeps its modules loaded, so later calls cost only
their work), each measured from the client's request to its checked answer. Beside it,
`list_tasks` and `task_status`. Target: `plan_task` median ≤ 50 ms.
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio
from benchlib import TASKBOT, env, median, ms, p90, parse_args, verdict, workdir
from cli_speed import TASK, make_bare, make_clone
from mcp import ClientSession, StdioServerParameters, stdio_client

TARGET_MS = 50.0


async def _timed(session: ClientSession, tool: str, arguments: dict[str, str], n: int
                 ) -> list[float]:
    took = []
    for _ in range(n):
        started = time.perf_counter()
        result = await session.call_tool(tool, arguments)
        took.append(time.perf_counter() - started)
        if result.is_error:
            raise SystemExit(f"{tool}: {result.content}")
    return took


async def _measure(config: Path, n: int) -> dict[str, list[float]]:
    params = StdioServerParameters(command=str(TASKBOT),
                                   args=["mcp", "--read-only", "--config", str(config)],
                                   env=env(), cwd=str(config.parent))
    started = time.perf_counter()
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        up = time.perf_counter() - started
        await session.list_tools()
        first = await _timed(session, "plan_task", {"task": TASK}, 1)
        return {"up": [up], "first": first,
                "plan": await _timed(session, "plan_task", {"task": TASK}, n),
                "list": await _timed(session, "list_tasks", {}, max(n // 4, 1)),
                "status": await _timed(session, "task_status", {}, max(n // 4, 1))}


def main() -> None:
    args = parse_args(__doc__, default_n=101, smoke_n=5)
    with workdir() as root:
        config = make_bare(root, make_clone(root, 10))
        got = anyio.run(_measure, config, args.n)
    plan = median(got["plan"])
    print(f"mcp_plan.startup: {ms(got['up'][0])} (spawn to an initialized session)")
    print(f"mcp_plan.first_plan_task: {ms(got['first'][0])} (loads the handlers, opens the "
          "repository)")
    print(f"mcp_plan.plan_task: median {ms(plan)}, p90 {ms(p90(got['plan']))} "
          f"({len(got['plan'])} calls; target <= {TARGET_MS:.0f} ms: "
          f"{verdict(plan * 1000 <= TARGET_MS)})")
    print(f"mcp_plan.list_tasks: median {ms(median(got['list']))} (10 tasks)")
    print(f"mcp_plan.task_status: median {ms(median(got['status']))}")


if __name__ == "__main__":
    main()
