"""The small surface handlers may use: records, the handler protocol, the run context.

`handlers/` imports only this module. Built-in and third-party handlers are found
the same way, through the `taskbot.handlers` entry-point group. Besides the records it
offers the worktree functions of `bot.git.write` (every git write goes through them), the
commit message builder of `bot.git.messages`, the registry client of `bot.registry` and
the YAML scalar editor of `bot.yamledit`, and `bot.safepath`: the one way a handler reads or
writes a file inside a repository or project directory (no link followed).

It only re-exports: the records live in `bot.run.runmodel`, the context and the handler
protocol in `bot.run.context`, the parameter checks in `bot.run.params`. The core imports those
modules, never this one, so that a handler's surface adds no import cycle to the core.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Argv, Cluster, Config, Executor, Identity, Project
from bot.errors import ParamError, TaskbotError
from bot.heartbeat import beat
from bot.run.context import Context, Handler
from bot.run.observe import command as observe_command
from bot.run.params import (
    parse_bool,
    reject_unknown,
    require_project,
    validate_common,
    validate_url,
    validate_version,
)
from bot.run.runmodel import DefaultRule, FileChange, Outcome, Status, Step, Tool
from bot.safepath import UnsafePath, dir_inside, files_inside, read_inside, write_inside

__all__ = [
    "Argv",
    "Cluster",
    "CommandRecord",
    "Config",
    "Context",
    "DefaultRule",
    "Executor",
    "FileChange",
    "Handler",
    "Identity",
    "NotReady",
    "Outcome",
    "ParamError",
    "Ping",
    "Project",
    "RegistryClient",
    "RegistryError",
    "ScalarChange",
    "ScalarEdit",
    "Status",
    "Step",
    "TaskbotError",
    "Tool",
    "UnsafePath",
    "YamlEditError",
    "YamlFile",
    "beat",
    "commit_trailers",
    "commit_worktree",
    "dir_inside",
    "edit_scalars",
    "files_inside",
    "gitops_commit_message",
    "normalize_registry",
    "observe_command",
    "open_repo",
    "parse_bool",
    "prepare_worktree",
    "project_ready",
    "push_ff",
    "read_inside",
    "registry_client",
    "reject_unknown",
    "require_project",
    "validate_common",
    "validate_url",
    "validate_version",
    "write_inside",
    "yaml_get",
    "yaml_scalar",
    "yaml_walk",
]

# Loaded on first use, not with this module: `plan` and the daemon's start import every
# handler, and the registry client, git writes, the command runner and the YAML editor cost
# ~40 ms of imports that only running a criterion needs. A handler reaches them as
# `api.NAME` (or imports them inside the function that uses them).
_LAZY = {
    "CommandRecord": ("bot.proc", "CommandRecord"),
    "run_command": ("bot.proc", "run_command"),
    "Ping": ("bot.registry", "Ping"),
    "RegistryClient": ("bot.registry", "RegistryClient"),
    "RegistryError": ("bot.registry", "RegistryError"),
    "normalize_registry": ("bot.registry", "normalize_registry"),
    "gitops_commit_message": ("bot.git.messages", "build"),
    "commit_trailers": ("bot.git.messages", "parse_trailers"),
    "open_repo": ("bot.git.read", "open_repo"),
    "commit_worktree": ("bot.git.write", "commit"),
    "prepare_worktree": ("bot.git.worktree", "prepare_worktree"),
    "push_ff": ("bot.git.write", "push_ff"),
    "ScalarChange": ("bot.yamledit", "ScalarChange"),
    "ScalarEdit": ("bot.yamledit", "ScalarEdit"),
    "YamlEditError": ("bot.yamledit", "YamlEditError"),
    "YamlFile": ("bot.yamledit", "YamlFile"),
    "edit_scalars": ("bot.yamledit", "edit_scalars"),
    "yaml_get": ("bot.yamledit", "get"),
    "yaml_scalar": ("bot.yamledit", "scalar"),
    "yaml_walk": ("bot.yamledit", "walk"),
}

if TYPE_CHECKING:
    from bot.git.messages import build as gitops_commit_message
    from bot.git.messages import parse_trailers as commit_trailers
    from bot.git.read import open_repo
    from bot.git.worktree import prepare_worktree
    from bot.git.write import commit as commit_worktree
    from bot.git.write import push_ff
    from bot.proc import CommandRecord
    from bot.registry import Ping, RegistryClient, RegistryError, normalize_registry
    from bot.yamledit import ScalarChange, ScalarEdit, YamlEditError, YamlFile, edit_scalars
    from bot.yamledit import get as yaml_get
    from bot.yamledit import scalar as yaml_scalar
    from bot.yamledit import walk as yaml_walk
else:
    def __getattr__(name: str) -> Any:
        if name not in _LAZY:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value  # once: later lookups are plain module attributes
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *_LAZY})


def registry_client(config: Config, timeout: float = 10.0) -> RegistryClient:
    """A registry API client for `[registry]` (CA file or insecure, username, password file)."""
    if not config.registry.url:
        raise ParamError(f"{config.source}: registry.url is not configured")
    from bot.registry import RegistryClient

    return RegistryClient.from_config(config.registry, timeout)


class NotReady(TaskbotError):
    """A project directory a handler would run in is not as the operator's runbook wants it."""

    def __init__(self, reason: str, evidence: tuple[str, ...] = ()) -> None:
        super().__init__(reason)
        self.reason = reason
        self.evidence = evidence


def project_ready(project: Project, *, require_git: bool = True) -> tuple[str, ...]:
    """The safety checks before commands run in a project's directory: its evidence lines.

    The directory must be on the project's `branch` with no uncommitted change to a
    tracked file (`allow_dirty = true` skips the latter); raises NotReady with the reason
    otherwise. A directory that is no git repository raises NotReady when `require_git`,
    else passes with a line saying nothing was checked.
    """
    name = f"project {project.name}"
    path = Path(project.path)
    if not path.is_dir():
        raise NotReady(f"{name}: directory {path} does not exist")
    from bot.git.read import open_repo

    try:
        repo = open_repo(path)
    except TaskbotError as exc:
        if require_git:
            raise NotReady(f"project directory {path} is not a git repository") from exc
        return (f"{name}: {path} is not a git repository: branch and changes not checked",)
    if repo.head_is_unborn:  # nothing committed: no branch to be on, no tracked file
        return ()
    branch = "(detached HEAD)" if repo.head_is_detached else repo.head.shorthand
    if branch != project.branch:
        raise NotReady(f"{name} is on {branch}, not on its branch {project.branch} "
                       "(set projects.NAME.branch to run there)", (f"{name}: on {branch}",))
    try:  # libgit2, not a `git status` process: this runs before every command in a project
        changed = repo.status(untracked_files="no", ignored=False)
    except Exception as exc:  # pygit2.GitError, without importing pygit2 for it here
        raise NotReady(f"{name}: git status failed: {exc}") from exc
    dirty = sorted(p for p, flags in changed.items() if flags)
    if not dirty:
        return (f"{name}: on {branch}, clean",)
    listed = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
    if project.allow_dirty:
        return (f"{name}: on {branch}, uncommitted changes allowed (allow_dirty): {listed}",)
    raise NotReady(f"{name} has uncommitted changes to tracked files: {listed} "
                   "(commit them, or set allow_dirty = true)",
                   (f"{name}: on {branch}, uncommitted: {listed}",))
