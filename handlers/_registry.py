"""What the registry-reading handlers share: image references, the configured registry,
`HEAD` checks of `NAME:tag` with their evidence, and the registry diagnosis line."""

from __future__ import annotations

import re

from bot import api
from bot.api import Config, ParamError

_NAME_RE = re.compile(r"[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*")


def same_registry(config: Config, named: str, handler: str) -> str:
    """The configured registry's host:port; ParamError when the criterion names another one."""
    configured = api.normalize_registry(config.registry.url) if config.registry.url else ""
    if not configured:
        raise ParamError(f"{handler}: no [registry] url is configured")
    if named and api.normalize_registry(named) != configured:
        raise ParamError(f"{handler}: the criterion names registry {api.normalize_registry(named)}, "
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


def check_images(client: api.RegistryClient, names: tuple[str, ...], tag: str
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


def registry_diagnosis(client: api.RegistryClient) -> str:
    ping = client.ping()
    return f"registry GET /v2/: {ping.message}"
