"""The repository an item is read from and taskbot's private clone it works in, found from
the config: a bare repository (hook mode), a person's clone (watch mode), a forge's
repository (remote mode)."""

from __future__ import annotations

from pathlib import Path

from bot.config import Config
from bot.forge import remote
from bot.git import read
from bot.git import write as gitrepo
from bot.pipeline.places import Where

__all__ = ["source_repo", "where"]


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
