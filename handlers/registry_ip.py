"""`registry-ip`: the registry moved to a new IP address; change every place that names it.

- `REGISTRY_URL` in each project's `.env.build.local` (edited in place: the build reads it),
- the old address in each project's build script and `Makefile` (in place),
- a new TLS certificate for `registry.ca_file` whose SAN holds the new IP (same key,
  when the certificate is self-signed and its `.key` lies next to it; the old one kept
  as `.bak`),
- the address in `docs/architecture.md` of the tasks repo, and the MetalLB
  `loadBalancerIPs` annotation under `infra/registry/` of each GitOps project — both
  in taskbot's own worktree, validated (GitOps), committed and fast-forward pushed.

Every text file is edited byte-exactly: only the address characters change. `taskbot
plan` lists every file and line. Files are read and written through `bot.safepath`: a
link on the way to any of them (`docs -> /elsewhere`, a linked `.env.build.local`, a link
under `infra/registry/` or a linked kustomize dir) blocks the move before anything is
written; a linked certificate or key is left for the operator to renew. Edits that git
then finds nothing to commit for are a failure, not a success.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from bot import api
from bot.api import (
    Context,
    DefaultRule,
    FileChange,
    Handler,
    NotReady,
    Outcome,
    ParamError,
    Project,
    Status,
    Step,
    TaskbotError,
    project_ready,
    reject_unknown,
    require_project,
)
from handlers._kustomize import linked_dir, validate
from handlers._project import BuildKeys, GitOpsKeys

ENV_FILE = ".env.build.local"
ARCH_DOC = "docs/architecture.md"
METALLB_KEYS = ("metallb.universe.tf/loadBalancerIPs", "metallb.io/loadBalancerIPs")
_ENV_RE = re.compile(r"^(?P<head>\s*(?:export\s+)?REGISTRY_URL\s*=\s*(?P<q>['\"]?)"
                     r"(?P<scheme>[a-z]+://)?)(?P<value>[^'\"\s#]*)(?P=q)", re.MULTILINE)


class RegistryIpSettings(NamedTuple):
    old_host: str
    port: str
    new_host: str

    @property
    def old(self) -> str:
        return _address(self.old_host, self.port)

    @property
    def new(self) -> str:
        return _address(self.new_host, self.port)


class FileEdit(NamedTuple):
    repo: str  # project name, or "tasks"
    root: Path
    path: str  # relative to root
    before: bytes
    after: bytes

    def lines(self) -> list[str]:
        old = self.before.decode("utf-8").splitlines()
        new = self.after.decode("utf-8").splitlines()
        return [f"{self.repo}: {self.path}:{n}: {a.strip()} → {b.strip()}"
                for n, (a, b) in enumerate(zip(old, new, strict=False), 1) if a != b]


class Renewal(NamedTuple):
    """What became of the registry certificate; `renewed` when a new one replaced it."""

    records: tuple[api.CommandRecord, ...] = ()
    notes: tuple[str, ...] = ()
    problem: str = ""
    renewed: bool = False


def _address(host: str, port: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port else shown


def _split(address: str) -> tuple[str, str]:
    found = re.fullmatch(r"\[(?P<v6>[^\]]+)\](?::(?P<p6>\d+))?|(?P<host>[^:]+)(?::(?P<port>\d+))?",
                         address)
    if not found:
        raise ParamError(f"registry-ip: cannot read the configured registry address {address!r}")
    return found["v6"] or found["host"], found["p6"] or found["port"] or ""


def host_pattern(host: str) -> re.Pattern[str]:
    """`host` as a whole word: 192.168.7.21 but not 192.168.7.210 or 10.192.168.7.21."""
    return re.compile(r"(?<![\w.:-])" + re.escape(host) + r"(?![\w-]|\.\w)")


def replace_address(text: str, s: RegistryIpSettings) -> str:
    return host_pattern(s.old_host).sub(lambda _: s.new_host, text)


def set_registry_url(text: str, s: RegistryIpSettings) -> str:
    """Every `REGISTRY_URL=` value set to the new address (quotes and scheme kept)."""
    def one(found: re.Match[str]) -> str:
        return found["head"] + s.new + found["q"]
    return _ENV_RE.sub(one, text)


def metallb_edit(data: bytes, name: str, s: RegistryIpSettings) -> bytes:
    """The MetalLB loadBalancerIPs annotations with the old IP replaced (yamledit)."""
    doc = api.YamlFile.from_bytes(data, name)
    edits: list[api.ScalarEdit] = []
    for root in doc.documents:
        for node in api.yaml_walk(root):
            for key in METALLB_KEYS:
                value = api.yaml_scalar(node, key)
                if value is not None and host_pattern(s.old_host).search(value.value):
                    edits.append(api.ScalarEdit(value, replace_address(value.value, s), key))
    if not edits:
        return data
    text, _ = api.edit_scalars(doc, edits)
    return text.encode("utf-8")


class Scan(NamedTuple):
    """The edits a look at some files found, and the files it refused to read (links)."""

    edits: tuple[FileEdit, ...] = ()
    refused: tuple[str, ...] = ()


def _edit(repo: str, root: Path, rel: str, change: str, s: RegistryIpSettings) -> FileEdit | None:
    """The edit of root/rel (None: missing, not text, or naming nothing); UnsafePath for a
    link on the way."""
    try:
        data = api.read_inside(root, rel)
        text = data.decode("utf-8")
    except (FileNotFoundError, NotADirectoryError, UnicodeDecodeError):
        return None
    new = set_registry_url(text, s) if change == "env" else replace_address(text, s)
    after = new.encode("utf-8")
    return FileEdit(repo, root, rel, data, after) if after != data else None


def _scan(repo: str, root: Path, wanted: Sequence[tuple[str, str]], s: RegistryIpSettings) -> Scan:
    edits: list[FileEdit] = []
    refused: list[str] = []
    for rel, change in wanted:
        try:
            edit = _edit(repo, root, rel, change, s)
        except (api.UnsafePath, OSError) as exc:
            refused.append(_unread(repo, rel, exc))
            continue
        edits.extend([edit] if edit is not None else [])
    return Scan(tuple(edits), tuple(refused))


def project_edits(ctx: Context, s: RegistryIpSettings) -> Scan:
    """.env.build.local, the build script and the Makefile of every project, in place."""
    edits: list[FileEdit] = []
    refused: list[str] = []
    for project in ctx.config.projects.values():
        wanted = [(ENV_FILE, "env"), ("Makefile", "address")]
        build = project.settings(BuildKeys).build
        script = build[0] if build else ""
        if script and "/" in script and not script.startswith(("/", "../")) and ".." not in script:
            wanted.append((str(Path(script)), "address"))
        scan = _scan(project.name, Path(project.path), wanted, s)
        edits.extend(scan.edits)
        refused.extend(scan.refused)
    return Scan(tuple(edits), tuple(refused))


def doc_edits(root: Path, label: str, s: RegistryIpSettings) -> Scan:
    """The address in docs/architecture.md of a checked-out tasks repo."""
    return _scan(label, root, [(ARCH_DOC, "address")], s)


def gitops_edits(root: Path, label: str, s: RegistryIpSettings) -> Scan:
    """The MetalLB annotations under infra/registry/ of a checked-out GitOps tree; a link
    there refuses the tree (raises api.YamlEditError for a file it cannot edit)."""
    edits: list[FileEdit] = []
    try:
        files = api.files_inside(root, "infra/registry")
        for rel in files:
            if PurePosixPath(rel).suffix not in (".yaml", ".yml"):
                continue
            data = api.read_inside(root, rel)
            if not any(k.encode() in data for k in METALLB_KEYS):
                continue
            after = metallb_edit(data, rel, s)
            if after != data:
                edits.append(FileEdit(label, root, rel, data, after))
    except (FileNotFoundError, NotADirectoryError):
        return Scan()
    except (api.UnsafePath, OSError) as exc:
        return Scan(refused=(_unread(label, "infra/registry", exc),))
    return Scan(tuple(edits))


def _unread(repo: str, rel: str, exc: Exception) -> str:
    """Why a file was not read: UnsafePath names it already; an OSError gets its name."""
    if isinstance(exc, OSError):
        return f"{repo}: {exc.filename or rel}: cannot read: {exc.strerror or exc}"
    return f"{repo}: {exc}"


class RegistryIpHandler:
    name = "registry-ip"
    params = ("ip", "port")
    rules = (
        DefaultRule(r"(?i)^(?:move|update|change) (?:the )?registry (?:ip|address) to\s+"
                    r"(?P<ip>[0-9a-fA-F.:]+?)\.?$"),
    )

    def settings(self, params: Mapping[str, str], ctx: Context) -> RegistryIpSettings:
        reject_unknown(self.name, params, self.params)
        try:
            ip = str(ipaddress.ip_address(params.get("ip", "")))
        except ValueError as exc:
            raise ParamError(f"registry-ip: ip {params.get('ip', '')!r} is not an IP address"
                             ) from exc
        if not ctx.config.registry.url:
            raise ParamError("registry-ip: no [registry] url is configured (the old address)")
        old_host, port = _split(api.normalize_registry(ctx.config.registry.url))
        if "port" in params:
            if not re.fullmatch(r"\d{1,5}", params["port"]) or not 0 < int(params["port"]) < 65536:
                raise ParamError(f"registry-ip: port {params['port']!r} is not a TCP port")
            port = params["port"]
        if ip == old_host:
            raise ParamError(f"registry-ip: the registry is already at {ip}")
        return RegistryIpSettings(old_host, port, ip)

    def plan(self, s: RegistryIpSettings, ctx: Context) -> Step:
        scans = [project_edits(ctx, s)]
        for project in _gitops_projects(ctx):
            try:
                scans.append(gitops_edits(Path(project.path), project.name, s))
            except api.YamlEditError as exc:
                scans.append(Scan(refused=(f"{project.name}: {exc}",)))
        docs = doc_edits(Path(ctx.config.repo.path), "tasks", s)
        scans.append(docs)
        files = [line for scan in scans for edit in scan.edits for line in edit.lines()]
        files.extend(f"REFUSED: {why}" for scan in scans for why in scan.refused)
        if docs == Scan():
            files.append(f"tasks: {ARCH_DOC} (read at run time from {ctx.config.repo.branch})")
        if ctx.config.registry.ca_file:
            files.append(f"certificate {ctx.config.registry.ca_file}: new, SAN IP:{s.new_host}")
        return Step(commands=(("openssl", "req", "-x509", "-new", "…", "-addext",
                               f"subjectAltName=IP:{s.new_host},…"),),
                    files=tuple(files),
                    preconditions=(f"registry moves from {s.old} to {s.new}",))

    def run(self, s: RegistryIpSettings, ctx: Context) -> Outcome:
        scan = project_edits(ctx, s)
        checkouts, problems, notes = _checkouts(ctx, s)
        refused = [*scan.refused, *(why for c in checkouts for why in c.scan.refused)]
        if refused:  # before anything is written: a link is never followed, nor half the move made
            return Outcome(Status.BLOCKED, "nothing changed: " + "; ".join(dict.fromkeys(refused)))
        try:
            evidence = _projects_ready(ctx, scan.edits)
        except NotReady as exc:
            return Outcome(Status.BLOCKED, f"nothing changed: {exc.reason}", evidence=exc.evidence)
        commands: list[api.CommandRecord] = []
        changes: list[FileChange] = []
        for edit in scan.edits:
            api.write_inside(edit.root, edit.path, edit.after)
            changes.append(FileChange(edit.repo, edit.path, f"registry {s.old} → {s.new}"))
            evidence.extend(edit.lines())
        evidence.extend(notes)
        for checkout in checkouts:
            try:
                out = _commit_repo(ctx, s, checkout)
            except TaskbotError as exc:
                problems.append(f"{checkout.label}: {exc}")
                continue
            commands.extend(out[0])
            changes.extend(out[1])
            evidence.extend(out[2])
            problems.extend(out[3])
        renewal = renew_certificate(ctx, s)
        if renewal.renewed:
            changes.append(FileChange("registry", ctx.config.registry.ca_file,
                                      f"new certificate, SAN IP:{s.new_host}"))
        commands.extend(renewal.records)
        evidence.extend(renewal.notes)
        problems.extend([renewal.problem] if renewal.problem else [])
        evidence.append(f"then: set registry.url = \"{s.new}\" in {ctx.config.source} and "
                        "restart the registry with the new certificate")
        status = Status.FAILED if problems else Status.DONE
        return Outcome(status, "; ".join(problems), commands=tuple(commands),
                       changes=tuple(changes), evidence=tuple(evidence),
                       summary=f"registry {s.old} → {s.new} in {len(changes)} files")


def _projects_ready(ctx: Context, edits: Sequence[FileEdit]) -> list[str]:
    """The safety checks of every project edited in place; raises NotReady for the first
    that fails. A project directory that is no git repository is edited as before."""
    checked: list[str] = []
    for name in dict.fromkeys(e.repo for e in edits):
        checked.extend(project_ready(require_project(ctx.config, name), require_git=False))
    return checked


def _gitops_projects(ctx: Context) -> list[Project]:
    return [p for p in ctx.config.projects.values()
            if p.settings(GitOpsKeys).helmrelease or p.settings(GitOpsKeys).kustomize]


class Checkout(NamedTuple):
    """A repository edited in taskbot's worktree: where, what it found, how it is checked."""

    label: str
    work: Path
    branch: str  # taskbot's work branch
    base: str  # the branch its commit fast-forwards
    kustomize: tuple[str, ...]
    sec_lint: tuple[str, ...]
    scan: Scan


def _repos(ctx: Context) -> list[tuple[str, Path, str, tuple[str, ...]]]:
    """(label, clone, kind, kustomize dirs): each GitOps project, then the tasks repo."""
    repos = [(p.name, Path(p.path), "gitops", p.settings(GitOpsKeys).kustomize)
             for p in _gitops_projects(ctx)]
    repos.append(("tasks", Path(ctx.config.repo.path), "docs", ()))
    return repos


def _checkouts(ctx: Context, s: RegistryIpSettings) -> tuple[list[Checkout], list[str], list[str]]:
    """Each repository checked out in taskbot's worktree and scanned, nothing written yet;
    with the problems (a repository that could not be checked out) and notes (skipped)."""
    checkouts: list[Checkout] = []
    problems: list[str] = []
    notes: list[str] = []
    for label, clone, kind, dirs in _repos(ctx):
        if not (clone / ".git").exists() and not (clone / "HEAD").is_file():
            notes.append(f"{label}: {clone} is not a git repository: skipped")
            continue
        project = next((p for p in ctx.config.projects.values() if p.name == label), None)
        base = project.branch if project is not None else ctx.config.repo.branch
        branch = f"taskbot/{ctx.task_id}-registry-ip"
        try:
            work = api.prepare_worktree(clone, Path(ctx.config.repo.state_dir), branch, base)
            scan = gitops_edits(work, label, s) if kind == "gitops" else doc_edits(work, label, s)
        except TaskbotError as exc:
            problems.append(f"{label}: {exc}")
            continue
        linked = linked_dir(work, dirs)
        if linked:
            scan = scan._replace(refused=(*scan.refused, f"{label}: {linked}"))
        checkouts.append(Checkout(label, work, branch, base, tuple(dirs),
                                  project.settings(GitOpsKeys).sec_lint if project is not None else (), scan))
    return checkouts, problems, notes


def _commit_repo(ctx: Context, s: RegistryIpSettings, c: Checkout
                 ) -> tuple[list[api.CommandRecord], list[FileChange], list[str], list[str]]:
    """Write a checkout's edits, validate, commit and integrate them."""
    if not c.scan.edits:
        return [], [], [f"{c.label}: nothing names {s.old_host}"], []
    for edit in c.scan.edits:
        api.write_inside(c.work, edit.path, edit.after)
    evidence = [line for e in c.scan.edits for line in e.lines()]
    records, failure = validate(ctx, str(c.work), c.kustomize, c.sec_lint)
    if failure:
        for edit in c.scan.edits:
            api.write_inside(c.work, edit.path, edit.before)
        return list(records), [], evidence, [f"{c.label}: validation failed, nothing committed: "
                                             f"{failure}"]
    message = api.gitops_commit_message(f"taskbot({ctx.task_id}): registry {s.old} → {s.new}",
                                    [f"- {line}" for line in evidence],
                                    {"Task-Id": ctx.task_id, "Taskbot-Run": ctx.run_id})
    paths = [e.path for e in c.scan.edits]
    sha = api.commit_worktree(c.work, message, ctx.config.identity, paths)
    if sha is None:  # the edits did not reach git: nothing changed there, whatever was written
        return list(records), [], evidence, [f"{c.label}: edited {', '.join(paths)}, but git "
                                             "found nothing to commit"]
    result = api.push_ff(c.work, c.branch, c.base)
    changes = [FileChange(c.label, e.path, f"registry {s.old} → {s.new}") for e in c.scan.edits]
    return list(records), changes, [*evidence, f"{c.label}: commit {sha}: {result}"], []


def _san(text: str) -> list[str]:
    entries = re.findall(r"(IP Address|DNS):\s*([^,\s]+)", text)
    return [f"{'IP' if kind == 'IP Address' else 'DNS'}:{value}" for kind, value in entries]


def _certificate(ctx: Context, s: RegistryIpSettings) -> tuple[Path | None, str]:
    """The certificate to renew (its key lies next to it), else why there is none."""
    if not ctx.config.registry.ca_file:
        return None, "certificate: no registry.ca_file configured: nothing to renew"
    path = Path(ctx.config.registry.ca_file)
    key = path.with_suffix(".key")
    linked = next((p for p in (path, key) if p.is_symlink()), None)
    if linked is not None:  # its target is not taskbot's to replace
        return None, (f"certificate: {linked} is a symlink; taskbot never follows links: renew "
                      f"the certificate where it lives, with SAN IP:{s.new_host}")
    if not path.is_file() or not key.is_file():
        return None, (f"certificate: {path} or its key {key.name} not found: renew it where the "
                      f"registry's key lives, with SAN IP:{s.new_host}")
    return path, ""


def renew_certificate(ctx: Context, s: RegistryIpSettings) -> Renewal:
    """A new self-signed certificate for ca_file with IP:new in its SAN, from the same key."""
    path, why = _certificate(ctx, s)
    if path is None:
        return Renewal(notes=(why,))
    key = path.with_suffix(".key")
    cwd = str(path.parent)
    info = ctx.run(["openssl", "x509", "-in", str(path), "-noout", "-subject", "-issuer",
                    "-ext", "subjectAltName", "-nameopt", "RFC2253"], cwd)
    if not info.ok:
        return Renewal((info,), problem=f"certificate: cannot read {path}: {info.describe()}")
    lines = info.stdout.splitlines()
    subject = next((x.split("=", 1)[1].strip() for x in lines if x.startswith("subject=")), "")
    issuer = next((x.split("=", 1)[1].strip() for x in lines if x.startswith("issuer=")), "")
    if subject != issuer:
        return Renewal((info,), (f"certificate: {path} is signed by {issuer}: ask that CA for "
                                 f"one with SAN IP:{s.new_host}",))
    current = _san(info.stdout)
    if f"IP:{s.new_host}" in current and f"IP:{s.old_host}" not in current:
        return Renewal((info,), (f"certificate {path}: already has SAN IP:{s.new_host}",))
    keep = [e for e in current if e not in (f"IP:{s.old_host}", f"IP:{s.new_host}")]
    san = ",".join([f"IP:{s.new_host}", *keep])
    new = path.with_name(path.name + ".new")
    new.unlink(missing_ok=True)  # a leftover, maybe a link openssl's -out would follow
    made = ctx.run(["openssl", "req", "-x509", "-new", "-key", str(key), "-out", str(new),
                    "-days", "825", "-subj", f"/CN={s.new_host}", "-addext",
                    f"subjectAltName={san}"], cwd)
    if not made.ok:
        return Renewal((info, made), problem=f"certificate: {made.describe()}")
    path.replace(path.with_name(path.name + ".bak"))
    new.replace(path)
    return Renewal((info, made), (f"certificate {path}: renewed with SAN {san} (old one kept as "
                                  f"{path.name}.bak)",), renewed=True)


HANDLER: Handler[RegistryIpSettings] = RegistryIpHandler()
