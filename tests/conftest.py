"""Shared test setup: real git identities, no writes to the real home, and no silent skips in CI."""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
                  ) -> None:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Becker")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "becker@example.com")
    monkeypatch.delenv("TASKBOT_CONFIG", raising=False)
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, None, None]:
    outcome = yield
    report = outcome.get_result()
    required = os.environ.get("TASKBOT_REQUIRE_INTEGRATION") == "1"
    if required and report.skipped and item.get_closest_marker("integration"):
        report.outcome = "failed"
        report.longrepr = f"integration test skipped under TASKBOT_REQUIRE_INTEGRATION=1: {report.longrepr}"
