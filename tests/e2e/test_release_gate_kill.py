"""The release gate under kill -9 (issue 19, item 4): `taskbot serve` with the real hook is
killed at each point of the gate — after the bump landed (during the first wait), after the
rollback commit (during the second wait) — and started again. It never bumps twice, never
rolls back twice, and never reports a release it did not see Ready as done.

The Kubernetes stand-in plays Flux; the kill comes from inside it, the moment the daemon
asks for a reconcile, so it lands exactly at the point named."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.kit.daemon import idle_and_empty, running_daemon, status_doc, until
from tests.kit.exactly import wait_until
from tests.kit.flux import CRASHLOOP, READY, FluxPlayer
from tests.kit.git import git
from tests.kit.kube import KubeStandIn
from tests.kit.registry import RegistryServer
from tests.kit.release import gate_sandbox as _setup

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.kit.plugin"]

HR_PATH = "apps/ffl/helmrelease.yaml"
REL = "tasks/active/TASK-7.md"
TASK = ("---\nid: TASK-7\ntitle: Release FFL 0.2.0\n---\n# TASK-7\n\n## Acceptance Criteria\n"
        "- [ ] Update ffl HelmRelease in beckerkube to version 0.2.0\n\n## Progress Log\n")


def _subjects(origin: Path) -> list[str]:
    return git(origin, "log", "--format=%s", "main").splitlines()


def _finished(state: Path) -> bool:
    tasks = status_doc(state).get("tasks")
    return isinstance(tasks, dict) and "TASK-7" in tasks and idle_and_empty(state)()


@pytest.mark.parametrize("kill_at", ["0.2.0", "0.1.17"], ids=["after_the_bump",
                                                              "after_the_rollback"])
def test_kill_9_in_the_gate_bumps_and_rolls_back_once_on_stand_in(
        tmp_path: Path, registry: RegistryServer, kube: KubeStandIn, kill_at: str) -> None:
    box, origin = _setup(tmp_path, registry, kube)
    state = box.root / "state"
    victim: list[int] = []

    def script(tag: str) -> str:
        if tag == kill_at and victim:  # the daemon asked for this reconcile: kill it now
            os.kill(victim.pop(), signal.SIGKILL)
        return CRASHLOOP if tag == "0.2.0" else READY

    player = FluxPlayer(kube.state, origin, HR_PATH,
                        (f"{registry.host}/ffl/backend", f"{registry.host}/ffl/frontend"), script)
    player.start()
    box.write(REL, TASK)
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        victim.append(daemon.proc.pid)
        box.commit_push("add TASK-7")
        daemon.proc.wait(60)
        assert daemon.proc.returncode == -signal.SIGKILL
    killed_after = _subjects(origin)
    assert "TASK-7" not in (status_doc(state).get("tasks") or {})  # nothing reported yet
    with running_daemon(box.config, tmp_path / "serve2.log") as daemon:
        until(daemon.notify, lambda: _finished(state), timeout=60)
    subjects = _subjects(origin)
    assert subjects[:2] == ["taskbot(TASK-7): roll back ffl to 0.1.17",
                            "taskbot(TASK-7): ffl image tag 0.1.17 → 0.2.0"], subjects
    assert len(subjects) == 3  # one bump and one rollback, whatever the kill interrupted
    assert killed_after[0] == subjects[1 if kill_at == "0.2.0" else 0]
    final = box.main_file(REL)
    assert "- [ ] Update ffl HelmRelease" in final  # never ticked: it was never Ready
    revert = git(origin, "rev-parse", "--short=7", "main").strip()
    line = next(x for x in final.splitlines() if "rolled back to 0.1.17" in x)
    assert f"rolled back to 0.1.17 ({revert}): " in line and "(interrupted, run again)" in line
    assert "CrashLoopBackOff" in line
    wait_until(lambda: player.applied[-1] == "0.1.17", what="the old version applied last")
