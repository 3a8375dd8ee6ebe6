"""build as a Kubernetes Job (issue 23), against the API stand-in (tests/kit/kubejobs.py):
the manifest taskbot sends, the watch to success and to failure, the log in the evidence and
the live line, deletion at build_timeout, adoption of an existing Job."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from bot.api import Context, Outcome, Status
from bot.run import observe
from handlers._jobspec import job_name
from handlers.build import HANDLER as BUILD
from tests.kit.buildjob import SECRET_VALUE, job_ctx, project
from tests.kit.context import registry_section
from tests.kit.git import git
from tests.kit.kube import KubeStandIn
from tests.kit.kubejobs import JobRun, now, script
from tests.kit.registry import RegistryServer, push_image

pytest_plugins = ["tests.kit.plugin"]


def _run(ctx: Context, **params: str) -> Outcome:
    settings = BUILD.settings({"project": "bld", "version": "1.0.0", "push": "false", **params}, ctx)
    return BUILD.run(settings, ctx)


def _created(kube_api: KubeStandIn) -> dict[str, Any]:
    assert len(kube_api.state.jobs.create_bodies) == 1, kube_api.state.jobs.created
    body: dict[str, Any] = json.loads(kube_api.state.jobs.create_bodies[0])
    return body


def test_the_job_manifest_on_stand_in(tmp_path: Path, kube_api: KubeStandIn) -> None:
    _, head = project(tmp_path)
    kube_api.state.jobs.on_create = script(["building"])
    ctx = job_ctx(tmp_path, kube_api, executor={"service_account": "builder"})
    outcome = _run(ctx)
    assert outcome.status is Status.DONE, outcome
    name = job_name("TASK-009", "run-test", "Build all bld containers with version 1.0.0#0", 1)
    assert kube_api.state.jobs.created == [("builds", name)]
    assert len(name) <= 63 and name.startswith("taskbot-build-run-test-")
    raw = kube_api.state.jobs.create_bodies[0]
    assert SECRET_VALUE not in raw  # the Secret is named, its value never sent
    job = _created(kube_api)
    assert job["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "taskbot"
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] == 900
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["serviceAccountName"] == "builder"
    clone = pod["initContainers"][0]
    assert {e["name"]: e["value"] for e in clone["env"]} == {
        "GIT_REMOTE": str(tmp_path / "bld-origin.git"), "GIT_COMMIT": head}
    build = pod["containers"][0]
    assert build["image"] == "quay.io/buildah/stable:latest"
    assert build["command"] == ["./scripts/build.sh", "--push", "all"]
    assert build["workingDir"] == "/workspace/src"
    env = {e["name"]: e["value"] for e in build["env"]}
    assert env["VERSION"] == "1.0.0" and env["PUSH"] == "false"
    assert env["TOKEN_HINT"] == "from-env"
    assert env["REGISTRY_AUTH_FILE"] == "/run/taskbot/registry/auth.json"
    assert all("valueFrom" not in e for e in build["env"])
    secret = next(v for v in pod["volumes"] if v["name"] == "registry-auth")
    assert secret["secret"]["secretName"] == "regcred"
    assert {"name": "registry-auth", "mountPath": "/run/taskbot/registry",
            "readOnly": True} in build["volumeMounts"]


def test_watched_to_success_logs_in_evidence_and_live_line_on_stand_in(
        tmp_path: Path, kube_api: KubeStandIn) -> None:
    project(tmp_path)
    (tmp_path / "password").write_text("s3cret-word\n")
    kube_api.state.jobs.on_create = script(["STEP 1/3: FROM alpine", "push with s3cret-word",
                                        "STEP 3/3: done"], delay=0.1, gap=0.3)
    ctx = job_ctx(tmp_path, kube_api, registry={"url": "127.0.0.1:1", "password_file":
                                            str(tmp_path / "password")})
    heard: list[str] = []
    with observe.watching(observe.Observer(on_output=heard.append)):
        outcome = _run(ctx)
    assert outcome.status is Status.DONE, outcome
    assert heard == ["STEP 1/3: FROM alpine", "push with ***", "STEP 3/3: done"]
    record = outcome.commands[0]
    assert record.argv[0] == "kubernetes-job" and record.ok
    assert record.output_tail == "STEP 1/3: FROM alpine\npush with ***\nSTEP 3/3: done"
    assert any(line.endswith(": created") for line in outcome.evidence)
    assert any(line.endswith(" succeeded") for line in outcome.evidence)
    assert "push=false: registry not checked" in outcome.evidence


def test_watched_to_failure_on_stand_in(tmp_path: Path, kube_api: KubeStandIn) -> None:
    project(tmp_path)
    kube_api.state.jobs.on_create = script(["compiling", "error: no such file"], result="fail")
    outcome = _run(job_ctx(tmp_path, kube_api))
    assert outcome.status is Status.FAILED
    assert "failed: BackoffLimitExceeded" in outcome.reason
    assert outcome.commands[0].error_line == "error: no such file"
    assert outcome.diagnosis[0].startswith("pods of Job builds/taskbot-build-")
    assert len(kube_api.state.jobs.created) == 1


def test_build_timeout_deletes_the_job_and_its_pods_on_stand_in(
        tmp_path: Path, kube_api: KubeStandIn) -> None:
    project(tmp_path)
    kube_api.state.jobs.on_create = script(["started, then nothing"], result="hang")
    outcome = _run(job_ctx(tmp_path, kube_api, limits={"build_timeout": "2s"}))
    assert outcome.status is Status.FAILED
    assert outcome.commands[0].timed_out
    (namespace, name), = kube_api.state.jobs.created
    assert kube_api.state.jobs.deleted == [(namespace, name, "Background")]
    assert not kube_api.state.jobs.jobs
    assert not [p for p in kube_api.state.pods.get(namespace, [])
                if p["metadata"]["labels"].get("job-name") == name]
    assert any("deleted Job" in line and "and its pods" in line for line in outcome.evidence)


def test_an_existing_job_is_adopted_not_created_again_on_stand_in(
        tmp_path: Path, kube_api: KubeStandIn) -> None:
    project(tmp_path)
    ctx = job_ctx(tmp_path, kube_api)
    name = job_name("TASK-009", "run-test", ctx.criterion, 1)
    # a taskbot killed mid-build made it: the same run and criterion find it by its name
    kube_api.state.jobs.jobs[("builds", name)] = {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": name, "namespace": "builds", "creationTimestamp": now(),
                     "labels": {"app.kubernetes.io/managed-by": "taskbot"},
                     "annotations": {"taskbot.dev/run": "run-test",
                                     "taskbot.dev/criterion": ctx.criterion}},
        "spec": {"template": {"spec": {"containers": [{"name": "build", "image": "b"}]}}},
        "status": {"active": 1}}
    script(["was running all along"], delay=0.3)(JobRun(kube_api.state, "builds", name))
    outcome = _run(ctx)
    assert outcome.status is Status.DONE, outcome
    assert kube_api.state.jobs.created == []  # no POST: nothing created twice
    assert not [r for r in kube_api.state.requests if r.startswith("POST")]
    assert any("adopted (created" in line and "not created again" in line
               for line in outcome.evidence)
    assert outcome.commands[0].output_tail == "was running all along"


def test_plan_shows_the_job_it_would_create(tmp_path: Path, kube_api: KubeStandIn) -> None:
    _, head = project(tmp_path)
    ctx = job_ctx(tmp_path, kube_api)
    step = BUILD.plan(BUILD.settings({"project": "bld", "version": "1.0.0", "push": "false"}, ctx),
                      ctx)
    name = "taskbot-build-<run id>-<criterion>-<attempt>"
    assert step.commands == (("./scripts/build.sh", "--push", "all"),)
    assert step.cwd == f"Job builds/{name}:/workspace/src"
    assert step.preconditions[1:4] == (
        f"Kubernetes Job builds/{name} (created, or adopted after a restart)",
        f"image quay.io/buildah/stable:latest; init container docker.io/alpine/git:latest "
        f"clones {tmp_path / 'bld-origin.git'} at {head[:12]}",
        "registry credentials from Secret regcred (mounted, "
        "REGISTRY_AUTH_FILE=/run/taskbot/registry/auth.json)")
    assert "environment: REGISTRY_URL= VERSION=1.0.0" in step.preconditions
    assert step.then == ("the build's log streamed; past 900 s (limits.build_timeout) the Job "
                         "is deleted with its pods",)
    assert kube_api.state.requests == []  # a plan asks the cluster nothing


def test_a_retry_is_a_job_of_its_own_on_stand_in(tmp_path: Path, kube_api: KubeStandIn) -> None:
    project(tmp_path)
    kube_api.state.jobs.on_create = script(["boom"], result="fail")
    ctx = job_ctx(tmp_path, kube_api)
    assert _run(ctx).status is Status.FAILED
    kube_api.state.jobs.on_create = script(["fine this time"])
    assert _run(ctx._replace(attempt=2)).status is Status.DONE  # not the failed one, adopted
    first, second = (name for _, name in kube_api.state.jobs.created)
    assert first.endswith("-1") and second.endswith("-2") and first[:-2] == second[:-2]


def test_jobs_of_side_by_side_groups_run_at_once_on_stand_in(
        tmp_path: Path, kube_api: KubeStandIn) -> None:
    project(tmp_path)
    runs: list[JobRun] = []

    def both_or_none(run: JobRun) -> None:  # neither ends before both exist
        runs.append(run)
        if len(runs) == 2:
            for each in runs:
                script(["together"])(each)

    kube_api.state.jobs.on_create = both_or_none
    ctx = job_ctx(tmp_path, kube_api, limits={"build_timeout": "20s"})
    outcomes: dict[str, Outcome] = {}

    def build(criterion: str) -> None:
        outcomes[criterion] = _run(ctx._replace(criterion=criterion))

    threads = [threading.Thread(target=build, args=(c,)) for c in ("group a#0", "group b#0")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert {c: o.status for c, o in outcomes.items()} == {"group a#0": Status.DONE,
                                                         "group b#0": Status.DONE}
    assert len({name for _, name in kube_api.state.jobs.created}) == 2


@pytest.mark.integration
def test_after_the_job_the_registry_is_checked_on_stand_in(
        tmp_path: Path, kube_api: KubeStandIn, registry: RegistryServer) -> None:
    project(tmp_path)
    push_image(registry, tmp_path, "jobbld/one", "1.0.0")  # what the Job's build pushed
    kube_api.state.jobs.on_create = script(["pushed"])
    ctx = job_ctx(tmp_path, kube_api, registry=registry_section(registry))
    outcome = BUILD.run(BUILD.settings({"project": "bld", "version": "1.0.0"}, ctx), ctx)
    assert outcome.status is Status.DONE, outcome
    assert outcome.summary == f"built and pushed jobbld/one:1.0.0; registry {registry.host} has them"
    assert any("→ 200 jobbld/one:1.0.0 sha256:" in line for line in outcome.evidence)
    missing = BUILD.run(BUILD.settings({"project": "bld", "version": "2.0.0"},
                                       ctx := ctx._replace(attempt=2)), ctx)
    assert missing.status is Status.FAILED
    assert missing.reason == f"build ran, but registry {registry.host} lacks jobbld/one:2.0.0"
    # the diagnosis is the registry's: this host's engine and disk say nothing of the Job
    assert len(missing.diagnosis) == 1 and "registry GET /v2/" in missing.diagnosis[0]


def test_no_api_or_no_origin_blocks_on_stand_in(tmp_path: Path, kube_api: KubeStandIn) -> None:
    clone, _ = project(tmp_path)
    ctx = job_ctx(tmp_path, kube_api)
    kube_api.stop()
    outcome = BUILD.run(BUILD.settings({"project": "bld", "version": "1.0.0", "push": "false"},
                                       ctx), ctx)
    assert outcome.status is Status.BLOCKED
    assert outcome.reason.startswith("reading Job builds/taskbot-build-")
    assert "API not reachable: HTTPConnection(host='127.0.0.1'" in outcome.reason
    assert "Connection refused" in outcome.reason
    git(clone, "remote", "remove", "origin")
    outcome = BUILD.run(BUILD.settings({"project": "bld", "version": "1.0.0", "push": "false"},
                                       ctx), ctx)
    assert outcome.status is Status.BLOCKED
    assert outcome.reason == (f"build: project directory {clone} has no remote 'origin' for the "
                              "Kubernetes Job to clone")
    # a token in the remote's URL would be in the Job's env, readable by whoever reads pods
    git(clone, "remote", "add", "origin", "https://becker:s3cr3t@git.example/ffl.git")
    outcome = BUILD.run(BUILD.settings({"project": "bld", "version": "1.0.0", "push": "false"},
                                       ctx), ctx)
    assert outcome.status is Status.BLOCKED
    assert outcome.reason == (f"build: project directory {clone}: remote 'origin' carries "
                              "credentials in its URL; the Job would show them — use a URL "
                              "without them")
    assert "s3cr3t" not in outcome.reason
