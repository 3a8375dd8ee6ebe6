"""The dashboard is never written through a folder a push turned into a symlink, and no
file, name or folder depth a push brings stops it."""

from __future__ import annotations

from pathlib import Path

import pygit2

from bot import config as configmod
from bot.dashboard import refresh
from tests.kit.git import git


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


def _config(tmp_path: Path, worktree: Path, dashboard: str) -> configmod.Config:
    return configmod.parse({"repo": {"path": str(worktree), "state_dir": str(tmp_path / "s"),
                                     "dashboard": dashboard}}, str(tmp_path / "taskbot.toml"))


def test_a_file_that_is_not_taskbots_dashboard_is_never_written_over(tmp_path: Path) -> None:
    """A completed task, or a person's notes, at the configured path stay byte for byte; a
    folder pushed there stops nothing (refresh runs in every taskbot commit)."""
    worktree = tmp_path / "wt"
    done = worktree / "tasks" / "completed" / "TASK-1.md"
    done.parent.mkdir(parents=True)
    (worktree / "tasks" / "active").mkdir()
    done.write_bytes(b"# TASK-1\n\n## Acceptance Criteria\n- [x] done\n")
    assert refresh(_config(tmp_path, worktree, "tasks/completed/TASK-1.md"), worktree) is False
    assert done.read_bytes() == b"# TASK-1\n\n## Acceptance Criteria\n- [x] done\n"
    (worktree / "DASH.md").mkdir()
    assert refresh(_config(tmp_path, worktree, "DASH.md"), worktree) is False
    assert list((worktree / "DASH.md").iterdir()) == []


def _committed_by_becker(tmp_path: Path, worktree: Path) -> configmod.Config:
    """The worktree's files committed by a trusted author; the config that trusts her."""
    git(tmp_path, "init", "-q", "-b", "main", str(worktree))
    git(worktree, "add", "-A")
    git(worktree, "-c", "user.name=B", "-c", "user.email=becker@example.com", "commit", "-qm", "t")
    return configmod.parse({"repo": {"path": str(worktree), "state_dir": str(tmp_path / "s"),
                                     "dashboard": "DASHBOARD.md"},
                            "trust": {"authors": ["becker@example.com"]}},
                           str(tmp_path / "taskbot.toml"))


def test_a_task_file_that_cannot_be_read_is_listed_without_taskbots_paths(tmp_path: Path) -> None:
    worktree = tmp_path / "wt"
    (worktree / "tasks" / "active").mkdir(parents=True)
    (worktree / "tasks" / "active" / "TASK-7.md").write_bytes(b"---\nid: \xff\n---\n")
    config = _committed_by_becker(tmp_path, worktree)
    assert refresh(config, worktree) is True
    text = (worktree / "DASHBOARD.md").read_text()
    assert "- tasks/active/TASK-7.md: unusable: tasks/active/TASK-7.md: not UTF-8" in text
    assert str(tmp_path) not in text


def test_a_folder_that_is_no_repository_lists_no_task(tmp_path: Path) -> None:
    """Without a history there is no trust to judge: paths only, never a title."""
    worktree = tmp_path / "wt"
    (worktree / "tasks" / "active").mkdir(parents=True)
    (worktree / "tasks" / "active" / "T.md").write_text("---\ntitle: Secret plan\n---\n# T\n")
    assert refresh(_config(tmp_path, worktree, "DASHBOARD.md"), worktree) is True
    text = (worktree / "DASHBOARD.md").read_text()
    assert "Secret plan" not in text and "No active task." in text
    assert "- tasks/active/T.md: refused: not in a git repository" in text


def test_a_trusted_file_refused_for_its_name_is_a_refused_line_not_a_row(tmp_path: Path) -> None:
    """Detection refuses a file whose name holds a control character, however trusted its
    history: the dashboard says the same, by its escaped name, and shows no title or link."""
    worktree = tmp_path / "wt"
    (worktree / "tasks" / "active").mkdir(parents=True)
    (worktree / "tasks" / "active" / "TASK-8\x1b[31m.md").write_text(
        "---\nid: TASK-8\ntitle: Looks fine\n---\n# TASK-8\n\n## Acceptance Criteria\n- [ ] A\n")
    config = _committed_by_becker(tmp_path, worktree)
    assert refresh(config, worktree) is True
    text = (worktree / "DASHBOARD.md").read_text()
    assert "- tasks/active/TASK-8\\x1b\\[31m.md: refused: the file name holds a control " \
           "character or line break" in text
    assert "Looks fine" not in text and "No active task." in text and "\x1b" not in text


def test_a_folder_1100_deep_fails_no_dashboard(tmp_path: Path) -> None:
    """A tree that deep (anyone may push one) is listed without recursion: a RecursionError
    would fail every later commit of a run, after its commands had run."""
    worktree = tmp_path / "wt"
    git(tmp_path, "init", "-q", "-b", "main", str(worktree))
    repo = pygit2.Repository(str(worktree))
    task = repo.create_blob(b"---\nid: DEEP-1\n---\n# DEEP-1\n\n## Acceptance Criteria\n- [ ] A\n")
    folder = repo.TreeBuilder()
    folder.insert("DEEP-1.md", task, pygit2.enums.FileMode.BLOB)
    oid = folder.write()
    for _ in range(1100):
        above = repo.TreeBuilder()
        above.insert("d", oid, pygit2.enums.FileMode.TREE)
        oid = above.write()
    for name in ("active", "tasks"):
        above = repo.TreeBuilder()
        above.insert(name, oid, pygit2.enums.FileMode.TREE)
        oid = above.write()
    becker = pygit2.Signature("Becker", "becker@example.com")
    repo.create_commit("HEAD", becker, becker, "deep", oid, [])
    git(worktree, "read-tree", "HEAD")  # no checkout: the paths are too long for it
    config = configmod.parse({"repo": {"path": str(worktree), "state_dir": str(tmp_path / "s"),
                                       "dashboard": "DASHBOARD.md"},
                              "trust": {"authors": ["becker@example.com"]}},
                             str(tmp_path / "taskbot.toml"))
    assert refresh(config, worktree) is True
    assert (worktree / "DASHBOARD.md").read_text().startswith("<!-- taskbot dashboard")
