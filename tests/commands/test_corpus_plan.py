"""`taskbot plan` on every real task file: it plans (exit 0) or refuses in one line (exit 3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from tests.taskfile.test_corpus_tasks import FILES, TASKS, pytestmark  # noqa: F401  (same skip rule)


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(TASKS)))
def test_plan_every_corpus_file(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no taskbot.toml here: plan runs on the defaults
    before = path.read_bytes()
    code = main(["plan", str(path)])
    captured = capsys.readouterr()
    assert path.read_bytes() == before
    if code == 0:
        assert captured.err == ""
        assert f"({path})" in captured.out.splitlines()[0]
        assert "Acceptance Criteria:" in captured.out
    else:
        assert code == 3, captured.err
        assert captured.err.startswith(f"taskbot: {path}: ")
        assert captured.err.count("\n") == 1
        assert "Traceback" not in captured.err
