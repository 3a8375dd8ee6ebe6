"""`image`: are the images in the registry? `HEAD /v2/<name>/manifests/<tag>`, digest as evidence.

"Push all FFL images to registry 192.168.7.21:5000" after a build is this check: the
build pushed them; this criterion confirms each `NAME:version` is there. A criterion
that names another registry than the configured one is blocked with that reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from bot.api import (
    Config,
    Context,
    DefaultRule,
    Outcome,
    ParamError,
    RegistryClient,
    RegistryError,
    Status,
    Step,
    normalize_registry,
    registry_client,
    reject_unknown,
    require_project,
    validate_version,
)

_NAME_RE = re.compile(r"[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*")


@dataclass(frozen=True)
class ImageSettings:
    images: tuple[str, ...]
    version: str
    registry: str  # host:port of the configured registry


def same_registry(config: Config, named: str, handler: str) -> str:
    """The configured registry's host:port; ParamError when the criterion names another one."""
    configured = normalize_registry(config.registry.url) if config.registry.url else ""
    if not configured:
        raise ParamError(f"{handler}: no [registry] url is configured")
    if named and normalize_registry(named) != configured:
        raise ParamError(f"{handler}: the criterion names registry {normalize_registry(named)}, "
                         f"but the configured registry is {configured}")
    return configured


def split_image(ref: str) -> tuple[str, str, str]:
    """`[host[:port]/]name[:tag]` → (host, name, tag); host and tag may be ""."""
    host = ""
    first, sep, rest = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        host, ref = first, rest
    name, _, tag = ref.partition(":")
    if not _NAME_RE.fullmatch(name):
        raise ParamError(f"{ref!r} is not an image name (like ffl/backend or ffl/backend:0.1.18)")
    return host, name, tag


def check_images(client: RegistryClient, names: tuple[str, ...], tag: str
                 ) -> tuple[dict[str, str], list[str], list[str]]:
    """(digests found, missing NAME:tag, evidence lines). Raises RegistryError."""
    digests: dict[str, str] = {}
    missing: list[str] = []
    evidence: list[str] = []
    for name in names:
        digest = client.digest(name, tag)
        where = f"HEAD {client.base}/v2/{name}/manifests/{tag}"
        if digest is None:
            missing.append(f"{name}:{tag}")
            tags = client.tags(name)
            known = ", ".join(tags[-10:]) if tags else "none: no such repository"
            evidence.append(f"{where} → 404 (tags present: {known})")
        else:
            digests[name] = digest
            evidence.append(f"{where} → 200 {name}:{tag} {digest}")
    return digests, missing, evidence


def registry_diagnosis(client: RegistryClient) -> str:
    ping = client.ping()
    return f"registry GET /v2/: {ping.message}"


class ImageHandler:
    name = "image"
    params = ("project", "image", "version", "registry")
    rules = (
        DefaultRule(r"(?i)^push all (?P<project>[\w-]+) images to (?:the )?registry\s+"
                    r"(?P<registry>[^\s`]+?)\.?$"),
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
            if not project.images:
                raise ParamError(f"image: project {project.name!r} lists no images")
            images = project.images
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
        except RegistryError as exc:
            return Outcome(Status.BLOCKED, str(exc), diagnosis=(registry_diagnosis(client),))
        if missing:
            return Outcome(Status.FAILED,
                           f"not in registry {settings.registry}: {', '.join(missing)}",
                           evidence=tuple(evidence), diagnosis=(registry_diagnosis(client),))
        return Outcome(Status.DONE, evidence=tuple(evidence))


HANDLER = ImageHandler()
