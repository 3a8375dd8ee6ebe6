"""taskbot.toml -> a frozen Config. Every error is one line naming the file and the key.

Messages read `"<file>: <key>: <problem>"` (`"<file>: unknown key 'repo.brnach'"` for
keys taskbot does not know). Array entries are counted from 1, like the `[[rules]]`
tables a user sees in the file: `rules[2].match` is the second rule's pattern.

Relative paths are resolved against the directory of the config file (`~` is
expanded); a relative `registry.password_file` is read from `$CREDENTIALS_DIRECTORY`
when systemd provides one.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, NamedTuple, TypeVar, get_args, get_origin, get_type_hints

from bot.entrypoints import GROUP, entry_points, project_settings
from bot.errors import ConfigError
from bot.text.durations import format_duration, parse_duration

__all__ = [
    "SYSTEM_CONFIG",
    "Approval",
    "Argv",
    "Cluster",
    "Config",
    "Executor",
    "Identity",
    "Limits",
    "Mcp",
    "NotifyConfig",
    "Project",
    "Registry",
    "RepoConfig",
    "Rule",
    "Trust",
    "WebhookConfig",
    "default",
    "find_config_path",
    "load",
    "parse",
    "read_secret",
]

SYSTEM_CONFIG = Path("/etc/taskbot/taskbot.toml")
CONFIG_NAME = "taskbot.toml"
MAX_RETRIES = 10
MAX_PARALLEL = 32

_BARE_KEY_RE = re.compile(r"[A-Za-z0-9_-]+")
_PROJECT_RE = _BARE_KEY_RE
_HANDLER_RE = re.compile(r"[a-z][a-z0-9_-]*")
_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_K8S_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
_TOML_POS_RE = re.compile(
    r"^(?P<msg>.*?)\s*\(at (?:line (?P<line>\d+), column (?P<col>\d+)|end of document)\)$"
)


T = TypeVar("T")
# A project key a handler declares as `build: Argv = ()`: a list of argv words, never a
# shell string. Plain `str`, `bool`, `int`, `float` and `tuple[str, ...]` need no marker.
Argv = Annotated[tuple[str, ...], "argv"]


class RepoConfig(NamedTuple):
    path: str = "."
    branch: str = "main"
    tasks_dir: str = "tasks/active"
    state_dir: str = "/var/lib/taskbot"
    integrate: str = "ff"  # ff | branch
    on_complete: str = "keep"  # keep | move
    dashboard: str = ""  # a Markdown file taskbot keeps up to date in its commits; "" = none
    remote: str = ""  # a forge's URL (ssh or https): remote mode, no hook, taskbot's own clone
    poll: float = 0.0  # seconds between `git ls-remote` checks; remote mode defaults to 60
    ssh_key_file: str = ""  # the deploy key for an ssh remote
    known_hosts_file: str = ""  # the forge's host key (strict checking)
    token_file: str = ""  # the token for an https remote
    forge: str = ""  # github | gitlab | gitea | forgejo; guessed from the URL when empty


class WebhookConfig(NamedTuple):
    listen: str = "127.0.0.1:8075"
    secret_file: str = ""
    path: str = "/webhook"

    @property
    def address(self) -> tuple[str, int]:
        found = host_port(self.listen)
        assert found is not None, "validated when the configuration was read"
        return found


def host_port(text: str) -> tuple[str, int] | None:
    """`127.0.0.1:8075` or `[::1]:8075` → (host, port); None when it is not that."""
    host, sep, port = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        return None
    return host, int(port)


def read_secret(path: str, key: str) -> str:
    """A secret from its file (`*_file` keys), trailing line break dropped; "" for no file."""
    if not path:
        return ""
    try:
        return Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"{path}: {key}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: {key}: not UTF-8 text") from exc


class Identity(NamedTuple):
    name: str = "taskbot"
    email: str = "taskbot@localhost"
    signing_key: str = ""  # an ssh private key file: every commit of taskbot's is signed


class Trust(NamedTuple):
    authors: tuple[str, ...] = ()
    allowed_signers: str = ""
    anyone: bool = False


class NotifyConfig(NamedTuple):
    urls: tuple[str, ...] = ()
    config: str = ""


class Limits(NamedTuple):
    retries: int = 1
    command_timeout: float = 600
    build_timeout: float = 900
    run_soft_limit: float = 1800
    # The daemon gives up on an item quiet this long outside a command (which has its own
    # timeout): no input may hold it, and the systemd watchdog then means something.
    stall_timeout: float = 120
    # Independent project groups of one task run side by side, this many at once (1: in order).
    parallel: int = 4


class Registry(NamedTuple):
    url: str = ""
    ca_file: str = ""
    insecure: bool = False
    username: str = ""
    password_file: str = ""

    def password(self) -> str:
        """The password from `password_file` ("" when none is configured)."""
        return read_secret(self.password_file, "registry.password_file")


@dataclass(frozen=True)
class Project:  # a dataclass, not a NamedTuple: `branch` must keep its first answer
    name: str
    path: str
    allow_shell: bool = False
    branch_setting: str = ""  # `branch` as configured; "" = unset
    env: tuple[tuple[str, str], ...] = ()
    allow_dirty: bool = False  # true: handlers run despite uncommitted tracked changes
    approval: bool = False  # true: its criteria wait for a person's approval before they run
    executor: str = ""  # local | kubernetes; "" = [executor] kind
    # the handlers' own keys: one record per declaring class (see `settings`)
    declared: Mapping[type, Any] = field(default_factory=lambda: MappingProxyType({}))

    def settings(self, cls: type[T]) -> T:
        """The project's keys `cls` declares, as read from the file; its defaults when the
        project was not read with it (a handler that was not installed then)."""
        found = self.declared.get(cls)
        return found if isinstance(found, cls) else cls()

    def value(self, key: str, default: Any = None) -> Any:
        """A handler key by name, whichever handler declares it: for the core, which
        must not know the handlers' records."""
        for cls, record in self.declared.items():
            if key in _declared_fields(cls):
                return getattr(record, key)
        return default

    @functools.cached_property
    def branch(self) -> str:
        """The configured branch; unset: the clone's origin/HEAD, else main, else master.

        Looked up on first use, not when the config loads: reading a repository costs
        libgit2's import (~40 ms), which `plan` and `--help` should not pay for a project
        whose criteria never ask for its branch. Kept once found: a fetch during the run
        may add the refs it is read from, and a run must not see its branch change."""
        return self.branch_setting or _default_branch(self.path, "main")


class Cluster(NamedTuple):
    context: str = ""
    kubeconfig: str = ""
    namespace: str = "default"
    rollout_timeout: float = 300


class Executor(NamedTuple):
    """Where `build` criteria run: on this host, or as Kubernetes Jobs (`[cluster]`'s
    kubeconfig and context)."""

    kind: str = "local"  # local | kubernetes
    namespace: str = ""  # "" = [cluster] namespace
    image: str = "quay.io/buildah/stable:latest"  # rootless build image: runs the build command
    clone_image: str = "docker.io/alpine/git:latest"  # its init container clones the project
    registry_secret: str = ""  # a Secret (kubernetes.io/dockerconfigjson) the Job mounts
    service_account: str = ""  # "" = the namespace's default


EXECUTOR_KINDS = ("local", "kubernetes")


class Release(NamedTuple):
    """What a release that failed after it reached the cluster leaves behind."""

    on_failure: str = "revert"  # revert: a commit puts the old values back | keep


class Approval(NamedTuple):
    """Which criteria wait for a person's approval before anything of them runs."""

    handlers: tuple[str, ...] = ()  # every criterion of these handlers
    expires: float = 24 * 3600  # an approval older than this (its commit's date) is void


class Mcp(NamedTuple):
    """What an agent may do through `taskbot mcp` beyond reading (both off by default)."""

    allow_run: bool = False  # run_task
    allow_approve: bool = False  # approve_task: an approval commit as [identity]


class Rule(NamedTuple):
    match: re.Pattern[str]
    handler: str
    params: Mapping[str, str]


class Config(NamedTuple):
    source: str
    repo: RepoConfig
    identity: Identity
    trust: Trust | None  # None: no [trust] section, so taskbot runs nothing
    notify: NotifyConfig
    limits: Limits
    registry: Registry
    projects: Mapping[str, Project]
    cluster: Cluster | None
    release: Release
    rules: tuple[Rule, ...]
    webhook: WebhookConfig | None = None  # None: no [webhook] section, no listener
    approval: Approval = Approval()  # no [approval] section: only projects' `approval` keys
    mcp: Mcp = Mcp()  # no [mcp] section: an agent may read, not run or approve
    executor: Executor = Executor()  # no [executor] section: builds run on this host

    def executor_kind(self, project: Project) -> str:
        """Where the project's builds run: its own `executor`, else `[executor] kind`."""
        return project.executor or self.executor.kind

    def claiming(self, params: Mapping[str, str]) -> str:
        """The first project whose handler keys claim a criterion's parameters (a record's
        `claims`: an image of its build), or "": whose earlier criteria it inherits from, and
        whose lane it runs in."""
        for project in self.projects.values():
            if any(getattr(record, "claims", _claims_nothing)(params)
                   for record in project.declared.values()):
                return project.name
        return ""

    def secrets(self) -> tuple[str, ...]:
        """Every secret read from a `*_file` key that can be read now, for redaction."""
        found: list[str] = []
        with contextlib.suppress(ConfigError):
            found.append(self.registry.password())
        for name in (self.repo.token_file, self.webhook.secret_file if self.webhook else ""):
            with contextlib.suppress(ConfigError):
                found.append(read_secret(name, "secret"))
        # stripped as the webhook's reader strips: a part of a secret is redacted in any case
        return tuple(s.strip() for s in found if s.strip())


# --- finding and loading -------------------------------------------------------------


def find_config_path(explicit: str | None) -> Path | None:
    """`--config FILE`, else `$TASKBOT_CONFIG`, else ./taskbot.toml, else the system file.

    A file named explicitly (option or variable) must exist; None when no file is found
    by the fallbacks.
    """
    if explicit:
        return _must_exist(Path(explicit), "")
    from_env = os.environ.get("TASKBOT_CONFIG", "")
    if from_env:
        return _must_exist(Path(from_env), " (from $TASKBOT_CONFIG)")
    local = Path.cwd() / CONFIG_NAME
    if local.is_file():
        return local
    if SYSTEM_CONFIG.is_file():
        return SYSTEM_CONFIG
    return None


def _must_exist(path: Path, why: str) -> Path:
    if path.is_file():
        return path
    problem = "is not a file" if path.exists() else "config file not found"
    raise ConfigError(f"{path}: {problem}{why}")


def load(path: Path) -> Config:
    """Read and validate a config file."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {_toml_problem(exc, text)}") from exc
    return parse(data, str(path))


def _toml_problem(exc: tomllib.TOMLDecodeError, text: str) -> str:
    message = " ".join(str(exc).split())
    found = _TOML_POS_RE.match(message)
    if not found:
        return f"invalid TOML: {message}"
    if found["line"]:
        where = f"line {found['line']}, column {found['col']}"
    else:
        where = f"line {len(text.splitlines()) or 1} (end of file)"
    return f"{where}: invalid TOML: {found['msg']}"


def default(source: str = "<defaults>") -> Config:
    """The configuration used without a file: no trust (runs nothing), no projects."""
    return parse({}, source)


def parse(data: Mapping[str, Any], source: str,
          handler_keys: Mapping[str, type] | None = None) -> Config:
    """Validate parsed TOML; relative paths resolve against the directory of `source`.

    `handler_keys`: each handler's record of the project keys it reads; None: those of
    the installed handlers (`bot.entrypoints.project_settings`)."""
    base = Path(source).expanduser().absolute().parent
    top = _Table(source, base, "", data, _TOP_KEYS)
    trust = top.table("trust", Trust)
    cluster = top.table("cluster", Cluster)
    webhook = top.table("webhook", WebhookConfig)
    projects = _projects(top, handler_keys)
    if cluster is None:
        _no_kubernetes_projects(top, projects)
    return Config(
        source=source,
        repo=_repo(top.table("repo", RepoConfig) or _Table.empty(top, "repo")),
        identity=_identity(top.table("identity", Identity) or _Table.empty(top, "identity")),
        trust=_trust(trust) if trust else None,
        notify=_notify(top.table("notify", NotifyConfig) or _Table.empty(top, "notify")),
        limits=_limits(top.table("limits", Limits) or _Table.empty(top, "limits")),
        registry=_registry(top.table("registry", Registry) or _Table.empty(top, "registry")),
        projects=MappingProxyType(projects),
        cluster=_cluster(cluster) if cluster else None,
        release=_release(top.table("release", Release) or _Table.empty(top, "release")),
        rules=tuple(_rules(top)),
        webhook=_webhook(webhook) if webhook else None,
        approval=_approval(top.table("approval", Approval) or _Table.empty(top, "approval")),
        mcp=_mcp(top.table("mcp", Mcp) or _Table.empty(top, "mcp")),
        executor=_executor(top.table("executor", Executor) or _Table.empty(top, "executor"),
                           cluster),
    )


# --- sections --------------------------------------------------------------------------


def _repo(t: _Table) -> RepoConfig:
    d = RepoConfig()
    tasks_dir = t.string("tasks_dir", d.tasks_dir, nonempty=True)
    parts = Path(tasks_dir).parts
    if Path(tasks_dir).is_absolute() or ".." in parts:
        raise t.error("tasks_dir", "must be a relative path inside the repository")
    remote = t.string("remote", "")
    if re.match(r"(?i)https?://[^/]*@", remote):  # said without the URL: it holds a secret
        raise t.error("remote", "an https URL must not carry credentials: put the token in "
                                "repo.token_file")
    if remote and not re.fullmatch(r"(?:ssh://|https://|http://|[^\s/@:]+@)[^\s]+", remote):
        raise t.error("remote", f"{remote!r} is not an ssh (git@host:owner/repo.git, "
                                "ssh://…) or https:// URL")
    return RepoConfig(
        path=t.path("path", d.path) or ".",
        branch=t.string("branch", d.branch, nonempty=True),
        tasks_dir=tasks_dir,
        state_dir=t.path("state_dir", d.state_dir) or d.state_dir,
        integrate=t.choice("integrate", d.integrate, ("ff", "branch")),
        on_complete=t.choice("on_complete", d.on_complete, ("keep", "move")),
        dashboard=_dashboard(t, tasks_dir),
        remote=remote,
        # each poll is a connection to the forge: not more than one a second
        poll=t.duration("poll", 60.0, least=1.0) if remote else 0.0,
        ssh_key_file=t.path("ssh_key_file", ""),
        known_hosts_file=t.path("known_hosts_file", ""),
        token_file=t.path("token_file", ""),
        forge=t.choice("forge", "", ("", "github", "gitlab", "gitea", "forgejo")),
    )


def _webhook(t: _Table) -> WebhookConfig:
    d = WebhookConfig()
    listen = t.string("listen", d.listen, nonempty=True)
    if host_port(listen) is None:
        raise t.error("listen", f"{listen!r} is not host:port")
    path = t.string("path", d.path, nonempty=True)
    if not path.startswith("/"):
        raise t.error("path", "must start with /")
    secret_file = t.path("secret_file", "")
    if not secret_file:
        raise t.error("secret_file", "is required: a webhook without a secret would let anyone "
                                     "wake taskbot")
    return WebhookConfig(listen=listen, secret_file=secret_file, path=path)


def _dashboard(t: _Table, tasks_dir: str) -> str:
    """Outside tasks_dir: a file there would be read as a task and trigger runs."""
    value = t.string("dashboard", "")
    if not value:
        return ""
    path = Path(value)
    if path.is_absolute() or ".." in path.parts or path.suffix != ".md":
        raise t.error("dashboard", "must be a relative .md path inside the repository")
    if tasks_dir not in ("", ".") and Path(tasks_dir) in path.parents:
        raise t.error("dashboard", f"must be outside tasks_dir ({tasks_dir}): files there "
                      "are tasks")
    return path.as_posix()


def _identity(t: _Table) -> Identity:
    d = Identity()
    return Identity(
        name=t.string("name", d.name, nonempty=True),
        email=t.string("email", d.email, nonempty=True),
        signing_key=_readable_file(t, "signing_key"),
    )


def _readable_file(t: _Table, name: str) -> str:
    """A path that must name a readable file when set: read by another program (ssh-keygen)
    at the first commit, whose error would come far from the configuration."""
    path = t.path(name, "")
    if not path:
        return ""
    if not Path(path).is_file():
        raise t.error(name, f"{path}: no such file" if not Path(path).exists() else
                      f"{path}: not a file")
    if not os.access(path, os.R_OK):
        raise t.error(name, f"{path}: not readable")
    return path


def _trust(t: _Table) -> Trust:
    return Trust(
        authors=t.strings("authors"),
        allowed_signers=t.path("allowed_signers", ""),
        anyone=t.boolean("anyone", False),
    )


def _notify(t: _Table) -> NotifyConfig:
    return NotifyConfig(urls=t.strings("urls"), config=t.path("config", ""))


def _limits(t: _Table) -> Limits:
    d = Limits()
    return Limits(
        retries=t.integer("retries", d.retries, 0, MAX_RETRIES),
        command_timeout=t.duration("command_timeout", d.command_timeout),
        build_timeout=t.duration("build_timeout", d.build_timeout),
        run_soft_limit=t.duration("run_soft_limit", d.run_soft_limit),
        stall_timeout=t.duration("stall_timeout", d.stall_timeout),
        parallel=t.integer("parallel", d.parallel, 1, MAX_PARALLEL),
    )


def _registry(t: _Table) -> Registry:
    password_file = t.string("password_file", "")
    credentials = os.environ.get("CREDENTIALS_DIRECTORY", "")
    relative = password_file and not Path(password_file).expanduser().is_absolute()
    if relative and credentials:
        password_file = os.path.normpath(Path(credentials) / password_file)
    else:
        password_file = t.path("password_file", "")
    return Registry(
        url=t.string("url", ""),
        ca_file=t.path("ca_file", ""),
        insecure=t.boolean("insecure", False),
        username=t.string("username", ""),
        password_file=password_file,
    )


def _cluster(t: _Table) -> Cluster:
    d = Cluster()
    return Cluster(
        context=t.string("context", d.context),
        kubeconfig=t.path("kubeconfig", d.kubeconfig),
        namespace=t.string("namespace", d.namespace, nonempty=True),
        rollout_timeout=t.duration("rollout_timeout", d.rollout_timeout),
    )


def _executor(t: _Table, cluster: _Table | None) -> Executor:
    d = Executor()
    kind = t.choice("kind", d.kind, EXECUTOR_KINDS)
    if kind == "kubernetes" and cluster is None:
        raise t.error("kind", "kubernetes needs a [cluster] section (its kubeconfig and context)")
    return Executor(
        kind=kind,
        namespace=_k8s_name(t, "namespace"),
        image=t.string("image", d.image, nonempty=True),
        clone_image=t.string("clone_image", d.clone_image, nonempty=True),
        registry_secret=_k8s_name(t, "registry_secret"),
        service_account=_k8s_name(t, "service_account"),
    )


def _no_kubernetes_projects(top: _Table, projects: Mapping[str, Project]) -> None:
    for name, project in projects.items():
        if project.executor == "kubernetes":
            raise top.error(f"projects.{name}.executor", "kubernetes needs a [cluster] section "
                            "(its kubeconfig and context)")


def _k8s_name(t: _Table, name: str) -> str:
    """"" or a DNS-1123 name: a typo should fail here, not as the API server's 422 mid-run."""
    value = t.string(name, "")
    if value and not _K8S_NAME_RE.fullmatch(value):
        raise t.error(name, f"{value!r} is not a Kubernetes name (lowercase letters, digits, "
                            "'-' and '.')")
    return value


def _release(t: _Table) -> Release:
    return Release(on_failure=t.choice("on_failure", Release().on_failure, ("revert", "keep")))


def _approval(t: _Table) -> Approval:
    """Handler names must be installed ones: a misspelt name would let its criteria run
    unapproved, silently."""
    names = t.strings("handlers")
    if names:
        installed = sorted({ep.name for ep in entry_points(GROUP)})
        for i, name in enumerate(names, 1):
            if name not in installed:
                raise t.error(f"handlers[{i}]", f"unknown handler {name!r} (installed: "
                                                f"{', '.join(installed) or 'none'})")
    return Approval(handlers=names, expires=t.duration("expires", Approval().expires))


def _mcp(t: _Table) -> Mcp:
    return Mcp(allow_run=t.boolean("allow_run", Mcp().allow_run),
               allow_approve=t.boolean("allow_approve", Mcp().allow_approve))


def _projects(top: _Table, declared: Mapping[str, type] | None) -> dict[str, Project]:
    projects: dict[str, Project] = {}
    seen: dict[str, str] = {}
    records = _handler_records(top, declared)
    allowed = _PROJECT_KEYS.union(*(_declared_fields(cls) for cls in records.values()))
    for name, t in top.tables("projects", allowed):
        if not _PROJECT_RE.fullmatch(name):
            raise top.error(
                f"projects.{_quote(name)}",
                "invalid project name (allowed: letters, digits, '_' and '-')",
            )
        if name.lower() in seen:
            raise top.error(
                f"projects.{name}",
                f"same name as project {seen[name.lower()]!r} (names ignore case)",
            )
        seen[name.lower()] = name
        projects[name] = _project(name, t, records)
    return projects


def _handler_records(top: _Table, declared: Mapping[str, type] | None) -> Mapping[str, type]:
    """The project-key records of the installed handlers, by handler name. Found only when
    a project names a key the core does not own: importing every handler costs `status`
    and `--help` time they need not spend on a file without handler keys."""
    if declared is not None:
        return declared
    tables = top.data.get("projects", {})
    if not isinstance(tables, Mapping) or all(
            not isinstance(t, Mapping) or set(t) <= _PROJECT_KEYS for t in tables.values()):
        return {}
    return project_settings()


def _project(name: str, t: _Table, records: Mapping[str, type]) -> Project:
    d = Project(name, "")
    declared: dict[type, Any] = {}
    for handler, cls in records.items():
        if cls not in declared:
            declared[cls] = _record(t, cls, handler)
    path = t.path("path", "", required=True)
    return Project(
        name=name,
        path=path,
        allow_shell=t.boolean("allow_shell", d.allow_shell),
        branch_setting=t.string("branch", "", nonempty=True),
        env=tuple(t.string_map("env", _ENV_NAME_RE, "environment variable name").items()),
        allow_dirty=t.boolean("allow_dirty", d.allow_dirty),
        approval=t.boolean("approval", d.approval),
        executor=t.choice("executor", "", ("", *EXECUTOR_KINDS)),
        declared=MappingProxyType(declared),
    )


# --- the keys handlers declare ---------------------------------------------------------


@functools.cache  # a record's fields do not change; `Project.value` asks often
def _declared_fields(cls: type) -> Mapping[str, tuple[Any, Any]]:
    """A handler's project-key record (NamedTuple or dataclass): name -> (type, default),
    MISSING for a key without a default (required). Keys the core owns are not the
    handler's to declare and are left out."""
    hints = get_type_hints(cls, include_extras=True)
    if is_dataclass(cls):
        defaults = {f.name: f.default for f in fields(cls)}
    else:
        defaults = {n: getattr(cls, "_field_defaults", {}).get(n, MISSING)
                    for n in getattr(cls, "_fields", ())}
    return MappingProxyType(
        {n: (hints[n], d) for n, d in defaults.items() if n not in _PROJECT_KEYS})


def _record(t: _Table, cls: type, handler: str) -> Any:
    """`cls` read from the project's table; its optional `problems()` names bad values as
    (key, problem) pairs, reported like the reader's own."""
    values = {}
    for key, (kind, default) in _declared_fields(cls).items():
        if key not in t.data:
            if default is MISSING:
                raise t.error(key, "missing (required)")
            values[key] = default
            continue
        values[key] = _typed(t, key, kind, handler)
    record = cls(**values)
    for key, problem in getattr(record, "problems", lambda: ())():
        raise t.error(key, problem)
    return record


def _typed(t: _Table, key: str, kind: Any, handler: str) -> Any:
    """The key's value, present in the table, read as its declared type."""
    if kind == Argv:
        return t.argv(key)
    if get_origin(kind) is Annotated:
        kind = get_args(kind)[0]
    readers: dict[Any, Any] = {
        bool: lambda: t.boolean(key, False),
        int: lambda: t.integer(key, 0, -(2**63), 2**63 - 1),
        float: lambda: t.number(key, 0.0),
        str: lambda: t.string(key, ""),
        tuple[str, ...]: lambda: t.strings(key),
    }
    if kind not in readers:
        raise t.error(key, f"handler {handler!r} declares it as {kind!r}, a type taskbot "
                           "cannot read (str, bool, int, float, tuple[str, ...], Argv)")
    return readers[kind]()


def _default_branch(path: str, fallback: str) -> str:
    """The branch `git symbolic-ref refs/remotes/origin/HEAD` names, else main, else master.

    Read-only, through libgit2; a path that is no repository (yet) gets `fallback`.
    """
    if not os.path.isdir(path):  # no repository (yet): no need to load libgit2
        return fallback
    import pygit2  # noqa: PLC0415 -- here: loading a config need not load libgit2 (~50 ms)

    try:
        repo = pygit2.Repository(path, pygit2.enums.RepositoryOpenFlag.NO_SEARCH)
    except (pygit2.GitError, OSError, ValueError):
        return fallback
    try:
        target = repo.references["refs/remotes/origin/HEAD"].target
        if isinstance(target, str) and target.startswith("refs/remotes/origin/"):
            return target.removeprefix("refs/remotes/origin/")
    except (KeyError, pygit2.GitError):
        pass
    for name in ("main", "master"):
        if f"refs/heads/{name}" in repo.references or (
                f"refs/remotes/origin/{name}" in repo.references):
            return name
    return fallback


def _rules(top: _Table) -> Iterator[Rule]:
    for t in top.array_of_tables("rules", _RULE_KEYS):
        pattern = t.string("match", "", required=True)
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise t.error("match", f"invalid regular expression: {exc}") from exc
        handler = t.string("handler", "", required=True)
        if not _HANDLER_RE.fullmatch(handler):
            raise t.error(
                "handler", f"invalid handler name {handler!r} (allowed: [a-z][a-z0-9_-]*)"
            )
        params = t.string_map("params", _BARE_KEY_RE, "parameter name")
        yield Rule(compiled, handler, MappingProxyType(params))


# --- the typed reader ------------------------------------------------------------------


def _keys(cls: type[NamedTuple], *, without: tuple[str, ...] = ()) -> frozenset[str]:
    return frozenset(name for name in cls._fields if name not in without)


_TOP_KEYS = _keys(Config, without=("source",))
# the core's own project keys; the handlers declare theirs (`_declared_fields`)
_PROJECT_KEYS = (frozenset(f.name for f in fields(Project))
                 - {"name", "branch_setting", "declared"} | {"branch"})
_RULE_KEYS = frozenset({"match", "handler", "params"})


def _quote(key: str) -> str:
    """A key as it would be written in TOML: bare when possible, else quoted."""
    if _BARE_KEY_RE.fullmatch(key):
        return key
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


class _Table:
    """One TOML table being read: typed getters whose errors name the file and key."""

    def __init__(
        self,
        source: str,
        base: Path,
        prefix: str,
        data: Mapping[str, Any],
        allowed: frozenset[str],
    ) -> None:
        self.source = source
        self.base = base
        self.prefix = prefix
        self.data = data
        for key in data:
            if key not in allowed:
                raise ConfigError(f"{source}: unknown key '{self.key(_quote(key))}'")

    @classmethod
    def empty(cls, parent: _Table, name: str) -> _Table:
        return cls(parent.source, parent.base, parent.key(name), {}, frozenset())

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def error(self, name: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.source}: {self.key(name)}: {problem}")

    def _get(self, name: str, required: bool) -> Any:
        if name not in self.data and required:
            raise self.error(name, "missing (required)")
        return self.data.get(name)

    # sub-tables

    def table(self, name: str, cls: type) -> _Table | None:
        if name not in self.data:
            return None
        value = self.data[name]
        if not isinstance(value, Mapping):
            raise self.error(name, "expected a table")
        return _Table(self.source, self.base, self.key(name), value, _keys(cls))

    def tables(self, name: str, allowed: frozenset[str]) -> Iterator[tuple[str, _Table]]:
        value = self.data.get(name, {})
        if not isinstance(value, Mapping):
            raise self.error(name, "expected a table")
        for key, sub in value.items():
            where = f"{name}.{_quote(key)}"
            if not isinstance(sub, Mapping):
                raise self.error(where, "expected a table")
            yield key, _Table(self.source, self.base, self.key(where), sub, allowed)

    def array_of_tables(self, name: str, allowed: frozenset[str]) -> Iterator[_Table]:
        value = self.data.get(name, [])
        if not isinstance(value, list):
            raise self.error(name, f"expected an array of tables ([[{name}]])")
        for i, sub in enumerate(value, 1):
            where = f"{name}[{i}]"
            if not isinstance(sub, Mapping):
                raise self.error(where, "expected a table")
            yield _Table(self.source, self.base, self.key(where), sub, allowed)

    # scalars

    def string(
        self, name: str, default: str, *, required: bool = False, nonempty: bool = False
    ) -> str:
        """A string; `required`: must be given, and like `nonempty` must not be blank."""
        value = self._get(name, required)
        if value is None:
            return default
        if not isinstance(value, str):
            raise self.error(name, "expected a string")
        if (required or nonempty) and not value.strip():
            raise self.error(name, "must not be empty")
        return value

    def path(self, name: str, default: str, *, required: bool = False) -> str:
        value = self._get(name, required)
        if value is None:
            value = default
        if not isinstance(value, str):
            raise self.error(name, "expected a string (a path)")
        if required and not value.strip():
            raise self.error(name, "must not be empty")
        if not value:
            return ""
        return os.path.normpath(self.base / Path(value).expanduser())

    def boolean(self, name: str, default: bool) -> bool:
        value = self._get(name, False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(name, "expected true or false")
        return value

    def integer(self, name: str, default: int, low: int, high: int) -> int:
        value = self._get(name, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, "expected an integer")
        if not low <= value <= high:
            raise self.error(name, f"must be between {low} and {high}, not {value}")
        return value

    def duration(self, name: str, default: float, *, least: float = 0.0) -> float:
        value = self._get(name, False)
        if value is None:
            return default
        try:
            seconds = parse_duration(value)
        except ValueError as exc:
            raise self.error(name, str(exc)) from exc
        if seconds <= 0:
            raise self.error(name, f"must be longer than zero, not {value!r}")
        if seconds < least:
            raise self.error(name, f"must be at least {format_duration(least)}, not {value!r}")
        return seconds

    def number(self, name: str, default: float) -> float:
        value = self._get(name, False)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(name, "expected a number")
        return float(value)

    def choice(self, name: str, default: str, options: tuple[str, ...]) -> str:
        value = self.string(name, default)
        if value not in options:
            allowed = " or ".join(repr(o) for o in options)
            raise self.error(name, f"must be {allowed}, not {value!r}")
        return value

    # collections

    def strings(self, name: str) -> tuple[str, ...]:
        value = self._get(name, False)
        if value is None:
            return ()
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(name, "expected a list of strings")
        for i, item in enumerate(value, 1):
            if not item.strip():
                raise self.error(f"{name}[{i}]", "must not be empty")
        return tuple(value)

    def argv(self, name: str) -> tuple[str, ...]:
        value = self._get(name, False)
        if isinstance(value, str):
            raise self.error(name, "must be a list of argv words, not a shell string")
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(v, str) for v in value)
        ):
            raise self.error(name, "must be a list of argv words (strings)")
        if value and not value[0]:
            raise self.error(name, "the first argv word (the program) must not be empty")
        return tuple(value or ())

    def string_map(self, name: str, key_re: re.Pattern[str], what: str) -> dict[str, str]:
        value = self._get(name, False)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(name, "expected a table of strings")
        for key, item in value.items():
            where = f"{name}.{_quote(key)}"
            if not key_re.fullmatch(key):
                raise self.error(where, f"invalid {what}")
            if not isinstance(item, str):
                raise self.error(where, "expected a string")
        return dict(value)


def _claims_nothing(params: Mapping[str, str]) -> bool:
    return False
