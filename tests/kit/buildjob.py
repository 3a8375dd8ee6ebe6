"""A project built as a Kubernetes Job against the stand-in (issue 23): its git origin,
its clone, and a Context whose `[executor]` is the stand-in's cluster."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.api import Context
from tests.kit.context import make_ctx
from tests.kit.git import git
from tests.kit.kube import KubeStandIn

BUILD = ["./scripts/build.sh", "--push", "all"]
IMAGE = "jobbld/one"  # a name of its own: the session's registry is shared with other tests
SECRET_VALUE = "hunter2-registry-password"  # in the Secret only: never in a manifest


def project(root: Path) -> tuple[Path, str]:
    """A clone of a bare origin with one commit: (the clone, its HEAD)."""
    origin = root / "bld-origin.git"
    clone = root / "bld"
    git(root, "init", "-q", "--bare", "-b", "main", str(origin))
    git(root, "clone", "-q", str(origin), str(clone))
    git(clone, "checkout", "-q", "-b", "main")
    (clone / "scripts").mkdir()
    (clone / "scripts" / "build.sh").write_text("#!/bin/sh\necho building\n")
    (clone / "scripts" / "build.sh").chmod(0o755)
    git(clone, "add", "-A")
    git(clone, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "one")
    git(clone, "push", "-q", "origin", "HEAD:main")
    return clone, git(clone, "rev-parse", "HEAD").strip()


def executor_toml(root: Path, kube: KubeStandIn) -> str:
    """The same, as taskbot.toml lines for a sandbox's config."""
    return (f'\n[cluster]\nkubeconfig = "{kube.kubeconfig}"\ncontext = "minikube"\n'
            'namespace = "ffl"\n'
            '\n[executor]\nkind = "kubernetes"\nnamespace = "builds"\nregistry_secret = "regcred"\n'
            f'\n[projects.bld]\npath = "{root / "bld"}"\nbuild = {json.dumps(BUILD)}\n'
            'images = ["jobbld/one"]\n')


def executor_config(root: Path, kube: KubeStandIn, **extra: Any) -> dict[str, Any]:
    return {
        "cluster": {"kubeconfig": str(kube.kubeconfig), "context": "minikube", "namespace": "ffl"},
        "executor": {"kind": "kubernetes", "namespace": "builds", "registry_secret": "regcred",
                     **extra.pop("executor", {})},
        "limits": {"retries": 0, **extra.pop("limits", {})},
        "projects": {"bld": {"path": str(root / "bld"), "build": BUILD, "images": [IMAGE],
                             "env": {"TOKEN_HINT": "from-env"}}},
        **extra,
    }


def job_ctx(root: Path, kube: KubeStandIn, **extra: Any) -> Context:
    kube.state.jobs.secrets[("builds", "regcred")] = {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred", "namespace": "builds"},
        "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": SECRET_VALUE}}
    ctx = make_ctx(executor_config(root, kube, **extra), root)
    return ctx._replace(criterion="Build all bld containers with version 1.0.0#0", attempt=1)
