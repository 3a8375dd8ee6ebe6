"""`taskbot run` / `plan` end to end through `main()`, with real processes and real files."""

from __future__ import annotations

import json
import os
import time
from datetime import date
from pathlib import Path

import pytest

from bot.cli import main
from tests.kit.config import local_workspace

TASK = """\
---
id: TASK-007
title: Shell criteria
priority: medium
status: active
updated: "2025-10-19"
---
# TASK-007

## Acceptance Criteria
- [ ] Succeeds <!-- taskbot: shell project=demo cmd="true" -->
- [ ] Fails <!-- taskbot: shell project=demo cmd="sh -c 'echo boom >&2; exit 3'" -->
- [ ] Sleeps <!-- taskbot: shell project=demo cmd="sh -c 'echo $$ > group.pid; \
sleep 30 & echo $! > child.pid; sleep 30'" -->
- [ ] Locked <!-- taskbot: shell project=locked cmd="true" -->
- [ ] Ask a person
- [x] Already done <!-- taskbot: shell project=demo cmd="false" -->

## Progress Log
- 2025-10-19 10:00: created
"""


def _workspace(tmp_path: Path, task: str = TASK, retries: int = 0) -> tuple[Path, Path]:
    return local_workspace(tmp_path, "TASK-007.md", task, {
        "limits": {"retries": retries, "command_timeout": "1s"},
        "projects.locked": {"path": tmp_path / "demo"}})


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_run_ticks_only_successes_and_logs_failures(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    cfg, path = _workspace(tmp_path)
    code = main(["--config", str(cfg), "run", "TASK-007"])
    out = capsys.readouterr().out
    assert code == 1
    text = path.read_text()
    today = date.today().isoformat()
    assert f'updated: "{today}"' in text
    assert "- [x] Succeeds" in text
    for still_open in ("Fails", "Sleeps", "Locked", "Ask a person"):
        assert f"- [ ] {still_open}" in text
    log = text.split("## Progress Log\n", 1)[1].splitlines()
    assert log[0] == "- 2025-10-19 10:00: created"
    assert log[1].startswith(f"- {today} ") and log[1].endswith("Done: Succeeds (true exited 0)")
    assert "Failed: Fails:" in log[2] and "exited 3: boom" in log[2]
    assert "Failed: Sleeps:" in log[3] and "timed out after 1s" in log[3]
    assert "Blocked: Locked:" in log[4] and "allow_shell = false" in log[4]
    assert len(log) == 5  # the manual criterion is not logged
    assert "# Task Execution Report: TASK-007" in out
    assert "- ✅ Succeeds" in out
    assert "Completed 2 of 6 acceptance criteria. Task is partially complete." in out


def test_timeout_kills_whole_process_group(tmp_path: Path) -> None:
    cfg, _ = _workspace(tmp_path)
    main(["--config", str(cfg), "run", "TASK-007"])
    group = int((tmp_path / "demo" / "group.pid").read_text())
    child = int((tmp_path / "demo" / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while (_alive(group) or _alive(child)) and time.monotonic() < deadline:
        time.sleep(0.05)  # reaping is asynchronous; bounded wait on an observable state
    assert not _alive(group) and not _alive(child)


def test_json_report_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg, _ = _workspace(tmp_path)
    code = main(["--config", str(cfg), "run", "TASK-007", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 1
    assert set(doc) >= {"task", "result", "criteria", "changes", "progress_log", "summary",
                        "next_steps"}
    assert doc["task"]["id"] == "TASK-007"
    assert doc["result"] == "partial"
    outcomes = {c["text"]: c["outcome"] for c in doc["criteria"]}
    assert outcomes == {"Succeeds": "done", "Fails": "failed", "Sleeps": "failed",
                        "Locked": "blocked", "Ask a person": "manual"}
    first = doc["criteria"][0]
    assert set(first) >= {"index", "text", "outcome", "handler", "reason", "attempts", "commands"}
    assert first["commands"][0]["argv"] == ["true"]
    assert first["commands"][0]["exit_status"] == 0


def test_retries_count_attempts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg, _ = _workspace(tmp_path, retries=2)
    main(["--config", str(cfg), "run", "TASK-007", "--json"])
    doc = json.loads(capsys.readouterr().out)
    attempts = {c["text"]: c["attempts"] for c in doc["criteria"]}
    assert attempts["Fails"] == 3
    assert attempts["Succeeds"] == 1
    assert attempts["Locked"] == 0  # refused before running: never retried


def test_injection_is_a_literal_argument(tmp_path: Path) -> None:
    task = TASK.replace(
        'cmd="true" -->', 'cmd="echo $(touch pwned-marker) `touch pwned2`; touch pwned3" -->', 1)
    cfg, path = _workspace(tmp_path, task)
    main(["--config", str(cfg), "run", str(path)])
    assert not list(tmp_path.rglob("pwned*"))
    assert "exited 0: $(touch pwned-marker) `touch pwned2`; touch pwned3" in path.read_text()


def test_bad_version_refused_at_plan_time(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    task = TASK.replace('cmd="true" -->', 'cmd="true" version="0.1.18;rm -rf ~" -->', 1)
    cfg, path = _workspace(tmp_path, task)
    assert main(["--config", str(cfg), "plan", str(path)]) == 1
    assert "REFUSED: version '0.1.18;rm -rf ~' is not a valid version" in capsys.readouterr().out
    main(["--config", str(cfg), "run", str(path)])
    assert "- [ ] Succeeds" in path.read_text()


def test_plan_runs_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    task = TASK.replace('cmd="true"', 'cmd="touch planned-marker"')
    cfg, path = _workspace(tmp_path, task)
    before = path.read_bytes()
    code = main(["--config", str(cfg), "plan", "TASK-007"])
    out = capsys.readouterr().out
    assert code == 1  # the `locked` criterion is refused
    assert path.read_bytes() == before
    assert not (tmp_path / "demo" / "planned-marker").exists()
    assert "run: touch planned-marker" in out
    assert "REFUSED: shell: project 'locked' does not allow shell actions" in out


def test_plan_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg, _ = _workspace(tmp_path)
    main(["--config", str(cfg), "plan", "TASK-007", "--json"])
    doc = json.loads(capsys.readouterr().out)
    first = doc["criteria"][0]
    assert first == {
        "index": 0, "line": 11, "text": "Succeeds", "checked": False, "group": "",
        "action": {"handler": "shell", "source": "annotation",
                   "params": {"project": "demo", "cmd": "true"}, "error": None,
                   "commands": [["true"]], "cwd": str(tmp_path / "demo"), "files": [],
                   "preconditions": [f"project directory {tmp_path / 'demo'} exists"],
                   "then": []},
    }
    assert doc["criteria"][4]["action"]["handler"] is None


def test_waiting_dependency_runs_nothing(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    task = TASK.replace("## Progress Log", "## Dependencies\n- **TASK-006**: first\n\n"
                        "## Progress Log")
    cfg, path = _workspace(tmp_path, task)
    (path.parent / "TASK-006.md").write_text("# TASK-006\n## Acceptance Criteria\n- [ ] open\n")
    before = path.read_bytes()
    code = main(["--config", str(cfg), "run", "TASK-007"])
    out = capsys.readouterr().out
    assert code == 1
    assert path.read_bytes() == before
    assert "Waiting for TASK-006" in out
    completed = tmp_path / "tasks" / "completed"
    completed.mkdir()
    (path.parent / "TASK-006.md").rename(completed / "TASK-006.md")
    assert main(["--config", str(cfg), "run", "TASK-007"]) == 1  # runs now; some criteria fail
    assert "- [x] Succeeds" in path.read_text()


def test_no_trust_runs_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg, path = _workspace(tmp_path)
    cfg.write_text(cfg.read_text().replace("[trust]\nanyone = true\n", ""))
    before = path.read_bytes()
    assert main(["--config", str(cfg), "run", "TASK-007"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("taskbot: ") and "no [trust] section" in err
    assert err.count("\n") == 1
    assert path.read_bytes() == before


def test_unusable_task_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg, path = _workspace(tmp_path, "---\n- a list\n---\n## Acceptance Criteria\n- [ ] x\n")
    before = path.read_bytes()
    assert main(["--config", str(cfg), "run", str(path)]) == 3
    err = capsys.readouterr().err
    assert str(path) in err and "not a YAML mapping" in err and err.count("\n") == 1
    assert path.read_bytes() == before


def test_dry_run_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg, path = _workspace(tmp_path)
    before = path.read_bytes()
    main(["--config", str(cfg), "run", "TASK-007", "--dry-run"])
    assert path.read_bytes() == before
    assert not (tmp_path / "demo" / "group.pid").exists()


def test_nothing_to_do_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg, path = _workspace(tmp_path, "# T\n## Acceptance Criteria\n- [x] done\n- [ ] by hand\n")
    before = path.read_bytes()
    assert main(["--config", str(cfg), "run", str(path)]) == 0
    assert path.read_bytes() == before


def test_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert main(["run", "/nonexistent/TASK-1.md", "--config", "/nonexistent.toml"]) == 2
