"""`build`: runs the project's build argv with REGISTRY_URL and VERSION, then checks the registry.

The build is the operator's own script (`./scripts/build.sh --push all`), run in the
project directory with `limits.build_timeout`; the runner retries a failed build
`limits.retries` times. Afterwards every configured image `NAME:version` must be in the
registry. A failure comes with a diagnosis: container engine, free disk, Dockerfile,
registry reachability and credentials, and the project's `.env.build.local`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from bot import api
from bot.api import (
    Context,
    DefaultRule,
    Handler,
    NotReady,
    Outcome,
    ParamError,
    Status,
    Step,
    parse_bool,
    project_ready,
    registry_client,
    reject_unknown,
    require_project,
    validate_version,
)
from handlers import _jobspec
from handlers._path import free_bytes, which
from handlers._project import BuildKeys
from handlers._registry import check_images, registry_diagnosis, same_registry

LOW_DISK = 2 << 30  # bytes
_ENV_LINE_RE = re.compile(r"^\s*(?:export\s+)?REGISTRY_URL\s*=\s*(?P<value>.*?)\s*$")


class BuildSettings(NamedTuple):
    project: str
    cwd: str
    argv: tuple[str, ...]
    version: str
    push: bool
    images: tuple[str, ...]
    registry: str  # configured url as written (REGISTRY_URL); "" without push
    env: tuple[tuple[str, str], ...]
    executor: str = "local"  # local | kubernetes


class BuildHandler:
    name = "build"
    project_settings = BuildKeys
    params = ("project", "version", "push")
    rules = (
        DefaultRule(r"(?i)^build all (?P<project>[\w-]+) (?:containers|images) with version\s+"
                    r"(?P<version>[A-Za-z0-9._+-]+?)\.?$"),
    )

    def settings(self, params: Mapping[str, str], ctx: Context) -> BuildSettings:
        reject_unknown(self.name, params, self.params)
        if "project" not in params or "version" not in params:
            raise ParamError("build: needs project=NAME and version=VERSION")
        project = require_project(ctx.config, params["project"])
        keys = project.settings(BuildKeys)
        if not keys.build:
            raise ParamError(f"build: project {project.name!r} has no build command "
                             "(set projects.NAME.build)")
        push = parse_bool(params.get("push", "true"), "push")
        if push:
            same_registry(ctx.config, "", self.name)
        return BuildSettings(project.name, project.path, keys.build,
                             validate_version(params["version"]), push, keys.images,
                             ctx.config.registry.url, project.env,
                             ctx.config.executor_kind(project))

    def _env(self, s: BuildSettings) -> dict[str, str]:
        # always host:port: image references have no scheme (`http://h:5000/x` is an
        # "invalid reference format"); the scheme only picks TLS for taskbot's own checks
        return {**dict(s.env), "REGISTRY_URL": api.normalize_registry(s.registry), "VERSION": s.version,
                "PUSH": "true" if s.push else "false"}

    def plan(self, settings: BuildSettings, ctx: Context) -> Step:
        checks = [f"after the build, registry has {n}:{settings.version}"
                  for n in settings.images] if settings.push else []
        if settings.executor == "kubernetes":
            return self._plan_job(settings, ctx, checks)
        return Step(
            commands=(settings.argv,),
            cwd=settings.cwd,
            preconditions=(
                f"project directory {settings.cwd} exists and is a git repository",
                f"project {settings.project} is on its branch with no uncommitted changes to "
                "tracked files (unless allow_dirty)",
                f"build command {settings.argv[0]} exists and is executable",
                *([f"registry {settings.registry} reachable"] if settings.push else []),
                f"environment: REGISTRY_URL={api.normalize_registry(settings.registry)} "
                f"VERSION={settings.version}",
                *checks,
            ),
        )

    def _job(self, s: BuildSettings, ctx: Context, origin: tuple[str, str]) -> _jobspec.JobSpec:
        return _jobspec.spec_for(ctx, ctx.config.executor, s.argv, self._env(s), origin)

    def _plan_job(self, s: BuildSettings, ctx: Context, checks: list[str]) -> Step:
        try:
            origin = _jobspec.source(s.cwd)
        except (api.TaskbotError, OSError):
            origin = ("", "")  # `run` says why; the plan still shows the Job
        # the name is made when the criterion runs: a plan (and an approval's digest of it)
        # must not depend on the run
        spec = self._job(s, ctx, origin)._replace(name=_jobspec.NAME_PATTERN)
        needs, then = _jobspec.described(spec)
        return Step(commands=(s.argv,), cwd=f"Job {spec.namespace}/{spec.name}:{_jobspec.WORKSPACE}",
                    preconditions=(
                        f"project {s.project} is on its branch with no uncommitted changes to "
                        "tracked files (unless allow_dirty); its commit is on origin",
                        *needs,
                        *([f"registry {s.registry} reachable"] if s.push else []),
                        f"environment: REGISTRY_URL={api.normalize_registry(s.registry)} "
                        f"VERSION={s.version}"),
                    then=(*then, *checks))

    def _blocked(self, s: BuildSettings) -> str:
        cwd = Path(s.cwd)
        if not cwd.is_dir():
            return f"project directory {cwd} does not exist"
        if not (cwd / ".git").exists():
            return f"project directory {cwd} is not a git repository"
        program = s.argv[0]
        if "/" in program:
            path = cwd / program
            if not path.is_file():
                return f"build command {program} not found in {cwd}"
            if not os.access(path, os.X_OK):
                return f"build command {program} is not executable (chmod +x {program})"
        elif which(program) is None:
            return f"build command {program} not found on PATH"
        return ""

    def run(self, settings: BuildSettings, ctx: Context) -> Outcome:
        if settings.executor == "kubernetes":
            return self._on_cluster(settings, ctx)
        why = self._blocked(settings)
        if why:
            return Outcome(Status.BLOCKED, why)
        try:
            checked = project_ready(require_project(ctx.config, settings.project))
        except NotReady as exc:
            return Outcome(Status.BLOCKED, exc.reason, evidence=exc.evidence)
        return _with_checks(self._build(settings, ctx), checked)

    def _on_cluster(self, settings: BuildSettings, ctx: Context) -> Outcome:
        try:
            checked = project_ready(require_project(ctx.config, settings.project))
            origin = _jobspec.source(settings.cwd)
        except NotReady as exc:
            return Outcome(Status.BLOCKED, exc.reason, evidence=exc.evidence)
        client, unreachable = _registry(settings, ctx)
        if unreachable is not None:
            return unreachable
        try:
            from handlers import _jobbuild  # noqa: PLC0415 -- the client's imports: only here
        except ImportError as exc:
            return Outcome(Status.BLOCKED, f"[executor] kind = \"kubernetes\" needs the Python "
                           f"package kubernetes ({exc}): pip install 'taskbot[kubernetes]'")
        try:
            done = _jobbuild.run_job(self._job(settings, ctx, origin), ctx)
        except _jobbuild.JobError as exc:
            return Outcome(Status.BLOCKED, str(exc), evidence=checked)
        if not done.ok:
            outcome = Outcome(Status.FAILED, f"build {done.evidence[-1]}", commands=(done.record,),
                              evidence=done.evidence, diagnosis=done.diagnosis)
        else:
            outcome = _check_registry(settings, ctx, client, done.record)
            outcome = replace(outcome, evidence=(*done.evidence, *outcome.evidence))
        return _with_checks(outcome, checked)

    def _build(self, settings: BuildSettings, ctx: Context) -> Outcome:
        client, unreachable = _registry(settings, ctx)
        if unreachable is not None:
            return unreachable
        record = ctx.run(settings.argv, settings.cwd, env=self._env(settings),
                         timeout=ctx.config.limits.build_timeout)
        if not record.ok:
            return _failed(settings, ctx, client, record, record.describe())
        return _check_registry(settings, ctx, client, record)


def _registry(settings: BuildSettings, ctx: Context
              ) -> tuple[api.RegistryClient | None, Outcome | None]:
    """The registry's client (None without push), or the outcome when it is unreachable."""
    client = registry_client(ctx.config) if settings.push else None
    if client is not None:
        ping = client.ping()
        if not ping.ok and ping.kind in ("unreachable", "tls"):
            return client, Outcome(Status.BLOCKED, ping.message,
                                   diagnosis=(f"registry GET /v2/: {ping.message}",))
    return client, None


def _check_registry(settings: BuildSettings, ctx: Context, client: api.RegistryClient | None,
                    record: api.CommandRecord) -> Outcome:
    if client is None or not settings.images:
        note = "push=false: registry not checked" if client is None else "no images configured"
        return Outcome(Status.DONE, commands=(record,), evidence=(note,),
                       summary=f"built {settings.project} {settings.version}: {note}")
    try:
        _, missing, evidence = check_images(client, settings.images, settings.version)
    except api.RegistryError as exc:
        return _failed(settings, ctx, client, record,
                       f"build ran, but the registry check failed: {exc}")
    if missing:
        return _failed(settings, ctx, client, record, f"build ran, but registry {client.host} "
                       f"lacks {', '.join(missing)}", tuple(evidence))
    built = ", ".join(f"{name}:{settings.version}" for name in settings.images)
    return Outcome(Status.DONE, commands=(record,), evidence=tuple(evidence),
                   summary=f"built and pushed {built}; registry {client.host} has them")


def _with_checks(outcome: Outcome, checked: tuple[str, ...]) -> Outcome:
    """The project's safety checks, after the evidence of the build itself."""
    return replace(outcome, evidence=(*outcome.evidence, *checked))


def _failed(s: BuildSettings, ctx: Context, client: api.RegistryClient | None, record: api.CommandRecord,
            reason: str, evidence: tuple[str, ...] = ()) -> Outcome:
    if s.executor == "kubernetes":  # this host's engine, disk and files say nothing of the Job
        return Outcome(Status.FAILED, reason, commands=(record,), evidence=evidence,
                       diagnosis=(registry_diagnosis(client),) if client is not None else ())
    extra, lines = diagnose(s, ctx, client, record)
    return Outcome(Status.FAILED, reason, commands=(record, *extra), evidence=evidence,
                   diagnosis=lines)


def diagnose(s: BuildSettings, ctx: Context, client: api.RegistryClient | None,
             record: api.CommandRecord) -> tuple[tuple[api.CommandRecord, ...], tuple[str, ...]]:
    """Why a build may have failed: one line per thing checked, and the commands run for it."""
    records: list[api.CommandRecord] = []
    lines: list[str] = []
    engine = next((e for e in ("docker", "podman") if which(e)), None)
    if engine is not None:
        info = ctx.run([engine, "info"], s.cwd, timeout=min(30.0, ctx.config.limits.command_timeout))
        records.append(info)
        lines.append(f"{engine} reachable ({engine} info exited 0)" if info.ok
                     else f"{engine} NOT reachable: {info.describe()}")
    else:
        others = [e for e in ("buildah", "skopeo") if which(e)]
        lines.append("no docker or podman on PATH" + (f" ({', '.join(others)} found)" if others
                                                       else ""))
    try:
        free = free_bytes(s.cwd)
        low = " (LOW)" if free < LOW_DISK else ""
        lines.append(f"free disk in {s.cwd}: {free / (1 << 30):.1f} GiB{low}")
    except OSError as exc:
        lines.append(f"free disk in {s.cwd}: unknown ({exc.strerror or exc})")
    lines.append(_dockerfiles(Path(s.cwd)))
    if client is not None:
        lines.append(registry_diagnosis(client))
    output = record.output_tail.lower()
    if "unauthorized" in output or "authentication required" in output:
        lines.append("the build's push was refused by the registry (unauthorized): "
                     "the credentials it uses are wrong")
    if "x509" in output or "unknown authority" in output:
        lines.append("the build does not trust the registry's TLS certificate (x509)")
    lines.append(_env_file(Path(s.cwd), s.registry))
    return tuple(records), tuple(lines)


def _dockerfiles(root: Path) -> str:
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).relative_to(root).parts)
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and depth < 3]
        found.extend(str((Path(dirpath) / f).relative_to(root)) for f in filenames
                     if f.startswith(("Dockerfile", "Containerfile")) or f.endswith(".Dockerfile"))
    if not found:
        return f"no Dockerfile or Containerfile found in {root}"
    return "Dockerfile present: " + ", ".join(sorted(found)[:10])


def _env_file(root: Path, registry: str) -> str:
    path = root / ".env.build.local"
    try:
        text = api.read_inside(root, path.name).decode("utf-8", errors="replace")
    except api.UnsafePath as exc:
        return f"{exc}: not read"
    except OSError:
        return f"no {path.name} in {root}"
    for line in text.splitlines():
        found = _ENV_LINE_RE.match(line)
        if found:
            value = found["value"].strip("'\"")
            if not registry:
                return f"REGISTRY_URL in {path.name} is {value}"
            if api.normalize_registry(value) == api.normalize_registry(registry):
                return f"REGISTRY_URL in {path.name} matches the configured registry ({value})"
            return (f"REGISTRY_URL in {path.name} is {value}, but the configured registry is "
                    f"{registry}")
    return f"{path.name} sets no REGISTRY_URL"


HANDLER: Handler[BuildSettings] = BuildHandler()
