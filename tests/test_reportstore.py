"""Each run's report is kept under state_dir; `taskbot report TASK [--json]` prints the last."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import TaskbotError
from bot.notify import reportstore
from tests.helpers.config import local_workspace

TASK = """\
---
id: TASK-010
title: Keep reports
---
# TASK-010
## Acceptance Criteria
- [ ] Works <!-- taskbot: shell project=demo cmd="echo fine" -->
- [ ] Breaks <!-- taskbot: shell project=demo cmd="false" -->
"""


def _workspace(tmp_path: Path) -> tuple[Path, Path]:
    return local_workspace(tmp_path, "task-010-keep-reports.md", TASK)


def test_save_and_last(tmp_path: Path) -> None:
    first = reportstore.save(tmp_path, "TASK-001", "20261126T100000-aaaaaa", "# one\n", {"n": 1})
    second = reportstore.save(tmp_path, "TASK-001", "20261126T090000-bbbbbb", "# two\n", {"n": 2})
    assert first.markdown_path == tmp_path / "reports/TASK-001/20261126T100000-aaaaaa.md"
    last = reportstore.last(tmp_path, "task-001")  # ids match case-insensitively
    assert last.run_id == second.run_id  # the pointer decides, not the name order
    assert last.markdown() == "# two\n" and last.json() == {"n": 2}
    assert first.markdown() == "# one\n"  # earlier runs are kept
    assert set(reportstore.all_last(tmp_path)) == {"TASK-001"}
    odd = reportstore.save(tmp_path, "../etc/x y", "r/1", "x", {})
    assert odd.markdown_path.parent.parent == tmp_path / "reports"
    with pytest.raises(TaskbotError, match="TASK-404: no report stored yet"):
        reportstore.last(tmp_path, "TASK-404")


def test_run_stores_and_report_prints_the_last(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    cfg, path = _workspace(tmp_path)
    main(["--config", str(cfg), "run", "TASK-010", "--dry-run"])
    capsys.readouterr()
    assert not (tmp_path / "state" / "reports").exists()  # a dry run keeps nothing

    assert main(["--config", str(cfg), "run", "TASK-010", "--no-notify"]) == 1
    printed = capsys.readouterr().out
    assert main(["--config", str(cfg), "report", "TASK-010"]) == 0
    assert capsys.readouterr().out == printed
    assert main(["--config", str(cfg), "report", str(path)]) == 0  # a path works too
    assert capsys.readouterr().out == printed

    assert main(["--config", str(cfg), "run", "TASK-010", "--json", "--no-notify"]) == 1
    run_doc = json.loads(capsys.readouterr().out)
    assert main(["--config", str(cfg), "report", "TASK-010", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == run_doc
    assert run_doc["title"] == "TASK-010 blocked: 1/2 criteria done"  # 2nd run: nothing done
    [folder] = (tmp_path / "state" / "reports").iterdir()
    assert folder.name == "TASK-010"
    assert len(list(folder.glob("*.md"))) == len(list(folder.glob("*.json"))) == 2
    assert (folder / "last").read_text().strip() == run_doc["run_id"]


def test_report_of_unknown_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg, _ = _workspace(tmp_path)
    assert main(["--config", str(cfg), "report", "TASK-999"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("taskbot: TASK-999: no report stored yet") and err.count("\n") == 1


def test_nothing_executed_stores_nothing(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    cfg, path = _workspace(tmp_path)
    path.write_text("# T\n## Acceptance Criteria\n- [x] done\n- [ ] by hand\n")
    assert main(["--config", str(cfg), "run", str(path)]) == 0
    assert not (tmp_path / "state" / "reports").exists()
