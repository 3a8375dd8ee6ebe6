"""A string written as a YAML scalar: plain when it reads back as the same value, else
quoted. Pure functions of the text; the scalar editor (`bot.yamledit`) places the result."""

from __future__ import annotations

from typing import Any

import yaml

__all__ = ["LOADER", "as_text", "double", "plain", "reads_as_text", "resolve", "single"]

LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~10x faster
_RESOLVER = yaml.resolver.Resolver()


def resolve(value: str) -> str:
    """The tag a plain scalar `value` gets (str, int, float, bool, null, …)."""
    tag: str = _RESOLVER.resolve(yaml.ScalarNode, value, (True, False))  # type: ignore[no-untyped-call]
    return tag


def plain(value: str) -> tuple[bool, object]:
    """Whether plain `value` is one plain scalar with this text, and what it loads as."""
    try:
        root = yaml.compose(f"k: {value}\n", Loader=LOADER)
        loaded = yaml.load(f"k: {value}\n", Loader=LOADER)  # noqa: S506 (a safe loader)
    except (yaml.YAMLError, ValueError, OverflowError):  # ValueError: a date like 2026-13-45
        return False, None
    pairs = root.value if isinstance(root, yaml.MappingNode) else []
    got = next((v for k, v in pairs if isinstance(k, yaml.ScalarNode) and k.value == "k"), None)
    if (not isinstance(got, yaml.ScalarNode) or got.value != value or got.style
            or not isinstance(loaded, dict)):
        return False, None
    return True, loaded.get("k")


def reads_as_text(loaded: object, value: str) -> bool:
    """A loaded YAML value reads as the text `value` (`2026-01-02` and `12` do; `~`, `yes` do not)."""
    return loaded is not None and not isinstance(loaded, bool | list | dict) and str(loaded) == value


def single(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def double(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def as_text(value: str, style: str | None) -> str:
    """`value` for a mapping read as text: in a quoted scalar's own style, else plain when it
    reads back as the same text, else double-quoted."""
    if style == "'":
        return single(value)
    if style == '"':
        return double(value)
    ok, loaded = plain(value)
    return value if ok and reads_as_text(loaded, value) else double(value)
