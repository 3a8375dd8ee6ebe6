"""One criterion at a time per repository: work on a project's directory is serialized.

Groups of a task run side by side (`bot.run.lanes`), but two of them may still reach the
same repository: both bump a HelmRelease in the one GitOps clone, whose worktree and push
they would race on. A criterion holds the lock of every configured project it names (its
`project`, the parameters it inherits from, a project claiming it, and the one its handler's
settings resolved to: a bump naming no `project=` finds the one GitOps project itself), by
the project's resolved path, for as long as its handler (or a gate's undo) runs. Locks are taken in
path order, so two criteria never wait for each other. The locks are the process's
(`Memory.repo_locks`), shared by every run it makes; a run given no memory has a table of
its own (`locks`), enough for its groups: the daemon runs one item at a time, `taskbot run`
one task.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Mapping

from bot.config import Config
from bot.run.lanes import project_of
from bot.run.runmodel import Action, project_keys
from bot.state.memory import Kept, Memory

__all__ = ["Locks", "holding", "locks", "paths"]

Locks = Kept[str, threading.Lock]  # project directory → its lock


def locks(memory: Memory | None) -> Locks:
    """The process's table of locks, or a new one for a run given no memory."""
    return memory.repo_locks if memory is not None else Kept()


def _lock(table: Locks, path: str) -> threading.Lock:
    with table.lock:
        return table.items.setdefault(path, threading.Lock())


def paths(action: Action, handlers: Mapping[str, object], config: Config) -> tuple[str, ...]:
    """The resolved directories of the configured projects `action` names, sorted."""
    by_name = {n.lower(): p for n, p in config.projects.items()}
    handler = handlers.get(action.handler or "")
    keys = project_keys(handler)
    named = {action.params.get(k, "").lower() for k in keys} | {
        project_of(action, handlers, config), _settled(action.settings)}
    found = {os.path.realpath(os.path.expanduser(by_name[n].path))
             for n in named if n in by_name}
    return tuple(sorted(found))


def _settled(settings: object) -> str:
    """The project a handler's settings name (a NamedTuple's or a mapping's `project`)."""
    value = (settings.get("project") if isinstance(settings, Mapping)
             else getattr(settings, "project", ""))
    return value.lower() if isinstance(value, str) else ""


@contextlib.contextmanager
def holding(action: Action, handlers: Mapping[str, object], config: Config, table: Locks
            ) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        for path in paths(action, handlers, config):
            stack.enter_context(_lock(table, path))
        yield
