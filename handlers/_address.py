"""The registry's old address found and replaced in a repository's files, nothing written.

Text files change byte-exactly, only the address characters: the host as a whole word
anywhere, `REGISTRY_URL=` values in `.env` files, and the MetalLB `loadBalancerIPs`
annotations (through the position-based YAML editor). Files are read through
`bot.safepath`: a link on the way is refused, named in `Scan.refused`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from bot import api
from bot.api import Context, ParamError
from handlers._project import BuildKeys

ENV_FILE = ".env.build.local"
ARCH_DOC = "docs/architecture.md"
METALLB_KEYS = ("metallb.universe.tf/loadBalancerIPs", "metallb.io/loadBalancerIPs")
_ENV_RE = re.compile(r"^(?P<head>\s*(?:export\s+)?REGISTRY_URL\s*=\s*(?P<q>['\"]?)"
                     r"(?P<scheme>[a-z]+://)?)(?P<value>[^'\"\s#]*)(?P=q)", re.MULTILINE)


class RegistryIpSettings(NamedTuple):
    """The move: from the configured registry's host to the new IP, the port kept."""

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


def _address(host: str, port: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port else shown


def split_address(address: str) -> tuple[str, str]:
    """(host, port) of `host[:port]` or `[v6][:port]`; port "" when none is given."""
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
