"""What several commands share: the configuration they load, the tasks directory, a run's context."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.errors import ConfigError

if TYPE_CHECKING:
    from datetime import datetime

    import pygit2

    from bot.config import Config
    from bot.run.context import Context


def load_config(explicit: str | None, *, required: bool) -> Config:
    from bot import config as configmod

    path = configmod.find_config_path(explicit)
    if path is None:
        if required:
            raise ConfigError("no configuration found: pass --config FILE, set $TASKBOT_CONFIG, "
                              "or create ./taskbot.toml")
        return configmod.default()
    return configmod.load(path)


def require_trust(config: Config) -> None:
    if config.trust is None:
        raise ConfigError(f"{config.source}: no [trust] section: taskbot runs nothing until it "
                          "lists trusted authors (or sets anyone = true)")


def tasks_dir(config: Config) -> Path:
    under_repo = Path(config.repo.path) / config.repo.tasks_dir
    return under_repo if under_repo.is_dir() else Path(config.repo.tasks_dir)


def context(config: Config, task_id: str, now: datetime, *, lazy_secrets: bool = False
            ) -> Context:
    from bot.notify import redactor
    from bot.run.context import Context
    from bot.run.runmodel import new_run_id

    return Context(config, task_id, new_run_id(now), redactor(config, lazy=lazy_secrets))


def on_branch(task_id: str, config: Config) -> tuple[pygit2.Repository, str, bytes] | None:
    """The task's file on repo.branch, read without a checkout: (repository, path, bytes)."""
    from bot.git.read import GitError, open_repo
    from bot.taskfile.treeindex import find_in_tree

    try:
        repo = open_repo(config.repo.path)
    except GitError as exc:
        if "not a git repository" in str(exc):
            return None
        raise  # a repository taskbot may not read: say why, not "no such task"
    found = find_in_tree(repo, config.repo.branch, config.repo.tasks_dir, task_id)
    return None if found is None else (repo, *found)
