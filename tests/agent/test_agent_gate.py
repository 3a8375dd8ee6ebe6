"""What an agent may ask, judged before anything runs: `[mcp]` keys, task ids, the tools a
server offers (in-process: no server needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot import config as configmod
from bot.agent import gate
from bot.agent.serve import _refusals
from bot.agent.specs import READ_ONLY, specs
from bot.errors import ConfigError, UsageError


def test_mcp_keys_default_off_and_are_checked() -> None:
    assert configmod.default().mcp == configmod.Mcp(allow_run=False, allow_approve=False)
    on = configmod.parse({"mcp": {"allow_run": True}}, "/x/taskbot.toml").mcp
    assert on.allow_run and not on.allow_approve
    with pytest.raises(ConfigError, match=r"mcp\.allow_run"):
        configmod.parse({"mcp": {"allow_run": "yes"}}, "/x/taskbot.toml")
    with pytest.raises(ConfigError, match=r"unknown key 'mcp\.allow_push'"):
        configmod.parse({"mcp": {"allow_push": True}}, "/x/taskbot.toml")


def test_task_ids_never_paths() -> None:
    assert gate.task_id("TASK-001") == "TASK-001"
    for bad in ("../TASK-1", "tasks/active/TASK-1", "TASK-1.md", "", "a b", ".."):
        with pytest.raises(UsageError):
            gate.task_id(bad)


def test_what_a_server_offers(tmp_path: Path) -> None:
    config = configmod.parse({"mcp": {"allow_run": True}}, str(tmp_path / "taskbot.toml"))
    assert [s.name for s in specs(read_only=True)] == list(READ_ONLY)
    assert set(_refusals(config, read_only=False)) == {"approve_task"}
    assert set(_refusals(config, read_only=True)) == {"run_task", "approve_task"}
    with pytest.raises(UsageError, match=r"approve_task is off: set \[mcp\] allow_approve"):
        gate.allowed(config, "approve_task")
    gate.allowed(config, "run_task")
