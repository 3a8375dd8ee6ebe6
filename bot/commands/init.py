"""`taskbot init`: a starter config, the state dir and its spool, and the hook in a bare repo."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from bot import config as configmod
from bot.config import CONFIG_NAME, Config
from bot.daemon import spool as queue
from bot.daemon import tip
from bot.daemon.hook import install_hook, taskbot_executable
from bot.errors import ConfigError, TaskbotError
from bot.forge import remote
from bot.git import read
from bot.state.statedir import PRIVATE_MODE

__all__ = ["STARTER_CONFIG", "InitResult", "command", "init", "init_clone", "run_init",
           "write_starter_config"]

NOTES_REFSPEC = "+refs/notes/taskbot:refs/notes/taskbot"

STARTER_CONFIG = """\
# taskbot configuration — written by `taskbot init`; every key is in SPEC §5 / README.
# Edit [repo] and [trust], then run `taskbot init` again to create the state dir and
# install the hook.

[repo]
path = "/srv/git/tasks.git"      # a bare repository: hook mode; a clone: watch mode
branch = "main"
tasks_dir = "tasks/active"
state_dir = "/var/lib/taskbot"
dashboard = "tasks/DASHBOARD.md"  # kept up to date in taskbot's commits; "" for none
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


@dataclass(frozen=True)
class InitResult:
    messages: tuple[str, ...]
    exit_code: int = 0


def write_starter_config(path: Path) -> bool:
    """Write the starter config unless a file is there; True when written."""
    if not path.parent.is_dir():  # an existing config in a folder we may not write is fine
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
        if not state_dir.is_dir():
            state_dir.mkdir(parents=True)
            # Only the spool inside is the pushers' to write (ensure_dirs: mode 3770).
            os.chmod(state_dir, PRIVATE_MODE)
        queue.ensure_dirs(state_dir)
    except (OSError, queue.QueueError) as exc:
        raise ConfigError(f"{config.source}: repo.state_dir: cannot create {state_dir}: {exc}"
                          ) from exc
    messages.append(f"state dir {state_dir} ready (spool: {queue.queue_dir(state_dir)})")
    if config.repo.remote:
        return InitResult((*messages, *_init_remote(config, state_dir)))
    repo = Path(config.repo.path)
    if not repo.is_dir():
        raise ConfigError(f"{config.source}: repo.path: {repo} is not a directory")
    try:
        bare = read.mode(repo) == "bare"
    except read.GitError as exc:
        raise ConfigError(f"{config.source}: repo.path: {exc}") from exc
    messages.append(_record_tip(config, state_dir))
    if not bare:
        messages.append(f"{repo} is a clone: watch mode, no hook needed; start 'taskbot serve'")
        return InitResult(tuple(messages))
    messages.append(install_hook(repo, state_dir, taskbot or taskbot_executable(), config))
    if config.trust is None:
        messages.append(f"note: {config.source} has no [trust] section: taskbot runs nothing "
                        "until it lists trusted authors")
    messages.append("next: start 'taskbot serve' (or the systemd unit); pushes made before "
                    "it starts are queued")
    return InitResult(tuple(messages))


def _record_tip(config: Config, state_dir: Path) -> str:
    """Pushes after this point are taskbot's to run, those before are not: the daemon
    processes from its own record of the last processed commit (bot.daemon.tip)."""
    ref = f"refs/heads/{config.repo.branch}"
    recorded = tip.load(state_dir, ref)
    if recorded is not None:
        return f"pushes after {recorded[:12]} on {config.repo.branch} are processed"
    current = _current(config, state_dir, ref) or read.ZERO  # no commit yet: all of them
    try:
        tip.save(state_dir, ref, current)
    except OSError as exc:
        raise ConfigError(f"{config.source}: repo.state_dir: cannot write {state_dir}: "
                          f"{exc.strerror or exc}") from exc
    if current == read.ZERO:
        return f"{config.repo.branch} has no commit yet: every push to it is processed"
    return f"pushes to {config.repo.branch} after {current[:12]} are processed"


def _current(config: Config, state_dir: Path, ref: str) -> str | None:
    if config.repo.remote:
        return remote.fetch_tip(remote.from_config(config), state_dir, config.repo.branch)
    return read.resolve(config.repo.path, ref)


def _init_remote(config: Config, state_dir: Path) -> list[str]:
    """Remote mode: taskbot's clone of the forge's repository, and what to enter at the forge."""
    try:
        clone = remote.ensure_clone(remote.from_config(config), state_dir)
    except TaskbotError as exc:
        raise ConfigError(f"{config.source}: repo.remote: cannot clone {config.repo.remote}: "
                          f"{exc}") from exc
    messages = [f"cloned {config.repo.remote} into {clone}", _record_tip(config, state_dir)]
    hook = config.webhook
    if hook is None:
        messages.append(f"no [webhook]: the forge is polled every {config.repo.poll:.0f}s "
                        "(repo.poll); add [webhook] listen and secret_file for pushes at once")
        return messages
    host, port = hook.address
    messages += [
        f"webhook: taskbot listens on http://{host}:{port}{hook.path}; expose it through a "
        "reverse proxy with TLS (see README, 'Tasks repositories on a forge')",
        "at the forge, add a webhook: Payload URL https://<your proxy>" + hook.path + ", "
        "Content type application/json, Secret: the contents of " + hook.secret_file +
        ", events: push only (GitLab: 'Push events', Secret token = the same secret)",
        f"polling every {config.repo.poll:.0f}s stays on as the backstop for a lost webhook",
    ]
    return messages


def run_init(explicit: str | None) -> InitResult:
    """`taskbot init [--config FILE]`: a starter config when none exists, else set up from it.
    A permission or file system error anywhere becomes one line naming the path (exit 2)."""
    named = explicit or os.environ.get("TASKBOT_CONFIG", "")
    target = Path(named) if named else configmod.find_config_path(None) or Path(CONFIG_NAME)
    try:
        return _run_init(target)
    except OSError as exc:
        raise ConfigError(_os_problem(exc, target)) from exc


def _run_init(target: Path) -> InitResult:
    if write_starter_config(target):
        return InitResult((
            f"wrote a starter configuration to {target}",
            f"next: edit [repo] and [trust] in it, then run 'taskbot init --config {target}' "
            "again (as the service user) to create the state dir and install the hook",
        ))
    config = configmod.load(target)
    result = init(config)
    return InitResult((f"using {target} (an existing configuration is never overwritten; "
                       "edit it by hand)", *result.messages, *_root_note(config)),
                      result.exit_code)


def adopt_history(explicit: str | None) -> InitResult:
    """`taskbot init --adopt-history`: after the state dir was lost, the operator vouches for
    the branch as it is: every commit on it made with taskbot's identity is recorded as
    taskbot's own again, so tasks taskbot edited before can run again. Anyone can write
    taskbot's address into a commit: look at `git log --author=<identity.email>` first."""
    from bot.git import owncommits  # noqa: PLC0415 -- this rare command only
    from bot.pipeline.clone import source_repo  # noqa: PLC0415

    found = configmod.find_config_path(explicit)
    if found is None:
        raise ConfigError("no configuration: run 'taskbot init' first")
    config = configmod.load(found)
    made = init(config)  # the lost state dir again (and in remote mode the clone read here)
    state_dir = Path(config.repo.state_dir)
    repo = read.open_repo(source_repo(config))
    rev = f"origin/{config.repo.branch}" if config.repo.remote else f"refs/heads/{config.repo.branch}"
    tip = read.resolve(repo, rev)
    if tip is None:
        raise ConfigError(f"{config.source}: repo.branch {config.repo.branch!r} has no commit")
    known = owncommits.load(state_dir)
    adopted = [str(c.id) for c in repo.walk(tip)
               if c.author.email.lower() == config.identity.email.lower()
               and str(c.id) not in known]
    owncommits.record(state_dir, *adopted)
    return InitResult((*made.messages,
                       f"recorded {len(adopted)} commit(s) by {config.identity.email} on "
                       f"{config.repo.branch} as taskbot's own (you vouched for them)"))


def _root_note(config: Config) -> tuple[str, ...]:
    """The daemon refuses a state dir it does not own: say so when root just made it."""
    state_dir = Path(config.repo.state_dir).absolute()
    if os.geteuid() != 0 or state_dir.stat().st_uid != 0:
        return ()
    return (f"note: {state_dir} belongs to root, and the daemon refuses a state dir it does "
            "not own: run 'taskbot init' as the service user (runuser -u taskbot -- …), or "
            f"'chown -R taskbot: {state_dir}'",)


def _os_problem(exc: OSError, target: Path) -> str:
    """`PATH: cannot write: Permission denied; what to do` for an OSError out of init."""
    path = exc.filename or target
    reason = exc.strerror or str(exc)
    if not isinstance(exc, PermissionError):
        return f"{path}: {reason}"
    if not target.exists():
        hint = (f"run 'taskbot init --config {target}' as root first: it writes the starter "
                "configuration; then run it again as the service user")
    else:
        hint = ("run 'taskbot init' as the user that owns it (the service user for the "
                "state dir, someone who may write the repository for its hook), or give "
                "that user access")
    return f"{path}: {reason}: {hint}"


# --------------------------------------------------------------------------- a person's clone


def init_clone(clone: Path, explicit: str | None, *, taskbot: Path | None = None) -> InitResult:
    """`taskbot init --clone DIR`: the task-file merge driver and the notes refspec in the
    clone's own config and `info/attributes`; nothing is committed. Safe to run again."""
    try:
        if read.mode(clone) != "clone":
            raise ConfigError(f"{clone}: a bare repository: --clone wants a person's clone")
    except read.GitError as exc:
        raise ConfigError(str(exc)) from exc
    found = configmod.find_config_path(explicit)
    tasks_dir = configmod.load(found).repo.tasks_dir if found is not None else "tasks/active"
    driver = f"{_driver_command(taskbot or taskbot_executable())} merge-file %O %A %B %P"
    messages = [
        _set_config(clone, "merge.taskbot.name", "taskbot task-file merge"),
        _set_config(clone, "merge.taskbot.driver", driver),
        _add_attribute(clone, f"{_tasks_glob(tasks_dir)} merge=taskbot"),
        _add_notes_refspec(clone),
    ]
    return InitResult(tuple(messages))


def _driver_command(taskbot: Path) -> str:
    """git runs the driver through the shell; without an installed script, the module."""
    if taskbot.name.startswith("taskbot"):
        return shlex.quote(str(taskbot))
    return f"{shlex.quote(sys.executable)} -m bot.cli"


def _tasks_glob(tasks_dir: str) -> str:
    """Every task file, active or completed: the folder above repo.tasks_dir."""
    parent = Path(tasks_dir).parent.as_posix().strip("/")
    return "**/*.md" if parent in ("", ".") else f"{parent}/**/*.md"


def _set_config(clone: Path, key: str, value: str) -> str:
    now = read.git(["config", "--get", key], clone, check=False).stdout.strip()
    if now == value:
        return f"{key} already set"
    read.git(["config", key, value], clone)
    return f"set {key} = {value}"


def _add_attribute(clone: Path, line: str) -> str:
    where = read.git(["rev-parse", "--git-path", "info/attributes"], clone).stdout.strip()
    path = Path(where) if Path(where).is_absolute() else clone / where
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if line in text.splitlines():
            return f"{path} already has '{line}'"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(("" if not text or text.endswith("\n") else "\n") + line + "\n")
    except OSError as exc:
        raise TaskbotError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    return f"added '{line}' to {path} (not committed)"


def _add_notes_refspec(clone: Path) -> str:
    fetch = read.git(["config", "--get-all", "remote.origin.fetch"], clone, check=False)
    if not fetch.ok and not read.git(["remote", "get-url", "origin"], clone, check=False).ok:
        return "no remote 'origin': notes refspec not added"
    if NOTES_REFSPEC in fetch.stdout.split():
        return "remote.origin.fetch already fetches taskbot's notes"
    read.git(["config", "--add", "remote.origin.fetch", NOTES_REFSPEC], clone)
    return (f"added {NOTES_REFSPEC} to remote.origin.fetch: after 'git fetch', "
            "'git notes --ref=taskbot show' shows taskbot's reports")


def command(args: argparse.Namespace) -> int:
    """`taskbot init`, `init --clone DIR`, `init --adopt-history`."""
    if args.clone is not None:
        result = init_clone(Path(args.clone), args.config)
    elif args.adopt_history:
        result = adopt_history(args.config)
    else:
        result = run_init(args.config)
    print("\n".join(result.messages))
    return result.exit_code
