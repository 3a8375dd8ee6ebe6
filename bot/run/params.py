"""Checks of a criterion's parameters, whatever the handler: they reach commands."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from bot.config import Config, Project
from bot.errors import ParamError

__all__ = ["VERSION_RE", "parse_bool", "reject_unknown", "require_project", "validate_common",
           "validate_url", "validate_version"]

VERSION_RE = re.compile(r"[A-Za-z0-9._+-]{1,128}")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def validate_version(value: str, name: str = "version") -> str:
    if not VERSION_RE.fullmatch(value):
        raise ParamError(f"{name} {value!r} is not a valid version (allowed: [A-Za-z0-9._+-], 1-128)")
    return value


def parse_bool(value: str, name: str) -> bool:
    """true/yes/on/1 or false/no/off/0, any case; ParamError naming `name` otherwise."""
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ParamError(f"{name} must be true or false, not {value!r}")


def validate_url(value: str, name: str = "url") -> str:
    if not re.fullmatch(r"https?://[^\s\"'<>]+", value):
        raise ParamError(f"{name} {value!r} is not an http(s) URL")
    return value


def validate_common(params: Mapping[str, str]) -> None:
    """Checks for parameters whatever the handler: versions, tags and URLs reach commands."""
    for key, value in params.items():
        if key in ("version", "tag", "chart"):
            validate_version(value, key)
        elif key == "url":
            validate_url(value, key)


def require_project(config: Config, name: str) -> Project:
    for key, project in config.projects.items():
        if key.lower() == name.lower():
            return project
    known = ", ".join(sorted(config.projects)) or "none"
    raise ParamError(f"project {name!r} is not configured (configured: {known})")


def reject_unknown(handler: str, params: Mapping[str, str], allowed: Sequence[str]) -> None:
    """ParamError naming the first parameter `handler` does not take."""
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ParamError(f"{handler}: unknown parameter {unknown[0]!r} (takes {', '.join(allowed)})")
