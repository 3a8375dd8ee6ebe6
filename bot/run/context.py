"""The run context a handler sees, and the handler protocol the core calls."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from bot.config import Config
from bot.redact import Redactor
from bot.run import observe
from bot.run.runmodel import DefaultRule, Outcome, Step
from bot.state.memory import Memory

if TYPE_CHECKING:
    # A default, so the core's bare `Handler` means Handler[Any] (typing has it from 3.13).
    from typing_extensions import TypeVar

    from bot.proc import CommandRecord

    S = TypeVar("S", default=Any)
else:
    from typing import TypeVar

    S = TypeVar("S")

__all__ = ["Context", "Handler"]


class Context(NamedTuple):
    """What a handler sees of the run: configuration, task, and the one way to run commands."""

    config: Config
    task_id: str
    run_id: str
    redactor: Redactor
    on_spawn: Callable[[int], None] | None = None  # the journal records each process group
    # the criterion running (its identity, `#occurrence`) and its attempt, from 1: what a
    # handler names outside work by, so that the same run finds it again after a restart
    criterion: str = ""
    attempt: int = 0
    # the process's caches (`bot.state.memory`): what a worktree taken (`prepare_worktree`)
    # and committed in keeps open between runs, and the project locks; None: read afresh
    memory: Memory | None = None

    def run(
        self,
        argv: Sequence[str],
        cwd: str,
        *,
        env: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> CommandRecord:
        from bot.proc import run_command  # noqa: PLC0415 -- only running a command needs it

        limit = self.config.limits.command_timeout if timeout is None else timeout
        watcher = observe.command(tuple(self.redactor(str(a)) for a in argv))
        return run_command(argv, cwd, env=env, timeout=limit, redactor=self.redactor,
                           on_spawn=self.on_spawn, on_output=watcher)


class Handler(Protocol[S]):
    """One kind of action, `S` its settings record. `params` lists the parameters it takes
    (used for inheritance). The core holds handlers of every kind as `Handler[Any]`."""

    # read-only, so a class attribute like `params = ("project", "cmd")` matches
    @property
    def name(self) -> str: ...

    @property
    def params(self) -> tuple[str, ...]: ...

    @property
    def rules(self) -> tuple[DefaultRule, ...]: ...

    def settings(self, params: Mapping[str, str], ctx: Context) -> S:
        """Validate parameters into the handler's frozen settings; raise ParamError."""

    def plan(self, settings: S, ctx: Context) -> Step:
        """Describe the commands and files the action would touch; runs nothing."""

    def run(self, settings: S, ctx: Context) -> Outcome:
        """Check preconditions, do the work, and return the outcome with its evidence."""
