"""The demo's main job: build and push an image with buildah to a local TLS registry, bump
the HelmRelease in a sandbox GitOps repository, validate it with kustomize.

Only where the tools are (`apt-get install buildah docker-registry kubernetes-client`)
and as root (buildah's vfs storage without user namespaces).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from bot.commands import sandbox
from bot.commands.demo_registry import Registry

TOOLS = ("buildah", "docker-registry", "kubectl", "htpasswd", "openssl")
PACKAGES = "apt-get install buildah docker-registry kubernetes-client apache2-utils openssl"
VERSION = "0.1.1"

BUILD_SH = r"""#!/bin/sh
# Builds the demo image with buildah (FROM scratch + COPY) and pushes it. REGISTRY_URL and
# VERSION come from taskbot; credentials and buildah's storage from the project's env.
set -eu
: "${REGISTRY_URL:?}" "${VERSION:?}"
printf 'demo web %s\n' "$VERSION" > version.txt
b="buildah --root $BUILDAH_ROOT/root --runroot $BUILDAH_ROOT/run --storage-driver vfs"
$b bud -q --isolation chroot -t "demo/web:$VERSION" -f Containerfile . >/dev/null
$b push -q --creds "$REGISTRY_USER:$(cat "$REGISTRY_PASSWORD_FILE")" \
  --cert-dir "$REGISTRY_CERT_DIR" "demo/web:$VERSION" "docker://$REGISTRY_URL/demo/web:$VERSION"
rm -f version.txt
echo "pushed demo/web:$VERSION"
"""

HELMRELEASE = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: demo
  namespace: demo
spec:
  interval: 10m
  chart:
    spec:
      chart: demo
      version: "1.0.0"
      sourceRef: {kind: HelmRepository, name: demo, namespace: flux-system}
  values:
    image:
      repository: @HOST@/demo/web
      tag: 0.1.0
"""

GITOPS = {
    "apps/demo/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n",
    "apps/demo/kustomization.yaml": ("apiVersion: kustomize.config.k8s.io/v1beta1\n"
                                     "kind: Kustomization\n"
                                     "resources:\n  - namespace.yaml\n  - helmrelease.yaml\n"),
    "clusters/sandbox/kustomization.yaml": ("apiVersion: kustomize.config.k8s.io/v1beta1\n"
                                            "kind: Kustomization\nresources:\n  - ../../apps/demo\n"),
}

TASK = f"""\
---
id: TASK-002
title: Release the demo web image {VERSION}
status: active
---
# TASK-002: Release the demo web image {VERSION}

## Acceptance Criteria
- [ ] Build all DEMO containers with version {VERSION}
- [ ] Push all DEMO images to registry @HOST@
- [ ] Update demo HelmRelease in gitops to version {VERSION}

## Progress Log
- 2026-11-20 09:00: Task created
"""


def missing() -> list[str]:
    """What keeps the main job from running here; [] when it can."""
    lacking = [t for t in TOOLS if shutil.which(t) is None]
    if not lacking and os.geteuid() != 0:
        return ["root (buildah's vfs storage)"]
    return lacking


def project_files(project: Path, env: Mapping[str, str]) -> None:
    """The demo project as a git repository with a build script taskbot may run."""
    script = project / "scripts" / "build.sh"
    script.parent.mkdir(parents=True)
    script.write_text(BUILD_SH)
    script.chmod(0o755)
    (project / "Containerfile").write_text("FROM scratch\nCOPY version.txt /app/version.txt\n")
    (project / ".gitignore").write_text("version.txt\n")
    sandbox.git(project, "init", "-q", "-b", "main", env=env)
    sandbox.git(project, "add", "-A", env=env)
    sandbox.git(project, "commit", "-q", "-m", "demo project", env=env)


def gitops(root: Path, host: str, env: Mapping[str, str]) -> tuple[Path, Path]:
    """A bare GitOps origin and the operator's clone (projects.gitops.path)."""
    seed = root / "gitops-seed"
    for rel, text in {**GITOPS, "apps/demo/helmrelease.yaml":
                      HELMRELEASE.replace("@HOST@", host)}.items():
        (seed / rel).parent.mkdir(parents=True, exist_ok=True)
        (seed / rel).write_text(text)
    sandbox.git(seed, "init", "-q", "-b", "main", env=env)
    sandbox.git(seed, "add", "-A", env=env)
    sandbox.git(seed, "commit", "-q", "-m", "GitOps tree", env=env)
    origin, clone = root / "gitops.git", root / "gitops"
    sandbox.git(root, "clone", "-q", "--bare", str(seed), str(origin), env=env)
    sandbox.git(root, "clone", "-q", str(origin), str(clone), env=env)
    shutil.rmtree(seed)
    return origin, clone


def config(root: Path, registry: Registry) -> dict[str, dict[str, sandbox.TomlValue]]:
    """The config sections the main job adds to the demo's."""
    return {
        "registry": {"url": registry.host, "ca_file": registry.ca_file,
                     "username": registry.username, "password_file": registry.password_file},
        "projects.demo": {
            "path": root / "demo-project", "allow_shell": True,
            "build": ["./scripts/build.sh", "--push", "all"], "images": ["demo/web"],
            "env": {"REGISTRY_USER": registry.username,
                    "REGISTRY_PASSWORD_FILE": str(registry.password_file),
                    "REGISTRY_CERT_DIR": str(registry.cert_dir),
                    "BUILDAH_ROOT": str(root / "buildah")}},
        "projects.gitops": {"path": root / "gitops", "helmrelease": "apps/{app}/helmrelease.yaml",
                            "kustomize": ["clusters/sandbox"]},
    }


def task_text(registry: Registry) -> str:
    return TASK.replace("@HOST@", registry.host)
