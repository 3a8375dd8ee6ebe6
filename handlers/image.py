"""`image`: are the images in the registry? `HEAD /v2/<name>/manifests/<tag>`, digest as evidence.

"Push all FFL images to registry 192.168.7.21:5000" after a build is this check: the
build pushed them; this criterion confirms each `NAME:version` is there. A criterion
that names another registry than the configured one is blocked with that reason.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from bot import api
from bot.api import (
    Context,
    DefaultRule,
    Handler,
    Outcome,
    ParamError,
    Status,
    Step,
    registry_client,
    reject_unknown,
    require_project,
    validate_version,
)
from handlers._project import ImageKeys
from handlers._registry import check_images, registry_diagnosis, same_registry, split_image


class ImageSettings(NamedTuple):
    images: tuple[str, ...]
    version: str
    registry: str  # host:port of the configured registry


class ImageHandler:
    name = "image"
    project_settings = ImageKeys
    params = ("project", "image", "version", "registry")
    rules = (
        DefaultRule(r"(?i)^(?:successfully )?push all (?P<project>[\w-]+) images to "
                    r"(?:the )?registry\s+\(?(?P<registry>[^\s`()]+?)\)?\.?$"),
    )

    def settings(self, params: Mapping[str, str], ctx: Context) -> ImageSettings:
        reject_unknown(self.name, params, self.params)
        registry = same_registry(ctx.config, params.get("registry", ""), self.name)
        version = params.get("version", "")
        if "image" in params:
            host, name, tag = split_image(params["image"])
            if host:
                same_registry(ctx.config, host, self.name)
            if tag and version and tag != version:
                raise ParamError(f"image: tag {tag!r} and version {version!r} disagree")
            images: tuple[str, ...] = (name,)
            version = tag or version
        elif "project" in params:
            project = require_project(ctx.config, params["project"])
            images = project.settings(ImageKeys).images
            if not images:
                raise ParamError(f"image: project {project.name!r} lists no images")
        else:
            raise ParamError("image: needs project=NAME or image=NAME[:TAG]")
        if not version:
            raise ParamError("image: needs version=VERSION (or a tag in image=NAME:TAG)")
        return ImageSettings(images, validate_version(version), registry)

    def plan(self, settings: ImageSettings, ctx: Context) -> Step:
        return Step(preconditions=tuple(
            f"registry {settings.registry} has {name}:{settings.version} "
            f"(HEAD /v2/{name}/manifests/{settings.version})" for name in settings.images))

    def run(self, settings: ImageSettings, ctx: Context) -> Outcome:
        client = registry_client(ctx.config)
        try:
            _, missing, evidence = check_images(client, settings.images, settings.version)
        except api.RegistryError as exc:
            return Outcome(Status.BLOCKED, str(exc), diagnosis=(registry_diagnosis(client),))
        if missing:
            return Outcome(Status.FAILED,
                           f"not in registry {settings.registry}: {', '.join(missing)}",
                           evidence=tuple(evidence), diagnosis=(registry_diagnosis(client),))
        tags = ", ".join(f"{name}:{settings.version}" for name in settings.images)
        return Outcome(Status.DONE, evidence=tuple(evidence),
                       summary=f"registry {settings.registry} has {tags}")


HANDLER: Handler[ImageSettings] = ImageHandler()
