"""`taskbot init`: the state dir, a starter config, and the post-receive hook.

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
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from bot import config as configmod
from bot import gitrepo, queue
from bot import status as daemonstatus
from bot.config import CONFIG_NAME, Config
from bot.errors import ConfigError, TaskbotError
from bot.proc import run_command

__all__ = [
    "MARKER",
    "STARTER_CONFIG",
    "HookConflict",
    "InitResult",
    "hooks_dir",
    "init",
    "install_hook",
    "render_hook",
    "run_hook",
    "run_init",
    "taskbot_executable",
    "write_starter_config",
]

MARKER = "# taskbot-hook v1"
MARKER_PREFIX = "# taskbot-hook"
HOOK_NAME = "post-receive"

STARTER_CONFIG = """\
# taskbot configuration — written by `taskbot init`; every key is in SPEC §5 / README.
# Edit [repo] and [trust], then run `taskbot init` again to create the state dir and
# install the hook.

[repo]
path = "/srv/git/tasks.git"      # a bare repository: hook mode; a clone: watch mode
branch = "main"
tasks_dir = "tasks/active"
state_dir = "/var/lib/taskbot"
# integrate = "ff"               # ff | branch
# on_complete = "keep"           # keep | move (to the sibling completed/ folder)

[identity]
name = "taskbot"
email = "taskbot@localhost"

# Without [trust] taskbot runs nothing. List who may make it run things:
# [trust]
# authors = ["you@example.com"]
# allowed_signers = ""           # an ssh allowed_signers file: then commits must be signed

# [notify]
# urls = ["mailto://127.0.0.1:25?from=taskbot@localhost&to=you@example.com"]

# [projects.example]
# path = "/home/you/projects/example"
# build = ["./scripts/build.sh", "--push", "all"]
# images = ["example/backend"]
# allow_shell = false
"""


class HookConflict(TaskbotError):
    """A hook that is not taskbot's is in the way."""

    exit_code = 1


@dataclass(frozen=True)
class InitResult:
    messages: tuple[str, ...]
    exit_code: int = 0


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


def hooks_dir(repo: Path) -> Path:
    """The repository's hooks dir, honouring `core.hooksPath`."""
    record = run_command(["git", "rev-parse", "--git-path", "hooks"], str(repo), timeout=30)
    if not record.ok:
        raise ConfigError(f"{repo}: not a git repository: {record.error_line or record.error}")
    path = Path(record.output_tail.strip())
    return path if path.is_absolute() else (repo / path).resolve()


def _is_bare(repo: Path) -> bool:
    try:
        return gitrepo.is_bare(repo)
    except gitrepo.GitError as exc:
        raise ConfigError(f"{repo}: not a git repository: {exc}") from exc


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
    tmp = hdir / f".{HOOK_NAME}.taskbot-tmp"
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(0o755)
    os.replace(tmp, hook)
    return f"hook {verb}: {hook}"


def write_starter_config(path: Path) -> bool:
    """Write the starter config unless a file is there; True when written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(STARTER_CONFIG)
    return True


def init(config: Config, *, taskbot: Path | None = None) -> InitResult:
    """Create the state dir and spool; in hook mode install the hook."""
    messages: list[str] = []
    state_dir = Path(config.repo.state_dir).absolute()
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        queue.ensure_dirs(state_dir)
    except (OSError, queue.QueueError) as exc:
        raise ConfigError(f"{config.source}: repo.state_dir: cannot create {state_dir}: {exc}"
                          ) from exc
    messages.append(f"state dir {state_dir} ready (spool: {queue.queue_dir(state_dir)})")
    repo = Path(config.repo.path)
    if not repo.is_dir():
        raise ConfigError(f"{config.source}: repo.path: {repo} is not a directory")
    if not _is_bare(repo):
        messages.append(f"{repo} is a clone: watch mode, no hook needed; start 'taskbot serve'")
        return InitResult(tuple(messages))
    messages.append(install_hook(repo, state_dir, taskbot or taskbot_executable(), config))
    if config.trust is None:
        messages.append(f"note: {config.source} has no [trust] section: taskbot runs nothing "
                        "until it lists trusted authors")
    messages.append("next: start 'taskbot serve' (or the systemd unit); pushes made before "
                    "it starts are queued")
    return InitResult(tuple(messages))


def run_init(explicit: str | None) -> InitResult:
    """`taskbot init [--config FILE]`: a starter config when none exists, else set up from it."""
    named = explicit or os.environ.get("TASKBOT_CONFIG", "")
    target = Path(named) if named else configmod.find_config_path(None) or Path(CONFIG_NAME)
    if write_starter_config(target):
        return InitResult((
            f"wrote a starter configuration to {target}",
            f"next: edit [repo] and [trust] in it, then run 'taskbot init --config {target}' "
            "again to create the state dir and install the hook",
        ))
    config = configmod.load(target)
    result = init(config)
    return InitResult((f"using {target} (an existing configuration is never overwritten; "
                       "edit it by hand)", *result.messages), result.exit_code)


def run_hook(explicit: str | None, lines: Iterable[str]) -> int:
    """`taskbot hook post-receive`: queue stdin's lines; never fails, one warning line at most."""
    data = list(lines)
    try:
        config = configmod.load(configmod.find_config_path(explicit) or configmod.SYSTEM_CONFIG)
        queue.enqueue(config.repo.state_dir, data)
        if daemonstatus.daemon_running(Path(config.repo.state_dir)) is None:
            print("taskbot: note: the daemon is not running; this push is queued and runs when "
                  "it starts", file=sys.stderr)
    except TaskbotError as exc:
        print(f"taskbot: warning: push not queued for taskbot: {exc}; the push itself succeeded",
              file=sys.stderr)
    return 0
