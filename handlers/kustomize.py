"""`kustomize`: validation only: `kustomize build` (else `kubectl kustomize`) and `sec_lint`.

Never applies anything. `helmrelease` uses the same validation before it commits.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from bot.api import (
    CommandRecord,
    Context,
    DefaultRule,
    Outcome,
    ParamError,
    Status,
    Step,
    reject_unknown,
    require_project,
)


@dataclass(frozen=True)
class KustomizeSettings:
    project: str
    root: str
    dirs: tuple[str, ...]
    sec_lint: tuple[str, ...]


def relative_dir(value: str, what: str) -> str:
    """A relative path inside the repository (no absolute paths, no `..`)."""
    path = PurePosixPath(value)
    if not value or path.is_absolute() or ".." in path.parts or "\\" in value:
        raise ParamError(f"{what} {value!r} must be a relative path inside the repository")
    return str(path)


def build_argv(directory: str) -> tuple[str, ...]:
    if shutil.which("kustomize"):
        return ("kustomize", "build", directory)
    return ("kubectl", "kustomize", directory)


def validation_commands(dirs: Sequence[str], sec_lint: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    return (*(build_argv(d) for d in dirs), *((tuple(sec_lint),) if sec_lint else ()))


def validate(ctx: Context, root: str, dirs: Sequence[str], sec_lint: Sequence[str]
             ) -> tuple[tuple[CommandRecord, ...], str]:
    """Run every validator in `root`; ("" when all passed) else the first failure's text."""
    records: list[CommandRecord] = []
    failures: list[str] = []
    for argv in validation_commands(dirs, sec_lint):
        record = ctx.run(argv, root)
        records.append(record)
        if not record.ok:
            failures.append(record.describe())
    return tuple(records), "; ".join(failures)


class KustomizeHandler:
    name = "kustomize"
    params = ("project", "dir")
    rules: tuple[DefaultRule, ...] = ()

    def settings(self, params: Mapping[str, str], ctx: Context) -> KustomizeSettings:
        reject_unknown(self.name, params, self.params)
        if "project" not in params:
            raise ParamError("kustomize: needs project=NAME")
        project = require_project(ctx.config, params["project"])
        if "dir" in params:
            dirs: tuple[str, ...] = (relative_dir(params["dir"], "dir"),)
        else:
            dirs = tuple(relative_dir(d, "kustomize dir") for d in project.kustomize)
        if not dirs:
            raise ParamError(f"kustomize: project {project.name!r} has no kustomize dirs "
                             "(set projects.NAME.kustomize or pass dir=PATH)")
        return KustomizeSettings(project.name, project.path, dirs, project.sec_lint)

    def plan(self, settings: KustomizeSettings, ctx: Context) -> Step:
        return Step(commands=validation_commands(settings.dirs, settings.sec_lint),
                    cwd=settings.root,
                    preconditions=tuple(f"{d} exists in {settings.root}" for d in settings.dirs))

    def run(self, settings: KustomizeSettings, ctx: Context) -> Outcome:
        root = Path(settings.root)
        for d in settings.dirs:
            if not (root / d).is_dir():
                return Outcome(Status.BLOCKED, f"{d} is not a directory in {root}")
        records, failure = validate(ctx, settings.root, settings.dirs, settings.sec_lint)
        if failure:
            return Outcome(Status.FAILED, failure, commands=records)
        built = ", ".join(settings.dirs)
        return Outcome(Status.DONE, commands=records, evidence=(f"built: {built}",))


HANDLER = KustomizeHandler()
