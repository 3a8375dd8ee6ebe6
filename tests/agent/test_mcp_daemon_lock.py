"""run_task and the daemon never run a task side by side, even in the moments the pid file
does not tell: a daemon that holds its lock but has not written its pid yet, and a daemon
started while run_task runs a task here; and a run_task waiting on the daemon's run does not
hold other calls back. Over a real bare tasks repository and its state dir."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession

from bot import config as configmod
from bot.agent.serve import call
from bot.daemon import spool
from tests.agent.mcpkit import TASK, doc, mcp_sandbox, with_server
from tests.kit.daemon import running_daemon

pytestmark = pytest.mark.integration


def test_a_daemon_holding_its_lock_before_its_pid_file_gets_the_run(tmp_path: Path) -> None:
    box = mcp_sandbox(tmp_path)
    config = configmod.load(box.config)
    state = Path(config.repo.state_dir)
    state.mkdir(exist_ok=True)
    with spool.lock(state):  # a `taskbot serve` that has just started: no pid file yet
        answer = call(config, "run_task", {"task": "TASK-001", "wait_seconds": 0})
    assert answer.later is not None  # queued; what the agent is told comes after the wait
    answer = answer.later()
    assert answer.doc["ran"] == "daemon" and answer.doc["report"] is None
    assert answer.doc["queued"]["state"] == "queued"
    assert not (tmp_path / "demo" / "made-by-mcp").exists()  # left to the daemon


def test_a_daemon_started_while_run_task_runs_here_waits_for_it(tmp_path: Path) -> None:
    box = mcp_sandbox(tmp_path)
    gate, started = tmp_path / "gate", tmp_path / "demo" / "started"
    (tmp_path / "demo" / "wait.sh").write_text(
        f"touch {started}\nwhile [ ! -e {gate} ]; do sleep 0.05; done\n")
    box.write("tasks/active/TASK-002.md", TASK.replace("TASK-001", "TASK-002").replace(
        'cmd="echo hello"', 'cmd="sh wait.sh"'))
    box.commit_push("add TASK-002")
    config = configmod.load(box.config)
    state = Path(config.repo.state_dir)
    state.mkdir(exist_ok=True)
    done: list[Any] = []
    runner = threading.Thread(target=lambda: done.append(
        call(config, "run_task", {"task": "TASK-002"})))
    runner.start()
    try:
        while runner.is_alive() and not started.exists():  # the run is under way here
            time.sleep(0.02)
        with pytest.raises(spool.QueueBusy, match="taskbot mcp is running a task there"), \
                spool.lock(state):
            pass
    finally:
        gate.touch()
        runner.join(60)
    assert done and done[0].doc["ran"] == "here" and done[0].doc["report"]["result"] == "complete"
    with spool.lock(state):  # the run over, the daemon may start
        pass



def test_a_run_task_waiting_on_the_daemon_does_not_hold_other_calls_back(tmp_path: Path) -> None:
    box = mcp_sandbox(tmp_path)
    (tmp_path / "state").mkdir(exist_ok=True)
    gate = tmp_path / "gate"
    (tmp_path / "demo" / "wait.sh").write_text(f"while [ ! -e {gate} ]; do sleep 0.05; done\n")
    box.write("tasks/active/TASK-002.md", TASK.replace("TASK-001", "TASK-002").replace(
        'cmd="echo hello"', 'cmd="sh wait.sh"'))
    box.commit_push("add TASK-002")
    order: list[str] = []

    async def body(session: ClientSession) -> list[Any]:
        results: list[Any] = []

        async def slow() -> None:  # waits up to 10 minutes for a run that waits on the gate
            results.append(await session.call_tool(
                "run_task", {"task": "TASK-002", "wait_seconds": 600}))
            order.append("slow")

        async def quick() -> None:
            await anyio.sleep(0.5)  # the slow one is queued and waiting by then
            results.append(await session.call_tool(
                "run_task", {"task": "TASK-001", "wait_seconds": 0}))
            order.append("quick")
            gate.touch()

        async with anyio.create_task_group() as group:
            group.start_soon(slow)
            group.start_soon(quick)
        return results

    with running_daemon(box.config, tmp_path / "serve.log"):
        quick_answer, slow_answer = with_server(box.config, body)
    assert order == ["quick", "slow"]
    assert doc(quick_answer)["queued"]["state"] in ("queued", "running")
    assert doc(slow_answer)["report"]["task"]["id"] == "TASK-002"
