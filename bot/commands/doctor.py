"""`taskbot doctor`: is this host ready? One line per check: `ok` or what to fix.

Checks the configuration, the tasks repository and state dir, each project's directory
and commands, the tools taskbot calls (git, kubectl or kustomize, a container engine),
the registry (TLS with the configured CA, the credentials), the cluster context and the
notification URLs. Nothing is changed; every command runs through `bot.proc`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot import config as configmod
from bot import statedir
from bot.config import Config
from bot.errors import TaskbotError
from bot.git import read
from bot.notify import targets as notify
from bot.proc import run_command
from bot.registry import RegistryClient

TIMEOUT = 15.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.name}: {self.detail}"


def run_checks(explicit: str | None) -> list[Check]:
    try:
        path = configmod.find_config_path(explicit)
        if path is None:
            return [Check("config", False, "no configuration found: pass --config FILE, set "
                          "$TASKBOT_CONFIG, or create ./taskbot.toml (`taskbot init` writes one)")]
        config = configmod.load(path)
    except TaskbotError as exc:
        return [Check("config", False, str(exc))]
    checks = [Check("config", True, f"{path} is readable and valid")]
    for check in (_trust, _repo, _state, _projects, _tools, _registry, _cluster, _notify):
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


def _repo(config: Config) -> Iterator[Check]:
    repo = config.repo
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
    """Owners and modes: only the spool may be written by others (see bot.statedir)."""
    try:
        return statedir.problems(state)
    except OSError as exc:
        return [f"{state}: cannot check owners and modes: {exc.strerror or exc}"]


def _program(argv: tuple[str, ...], cwd: Path) -> str:
    """"" when argv[0] can be run from cwd, else why not."""
    program = argv[0]
    if "/" not in program:
        return "" if shutil.which(program) else f"{program} not found on PATH"
    path = cwd / program
    if not path.is_file():
        return f"{program} not found in {cwd}"
    return "" if os.access(path, os.X_OK) else f"{program} is not executable"


def _projects(config: Config) -> Iterator[Check]:
    for project in config.projects.values():
        name = f"project {project.name}"
        root = Path(project.path)
        if not root.is_dir():
            yield Check(name, False, f"{root} does not exist (projects.{project.name}.path)")
            continue
        problems = []
        if not (root / ".git").exists() and not (root / "HEAD").is_file():
            problems.append("not a git repository")
        for what, argv in (("build", project.build), ("sec_lint", project.sec_lint)):
            why = _program(argv, root) if argv else ""
            if why:
                problems.append(f"{what}: {why}")
        problems.extend(f"kustomize dir {d} missing" for d in project.kustomize
                        if not (root / d).is_dir())
        yield Check(name, not problems, "; ".join(problems) or f"{root}")


def _tools(config: Config) -> Iterator[Check]:
    git = shutil.which("git")
    yield Check("git", bool(git), git or "not on PATH: install git")
    projects = config.projects.values()
    if any(p.kustomize for p in projects) or config.cluster is not None:
        found = shutil.which("kustomize") or shutil.which("kubectl")
        yield Check("kubectl/kustomize", bool(found),
                    found or "neither kubectl nor kustomize on PATH: install kubectl")
    if any(p.build for p in projects):
        engines = [e for e in ("docker", "podman", "buildah") if shutil.which(e)]
        yield Check("build engine", bool(engines), ", ".join(engines) or
                    "no docker, podman or buildah on PATH")


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


def _notify(config: Config) -> Iterator[Check]:
    if not notify.configured(config.notify):
        yield Check("notify", True, "no [notify] urls: reports are kept, not sent")
        return
    found, problems = notify.targets(config.notify)
    for target in found:
        yield Check("notify", True, target.shown)
    for problem in problems:
        yield Check("notify", False, problem)


def doctor(explicit: str | None) -> tuple[int, list[str]]:
    checks = run_checks(explicit)
    return (0 if all(c.ok for c in checks) else 1), [c.line() for c in checks]
