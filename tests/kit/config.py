"""taskbot.toml for tests, written from a dict of tables (bot.commands.sandbox.toml_text).

`{"repo": {"path": root}, "projects.demo": {"allow_shell": True}}` is `[repo]` and
`[projects.demo]`; a test states only the tables and keys it is about.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from bot.commands.sandbox import TomlValue, toml_text, write_config

Sections = Mapping[str, Mapping[str, TomlValue]]

__all__ = ["Sections", "TomlValue", "local_config", "local_workspace", "merged", "toml_text",
           "write_config"]


def merged(base: Sections, over: Sections) -> dict[str, dict[str, TomlValue]]:
    """`base` with the keys of `over` set, table by table; tables only in `over` come last."""
    return {name: {**base.get(name, {}), **over.get(name, {})} for name in {**base, **over}}


def local_config(root: Path, sections: Sections | None = None) -> Path:
    """root/taskbot.toml for a tasks folder at `root` that is no git repository: everyone
    trusted, no retries, a project `demo` at root/demo that may run shell commands."""
    base: Sections = {
        "repo": {"path": root, "tasks_dir": "tasks/active", "state_dir": root / "state"},
        "trust": {"anyone": True},
        "limits": {"retries": 0},
        "projects.demo": {"path": root / "demo", "allow_shell": True},
    }
    return write_config(root / "taskbot.toml", merged(base, sections or {}))


def local_workspace(root: Path, name: str, task: str,
                    sections: Sections | None = None) -> tuple[Path, Path]:
    """`local_config` plus root/demo and the task `name` in root/tasks/active: (config, task)."""
    (root / "demo").mkdir()
    path = root / "tasks" / "active" / name
    path.parent.mkdir(parents=True)
    path.write_text(task)
    return local_config(root, sections), path
