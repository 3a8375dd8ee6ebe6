"""Each run's report is kept under state_dir; `taskbot report TASK [--json]` prints the last."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import TaskbotError
from bot.notify import reportstore
from tests.kit.config import local_workspace

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


def test_any_text_is_stored_and_read_back(tmp_path: Path) -> None:
    """A file name that is not UTF-8 (`bad-\\xff.md`, surrogate-escaped) and a title with a
    lone surrogate: the report is kept, its names and text escaped, never an exception."""
    rel = "tasks/active/bad-\udcff.md"
    title = "hi \ud800 there"
    stored = reportstore.save(tmp_path, "bad-\udcff", "20261126T100000-refused",
                              f"# Refused: {rel}\n{title}\n", {"path": rel, title: [title]})
    assert stored.markdown_path.parent.name == "bad-%FF"
    assert stored.markdown() == "# Refused: tasks/active/bad-\\xff.md\nhi \\ud800 there\n"
    assert stored.json() == {"path": "tasks/active/bad-\\xff.md",
                             "hi \\ud800 there": ["hi \\ud800 there"]}
    assert reportstore.last(tmp_path, "bad-\udcff").markdown() == stored.markdown()
    mixed = reportstore.save(tmp_path, "x\udcff\ud800" + "é" * 300, "r", "\udcff", {})
    assert len(mixed.markdown_path.parent.name.encode()) <= 255
    assert mixed.markdown() == "\\xff" and reportstore.last(
        tmp_path, "x\udcff\ud800" + "é" * 300).run_id == "r"


def test_distinct_ids_never_share_a_folder(tmp_path: Path) -> None:
    """Ids that differ only in characters a file name cannot hold keep their own reports;
    a report saved by an earlier version (`a_b`, for `a b`) is still found."""
    legacy = tmp_path / "reports" / "a_c"
    legacy.mkdir(parents=True)
    (legacy / "old.md").write_text("# earlier version\n")
    (legacy / "old.json").write_text("{}\n")
    (legacy / "last").write_text("old\n")
    assert reportstore.last(tmp_path, "a c").markdown() == "# earlier version\n"
    reportstore.save(tmp_path, "a b", "r1", "# a space\n", {})
    reportstore.save(tmp_path, "a_b", "r1", "# an underscore\n", {})
    reportstore.save(tmp_path, "a/b", "r1", "# a slash\n", {})
    assert reportstore.last(tmp_path, "a b").markdown() == "# a space\n"
    assert reportstore.last(tmp_path, "a_b").markdown() == "# an underscore\n"
    assert reportstore.last(tmp_path, "a/b").markdown() == "# a slash\n"
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == [
        "a%20b", "a%2Fb", "a_b", "a_c"]


def test_history_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The last KEEP_RUNS reports of a task, for the KEEP_TASKS tasks reported most
    recently (pruned to nine tenths when past it); the last one is always kept."""
    monkeypatch.setattr(reportstore, "KEEP_RUNS", 3)
    monkeypatch.setattr(reportstore, "KEEP_TASKS", 10)
    for n in range(5):
        reportstore.save(tmp_path, "T-1", f"run-{n}", f"# {n}\n", {"n": n})
    reportstore.save(tmp_path, "T-1", "run-0", "# 0 again\n", {})  # a resumed run's id
    folder = tmp_path / "reports" / "T-1"
    assert sorted(p.name for p in folder.iterdir()) == [
        "last", "run-0.json", "run-0.md", "run-3.json", "run-3.md", "run-4.json", "run-4.md"]
    assert reportstore.last(tmp_path, "T-1").markdown() == "# 0 again\n"
    for n in range(2, 11):
        reportstore.save(tmp_path, f"T-{n}", "r", "#\n", {})
    assert len(list((tmp_path / "reports").iterdir())) == 10
    reportstore.save(tmp_path, "T-11", "r", "#\n", {})  # the 11th: the oldest go
    kept = sorted(int(p.name[2:]) for p in (tmp_path / "reports").iterdir())
    assert kept == list(range(3, 12))  # nine tenths: the 8 most recent and the new one
    assert reportstore.last(tmp_path, "T-11").run_id == "r"
