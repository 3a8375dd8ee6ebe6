"""The `[projects.NAME]` keys the built-in handlers read, one record per handler.

A handler names its record as `project_settings`; taskbot reads and checks the keys from
the file with the record's types and defaults, and the handler gets them back with
`project.settings(Record)`. Handlers that read the same key declare it alike.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

from bot.api import Argv, Tool
from handlers._path import which

_IMAGE_RE = re.compile(r"[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*")


def _image_problems(images: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    for i, image in enumerate(images, 1):
        if not _IMAGE_RE.fullmatch(image):
            yield (f"images[{i}]", f"{image!r} is not an image repository name"
                   ' (lowercase, like "ffl/backend", without registry or tag)')


def _repository(image: str) -> str:
    """The repository of an image reference `[host/]name[:tag][@digest]`: `name`."""
    parts = image.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0]):
        parts = parts[1:]
    name = "/".join(parts).split("@")[0]
    head, sep, tag = name.rpartition(":")
    return head if sep and "/" not in tag else name


def _names_image(params: Mapping[str, str], images: tuple[str, ...]) -> bool:
    """Whether the criterion's `image` is one the project's build pushes: "Verify images in
    registry: `…/v2/ffl/backend/tags/list`" then takes the version of the ffl build above."""
    return _repository(params.get("image", "")) in images


# One tuple for every record: `taskbot doctor` lists the tools in this order.
TOOLS = (
    Tool("kubectl/kustomize", ("kustomize", "kubectl"),
         "neither kubectl nor kustomize on PATH: install kubectl", "kustomize", cluster=True),
    Tool("build engine", ("docker", "podman", "buildah"), "no docker, podman or buildah on PATH",
         "build", alternatives=True, builds_here=True),
)
_NO_GIT = "not a git repository (build, image and GitOps handlers need one)"


def _git_problem(root: Path) -> Iterator[str]:
    if not (root / ".git").exists() and not (root / "HEAD").is_file():
        yield _NO_GIT


def _program_problem(key: str, argv: tuple[str, ...], cwd: Path) -> Iterator[str]:
    """Why argv[0] cannot be run from cwd, if it cannot."""
    if not argv:
        return
    program = argv[0]
    if "/" not in program:
        if not which(program):
            yield f"{key}: {program} not found on PATH"
        return
    path = cwd / program
    if not path.is_file():
        yield f"{key}: {program} not found in {cwd}"
    elif not os.access(path, os.X_OK):
        yield f"{key}: {program} is not executable"


def _kustomize_problems(root: Path, dirs: tuple[str, ...], sec_lint: tuple[str, ...]
                        ) -> Iterator[str]:
    if dirs:
        yield from _git_problem(root)
    yield from _program_problem("sec_lint", sec_lint, root)
    yield from (f"kustomize dir {d} missing" for d in dirs if not (root / d).is_dir())


class ImageKeys(NamedTuple):
    """`image` and `verify`: the images the project's build pushes."""

    images: tuple[str, ...] = ()

    @staticmethod
    def tools() -> tuple[Tool, ...]:
        return TOOLS

    def problems(self) -> Iterator[tuple[str, str]]:
        return _image_problems(self.images)

    def problems_in(self, root: Path) -> Iterator[str]:
        """What `taskbot doctor` finds wrong with the project's directory."""
        return _git_problem(root) if self.images else iter(())

    def claims(self, params: Mapping[str, str]) -> bool:
        """Whether a criterion naming no project belongs to this one."""
        return _names_image(params, self.images)


class BuildKeys(NamedTuple):
    """`build`: the build command, and the images it pushes."""

    build: Argv = ()
    images: tuple[str, ...] = ()

    @staticmethod
    def tools() -> tuple[Tool, ...]:
        return TOOLS

    def problems(self) -> Iterator[tuple[str, str]]:
        return _image_problems(self.images)

    def problems_in(self, root: Path) -> Iterator[str]:
        if self.build or self.images:
            yield from _git_problem(root)
        yield from _program_problem("build", self.build, root)

    def claims(self, params: Mapping[str, str]) -> bool:
        return _names_image(params, self.images)


class KustomizeKeys(NamedTuple):
    """`kustomize`: the directories validated, and the security lint run with them."""

    kustomize: tuple[str, ...] = ()
    sec_lint: Argv = ()

    @staticmethod
    def tools() -> tuple[Tool, ...]:
        return TOOLS

    def problems_in(self, root: Path) -> Iterator[str]:
        return _kustomize_problems(root, self.kustomize, self.sec_lint)


class GitOpsKeys(NamedTuple):
    """`helmrelease`: where a release's file is, and how the GitOps repository is checked."""

    helmrelease: str = ""
    kustomize: tuple[str, ...] = ()
    sec_lint: Argv = ()

    @staticmethod
    def tools() -> tuple[Tool, ...]:
        return TOOLS

    def problems_in(self, root: Path) -> Iterator[str]:
        if self.helmrelease and not self.kustomize:
            yield from _git_problem(root)
        yield from _kustomize_problems(root, self.kustomize, self.sec_lint)
