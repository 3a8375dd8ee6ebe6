"""A gated verify under kill -9 (issue 19, items 2 and 4): `taskbot serve` is killed while the
verify after the bump asks the app's endpoint, and while the rollback the failed verify
caused is awaited; started again, it rolls the release back exactly once and never ticks
the bump.

The endpoint (127.0.0.1 only) answers 500 while the new version runs; the kill comes from
inside it, or from the stand-in playing Flux when the rollback's reconcile is asked for."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.kit.daemon import idle_and_empty, running_daemon, status_doc, until
from tests.kit.flux import READY, FluxPlayer
from tests.kit.git import git
from tests.kit.kube import KubeStandIn
from tests.kit.registry import RegistryServer
from tests.kit.release import HR_PATH, gate_sandbox

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.kit.plugin"]

REL = "tasks/active/TASK-8.md"


class _Endpoint:
    """The app's health endpoint: 500 on the new version; kills `victim` on a request when
    it is armed for the verify."""

    def __init__(self, player: list[FluxPlayer], victim: list[int], kill: bool) -> None:
        self.player, self.victim, self.kill = player, victim, kill
        outer = self

        class Health(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if outer.kill and outer.victim:
                    os.kill(outer.victim.pop(), signal.SIGKILL)
                applied = outer.player[0].applied
                self.send_response(500 if applied[-1:] == ["0.2.0"] else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
        self.url = f"http://127.0.0.1:{self.server.server_port}/health"

    @property
    def task(self) -> str:
        return ("---\nid: TASK-8\ntitle: Release FFL 0.2.0\n---\n# TASK-8\n\n"
                "## Acceptance Criteria\n"
                "- [ ] Update ffl HelmRelease in beckerkube to version 0.2.0\n"
                f"- [ ] ffl answers <!-- taskbot: verify url={self.url} expect=200 -->\n\n"
                "## Progress Log\n")


@pytest.fixture
def serving() -> Iterator[list[_Endpoint]]:
    held: list[_Endpoint] = []
    yield held
    for endpoint in held:
        endpoint.server.shutdown()
        endpoint.server.server_close()


def _finished(state: Path) -> bool:
    tasks = status_doc(state).get("tasks")
    return isinstance(tasks, dict) and "TASK-8" in tasks and idle_and_empty(state)()


@pytest.mark.parametrize("kill_at", ["verify", "0.1.17"], ids=["during_the_verify",
                                                             "during_the_rollback"])
def test_kill_9_around_a_failed_verify_rolls_back_once_on_stand_in(
        tmp_path: Path, registry: RegistryServer, kube: KubeStandIn,
        serving: list[_Endpoint], kill_at: str) -> None:
    box, origin = gate_sandbox(tmp_path, registry, kube)
    state = box.root / "state"
    victim: list[int] = []
    players: list[FluxPlayer] = []

    def script(tag: str) -> str:
        if tag == kill_at and victim:  # the daemon asked for the rollback's reconcile
            os.kill(victim.pop(), signal.SIGKILL)
        return READY

    endpoint = _Endpoint(players, victim, kill_at == "verify")
    serving.append(endpoint)
    threading.Thread(target=endpoint.server.serve_forever, args=(0.05,), daemon=True).start()
    players.append(FluxPlayer(kube.state, origin, HR_PATH, (f"{registry.host}/ffl/backend",
                                                            f"{registry.host}/ffl/frontend"),
                              script))
    players[0].start()
    box.write(REL, endpoint.task)
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        victim.append(daemon.proc.pid)
        box.commit_push("add TASK-8")
        daemon.proc.wait(60)
        assert daemon.proc.returncode == -signal.SIGKILL
    with running_daemon(box.config, tmp_path / "serve2.log") as daemon:
        until(daemon.notify, lambda: _finished(state), timeout=60)
    subjects = git(origin, "log", "--format=%s", "main").splitlines()
    assert subjects == ["taskbot(TASK-8): roll back ffl to 0.1.17",  # one bump, one rollback
                        "taskbot(TASK-8): ffl image tag 0.1.17 → 0.2.0",
                        "initial GitOps tree"], subjects
    final = box.main_file(REL)
    assert "- [ ] Update ffl HelmRelease" in final and "- [ ] ffl answers" in final
    revert = git(origin, "rev-parse", "--short=7", "main").strip()
    line = next(x for x in final.splitlines() if "rolled back to 0.1.17" in x)
    assert f"rolled back to 0.1.17 ({revert}): verify failed: ffl answers: GET " in line
    assert line.endswith("(interrupted, run again)") is (kill_at == "0.1.17"), line
    verify = next(x for x in final.splitlines() if "Failed: ffl answers" in x)
    assert verify.endswith("(interrupted, run again)") is (kill_at == "verify"), verify
    assert players[0].applied[-1] == "0.1.17"
