"""Where the pipeline reads and writes: the state dir and the tasks repository's locations,
taken from the config once per item, and taskbot's private clone, looked up once per run."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.config import Config
from bot.forge import remote
from bot.git import read
from bot.git import write as gitrepo
from bot.git.writeback import Target

__all__ = ["Places", "Where", "source_repo", "where"]


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


def source_repo(config: Config) -> Path:
    """The repository whose branch taskbot reads: the bare repository (hook mode), the
    person's clone (watch mode), or taskbot's clone of the forge's (remote mode)."""
    if config.repo.remote:
        return remote.ensure_clone(remote.from_config(config), Path(config.repo.state_dir))
    return Path(config.repo.path)


def where(config: Config) -> Where:
    """Every mode works in a private clone under state_dir: in watch mode too, so that the
    person's clone never shows taskbot's worktrees or work branches; in remote mode the
    clone of the forge's repository, integrated by pushes to it."""
    if config.repo.remote:
        return Where(True, source_repo(config), f"origin/{config.repo.branch}")
    source = Path(config.repo.path)
    clone = gitrepo.private_clone(source, Path(config.repo.state_dir))
    rev = f"origin/{config.repo.branch}"
    if read.mode(source) == "bare":
        return Where(True, clone, rev)
    return Where(False, clone, rev, source)
