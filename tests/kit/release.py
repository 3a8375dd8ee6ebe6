"""A release gate's setting: `[cluster]` on the stand-in, Flux played, ffl's images pushed —
for `taskbot run` in-process (a workspace) or `taskbot serve` (a sandbox with the hook)."""

from __future__ import annotations

from pathlib import Path

from tests.kit.exactly import installed
from tests.kit.flux import FluxPlayer, Script
from tests.kit.git import Sandbox
from tests.kit.gitops import git, make_gitops
from tests.kit.kube import KubeStandIn
from tests.kit.registry import RegistryServer, push_image
from tests.kit.workspace import Workspace, make_workspace

__all__ = ["BUMP", "HR_PATH", "gate_sandbox", "gate_workspace", "subjects"]

HR_PATH = "apps/ffl/helmrelease.yaml"
BUMP = "- [ ] Update ffl HelmRelease in beckerkube to version 0.2.0"


def gate_workspace(tmp_path: Path, registry: RegistryServer, kube: KubeStandIn, script: Script,
                   timeout: str = "20s", extra: str = "") -> tuple[Workspace, FluxPlayer]:
    """The workspace (its task the bump alone) and the Flux player, started."""
    ws = make_workspace(tmp_path, registry, build_project=False)
    for name in ("ffl/backend", "ffl/frontend"):
        push_image(registry, tmp_path, name, "0.2.0")
    ws.add_config(f'\n[cluster]\ncontext = "minikube"\nkubeconfig = "{kube.kubeconfig}"\n'
                  f'namespace = "ffl"\nrollout_timeout = "{timeout}"\n{extra}')
    player = FluxPlayer(kube.state, ws.gitops.origin, HR_PATH,
                        (f"{registry.host}/ffl/backend", f"{registry.host}/ffl/frontend"), script)
    player.start()
    ws.write_task("0.2.0", [BUMP])
    return ws, player


def subjects(ws: Workspace) -> list[str]:
    """The GitOps origin's `main`, newest first, by subject."""
    return git(ws.gitops.origin, "log", "--format=%s", "main").splitlines()


def gate_sandbox(tmp_path: Path, registry: RegistryServer, kube: KubeStandIn
                 ) -> tuple[Sandbox, Path]:
    """For `taskbot serve`: a sandbox with the real hook, the gate configured; and the GitOps
    origin (bare), for a Flux player the test starts with its own script."""
    box = installed(tmp_path)
    for name in ("ffl/backend", "ffl/frontend"):
        push_image(registry, tmp_path, name, "0.2.0")
    gitops = make_gitops(tmp_path / "gitops", registry.host)
    (tmp_path / "ffl").mkdir()
    with box.config.open("a") as fh:
        fh.write(f'\n[registry]\nurl = "{registry.host}"\nca_file = "{registry.ca_file}"\n'
                 f'username = "{registry.username}"\npassword_file = "{registry.password_file}"\n'
                 f'\n[projects.ffl]\npath = "{tmp_path / "ffl"}"\n'
                 'images = ["ffl/backend", "ffl/frontend"]\n'
                 f'\n[projects.beckerkube]\npath = "{gitops.clone}"\n'
                 'helmrelease = "apps/{app}/helmrelease.yaml"\n'
                 f'\n[cluster]\ncontext = "minikube"\nkubeconfig = "{kube.kubeconfig}"\n'
                 'namespace = "ffl"\nrollout_timeout = "20s"\n')
    return box, gitops.origin
