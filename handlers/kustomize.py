"""`kustomize`: validation only: `kustomize build` (else `kubectl kustomize`) and `sec_lint`.

Never applies anything, and never builds a dir that is, or lies under, a symlink.
`helmrelease` and `registry-ip` run the same validation (`handlers._kustomize`) before
they commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from bot.api import (
    Context,
    DefaultRule,
    Handler,
    Outcome,
    ParamError,
    Status,
    Step,
    UnsafePath,
    dir_inside,
    reject_unknown,
    require_project,
)
from handlers._kustomize import relative_dir, validate, validation_commands
from handlers._project import KustomizeKeys


class KustomizeSettings(NamedTuple):
    project: str
    root: str
    dirs: tuple[str, ...]
    sec_lint: tuple[str, ...]


class KustomizeHandler:
    name = "kustomize"
    project_settings = KustomizeKeys
    params = ("project", "dir")
    rules: tuple[DefaultRule, ...] = ()

    def settings(self, params: Mapping[str, str], ctx: Context) -> KustomizeSettings:
        reject_unknown(self.name, params, self.params)
        if "project" not in params:
            raise ParamError("kustomize: needs project=NAME")
        project = require_project(ctx.config, params["project"])
        keys = project.settings(KustomizeKeys)
        if "dir" in params:
            dirs: tuple[str, ...] = (relative_dir(params["dir"], "dir"),)
        else:
            dirs = tuple(relative_dir(d, "kustomize dir") for d in keys.kustomize)
        if not dirs:
            raise ParamError(f"kustomize: project {project.name!r} has no kustomize dirs "
                             "(set projects.NAME.kustomize or pass dir=PATH)")
        return KustomizeSettings(project.name, project.path, dirs, keys.sec_lint)

    def plan(self, settings: KustomizeSettings, ctx: Context) -> Step:
        return Step(commands=validation_commands(settings.dirs, settings.sec_lint),
                    cwd=settings.root,
                    preconditions=tuple(f"{d} exists in {settings.root}" for d in settings.dirs))

    def run(self, settings: KustomizeSettings, ctx: Context) -> Outcome:
        for d in settings.dirs:
            try:
                dir_inside(settings.root, d)
            except UnsafePath as exc:
                return Outcome(Status.BLOCKED, f"{settings.project}: {exc}")
            except OSError:
                return Outcome(Status.BLOCKED, f"{d} is not a directory in {settings.root}")
        records, failure = validate(ctx, settings.root, settings.dirs, settings.sec_lint)
        if failure:
            return Outcome(Status.FAILED, failure, commands=records)
        built = ", ".join(settings.dirs)
        return Outcome(Status.DONE, commands=records, evidence=(f"built: {built}",))


HANDLER: Handler[KustomizeSettings] = KustomizeHandler()
