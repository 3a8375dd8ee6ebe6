"""The post-receive hook: its template, installing it, and `taskbot hook post-receive`.

The hook is a small template shipped as package data (`bot/hooks/post-receive`) with
a marker line; the absolute state dir and the absolute path of the installed
`taskbot` are written into it. A hook without the marker belongs to someone else and
is never overwritten: `init` says how to chain it instead.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from collections.abc import Iterable
from importlib.resources import files
from pathlib import Path

from bot import config as configmod
from bot.atomic import write_atomic
from bot.config import Config
from bot.daemon import spool as queue
from bot.daemon import statusfile
from bot.errors import TaskbotError
from bot.git.read import hooks_dir

__all__ = [
    "HOOK_NAME",
    "MARKER",
    "MARKER_PREFIX",
    "HookConflict",
    "install_hook",
    "render_hook",
    "run_hook",
    "taskbot_executable",
]

MARKER = "# taskbot-hook v1"
MARKER_PREFIX = "# taskbot-hook"
HOOK_NAME = "post-receive"



class HookConflict(TaskbotError):
    """A hook that is not taskbot's is in the way."""

    exit_code = 1


def taskbot_executable() -> Path:
    """The `taskbot` script next to the running interpreter (the venv's), else the interpreter."""
    beside = Path(sys.executable).parent / "taskbot"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside.absolute()
    found = shutil.which("taskbot")
    return Path(found).absolute() if found else Path(sys.executable).absolute()


def render_hook(state_dir: Path, taskbot: Path) -> str:
    template = (files("bot") / "hooks" / HOOK_NAME).read_text(encoding="utf-8")
    if MARKER not in template:  # the package is broken: say so rather than install it
        raise TaskbotError(f"hook template has no marker line {MARKER!r}")
    return (template.replace("@STATE_DIR@", shlex.quote(str(state_dir.absolute())))
            .replace("@TASKBOT@", shlex.quote(str(taskbot))))


def _chain_instructions(hook: Path, taskbot: Path, config: Config) -> str:
    kept = hook.with_name(HOOK_NAME + ".local")
    cfg = shlex.quote(str(Path(config.source).absolute()))
    return (
        f"{hook} exists and is not taskbot's (no '{MARKER}' line); it was left as it is. "
        f"To run both, add this line to it (it reads the same stdin, so save stdin first "
        f"if the hook reads it too): "
        f"{shlex.quote(str(taskbot))} --config {cfg} hook post-receive  "
        f"— or move it to {kept}, run 'taskbot init' again and call {kept.name} from the "
        f"new hook"
    )


def install_hook(repo: Path, state_dir: Path, taskbot: Path, config: Config) -> str:
    """Install or update taskbot's hook; returns a message. HookConflict on a foreign hook."""
    hdir = hooks_dir(repo)
    hook = hdir / HOOK_NAME
    text = render_hook(state_dir, taskbot)
    if hook.exists() or hook.is_symlink():
        try:
            current = hook.read_text(encoding="utf-8", errors="replace")
        except OSError:
            current = ""
        if MARKER_PREFIX not in current:
            raise HookConflict(_chain_instructions(hook, taskbot, config))
        if current == text and os.access(hook, os.X_OK):
            return f"hook {hook} is up to date"
        verb = "updated"
    else:
        verb = "installed"
    hdir.mkdir(parents=True, exist_ok=True)
    write_atomic(hook, text.encode("utf-8"), 0o755)
    return f"hook {verb}: {hook}"


def run_hook(explicit: str | None, lines: Iterable[str]) -> int:
    """`taskbot hook post-receive`: queue stdin's lines; never fails, one warning line at most."""
    data = list(lines)
    try:
        config = configmod.load(configmod.find_config_path(explicit) or configmod.SYSTEM_CONFIG)
        queue.enqueue(config.repo.state_dir, data)
        if statusfile.daemon_running(Path(config.repo.state_dir)) is None:
            print("taskbot: note: the daemon is not running; this push is queued and runs when "
                  "it starts", file=sys.stderr)
    except TaskbotError as exc:
        print(f"taskbot: warning: push not queued for taskbot: {exc}; the push itself succeeded",
              file=sys.stderr)
    return 0
