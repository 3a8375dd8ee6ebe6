"""`shell`: runs `cmd`, split like a shell but run without one, in the project's directory.

Only where the project sets `allow_shell = true`: anyone who can push a task can
otherwise make the build host run whatever the task says.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from typing import NamedTuple

from bot.api import (
    Context,
    DefaultRule,
    Handler,
    NotReady,
    Outcome,
    ParamError,
    Status,
    Step,
    project_ready,
    require_project,
)


class ShellSettings(NamedTuple):
    project: str
    argv: tuple[str, ...]
    cwd: str


class ShellHandler:
    name = "shell"
    params = ("project", "cmd")
    rules: tuple[DefaultRule, ...] = ()

    def settings(self, params: Mapping[str, str], ctx: Context) -> ShellSettings:
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            raise ParamError(f"shell: unknown parameter {unknown[0]!r} (takes project, cmd)")
        if "project" not in params or "cmd" not in params:
            raise ParamError("shell: needs project=NAME and cmd=\"COMMAND\"")
        project = require_project(ctx.config, params["project"])
        if not project.allow_shell:
            raise ParamError(
                f"shell: project {project.name!r} does not allow shell actions (allow_shell = false)"
            )
        try:
            argv = tuple(shlex.split(params["cmd"]))
        except ValueError as exc:
            raise ParamError(f"shell: cmd cannot be split: {exc}") from exc
        if not argv:
            raise ParamError("shell: cmd is empty")
        return ShellSettings(project.name, argv, project.path)

    def plan(self, settings: ShellSettings, ctx: Context) -> Step:
        return Step(
            commands=(settings.argv,),
            cwd=settings.cwd,
            preconditions=(f"project directory {settings.cwd} exists",),
        )

    def run(self, settings: ShellSettings, ctx: Context) -> Outcome:
        if not os.path.isdir(settings.cwd):
            return Outcome(Status.BLOCKED, f"project directory {settings.cwd} does not exist")
        try:
            # a plain directory (no git) is allowed: shell predates the checks and needs none
            checked = project_ready(require_project(ctx.config, settings.project),
                                    require_git=False)
        except NotReady as exc:
            return Outcome(Status.BLOCKED, exc.reason, evidence=exc.evidence)
        record = ctx.run(settings.argv, settings.cwd)
        summary = record.describe()  # the command, its exit and its last line of output
        if record.ok:
            return Outcome(Status.DONE, commands=(record,), evidence=checked, summary=summary)
        return Outcome(Status.FAILED, record.describe(), commands=(record,), evidence=checked,
                       summary=summary)


HANDLER: Handler[ShellSettings] = ShellHandler()
