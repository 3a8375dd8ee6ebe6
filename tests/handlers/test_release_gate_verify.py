"""Verification is part of the release gate (issue 19, item 2): the verify criteria after the
bump in its group run once the rollout has passed, and a failed one rolls the release back,
as a failed rollout does.

Real git, kubectl and registry as in test_release_gate.py; the stand-in plays Flux, and the
app's endpoint is a local HTTP server (127.0.0.1 only) that answers 500 while the new
version runs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.cli import main
from tests.kit.flux import READY
from tests.kit.gitops import git
from tests.kit.kube import KubeStandIn
from tests.kit.registry import RegistryServer
from tests.kit.release import BUMP, HR_PATH
from tests.kit.release import gate_workspace as _gate
from tests.kit.release import subjects as _log

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.kit.plugin"]

Answer = Callable[[], int]  # the status the endpoint answers now


@pytest.fixture
def endpoint() -> Iterator[tuple[str, list[Answer]]]:
    answer: list[Answer] = [lambda: 200]

    class Health(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(answer[0]())
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/health", answer
    server.shutdown()
    server.server_close()
    thread.join()


def _verify(url: str) -> str:
    return f"- [ ] ffl answers on /health <!-- taskbot: verify url={url} expect=200 -->"


def test_a_failed_verify_rolls_the_release_back_on_stand_in(
        tmp_path: Path, registry: RegistryServer, kube: KubeStandIn,
        endpoint: tuple[str, list[Answer]], capsys: pytest.CaptureFixture[str]) -> None:
    url, answer = endpoint
    ws, player = _gate(tmp_path, registry, kube, lambda tag: READY)
    answer[0] = lambda: 500 if player.applied[-1:] == ["0.2.0"] else 200
    ws.write_task("0.2.0", [BUMP, _verify(url)])
    before = ws.gitops.origin_file(HR_PATH)
    code, report = ws.run(capsys)
    bump, verify = report["criteria"]
    assert code == 1 and bump["outcome"] == "failed" and verify["outcome"] == "failed", report
    assert _log(ws)[:2] == ["taskbot(TASK-001): roll back ffl to 0.1.17",
                            "taskbot(TASK-001): ffl image tag 0.1.17 → 0.2.0"]
    assert ws.gitops.origin_file(HR_PATH) == before
    revert = git(ws.gitops.origin, "rev-parse", "main").strip()
    bump_sha = git(ws.gitops.origin, "rev-parse", "main~1").strip()
    trailers = git(ws.gitops.origin, "log", "-1", "--format=%(trailers:only)", "main")
    assert f"Taskbot-Revert-Of: {bump_sha}" in trailers
    why = f"verify failed: ffl answers on /health: GET {url} answered 500, expected 200"
    assert bump["reason"] == f"rolled back to 0.1.17 ({revert[:7]}): {why}; 0.1.17 is Ready again"
    assert verify["reason"] == f"GET {url} answered 500, expected 200"
    assert player.applied == ["0.2.0", "0.1.17"]
    assert f"rollback commit {revert} on main in beckerkube" in bump["evidence"]
    assert any(f": rolled back to 0.1.17 ({revert[:7]}): verify failed: " in line
               for line in report["progress_log"])
    assert "- [ ] Update ffl HelmRelease" in ws.task.read_text()


def test_a_passing_verify_leaves_the_release_on_stand_in(
        tmp_path: Path, registry: RegistryServer, kube: KubeStandIn,
        endpoint: tuple[str, list[Answer]], capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = endpoint
    ws, player = _gate(tmp_path, registry, kube, lambda tag: READY)
    ws.write_task("0.2.0", [BUMP, _verify(url)])
    code, report = ws.run(capsys)
    assert code == 0 and [c["outcome"] for c in report["criteria"]] == ["done", "done"], report
    assert _log(ws)[0] == "taskbot(TASK-001): ffl image tag 0.1.17 → 0.2.0"
    assert player.applied == ["0.2.0"]


def test_a_verify_in_another_group_does_not_gate_on_stand_in(
        tmp_path: Path, registry: RegistryServer, kube: KubeStandIn,
        endpoint: tuple[str, list[Answer]], capsys: pytest.CaptureFixture[str]) -> None:
    url, answer = endpoint
    answer[0] = lambda: 500
    ws, player = _gate(tmp_path, registry, kube, lambda tag: READY)
    ws.write_task("0.2.0", ["### Deploy", BUMP, "", "### Smoke tests", _verify(url)])
    code, report = ws.run(capsys)
    assert code == 1 and [c["outcome"] for c in report["criteria"]] == ["done", "failed"]
    assert _log(ws)[0] == "taskbot(TASK-001): ffl image tag 0.1.17 → 0.2.0"
    assert player.applied == ["0.2.0"]


def test_plan_lists_the_gated_verify_under_the_bump_on_stand_in(
        tmp_path: Path, registry: RegistryServer, kube: KubeStandIn,
        endpoint: tuple[str, list[Answer]], capsys: pytest.CaptureFixture[str]) -> None:
    url, _ = endpoint
    ws, player = _gate(tmp_path, registry, kube, lambda tag: READY)
    ws.write_task("0.2.0", [BUMP, _verify(url), "### Later", _verify(url).replace("ffl", "app")])
    capsys.readouterr()
    assert main(["--config", str(ws.config), "plan", str(ws.task)]) == 0
    text = capsys.readouterr().out
    gated = [line.strip() for line in text.splitlines() if "gated check" in line]
    assert gated == [f"then: gated check (line 11): ffl answers on /health [verify "
                     f"url={url} expect=200]: runs last; a failure fails this criterion and "
                     "undoes it"]
    assert player.applied == []


def test_keep_leaves_the_release_when_a_verify_fails_on_stand_in(
        tmp_path: Path, registry: RegistryServer, kube: KubeStandIn,
        endpoint: tuple[str, list[Answer]], capsys: pytest.CaptureFixture[str]) -> None:
    url, answer = endpoint
    answer[0] = lambda: 500
    ws, player = _gate(tmp_path, registry, kube, lambda tag: READY,
                       extra='[release]\non_failure = "keep"\n')
    ws.write_task("0.2.0", [BUMP, _verify(url)])
    code, report = ws.run(capsys)
    bump, _ = report["criteria"]
    assert code == 1 and bump["reason"] == ("committed, but verify failed: ffl answers on "
                                            f"/health: GET {url} answered 500, expected 200")
    assert _log(ws)[0] == "taskbot(TASK-001): ffl image tag 0.1.17 → 0.2.0"
    assert player.applied == ["0.2.0"]


def test_a_bump_this_run_did_not_make_is_not_rolled_back_on_stand_in(
        tmp_path: Path, registry: RegistryServer, kube: KubeStandIn,
        endpoint: tuple[str, list[Answer]], capsys: pytest.CaptureFixture[str]) -> None:
    url, answer = endpoint
    answer[0] = lambda: 500
    ws, _ = _gate(tmp_path, registry, kube, lambda tag: READY)
    clone = ws.gitops.clone  # a person bumped it already: taskbot has nothing to commit
    path = clone / HR_PATH
    path.write_text(path.read_text().replace("0.1.17", "0.2.0"))
    git(clone, "commit", "-qam", "bump by hand")
    git(clone, "push", "-q", "origin", "HEAD:main")
    ws.write_task("0.2.0", [BUMP, _verify(url)])
    code, report = ws.run(capsys)
    bump, _ = report["criteria"]
    assert code == 1 and bump["reason"].startswith("release failed: verify failed: ffl ")
    assert bump["reason"].endswith("; not rolled back: this run made no bump on main")
    assert _log(ws)[0] == "bump by hand"
