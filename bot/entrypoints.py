"""Entry points of the `taskbot.handlers` group, read without `importlib.metadata`.

The entry points are read from the installed distributions' `entry_points.txt` files
directly, as the packaging specification describes them: importing `importlib.metadata`
(it loads the `email` package) costs ~35 ms, a quarter of what `taskbot plan` may take in
all. Handlers come out untyped here: `bot.config` asks for their project-key records, and
`bot.plugin.plugins` (which types them as handlers) imports what imports `bot.config`.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

__all__ = ["GROUP", "EntryPoint", "entry_points", "load_handler", "loaded", "project_settings"]

GROUP = "taskbot.handlers"
_MEMBERS = ("name", "params", "rules", "settings", "plan", "run")
_METADATA_DIRS = (".dist-info", ".egg-info")


class EntryPoint(NamedTuple):
    """`name = value` of an entry point; `value` is `module:attribute` (extras ignored)."""

    name: str
    value: str

    def load(self) -> Any:
        module, _, attrs = self.value.partition(":")
        target: Any = importlib.import_module(module.strip())
        for attr in filter(None, attrs.split("[")[0].strip().split(".")):
            target = getattr(target, attr)
        return target


def _normalized(dist_dir: str) -> str:
    """The distribution's name as the specification compares names (`Foo.Bar` = `foo_bar`)."""
    stem = dist_dir.removesuffix(".dist-info").removesuffix(".egg-info")
    return re.sub(r"[-_.]+", "_", stem.split("-", maxsplit=1)[0]).lower()


def _group(text: str, group: str, where: str) -> Iterator[EntryPoint]:
    """The group's `name = value` lines; ValueError naming the first line that is not one."""
    inside = False
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip().lstrip("\ufeff")
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            inside = line == f"[{group}]"
        elif inside:
            name, eq, value = line.partition("=")
            if not eq or not name.strip() or not value.strip():
                raise ValueError(f"{where}: line {number} in [{group}] is not "
                                 "'name = module:attribute'")
            yield EntryPoint(name.strip(), value.strip())


def entry_points(group: str, problems: list[str] | None = None) -> list[EntryPoint]:
    """The group's entry points of every distribution on sys.path (the first of a name wins,
    as for imports). A file that names the group but cannot be read whole adds a line to
    `problems` and none of its entry points."""
    problems = [] if problems is None else problems
    seen: set[str] = set()
    found: list[EntryPoint] = []
    header = f"[{group}]".encode()
    for entry in sys.path:
        try:
            names = sorted(n for n in os.listdir(entry or ".") if n.endswith(_METADATA_DIRS))
        except OSError:  # a zip file, a missing directory
            continue
        for name in names:
            dist = _normalized(name)
            if dist in seen:
                continue
            seen.add(dist)
            where = os.path.join(entry or ".", name, "entry_points.txt")
            try:
                with open(where, "rb") as f:
                    data = f.read()
            except OSError:
                continue
            if header not in data:  # most distributions: nothing of ours to decode
                continue
            try:
                found.extend(list(_group(data.decode("utf-8"), group, where)))
            except UnicodeDecodeError:
                problems.append(f"{where}: not UTF-8")
            except ValueError as exc:
                problems.append(str(exc))
    return found


def load_handler(ep: EntryPoint) -> Any:
    """The entry point's handler; ValueError saying why it is not one."""
    try:
        handler = ep.load()
    except Exception as exc:  # whatever a third-party import raises
        raise ValueError(f"handler plugin {ep.value!r} failed to load: {exc}") from exc
    for attr in _MEMBERS:
        if not hasattr(handler, attr):
            raise ValueError(f"handler plugin {ep.value!r} has no {attr!r}: not a taskbot handler")
    return handler


def loaded() -> tuple[dict[str, Any], list[str]]:
    """The handlers that load, by name, and one line for each plugin left out."""
    found: dict[str, Any] = {}
    broken: list[str] = []
    for ep in sorted(entry_points(GROUP, broken), key=lambda e: e.name):
        try:
            handler = load_handler(ep)
        except ValueError as exc:
            broken.append(str(exc))
            continue
        found[handler.name] = handler
    return found, broken


def project_settings() -> Mapping[str, type]:
    """Each loaded handler's record of the `[projects.NAME]` keys it reads, by handler name
    (a handler without `project_settings` reads none). Broken plugins are left out here
    silently: `load_handlers` names them when the handlers are loaded to run."""
    records = {}
    for name, handler in loaded()[0].items():
        record = getattr(handler, "project_settings", None)
        if isinstance(record, type):
            records[name] = record
    return MappingProxyType(records)
