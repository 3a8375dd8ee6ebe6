"""(m) The release gate's rollback: from the moment a failure is seen to the rollback commit
on the GitOps `main` (goal: at most 2 s; the gate's own waits are not part of it).

Each round is a fresh workspace (tasks repository, GitOps origin and clone, a real registry
holding the new images) and the Kubernetes stand-in playing Flux, scripted so the new
version crash-loops. `taskbot run` bumps the HelmRelease; the failure is seen when kubectl's
pod list first returns the crash-looping pod (the stand-in notes when it served it); the
rollback has landed when the origin's `refs/heads/main` was last written (its mtime). The
second wait (the old version Ready again) comes after, and is not counted.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
from pathlib import Path

from benchlib import ROOT, median, ms, parse_args, verdict

sys.path.insert(0, str(ROOT))
from bot.cli import main as taskbot
from bot.commands.sandbox import stop_server
from tests.kit.flux import CRASHLOOP, READY, FluxPlayer
from tests.kit.kube import start_kube
from tests.kit.registry import RegistryServer, push_image, start_registry
from tests.kit.workspace import make_workspace

GOAL = 2.0
HR_PATH = "apps/ffl/helmrelease.yaml"
BUMP = "- [ ] Update ffl HelmRelease in beckerkube to version 0.2.0"


def one_round(root: Path, registry: RegistryServer) -> float:
    root.mkdir(parents=True)
    kube = start_kube(root)
    try:
        ws = make_workspace(root, registry, build_project=False)
        ws.add_config(f'\n[cluster]\ncontext = "minikube"\nkubeconfig = "{kube.kubeconfig}"\n'
                      'namespace = "ffl"\nrollout_timeout = "30s"\n')
        host = registry.host
        player = FluxPlayer(kube.state, ws.gitops.origin, HR_PATH,
                            (f"{host}/ffl/backend", f"{host}/ffl/frontend"),
                            lambda tag: CRASHLOOP if tag == "0.2.0" else READY)
        player.start()
        ws.write_task("0.2.0", [BUMP])
        with contextlib.redirect_stdout(io.StringIO()):
            code = taskbot(["--config", str(ws.config), "run", str(ws.task), "--json"])
        assert code == 1 and player.applied == ["0.2.0", "0.1.17"], (code, player.applied)
        seen = _failure_seen(kube.state.served)
        landed = (ws.gitops.origin / "refs" / "heads" / "main").stat().st_mtime_ns / 1e9
        return landed - seen
    finally:
        kube.stop()


def _failure_seen(served: list[tuple[float, str]]) -> float:
    """When the pod list that showed the crash loop was served: the last one before the
    gate asked for the failing pod's events (which it does because it saw the failure)."""
    events = next(i for i, (_, path) in enumerate(served) if "/events" in path)
    return next(t for t, path in reversed(served[:events]) if "/pods" in path)


def main() -> int:
    args = parse_args(__doc__, default_n=5, smoke_n=1)
    with tempfile.TemporaryDirectory(prefix="taskbot-rollback-") as tmp:
        registry, proc = start_registry(Path(tmp) / "registry")
        try:
            for name in ("ffl/backend", "ffl/frontend"):
                push_image(registry, Path(tmp), name, "0.2.0")
            figures = [one_round(Path(tmp) / f"round{i}", registry) for i in range(args.n)]
        finally:
            stop_server(proc)
    worst = max(figures)
    print(f"rollback.rounds: {args.n}")
    print(f"rollback.failure_seen_to_commit_on_main_median: {ms(median(figures))}")
    print(f"rollback.failure_seen_to_commit_on_main_max: {ms(worst)} "
          f"(goal <= {GOAL:.0f} s: {verdict(worst <= GOAL)})")
    return 0 if worst <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
