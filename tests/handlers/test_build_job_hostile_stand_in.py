"""build as a Kubernetes Job (issue 23) against what a hostile cluster offers, on the API
stand-in: a Job of the same name that taskbot did not make, a log line without end, a Job
whose pod never comes, an API gone silent, a cluster clock off."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.api import Context, Outcome, Status
from handlers._jobbuild import LINE_BYTES, MAX_LINE, _Follower
from handlers._jobspec import job_name, spec_for
from handlers.build import HANDLER as BUILD
from tests.kit import kubejobs
from tests.kit.buildjob import job_ctx, project
from tests.kit.kube import KubeStandIn
from tests.kit.kubejobs import JobRun, now, script

pytest_plugins = ["tests.kit.plugin"]


def _run(ctx: Context) -> Outcome:
    settings = BUILD.settings({"project": "bld", "version": "1.0.0", "push": "false"}, ctx)
    return BUILD.run(settings, ctx)


def _foreign(kube_api: KubeStandIn, name: str, metadata: dict[str, Any]) -> None:
    kube_api.state.jobs.jobs[("builds", name)] = {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": "builds", "creationTimestamp": now(), **metadata},
        "spec": {"template": {"spec": {"containers": [{"name": "build", "image": "evil"}]}}},
        "status": {"succeeded": 1}}


def test_a_job_of_the_same_name_made_by_another_is_not_adopted_on_stand_in(
        tmp_path: Path, kube_api: KubeStandIn) -> None:
    project(tmp_path)
    ctx = job_ctx(tmp_path, kube_api)
    name = job_name("TASK-009", "run-test", ctx.criterion, 1)
    # someone's Job, named as taskbot's would be and already "succeeded": adopting it would
    # count a build that never ran as done
    _foreign(kube_api, name, {"labels": {"app": "other"}})
    outcome = _run(ctx)
    assert outcome.status is Status.BLOCKED, outcome
    assert f"Kubernetes Job builds/{name} exists but is not this build's" in outcome.reason
    assert "not adopted" in outcome.reason
    assert kube_api.state.jobs.created == [] and kube_api.state.jobs.deleted == []


def test_a_taskbot_job_of_another_criterion_is_not_adopted_on_stand_in(
        tmp_path: Path, kube_api: KubeStandIn) -> None:
    project(tmp_path)
    ctx = job_ctx(tmp_path, kube_api)
    name = job_name("TASK-009", "run-test", ctx.criterion, 1)
    _foreign(kube_api, name, {
        "labels": {"app.kubernetes.io/managed-by": "taskbot"},
        "annotations": {"taskbot.dev/run": "run-test", "taskbot.dev/criterion": "other#1"}})
    outcome = _run(ctx)
    assert outcome.status is Status.BLOCKED, outcome
    assert "(taskbot.dev/criterion differ)" in outcome.reason


class _Response:
    """A pod log as urllib3 streams it: `size` bytes of one line without end, then more."""

    def __init__(self, size: int) -> None:
        self.size = size

    def stream(self, amount: int) -> Iterator[bytes]:
        block = b"\x1b[2K" + b"x" * (amount - 4)
        for _ in range(self.size // amount):
            yield block
        yield b"\nnext line\n"

    def release_conn(self) -> None:
        pass


class _Core:
    def __init__(self, size: int) -> None:
        self.size = size

    def read_namespaced_pod_log(self, *args: Any, **kwargs: Any) -> _Response:
        return _Response(self.size)


def test_a_log_line_without_end_keeps_memory_bounded(tmp_path: Path,
                                                     kube_api: KubeStandIn) -> None:
    ctx = job_ctx(tmp_path, kube_api)
    spec = spec_for(ctx, ctx.config.executor, ("true",), {}, ("origin", "0" * 40))
    heard: list[str] = []
    follower = _Follower(_Core(64 * 1024 * 1024), spec, str, heard.append)  # type: ignore[arg-type]
    tracemalloc.start()
    try:
        for line in follower._stream("pod", follow=False):
            follower._add(line)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * LINE_BYTES, peak  # not the 64 MiB the line was
    assert len(heard) == 2 and heard[1] == "next line"
    assert len(heard[0]) == MAX_LINE and heard[0].startswith("\x1b[2Kxxx")


def test_a_job_whose_pod_never_comes_ends_at_build_timeout_on_stand_in(
        tmp_path: Path, kube_api: KubeStandIn) -> None:
    project(tmp_path)
    kube_api.state.jobs.on_create = None  # Pending for ever: no node takes it
    outcome = _run(job_ctx(tmp_path, kube_api, limits={"build_timeout": "2s"}))
    assert outcome.status is Status.FAILED, outcome
    assert outcome.commands[0].timed_out
    (namespace, name), = kube_api.state.jobs.created
    assert kube_api.state.jobs.deleted == [(namespace, name, "Background")]


def test_an_api_gone_silent_mid_watch_does_not_hold_the_build_past_its_timeout_on_stand_in(
        tmp_path: Path, kube_api: KubeStandIn) -> None:
    project(tmp_path)
    jobs = kube_api.state.jobs

    def silence(run: JobRun) -> None:
        run.start_pod()
        jobs.answering.clear()  # the connection is taken, no answer ever comes

    jobs.on_create = silence
    began = time.monotonic()
    try:
        outcome = _run(job_ctx(tmp_path, kube_api, limits={"build_timeout": "2s"}))
    finally:
        jobs.answering.set()
    assert outcome.status is Status.FAILED, outcome
    assert outcome.commands[0].timed_out
    assert time.monotonic() - began < 15
    assert jobs.deleted == [(*jobs.created[0], "Background")]


def test_a_cluster_clock_hours_behind_does_not_time_out_a_new_job_on_stand_in(
        tmp_path: Path, kube_api: KubeStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    project(tmp_path)
    behind = datetime.now(UTC) - timedelta(hours=2)
    monkeypatch.setattr(kubejobs, "now", lambda: behind.strftime("%Y-%m-%dT%H:%M:%SZ"))
    kube_api.state.jobs.on_create = script(["built"], delay=0.2)
    outcome = _run(job_ctx(tmp_path, kube_api))
    assert outcome.status is Status.DONE, outcome
    assert kube_api.state.jobs.deleted == []
