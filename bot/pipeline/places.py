"""Where the pipeline reads and writes: the state dir and the tasks repository's locations,
taken from the config once per item, and taskbot's private clone, looked up once per run
(by `bot.pipeline.clone`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.config import Config
from bot.git.target import Target

__all__ = ["Places", "Where"]


@dataclass(frozen=True)
class Places:
    state: Path  # repo.state_dir
    path: Path  # repo.path: the bare repository or the person's clone
    branch: str  # repo.branch
    tasks_dir: str  # repo.tasks_dir, inside the repository
    tasks_root: str  # the folder above tasks_dir ('' at the top): completed/ is there too
    dashboard: str  # repo.dashboard ('' = none): never a task
    remote: str  # repo.remote: remote mode when set

    @classmethod
    def of(cls, config: Config) -> Places:
        repo = config.repo
        root = str(Path(repo.tasks_dir).parent)
        return cls(Path(repo.state_dir), Path(repo.path), repo.branch, repo.tasks_dir,
                   "" if root == "." else root, repo.dashboard, repo.remote)

    @property
    def branch_ref(self) -> str:
        return f"refs/heads/{self.branch}"


@dataclass(frozen=True)
class Where:
    """Where taskbot works on the tasks repository; looked up once per run."""

    bare: bool  # hook mode: the source is a bare repository, integrated by pushes
    clone: Path  # taskbot's private clone of the source (bare repository or person's clone)
    branch_rev: str  # how the clone names repo.branch
    watched: Path | None = None  # watch mode: the person's clone, advanced from taskbot's

    def target(self, branch: str, work_branch: str) -> Target:
        return Target(self.clone, self.bare, branch, work_branch, self.watched)
