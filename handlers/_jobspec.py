"""A build as a Kubernetes Job, as data: its name and its manifest (no client here).

The name comes from the task, the run, the criterion and the attempt, so a taskbot
restarted mid-build asks for the same name and adopts the Job it made instead of making a
second. The Job clones the project's remote at the commit the criterion saw (an init
container), then runs the project's build command with REGISTRY_URL and VERSION in the
build image. Registry credentials reach it as a volume of the named Secret: the manifest
names the Secret, never a value of it.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from bot import api
from bot.api import Context, Executor

MANAGED_BY = "app.kubernetes.io/managed-by"
TASK_LABEL = "taskbot.dev/task"
RUN = "taskbot.dev/run"  # annotations: whose build a Job is, checked before adopting it
CRITERION = "taskbot.dev/criterion"
WORKSPACE = "/workspace/src"
AUTH_DIR = "/run/taskbot/registry"
AUTH_FILE = f"{AUTH_DIR}/auth.json"
NAME_PATTERN = "taskbot-build-<run id>-<criterion>-<attempt>"
KEEP_FINISHED = 86400  # seconds a finished Job stays: long enough for a restart to find it
_UNSAFE = re.compile(r"[^a-z0-9]+")
# the clone: full, then the exact commit, so a branch that moved on since does not matter
CLONE_SCRIPT = ('set -eu; git clone --quiet --no-checkout "$GIT_REMOTE" ' + WORKSPACE
                + '; git -C ' + WORKSPACE + ' checkout --quiet --detach "$GIT_COMMIT"; '
                'git -C ' + WORKSPACE + ' log -1 --format="cloned %H %s"')
# what rootless buildah needs in an unprivileged pod; the project's env may override it
BUILD_DEFAULTS = (("BUILDAH_ISOLATION", "chroot"), ("STORAGE_DRIVER", "vfs"))


class JobSpec(NamedTuple):
    name: str
    namespace: str
    image: str
    clone_image: str
    remote: str
    commit: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]  # the build's: project env, REGISTRY_URL, VERSION, PUSH
    registry_secret: str
    service_account: str
    deadline: float  # seconds: build_timeout
    task_id: str
    run_id: str
    criterion: str


def safe(text: str, length: int) -> str:
    """`text` as a piece of a Kubernetes name or label value: [a-z0-9-], at most `length`."""
    return _UNSAFE.sub("-", text.lower())[:length].strip("-")


def job_name(task_id: str, run_id: str, criterion: str, attempt: int) -> str:
    """Deterministic, at most 63 characters (a Job's name is its pods' `job-name` label)."""
    digest = hashlib.sha256(f"{task_id}\0{run_id}\0{criterion}".encode()).hexdigest()[:10]
    return f"taskbot-build-{safe(run_id, 30)}-{digest}-{attempt % 100}"


def namespace(executor: Executor, ctx: Context) -> str:
    cluster = ctx.config.cluster
    return executor.namespace or (cluster.namespace if cluster is not None else "default")


def manifest(spec: JobSpec) -> dict[str, Any]:
    """The batch/v1 Job taskbot creates for `spec`."""
    labels = {MANAGED_BY: "taskbot", TASK_LABEL: safe(spec.task_id, 63)}
    return {
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {
            "name": spec.name, "namespace": spec.namespace, "labels": labels,
            "annotations": {RUN: spec.run_id, CRITERION: spec.criterion,
                            "taskbot.dev/commit": spec.commit},
        },
        "spec": {
            # taskbot retries a failed build itself (limits.retries), each as its own Job
            "backoffLimit": 0,
            # the cluster ends it even while taskbot is down
            "activeDeadlineSeconds": max(1, int(spec.deadline)),
            "ttlSecondsAfterFinished": KEEP_FINISHED,
            "template": {"metadata": {"labels": labels}, "spec": _pod(spec)},
        },
    }


def _pod(spec: JobSpec) -> dict[str, Any]:
    mounts: list[dict[str, Any]] = [{"name": "workspace", "mountPath": "/workspace"}]
    volumes: list[dict[str, Any]] = [{"name": "workspace", "emptyDir": {}}]
    env = dict(BUILD_DEFAULTS)
    if spec.registry_secret:
        mounts.append({"name": "registry-auth", "mountPath": AUTH_DIR, "readOnly": True})
        volumes.append({"name": "registry-auth", "secret": {
            "secretName": spec.registry_secret,
            "items": [{"key": ".dockerconfigjson", "path": "auth.json"}]}})
        env["REGISTRY_AUTH_FILE"] = AUTH_FILE
    env.update(spec.env)
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "initContainers": [{
            "name": "clone", "image": spec.clone_image, "command": ["/bin/sh", "-c", CLONE_SCRIPT],
            "env": [{"name": "GIT_REMOTE", "value": spec.remote},
                    {"name": "GIT_COMMIT", "value": spec.commit}],
            "volumeMounts": mounts[:1],
        }],
        "containers": [{
            "name": "build", "image": spec.image, "command": list(spec.argv),
            "workingDir": WORKSPACE,
            "env": [{"name": k, "value": v} for k, v in env.items()],
            "volumeMounts": mounts,
        }],
        "volumes": volumes,
    }
    if spec.service_account:
        pod["serviceAccountName"] = spec.service_account
    return pod


def described(spec: JobSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """What `plan` says of the Job: (what it needs, what follows)."""
    secret = (f"registry credentials from Secret {spec.registry_secret} (mounted, "
              f"REGISTRY_AUTH_FILE={AUTH_FILE})" if spec.registry_secret
              else "no registry Secret ([executor] registry_secret unset)")
    needs = (f"Kubernetes Job {spec.namespace}/{spec.name} (created, or adopted after a restart)",
             f"image {spec.image}; init container {spec.clone_image} clones "
             f"{spec.remote or '(no origin)'} at {spec.commit[:12] or '(no commit)'}",
             secret,
             *([f"service account {spec.service_account}"] if spec.service_account else []))
    then = (f"the build's log streamed; past {int(spec.deadline)} s (limits.build_timeout) "
            "the Job is deleted with its pods",)
    return needs, then


def source(path: str) -> tuple[str, str]:
    """(the URL of the project's `origin`, its HEAD commit): what the Job clones and checks
    out. NotReady when the project has neither: a cluster cannot clone this host's files."""
    repo = api.open_repo(path)  # libgit2 loads here, on first use: not with `plan`'s imports
    try:
        remote = repo.remotes["origin"].url or ""
    except KeyError:
        remote = ""
    if not remote:
        raise api.NotReady(f"build: project directory {path} has no remote 'origin' for the "
                         "Kubernetes Job to clone")
    if "@" in urlsplit(remote).netloc:
        # the Job's env is readable by whoever may read Jobs and pods, and `plan` prints it
        raise api.NotReady(f"build: project directory {path}: remote 'origin' carries "
                           "credentials in its URL; the Job would show them — use a URL "
                           "without them")
    if repo.head_is_unborn:
        raise api.NotReady(f"build: project directory {path} has no commit to build")
    return remote, str(repo.head.target)


def spec_for(ctx: Context, executor: Executor, argv: tuple[str, ...],
             env: dict[str, str], origin: tuple[str, str]) -> JobSpec:
    """The Job of the running criterion (`ctx.criterion`, `ctx.attempt`)."""
    remote, commit = origin
    return JobSpec(
        name=job_name(ctx.task_id, ctx.run_id, ctx.criterion, max(1, ctx.attempt)),
        namespace=namespace(executor, ctx), image=executor.image,
        clone_image=executor.clone_image, remote=remote, commit=commit, argv=argv,
        env=tuple(env.items()), registry_secret=executor.registry_secret,
        service_account=executor.service_account, deadline=ctx.config.limits.build_timeout,
        task_id=ctx.task_id, run_id=ctx.run_id, criterion=ctx.criterion)
