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

The edits are found in `handlers/_address.py`, committed per repository by
`handlers/_checkouts.py`; the certificate is renewed by `handlers/_certificate.py`.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from bot import api
from bot.api import (
    Context,
    DefaultRule,
    FileChange,
    Handler,
    NotReady,
    Outcome,
    ParamError,
    Status,
    Step,
    TaskbotError,
    project_ready,
    reject_unknown,
    require_project,
)
from handlers._address import (
    ARCH_DOC,
    FileEdit,
    RegistryIpSettings,
    Scan,
    doc_edits,
    gitops_edits,
    project_edits,
    split_address,
)
from handlers._certificate import Renewal, renew_certificate
from handlers._checkouts import checkouts_of, commit_checkout, gitops_projects

# tests import these from here (tests/handlers/: test_registry_ip_renewal, test_handler_links)
__all__ = ["HANDLER", "Renewal", "renew_certificate"]


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
        old_host, port = split_address(api.normalize_registry(ctx.config.registry.url))
        if "port" in params:
            if not re.fullmatch(r"\d{1,5}", params["port"]) or not 0 < int(params["port"]) < 65536:
                raise ParamError(f"registry-ip: port {params['port']!r} is not a TCP port")
            port = params["port"]
        if ip == old_host:
            raise ParamError(f"registry-ip: the registry is already at {ip}")
        return RegistryIpSettings(old_host, port, ip)

    def plan(self, s: RegistryIpSettings, ctx: Context) -> Step:
        scans = [project_edits(ctx, s)]
        for project in gitops_projects(ctx):
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
        checkouts, problems, notes = checkouts_of(ctx, s)
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
                out = commit_checkout(ctx, s, checkout)
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


HANDLER: Handler[RegistryIpSettings] = RegistryIpHandler()
