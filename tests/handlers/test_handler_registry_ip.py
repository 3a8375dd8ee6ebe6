"""registry-ip: every place naming the old registry address changes, byte-exactly."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.api import Context, Status
from bot.errors import ParamError
from handlers.registry_ip import HANDLER as REGISTRY_IP
from tests.kit.context import make_ctx
from tests.kit.gitops import git, make_gitops
from tests.kit.registry import make_cert, need

pytestmark = pytest.mark.integration

OLD, NEW = "192.168.7.21", "192.168.7.50"
ENV = "# build settings\nREGISTRY_URL=192.168.7.21:5000\nMIRROR=192.168.7.210:5000\n"
MAKEFILE = ("REGISTRY ?= 192.168.7.21:5000\n\npush:\n\tdocker push $(REGISTRY)/ffl/backend\n"
            "# the old NAS was 10.192.168.7.21 and 192.168.7.210\n")
SCRIPT = "#!/bin/sh\n: \"${REGISTRY_URL:=192.168.7.21:5000}\"\necho building\n"
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: registry
  annotations:
    metallb.universe.tf/loadBalancerIPs: 192.168.7.21   # the registry's address
spec:
  type: LoadBalancer
  ports: [{port: 5000}]
"""
ARCH = "# Architecture\n\n- Registry: `192.168.7.21:5000` (TLS, self-signed)\n- NAS: 192.168.7.2\n"


def _commit(repo: Path, files: dict[str, str], message: str) -> None:
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message)
    git(repo, "push", "-q", "origin", "HEAD")


def _setup(tmp_path: Path) -> tuple[Context, Path, Path, Path]:
    need("git", "openssl", "kubectl")
    ffl = tmp_path / "ffl"
    (ffl / "scripts").mkdir(parents=True)
    (ffl / ".env.build.local").write_text(ENV)
    (ffl / "Makefile").write_text(MAKEFILE)
    (ffl / "scripts" / "build.sh").write_text(SCRIPT)
    gitops = make_gitops(tmp_path / "gitops", f"{OLD}:5000")
    _commit(gitops.clone, {"infra/registry/service.yaml": SERVICE,
                           "infra/registry/kustomization.yaml": "resources: [service.yaml]\n"},
            "registry service")
    tasks_origin = tmp_path / "tasks.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(tasks_origin)], check=True)
    tasks = tmp_path / "tasks"
    subprocess.run(["git", "clone", "-q", str(tasks_origin), str(tasks)], check=True,
                   capture_output=True)
    _commit(tasks, {"docs/architecture.md": ARCH, "tasks/active/.keep": ""}, "docs")
    certs = tmp_path / "certs"
    certs.mkdir()
    cert = make_cert(certs, san=f"IP:{OLD},DNS:registry.lan")
    ctx = make_ctx({
        "repo": {"path": str(tasks), "state_dir": str(tmp_path / "state")},
        "registry": {"url": f"{OLD}:5000", "ca_file": str(cert)},
        "projects": {"ffl": {"path": str(ffl), "build": ["./scripts/build.sh", "--push", "all"]},
                     "beckerkube": {"path": str(gitops.clone), "helmrelease": "apps/{app}/hr.yaml",
                                    "kustomize": ["clusters/minikube", "infra/registry"],
                                    "sec_lint": ["./scripts/sec-lint.sh"]}},
    }, tmp_path)
    return ctx, ffl, gitops.origin, tasks_origin


def test_registry_moves_everywhere_byte_exactly(tmp_path: Path) -> None:
    ctx, ffl, gitops_origin, tasks_origin = _setup(tmp_path)
    settings = REGISTRY_IP.settings({"ip": NEW}, ctx)

    step = REGISTRY_IP.plan(settings, ctx)
    assert step.files[:3] == (
        "ffl: .env.build.local:2: REGISTRY_URL=192.168.7.21:5000 → REGISTRY_URL=192.168.7.50:5000",
        "ffl: Makefile:1: REGISTRY ?= 192.168.7.21:5000 → REGISTRY ?= 192.168.7.50:5000",
        'ffl: scripts/build.sh:2: : "${REGISTRY_URL:=192.168.7.21:5000}" → '
        ': "${REGISTRY_URL:=192.168.7.50:5000}"')
    assert ("beckerkube: infra/registry/service.yaml:6: metallb.universe.tf/loadBalancerIPs: "
            "192.168.7.21   # the registry's address → metallb.universe.tf/loadBalancerIPs: "
            "192.168.7.50   # the registry's address") in step.files
    assert any(f.startswith("tasks: docs/architecture.md:3: ") for f in step.files)
    assert (ffl / "Makefile").read_text() == MAKEFILE  # plan changes nothing

    outcome = REGISTRY_IP.run(settings, ctx)
    assert outcome.status is Status.DONE, outcome.reason
    assert (ffl / ".env.build.local").read_text() == ENV.replace("=192.168.7.21:", "=192.168.7.50:")
    assert (ffl / "Makefile").read_text() == MAKEFILE.replace("?= 192.168.7.21:", "?= 192.168.7.50:")
    assert (ffl / "scripts/build.sh").read_text() == SCRIPT.replace(OLD, NEW)
    assert git(gitops_origin, "show", "main:infra/registry/service.yaml") == SERVICE.replace(OLD, NEW)
    assert git(gitops_origin, "log", "-1", "--format=%s", "main").strip() == \
        "taskbot(TASK-009): registry 192.168.7.21:5000 → 192.168.7.50:5000"
    assert git(tasks_origin, "show", "main:docs/architecture.md") == ARCH.replace("21:5000", "50:5000")
    changed = {(c.repo, c.path) for c in outcome.changes}
    assert {("ffl", ".env.build.local"), ("ffl", "Makefile"), ("ffl", "scripts/build.sh"),
            ("beckerkube", "infra/registry/service.yaml"), ("tasks", "docs/architecture.md"),
            ("registry", ctx.config.registry.ca_file)} == changed

    cert = Path(ctx.config.registry.ca_file)
    san = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-ext", "subjectAltName"],
                         capture_output=True, text=True, check=True).stdout
    assert f"IP Address:{NEW}" in san and "DNS:registry.lan" in san and OLD not in san
    assert cert.with_name(cert.name + ".bak").is_file()
    pub = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-pubkey"],
                         capture_output=True, text=True, check=True).stdout
    key = subprocess.run(["openssl", "pkey", "-in", str(cert.with_suffix(".key")), "-pubout"],
                         capture_output=True, text=True, check=True).stdout
    assert pub == key  # same key: only the certificate changed


def test_bad_parameters(tmp_path: Path) -> None:
    ctx = make_ctx({"registry": {"url": f"{OLD}:5000"}}, tmp_path)
    for params, why in [({"ip": "192.168.7"}, "not an IP address"),
                        ({"ip": OLD}, "already at"),
                        ({"ip": NEW, "port": "99999"}, "not a TCP port"),
                        ({"ip": NEW, "path": "/etc"}, "unknown parameter 'path'")]:
        with pytest.raises(ParamError, match=why):
            REGISTRY_IP.settings(params, ctx)


def test_a_second_run_changes_nothing(tmp_path: Path) -> None:
    ctx, _, gitops_origin, _ = _setup(tmp_path)
    settings = REGISTRY_IP.settings({"ip": NEW}, ctx)
    assert REGISTRY_IP.run(settings, ctx).status is Status.DONE
    cert = Path(ctx.config.registry.ca_file)
    first = cert.read_bytes(), cert.with_name(cert.name + ".bak").read_bytes()
    head = git(gitops_origin, "rev-parse", "main")
    again = REGISTRY_IP.run(settings, ctx)
    assert again.status is Status.DONE and again.changes == ()
    assert (cert.read_bytes(), cert.with_name(cert.name + ".bak").read_bytes()) == first
    assert git(gitops_origin, "rev-parse", "main") == head
    assert f"certificate {cert}: already has SAN IP:{NEW}" in again.evidence
