"""`taskbot doctor`: is this host ready? One line per check: `ok` or what to fix.

Checks the configuration, the tasks repository and state dir, each project's directory
and commands (each handler's project keys check their own), the tools taskbot calls (git,
and those the handlers list: kubectl, a container engine), the registry (TLS with the
configured CA, the credentials), the cluster context, builds as Kubernetes Jobs
(`doctor_executor`) and the notification URLs (a TCP
connect to each; `--send-test` sends each a message). Also what would silently stop work:
no taskbot hook in a bare repository, a `[[rules]]` handler that does not exist, a missing
`allowed_signers` file, a signing key that does not sign (`doctor_signing`), a handler
plugin that does not load.
Nothing is changed; every command runs through `bot.proc`.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import socket
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from bot import config as configmod
from bot.commands import reach
from bot.commands.checks import Check
from bot.commands.doctor_executor import executor_checks
from bot.commands.doctor_forge import forge_checks
from bot.commands.doctor_signing import signing_checks
from bot.config import Config, NotifyConfig
from bot.errors import TaskbotError
from bot.git import read
from bot.notify import targets as notify
from bot.proc import run_command
from bot.registry import RegistryClient
from bot.run.runmodel import Tool
from bot.state import statedir

TIMEOUT = 15.0
EXIT_NO_CONFIG = 2  # as any command without its configuration: a usage error




class NoConfig(TaskbotError):
    """No configuration file where one was looked for: `taskbot init` writes one."""

    exit_code = EXIT_NO_CONFIG


def _config_path(explicit: str | None) -> Path:
    try:
        path = configmod.find_config_path(explicit)
    except TaskbotError as exc:
        wanted = explicit or os.environ.get("TASKBOT_CONFIG", "")
        if wanted and not Path(wanted).exists():
            raise NoConfig(f"{exc}: run `taskbot init --config {shlex.quote(wanted)}` to "
                           "write one") from exc
        raise
    if path is None:
        raise NoConfig("no configuration found: run `taskbot init` to write ./taskbot.toml "
                       "(or pass --config FILE, or set $TASKBOT_CONFIG)")
    return path


def run_checks(explicit: str | None, send_test: bool = False) -> list[Check]:
    """NoConfig when there is no configuration file at all; everything else is a Check."""
    path = _config_path(explicit)
    try:
        config = configmod.load(path)
    except TaskbotError as exc:
        return [Check("config", False, str(exc))]
    checks = [Check("config", True, f"{path} is readable and valid")]
    steps: tuple[Callable[[Config], Iterator[Check]], ...] = (
        _trust, _signers, signing_checks, _repo, forge_checks, _hook, _state, _projects, _tools,
        _plugins, _registry, _cluster, executor_checks, partial(_notify, send_test=send_test))
    for check in steps:
        checks.extend(check(config))
    return checks


def _trust(config: Config) -> Iterator[Check]:
    if config.trust is None:
        yield Check("trust", False, "no [trust] section: taskbot runs nothing; list authors "
                    "(or set anyone = true)")
    elif not (config.trust.authors or config.trust.allowed_signers or config.trust.anyone):
        yield Check("trust", False, "[trust] lists nobody: no commit will run anything")
    else:
        who = "anyone" if config.trust.anyone else f"{len(config.trust.authors)} author(s)"
        yield Check("trust", True, who + (", signatures required" if config.trust.allowed_signers
                                          else ""))


def _signers(config: Config) -> Iterator[Check]:
    """A missing allowed_signers file makes every signed commit fail trust: nothing runs."""
    signers = config.trust.allowed_signers if config.trust is not None else ""
    if not signers:
        return
    path = Path(signers)
    try:
        lines = [ln for ln in path.read_text(encoding="utf-8").splitlines()
                 if ln.strip() and not ln.lstrip().startswith("#")]
    except (OSError, UnicodeDecodeError) as exc:
        why = (exc.strerror or str(exc)) if isinstance(exc, OSError) else "not UTF-8 text"
        yield Check("trust", False, f"{config.source}: trust.allowed_signers = {path}: {why}: "
                    "no signed commit is trusted; create it (one `EMAIL namespaces=\"git\" "
                    "ssh-ed25519 KEY` line per signer) or remove the key")
        return
    if not lines:
        yield Check("trust", False, f"{config.source}: trust.allowed_signers = {path} lists no "
                    "key: no signed commit is trusted; add one line per signer")


def _repo(config: Config) -> Iterator[Check]:
    repo = config.repo
    if repo.remote:
        return  # on a forge: forge_checks
    if not Path(repo.path).is_dir():
        yield Check("repo", False, f"{repo.path} does not exist (repo.path)")
        return
    try:
        mode = "bare: hook mode" if read.mode(repo.path) == "bare" else "clone: watch mode"
    except read.GitError as exc:
        yield Check("repo", False, str(exc))
        return
    if read.resolve(repo.path, f"refs/heads/{repo.branch}") is None:
        yield Check("repo", False, f"{repo.path} ({mode}) has no branch {repo.branch!r} (repo.branch)")
        return
    ok = read.exists(repo.path, f"refs/heads/{repo.branch}:{repo.tasks_dir}")
    detail = f"{repo.path} ({mode}), branch {repo.branch}"
    yield Check("repo", ok, detail + ("" if ok else f": no {repo.tasks_dir}/ on {repo.branch}"))


def _hook(config: Config) -> Iterator[Check]:
    """Hook mode: without taskbot's post-receive hook, pushes never reach the daemon."""
    from bot.daemon.hook import HOOK_NAME, MARKER_PREFIX  # noqa: PLC0415 -- hook mode only

    repo = Path(config.repo.path)
    try:
        if config.repo.remote or not repo.is_dir() or read.mode(repo) != "bare":
            return
        hook = read.hooks_dir(repo) / HOOK_NAME
    except TaskbotError:
        return  # the repo check says what is wrong with it
    init = f"run `taskbot --config {shlex.quote(config.source)} init`"
    try:
        text = hook.read_text(encoding="utf-8", errors="replace")
    except OSError:
        yield Check("hook", False, f"{hook}: taskbot's hook is not installed (repo.path = "
                    f"{repo}): pushes do not reach taskbot; {init} to install it")
        return
    state = shlex.quote(str(Path(config.repo.state_dir).absolute()))
    if MARKER_PREFIX not in text:
        yield Check("hook", False, f"{hook} is not taskbot's (no '{MARKER_PREFIX}' line): pushes "
                    f"do not reach taskbot; {init} and follow what it says")
    elif f"STATE_DIR={state}\n" not in text:
        yield Check("hook", False, f"{hook} queues pushes elsewhere than repo.state_dir = "
                    f"{config.repo.state_dir}: {init} to update it")
    elif not os.access(hook, os.X_OK):
        yield Check("hook", False, f"{hook} is not executable: {init} (or chmod +x {hook})")
    else:
        yield Check("hook", True, f"{hook}")


def _plugins(config: Config) -> Iterator[Check]:
    """Broken handler plugins, and `[[rules]]` naming no handler: one look at the plugins."""
    from bot.plugin.plugins import discover  # noqa: PLC0415 -- imports every handler

    loaded = discover()
    for line in loaded.broken:
        yield Check("plugins", False, f"{line}: its criteria are refused; reinstall or remove "
                    "that package")
    if not config.rules:
        return
    known = loaded.handlers
    bad = [(i, r.handler) for i, r in enumerate(config.rules, 1) if r.handler not in known]
    for i, name in bad:
        yield Check("rules", False, f"{config.source}: rules[{i}].handler = {name!r}: no such "
                    f"handler (known: {', '.join(sorted(known))}); fix the name or install the "
                    "plugin that provides it")
    if not bad:
        yield Check("rules", True, f"{len(config.rules)} rule(s), every handler known")


def _state(config: Config) -> Iterator[Check]:
    state = Path(config.repo.state_dir)
    existing = next((p for p in (state, *state.parents) if p.exists()), Path("/"))
    if not os.access(existing, os.W_OK):
        yield Check("state_dir", False, f"{existing} is not writable (repo.state_dir = {state})")
        return
    found = _state_modes(state) if state.is_dir() else []
    for problem in found:
        yield Check("state_dir", False, problem)
    if not found:
        yield Check("state_dir", True, f"{state}" + ("" if state.exists() else " (will be created)"))


def _state_modes(state: Path) -> list[str]:
    """Owners and modes: only the spool may be written by others (see bot.state.statedir)."""
    try:
        return statedir.problems(state)
    except OSError as exc:
        return [f"{state}: cannot check owners and modes: {exc.strerror or exc}"]


def _projects(config: Config) -> Iterator[Check]:
    for project in config.projects.values():
        name = f"project {project.name}"
        root = Path(project.path)
        if not root.is_dir():
            yield Check(name, False, f"{root} does not exist (projects.{project.name}.path)")
            continue
        # each handler's record checks its own keys; a problem two of them share is said once
        problems = list(dict.fromkeys(
            line for record in project.declared.values()
            for line in getattr(record, "problems_in", lambda _: ())(root)))
        yield Check(name, not problems, "; ".join(problems) or f"{root}")


def _tools(config: Config) -> Iterator[Check]:
    git = shutil.which("git")
    yield Check("git", bool(git), git or "not on PATH: install git")
    from bot.plugin.plugins import project_settings  # noqa: PLC0415 -- imports every handler

    tools: dict[str, Tool] = {}
    for record in project_settings().values():
        for tool in getattr(record, "tools", tuple)():
            tools.setdefault(tool.label, tool)
    for tool in tools.values():
        wanted = tool.cluster and config.cluster is not None
        users = [p for p in config.projects.values()
                 if not tool.builds_here or config.executor_kind(p) == "local"]
        if wanted or any(p.value(tool.key) for p in users):
            yield _tool(tool)


def _tool(tool: Tool) -> Check:
    if tool.alternatives:
        names = [p for p in tool.programs if shutil.which(p)]
        return Check(tool.label, bool(names), ", ".join(names) or tool.missing)
    found = next(filter(None, map(shutil.which, tool.programs)), None)
    return Check(tool.label, bool(found), found or tool.missing)


def _registry(config: Config) -> Iterator[Check]:
    if not config.registry.url:
        return
    try:
        ping = RegistryClient.from_config(config.registry, timeout=TIMEOUT).ping()
    except TaskbotError as exc:
        yield Check("registry", False, str(exc))
        return
    yield Check("registry", ping.ok, ping.message)


def _cluster(config: Config) -> Iterator[Check]:
    cluster = config.cluster
    if cluster is None or not cluster.context:
        return
    if not shutil.which("kubectl"):
        yield Check("cluster", False, "kubectl not on PATH")
        return
    argv = ["kubectl", *(["--kubeconfig", cluster.kubeconfig] if cluster.kubeconfig else []),
            "config", "current-context"]
    record = run_command(argv, ".", timeout=TIMEOUT)
    current = record.stdout.strip()
    if not record.ok:
        yield Check("cluster", False, f"kubectl config current-context: {record.error_line}")
    elif current != cluster.context:
        yield Check("cluster", False, f"current context is {current!r}, configured "
                    f"{cluster.context!r}: run `kubectl config use-context {cluster.context}`")
    else:
        yield Check("cluster", True, f"context {current}")


def _notify(config: Config, send_test: bool = False) -> Iterator[Check]:
    if not notify.configured(config.notify):
        yield Check("notify", True, "no [notify] urls: reports are kept, not sent")
        return
    entries = [(f"notify.urls[{i}]", NotifyConfig(urls=(url,)))
               for i, url in enumerate(config.notify.urls, 1)]
    if config.notify.config:
        entries.append(("notify.config", NotifyConfig(config=config.notify.config)))
    for key, one in entries:
        found, problems = notify.targets(one)
        for problem in problems:
            yield Check("notify", False, problem)
        for target in found:
            yield _target(config, key, target, send_test)


def _target(config: Config, key: str, target: notify.Target, send_test: bool) -> Check:
    """Reachable (a TCP connect), or with --send-test: took a test message."""
    if send_test:
        why = reach.send_test(target, socket.gethostname())
        if not why:
            return Check("notify", True, f"{target.shown}: test notification sent")
        why = f"test notification not sent ({why})"
    else:
        why = reach.connect(target.service)
        if not why:
            return Check("notify", True, target.shown)
    return Check("notify", False, f"{key} {target.shown}: {why}: check the target or remove "
                 f"it from {config.source}")


def doctor(explicit: str | None, send_test: bool = False) -> tuple[int, list[str]]:
    try:
        checks = run_checks(explicit, send_test)
    except NoConfig as exc:
        return exc.exit_code, [Check("config", False, str(exc)).line()]
    return (0 if all(c.ok for c in checks) else 1), [c.line() for c in checks]


def command(args: argparse.Namespace) -> int:
    """`taskbot doctor [--send-test]`."""
    code, lines = doctor(args.config, send_test=args.send_test)
    print("\n".join(lines))
    return code
