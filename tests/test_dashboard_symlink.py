"""The dashboard is never written through a folder a push turned into a symlink."""

from __future__ import annotations

from pathlib import Path

from bot import config as configmod
from bot.dashboard import refresh


def test_a_symlinked_folder_on_the_way_to_the_dashboard_is_not_followed(tmp_path: Path) -> None:
    worktree = tmp_path / "wt"
    (worktree / "tasks" / "active").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (worktree / "docs").symlink_to(outside)  # as committed by anyone who can push
    config = configmod.parse({"repo": {"path": str(worktree), "state_dir": str(tmp_path / "s"),
                                       "dashboard": "docs/DASHBOARD.md"}},
                             str(tmp_path / "taskbot.toml"))
    assert refresh(config, worktree) is False
    assert list(outside.iterdir()) == []
    (worktree / "docs").unlink()
    assert refresh(config, worktree) is True  # a real folder: written
    assert (worktree / "docs" / "DASHBOARD.md").read_text().startswith(
        "<!-- taskbot dashboard")
