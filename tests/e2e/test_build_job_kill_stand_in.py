"""Builds as Kubernetes Jobs under kill -9 and stop (issue 23): `taskbot serve` is killed
(or stopped: SIGTERM) while its build Job runs on the API stand-in and started again. The
restart finds the Job by its name (run id and criterion), watches it to its end and creates
nothing a second time.

The kill comes from inside the stand-in, the moment the Job's pod logs its first line, so
it lands while the daemon watches the Job."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from tests.kit.buildjob import executor_toml, project
from tests.kit.daemon import idle_and_empty, running_daemon, status_doc, until
from tests.kit.exactly import installed, reports, wait_until
from tests.kit.kube import KubeStandIn
from tests.kit.kubejobs import JobRun

pytestmark = pytest.mark.integration

REL = "tasks/active/TASK-8.md"
TASK = ("---\nid: TASK-8\ntitle: Build bld on the cluster\n---\n# TASK-8\n\n"
        "## Acceptance Criteria\n"
        "- [ ] Build bld 1.0.0 <!-- taskbot: build project=bld version=1.0.0 push=false -->\n")

pytest_plugins = ["tests.kit.plugin"]


def _finished(state: Path) -> bool:
    tasks = status_doc(state).get("tasks")
    return isinstance(tasks, dict) and "TASK-8" in tasks and idle_and_empty(state)()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill_9", "stop"])
def test_kill_mid_job_the_restart_adopts_the_same_job_on_stand_in(
        tmp_path: Path, kube_api: KubeStandIn, sig: signal.Signals) -> None:
    box = installed(tmp_path)
    project(tmp_path)
    with box.config.open("a") as fh:
        fh.write(executor_toml(tmp_path, kube_api))
    state = box.root / "state"
    runs: list[JobRun] = []
    victim: list[int] = []

    def on_create(run: JobRun) -> None:
        def play() -> None:
            run.start_pod()
            run.log("STEP 1/2: building")
            os.kill(victim.pop(), sig)  # the daemon watches the Job: kill or stop it now
        runs.append(run)
        threading.Thread(target=play, daemon=True).start()

    kube_api.state.jobs.on_create = on_create
    box.write(REL, TASK)
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        victim.append(daemon.proc.pid)
        box.commit_push("add TASK-8")
        daemon.proc.wait(60)  # a stop does not wait for the Job: it is left running
        assert daemon.proc.returncode == (-signal.SIGKILL if sig == signal.SIGKILL else 0)
    (namespace, name), = kube_api.state.jobs.created
    assert "TASK-8" not in (status_doc(state).get("tasks") or {})  # nothing reported yet
    job_path = f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}"
    seen = kube_api.state.requests.count(job_path)

    def finish_once_adopted() -> None:  # the Job ends only after the restart has read it
        wait_until(lambda: kube_api.state.requests.count(job_path) > seen, timeout=30,
                   what="the restarted daemon reading its Job")
        runs[0].log("STEP 2/2: pushed")
        runs[0].succeed()

    threading.Thread(target=finish_once_adopted, daemon=True).start()
    with running_daemon(box.config, tmp_path / "serve2.log") as daemon:
        until(daemon.notify, lambda: _finished(state), timeout=60)
    assert kube_api.state.jobs.created == [(namespace, name)]  # never created a second time
    assert not [r for r in kube_api.state.requests if r.startswith("POST") and "/jobs" in r][1:]
    assert kube_api.state.jobs.deleted == []
    final = box.main_file(REL)
    assert "- [x] Build bld 1.0.0" in final, final
    assert "(interrupted, run again)" in final
    report, = reports(state, "TASK-8")
    text = report.read_text()
    assert f"Kubernetes Job {namespace}/{name}: adopted" in text, text
    assert "STEP 2/2: pushed" in text
