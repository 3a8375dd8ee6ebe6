"""The GitOps validation `kustomize`, `helmrelease` and `registry-ip` run before anything is
committed: `kustomize build` (else `kubectl kustomize`) of each dir, then `sec_lint`.

A kustomize dir that is, or lies under, a symlink is never built (`linked_dir`): kustomize
would read whatever the link points at."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from bot import api
from bot.api import Context, ParamError
from handlers._path import which


def relative_dir(value: str, what: str) -> str:
    """A relative path inside the repository (no absolute paths, no `..`)."""
    path = PurePosixPath(value)
    if not value or path.is_absolute() or ".." in path.parts or "\\" in value:
        raise ParamError(f"{what} {value!r} must be a relative path inside the repository")
    return str(path)


def linked_dir(root: Path | str, dirs: Sequence[str]) -> str:
    """Why the first of `dirs` reached through a link is refused; "" when none is (a
    missing dir is left to the build, which says so)."""
    for d in dirs:
        try:
            api.dir_inside(root, d)
        except api.UnsafePath as exc:
            return str(exc)
        except OSError:
            continue
    return ""


def build_argv(directory: str) -> tuple[str, ...]:
    if which("kustomize"):
        return ("kustomize", "build", directory)
    return ("kubectl", "kustomize", directory)


def validation_commands(dirs: Sequence[str], sec_lint: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    return (*(build_argv(d) for d in dirs), *((tuple(sec_lint),) if sec_lint else ()))


def validate(ctx: Context, root: str, dirs: Sequence[str], sec_lint: Sequence[str]
             ) -> tuple[tuple[api.CommandRecord, ...], str]:
    """Run every validator in `root`; ("" when all passed) else the first failure's text."""
    records: list[api.CommandRecord] = []
    failures: list[str] = []
    for argv in validation_commands(dirs, sec_lint):
        record = ctx.run(argv, root)
        records.append(record)
        if not record.ok:
            failures.append(record.describe())
    return tuple(records), "; ".join(failures)
