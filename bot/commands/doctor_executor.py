"""`taskbot doctor` for builds as Kubernetes Jobs (`[executor] kind = "kubernetes"`, or a
project's `executor`): through the official client and `[cluster]`'s kubeconfig and context,
the API answers, the namespace exists, the registry Secret exists (GET), and taskbot's
identity may do what a build does there: create, get and delete Jobs, list pods, read
their logs (a SelfSubjectAccessReview each). Nothing is created or changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bot.commands.checks import Check
from bot.config import Config

NAME = "executor"
TIMEOUT = 15.0


def executor_checks(config: Config) -> Iterator[Check]:
    if not any(config.executor_kind(p) == "kubernetes" for p in config.projects.values()) \
            and config.executor.kind != "kubernetes":
        return
    try:
        from kubernetes import client as k8s  # noqa: PLC0415 -- ~0.3 s, only with this executor
        from kubernetes import config as kubeconfig  # noqa: PLC0415
    except ImportError as exc:
        yield Check(NAME, False, f"builds run as Kubernetes Jobs, but the Python package "
                    f"kubernetes is missing ({exc}): pip install 'taskbot[kubernetes]'")
        return
    cluster = config.cluster
    namespace = config.executor.namespace or (cluster.namespace if cluster else "default")
    try:
        api = kubeconfig.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=(cluster.kubeconfig or None) if cluster else None,
            context=(cluster.context or None) if cluster else None, persist_config=False)
    except Exception as exc:  # the loader's ConfigException, a missing file
        yield Check(NAME, False, f"kubeconfig: {exc}")
        return
    with api:
        yield from _checks(k8s, api, namespace, config.executor.registry_secret)


def _checks(k8s: Any, api: Any, namespace: str, secret: str) -> Iterator[Check]:
    try:
        version = k8s.VersionApi(api).get_code(_request_timeout=TIMEOUT)
    except Exception as exc:
        yield Check(NAME, False, f"Kubernetes API {api.configuration.host}: {_why(exc)}")
        return
    yield Check(NAME, True, f"Kubernetes API {api.configuration.host} answers "
                f"({version.git_version})")
    core = k8s.CoreV1Api(api)
    yield _exists(lambda: core.read_namespace(namespace, _request_timeout=TIMEOUT),
                  f"namespace {namespace}", "[executor] namespace")
    if secret:
        yield _exists(lambda: core.read_namespaced_secret(secret, namespace,
                                                           _request_timeout=TIMEOUT),
                      f"Secret {namespace}/{secret}", "[executor] registry_secret")
    else:
        yield Check(NAME, True, "no [executor] registry_secret: build Jobs push without "
                    "registry credentials")
    yield _may_create_jobs(k8s, api, namespace)


def _exists(read: Any, what: str, key: str) -> Check:
    try:
        read()
    except Exception as exc:
        return Check(NAME, False, f"{what} ({key}): {_why(exc)}")
    return Check(NAME, True, f"{what} exists")


# what a build does with the API (docs/kubernetes-builds.md's Role): (verb, group,
# resource, subresource); a doctor that asked only for `create` passed an identity that
# then made its Job and could not watch it
NEEDED = (("create", "batch", "jobs", ""), ("get", "batch", "jobs", ""),
          ("delete", "batch", "jobs", ""), ("list", "", "pods", ""), ("get", "", "pods", "log"))


def _may_create_jobs(k8s: Any, api: Any, namespace: str) -> Check:
    denied: list[str] = []
    for verb, group, resource, sub in NEEDED:
        what = f"{verb} {resource}{'/' + sub if sub else ''}"
        review = k8s.V1SelfSubjectAccessReview(spec=k8s.V1SelfSubjectAccessReviewSpec(
            resource_attributes=k8s.V1ResourceAttributes(
                namespace=namespace, verb=verb, group=group, resource=resource,
                subresource=sub or None)))
        try:
            answer = k8s.AuthorizationV1Api(api).create_self_subject_access_review(
                review, _request_timeout=TIMEOUT)
        except Exception as exc:
            return Check(NAME, False, f"SelfSubjectAccessReview: {_why(exc)}")
        if answer.status is None or not answer.status.allowed:
            reason = (answer.status.reason if answer.status is not None else "") or "denied"
            denied.append(f"{what} ({reason})")
    if not denied:
        return Check(NAME, True, f"may create, watch and delete Jobs in namespace {namespace}")
    return Check(NAME, False, f"may NOT {'; '.join(denied)} in namespace {namespace}: "
                 "apply the Role and RoleBinding of docs/kubernetes-builds.md")


def _why(exc: Exception) -> str:
    status = getattr(exc, "status", None)
    if status is not None:
        return f"{status} {getattr(exc, 'reason', '') or ''}".strip()
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"not reachable: {type(exc).__name__}: {text}"
