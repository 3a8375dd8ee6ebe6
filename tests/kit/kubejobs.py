"""The Kubernetes stand-in's batch/v1 Jobs, for builds as Jobs (issue 23): tests say "stand_in".

It stores the Jobs it is sent (create, get, list by label, delete: with propagation
Background or Foreground their pods go too, as the garbage collector would do), serves the
pods of a Job (label `job-name`) through the stand-in's pod list, their logs (`follow`
streams lines as the test adds them and ends when the pod has finished), namespaces,
Secrets (GET only) and SelfSubjectAccessReview. No controller runs a Job: the test's
`on_create` gets a `JobRun` and plays the pod — log lines, success, failure — over time.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.kit.kube import KubeState, _Handler

JOBS = ["apis", "batch", "v1", "namespaces"]
REVIEWS = ["apis", "authorization.k8s.io", "v1", "selfsubjectaccessreviews"]


@dataclass
class JobsState:
    jobs: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    created: list[tuple[str, str]] = field(default_factory=list)  # every Job a POST made
    create_bodies: list[str] = field(default_factory=list)  # the POST bodies, as sent
    deleted: list[tuple[str, str, str]] = field(default_factory=list)  # ns, name, propagation
    logs: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (ns, pod) → lines
    finished: set[tuple[str, str]] = field(default_factory=set)  # pods whose log is complete
    secrets: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    namespaces: set[str] | None = None  # None: every namespace exists
    allowed: bool = True  # what a SelfSubjectAccessReview answers
    denied: set[str] = field(default_factory=set)  # "verb resource[/sub]" answered no even so
    reviews: list[dict[str, Any]] = field(default_factory=list)
    on_create: Callable[[JobRun], None] | None = None
    # cleared: a GET of a Job is taken and never answered (an API gone silent mid-watch)
    answering: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.answering.set()


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class JobRun:
    """One Job as the test plays it: its pod, its log lines, how it ends."""

    kube: KubeState
    namespace: str
    name: str
    pod: str = ""

    @property
    def jobs(self) -> JobsState:
        return self.kube.jobs

    def start_pod(self) -> str:
        self.pod = f"{self.name}-{uuid.uuid4().hex[:5]}"
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": self.pod, "namespace": self.namespace,
                            "labels": {"job-name": self.name}},
               "spec": {"containers": [{"name": "build", "image": "build"}]},
               "status": {"phase": "Running"}}
        with self.kube.lock:
            self.kube.pods.setdefault(self.namespace, []).append(pod)
            self.jobs.logs[(self.namespace, self.pod)] = []
            self._status({"active": 1, "startTime": now()})
        return self.pod

    def log(self, line: str) -> None:
        with self.kube.lock:
            self.jobs.logs.setdefault((self.namespace, self.pod), []).append(line)

    def succeed(self) -> None:
        self._end("Succeeded", {"succeeded": 1, "conditions": [
            {"type": "Complete", "status": "True", "lastTransitionTime": now()}]})

    def fail(self, reason: str = "BackoffLimitExceeded",
             message: str = "Job has reached the specified backoff limit") -> None:
        self._end("Failed", {"failed": 1, "conditions": [
            {"type": "Failed", "status": "True", "reason": reason, "message": message,
             "lastTransitionTime": now()}]})

    def _end(self, phase: str, status: dict[str, Any]) -> None:
        with self.kube.lock:
            for pod in self.kube.pods.get(self.namespace, []):
                if pod["metadata"]["name"] == self.pod:
                    pod["status"]["phase"] = phase
            self.jobs.finished.add((self.namespace, self.pod))
            self._status({"active": 0, **status})

    def _status(self, status: dict[str, Any]) -> None:
        job = self.jobs.jobs.get((self.namespace, self.name))
        if job is not None:
            job["status"].update(status)

    @property
    def exists(self) -> bool:
        return (self.namespace, self.name) in self.jobs.jobs


def script(lines: Sequence[str], result: str = "succeed", delay: float = 0.05,
           gap: float = 0.0) -> Callable[[JobRun], None]:
    """An `on_create` that plays each Job in a thread: a pod, `lines` `delay` apart, then
    `result` ("succeed", "fail", or "hang": the pod never ends); `gap` before the pod."""
    def play(run: JobRun) -> None:
        time.sleep(gap)
        run.start_pod()
        for line in lines:
            time.sleep(delay)
            run.log(line)
        if result == "succeed":
            run.succeed()
        elif result == "fail":
            run.fail()

    def on_create(run: JobRun) -> None:
        threading.Thread(target=play, args=(run,), daemon=True).start()
    return on_create


def serve_get(h: _Handler, parts: list[str], query: str) -> bool:
    """Answer a GET this module owns; False: not one of its paths."""
    state = h.server.state
    jobs = state.jobs
    if parts[:3] == ["api", "v1", "namespaces"] and len(parts) == 4 and jobs.namespaces is not None:
        if parts[3] not in jobs.namespaces:
            h._not_found(f'namespaces "{parts[3]}"')
        else:
            h._json(200, {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": parts[3]},
                          "status": {"phase": "Active"}})
        return True
    if parts[:3] == ["api", "v1", "namespaces"] and len(parts) == 6 and parts[4] == "secrets":
        with state.lock:
            secret = jobs.secrets.get((parts[3], parts[5]))
        if secret is None:
            h._not_found(f'secrets "{parts[5]}"')
        else:
            h._json(200, secret)
        return True
    if parts[:3] == ["api", "v1", "namespaces"] and len(parts) == 7 and parts[4:7:2] == ["pods", "log"]:
        _log(h, parts[3], parts[5], urllib.parse.parse_qs(query).get("follow") == ["true"])
        return True
    if parts[:4] == JOBS and len(parts) == 6 and parts[5] == "jobs":
        selector = urllib.parse.parse_qs(query).get("labelSelector", [""])[0]
        wanted = dict(x.split("=", 1) for x in selector.split(",") if "=" in x)
        with state.lock:
            items = [j for (ns, _), j in jobs.jobs.items() if ns == parts[4]
                     and wanted.items() <= j["metadata"].get("labels", {}).items()]
        h._json(200, {"kind": "JobList", "apiVersion": "batch/v1",
                      "metadata": {"resourceVersion": "1"}, "items": items})
        return True
    if parts[:4] == JOBS and len(parts) == 7 and parts[5] == "jobs":
        jobs.answering.wait()
        with state.lock:
            found = jobs.jobs.get((parts[4], parts[6]))
            body = json.loads(json.dumps(found)) if found is not None else None
        if body is None:
            h._not_found(f'jobs.batch "{parts[6]}"')
        else:
            h._json(200, body)
        return True
    return False


def _log(h: _Handler, namespace: str, pod: str, follow: bool) -> None:
    state = h.server.state
    key = (namespace, pod)
    with state.lock:
        known = key in state.jobs.logs
    if not known:
        h._not_found(f'pods "{pod}"')
        return
    h.send_response(200)
    h.send_header("Content-Type", "text/plain")
    h.end_headers()  # HTTP/1.0 without a length: the body ends when the connection closes
    sent = 0
    while True:
        with state.lock:
            lines = list(state.jobs.logs.get(key, []))
            done = key in state.jobs.finished or key not in state.jobs.logs
        for line in lines[sent:]:
            h.wfile.write(line.encode() + b"\n")
            h.wfile.flush()
        sent = len(lines)
        if done or not follow:
            return
        time.sleep(0.02)


def serve_post(h: _Handler, parts: list[str], body: dict[str, Any], raw: str) -> bool:
    state = h.server.state
    if parts == REVIEWS:
        spec = body.get("spec") or {}
        state.jobs.reviews.append(spec)
        asked = spec.get("resourceAttributes") or {}
        what = f"{asked.get('verb')} {asked.get('resource')}" + (
            f"/{asked['subresource']}" if asked.get("subresource") else "")
        allowed = state.jobs.allowed and what not in state.jobs.denied
        h._json(201, {**body, "status": {"allowed": allowed,
                                         **({} if allowed else
                                            {"reason": "RBAC: no rule allows it"})}})
        return True
    if not (parts[:4] == JOBS and len(parts) == 6 and parts[5] == "jobs"):
        return False
    namespace, name = parts[4], body["metadata"]["name"]
    with state.lock:
        if (namespace, name) in state.jobs.jobs:
            h._json(409, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                          "message": f'jobs.batch "{name}" already exists',
                          "reason": "AlreadyExists", "code": 409})
            return True
        body["metadata"].update(namespace=namespace, uid=str(uuid.uuid4()),
                                creationTimestamp=now(), resourceVersion="1")
        body["status"] = {}
        state.jobs.jobs[(namespace, name)] = body
        state.jobs.created.append((namespace, name))
        state.jobs.create_bodies.append(raw)
    h._json(201, body)
    if state.jobs.on_create is not None:
        state.jobs.on_create(JobRun(state, namespace, name))
    return True


def serve_delete(h: _Handler, parts: list[str], query: str, body: dict[str, Any]) -> bool:
    if not (parts[:4] == JOBS and len(parts) == 7 and parts[5] == "jobs"):
        return False
    state = h.server.state
    namespace, name = parts[4], parts[6]
    policy = (urllib.parse.parse_qs(query).get("propagationPolicy", [""])[0]
              or body.get("propagationPolicy", ""))
    with state.lock:
        found = state.jobs.jobs.pop((namespace, name), None)
        if found is not None:
            state.jobs.deleted.append((namespace, name, policy))
            if policy in ("Background", "Foreground"):  # else the API orphans a Job's pods
                _delete_pods(state, namespace, name)
    if found is None:
        h._not_found(f'jobs.batch "{name}"')
        return True
    h._json(200, {"kind": "Status", "apiVersion": "v1", "status": "Success",
                  "details": {"name": name, "group": "batch", "kind": "jobs"}})
    return True


def _delete_pods(state: KubeState, namespace: str, job: str) -> None:
    pods = state.pods.get(namespace, [])
    gone = [p for p in pods if (p["metadata"].get("labels") or {}).get("job-name") == job]
    state.pods[namespace] = [p for p in pods if p not in gone]
    for pod in gone:
        state.jobs.logs.pop((namespace, pod["metadata"]["name"]), None)
