"""A build run as a Kubernetes Job, through the official client (`kubernetes` on PyPI).

`run_job` creates the Job of a `JobSpec`, or adopts it when it exists already (a taskbot
killed mid-build and started again asks for the same name: nothing is created twice),
watches it to its end, streams its build container's log into the live line and the
record (redacted), and deletes it with its pods (propagation Background) when it outlasts
`build_timeout`, counted from the Job's creation so a restart does not extend it. Stopping
taskbot leaves the Job running. Imported only when a build runs on the cluster: the client
costs ~0.3 s of imports.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

from kubernetes import client as k8s
from kubernetes import config as kubeconfig
from kubernetes.client.exceptions import ApiException

from bot import api
from bot.api import Cluster, Context, TaskbotError
from handlers._jobspec import CRITERION, MANAGED_BY, RUN, WORKSPACE, JobSpec, manifest

POLL = 0.5  # seconds between two reads of the Job
# A sign of life this often, not at every read: the criterion's budget (build_timeout) covers
# the watch, and a daemon asked to stop leaves an item quiet for a few seconds (the journal
# resumes it): so a stop leaves the Job running, and the restart adopts it.
BEAT = 30.0
TAIL = 20  # log lines kept for the record
MAX_LINE = 1000
LINE_BYTES = 64 * 1024  # of one log line kept before its newline; the rest is dropped
API_FAILURES = 20  # reads in a row that fail before the watch gives up on the API
JOIN = 5.0  # seconds the log stream may take to end after its Job did
# seconds one API call may take: an API that takes a connection and never answers must not
# hold a build past build_timeout (a read while watching gets what is left of it)
REQUEST = 30.0


class JobError(TaskbotError):
    """The API refused or could not be reached: the build did not (or may not) run."""


class JobRun(NamedTuple):
    state: str  # succeeded | failed | timeout | gone
    record: api.CommandRecord
    evidence: tuple[str, ...]
    diagnosis: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return self.state == "succeeded"


def api_client(cluster: Cluster | None) -> k8s.ApiClient:
    """A client for `[cluster]`'s kubeconfig and context (the defaults without them)."""
    try:
        made: k8s.ApiClient = kubeconfig.new_client_from_config(  # type: ignore[no-untyped-call]
            config_file=(cluster.kubeconfig or None) if cluster else None,
            context=(cluster.context or None) if cluster else None, persist_config=False)
        return made
    except (kubeconfig.ConfigException, OSError) as exc:
        raise JobError(f"kubeconfig: {exc}") from exc


def problem(exc: Exception) -> str:
    """One line for an API error: its status and message, or why it was not reached."""
    if isinstance(exc, ApiException):
        return f"{exc.status} {exc.reason}".strip() + _message(exc)
    cause = getattr(exc, "reason", None) or exc  # urllib3's MaxRetryError: the last attempt's
    text = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
    return f"API not reachable: {text}"


def _message(exc: ApiException) -> str:
    try:
        body = json.loads(exc.body or "{}")
    except ValueError:
        return ""
    return f": {body.get('message', '')}".rstrip(": ") if isinstance(body, dict) else ""


def run_job(spec: JobSpec, ctx: Context) -> JobRun:
    """Create or adopt the Job, watch it to its end; JobError when the API refuses."""
    began = time.monotonic()
    argv = ("kubernetes-job", f"{spec.namespace}/{spec.name}")
    with api_client(ctx.config.cluster) as client:
        batch, core = k8s.BatchV1Api(client), k8s.CoreV1Api(client)
        job, how, created = _create_or_adopt(batch, spec)
        # a Job made now is timed by this host's clock: a cluster whose clock is behind must
        # not make it look timed out at once; an adopted one from its creation, as the API says
        since = time.time() if created else _created(job)
        logs = _Follower(core, spec, ctx.redactor, api.observe_command(argv))
        logs.start()
        try:
            state, job = _watch(batch, spec, job, since)
            evidence = [how, _delete(batch, spec)] if state == "timeout" else [how]
        finally:
            logs.finish()  # also when the API went away: no thread left polling it
        diagnosis = () if state == "succeeded" else _diagnose(core, spec, job)
    evidence.append(_ended(spec, state, job))
    lines = list(logs.tail)
    record = api.CommandRecord(
        argv=argv, cwd=WORKSPACE,
        exit_status=0 if state == "succeeded" else (None if state == "timeout" else 1),
        duration=time.monotonic() - began, output_tail="\n".join(lines),
        error_line=lines[-1] if lines and state != "succeeded" else "",
        timed_out=state == "timeout",
        error=f"deleted after {int(spec.deadline)} s (limits.build_timeout)"
        if state == "timeout" else "")
    return JobRun(state, record, tuple(evidence), diagnosis)


def _create_or_adopt(batch: k8s.BatchV1Api, spec: JobSpec) -> tuple[Any, str, bool]:
    """(the Job, how it was found, whether this call created it)."""
    where = f"Kubernetes Job {spec.namespace}/{spec.name}"
    found = _read(batch, spec, missing_ok=True)
    if found is not None:
        _ours(found, spec, where)
        return (found, f"{where}: adopted (created {found.metadata.creation_timestamp}), not "
                "created again", False)
    try:
        body = k8s.V1Job.model_validate(manifest(spec))
        return (batch.create_namespaced_job(spec.namespace, body, _request_timeout=REQUEST),
                f"{where}: created", True)
    except ApiException as exc:
        if exc.status != 409:
            raise JobError(f"creating {where}: {problem(exc)}") from exc
    except Exception as exc:  # urllib3's connection errors, without importing urllib3
        raise JobError(f"creating {where}: {problem(exc)}") from exc
    adopted = _read(batch, spec)  # made between our read and our create
    _ours(adopted, spec, where)
    return adopted, f"{where}: adopted (it already existed), not created again", False


def _ours(job: Any, spec: JobSpec, where: str) -> None:
    """JobError unless `job` says it is this criterion's build, made by taskbot: a Job of
    the same name made by someone else (or for another run) is not watched as ours."""
    meta = job.metadata
    found = {**((meta.labels or {}) if meta else {}), **((meta.annotations or {}) if meta else {})}
    mine = manifest(spec)["metadata"]
    expected = {MANAGED_BY: mine["labels"][MANAGED_BY], RUN: mine["annotations"][RUN],
                CRITERION: mine["annotations"][CRITERION]}
    differ = [key for key, value in expected.items() if found.get(key) != value]
    if differ:
        raise JobError(f"{where} exists but is not this build's ({', '.join(differ)} differ): "
                       "not adopted; delete or rename it")


def _read(batch: k8s.BatchV1Api, spec: JobSpec, *, missing_ok: bool = False) -> Any:
    try:
        return batch.read_namespaced_job(spec.name, spec.namespace, _request_timeout=REQUEST)
    except ApiException as exc:
        if exc.status == 404 and missing_ok:
            return None
        raise JobError(f"reading Job {spec.namespace}/{spec.name}: {problem(exc)}") from exc
    except Exception as exc:
        raise JobError(f"reading Job {spec.namespace}/{spec.name}: {problem(exc)}") from exc


def _created(job: Any) -> float:
    """When the Job was created, never later than now (a cluster clock ahead of ours)."""
    created = job.metadata.creation_timestamp if job.metadata is not None else None
    return min(created.timestamp(), time.time()) if created is not None else time.time()


def _watch(batch: k8s.BatchV1Api, spec: JobSpec, job: Any, since: float) -> tuple[str, Any]:
    """(succeeded | failed | timeout | gone, the Job as last read)."""
    deadline = since + spec.deadline
    failures = 0
    beaten = time.monotonic()
    api.beat()
    while True:
        state = job_state(job)
        if state:
            return state, job
        if time.time() >= deadline:
            api.beat()  # deleting it is work of its own
            return "timeout", job
        if time.monotonic() - beaten >= BEAT:
            beaten = time.monotonic()
            api.beat()
        time.sleep(POLL)
        try:
            job = batch.read_namespaced_job(spec.name, spec.namespace,
                                            _request_timeout=_left(deadline))
            failures = 0
        except ApiException as exc:
            if exc.status == 404:
                return "gone", job
            failures += 1
        except Exception:  # the API away for a moment: the Job runs on without us
            failures += 1
        if failures >= API_FAILURES:
            raise JobError(f"lost the API while watching Job {spec.namespace}/{spec.name}; "
                           "it may still run")


def _left(deadline: float) -> float:
    return min(REQUEST, max(1.0, deadline - time.time()))


def job_state(job: Any) -> str:
    """succeeded | failed | "" (still running), from the Job's conditions and counts."""
    status = job.status
    if status is None:
        return ""
    for cond in status.conditions or ():
        if cond.status == "True" and cond.type in ("Complete", "SuccessCriteriaMet"):
            return "succeeded"
        if cond.status == "True" and cond.type in ("Failed", "FailureTarget"):
            return "failed"
    if status.succeeded:
        return "succeeded"
    return "failed" if status.failed else ""


def _delete(batch: k8s.BatchV1Api, spec: JobSpec) -> str:
    try:
        batch.delete_namespaced_job(spec.name, spec.namespace, propagation_policy="Background",
                                    _request_timeout=REQUEST)
    except ApiException as exc:
        if exc.status != 404:
            return f"deleting Job {spec.namespace}/{spec.name} failed: {problem(exc)}"
    except Exception as exc:
        return f"deleting Job {spec.namespace}/{spec.name} failed: {problem(exc)}"
    return (f"deleted Job {spec.namespace}/{spec.name} and its pods (propagation Background): "
            f"it ran past limits.build_timeout ({int(spec.deadline)} s)")


def _ended(spec: JobSpec, state: str, job: Any) -> str:
    where = f"Job {spec.namespace}/{spec.name}"
    if state == "succeeded":
        return f"{where} succeeded"
    if state == "gone":
        return f"{where} was deleted by someone else before it ended"
    if state == "timeout":
        return f"{where} timed out"
    cond = next((c for c in (job.status.conditions or ()) if c.status == "True"), None)
    return f"{where} failed" + (f": {cond.reason}: {cond.message}" if cond is not None else "")


def _diagnose(core: k8s.CoreV1Api, spec: JobSpec, job: Any) -> tuple[str, ...]:
    """What the Job's pods say about why it failed: waiting reasons, exit codes."""
    try:
        pods = core.list_namespaced_pod(spec.namespace, label_selector=f"job-name={spec.name}",
                                        _request_timeout=REQUEST).items
    except Exception as exc:
        return (f"pods of Job {spec.name}: {problem(exc)}",)
    lines = [f"pods of Job {spec.namespace}/{spec.name}: {len(pods)}"]
    for pod in pods[:3]:
        status = pod.status
        statuses = [*(status.init_container_statuses or ()), *(status.container_statuses or ())] \
            if status is not None else []
        said = [_container(c) for c in statuses]
        phase = status.phase if status is not None else "?"
        lines.append(f"pod {_name(pod)}: {phase}" + (f"; {'; '.join(s for s in said if s)}"
                                                            if any(said) else ""))
    return tuple(lines)


def _name(obj: Any) -> str:
    return str(obj.metadata.name) if obj.metadata is not None else "?"


def _container(c: Any) -> str:
    state = c.state
    if state is None:
        return ""
    if state.waiting is not None:
        return f"{c.name} waiting: {state.waiting.reason or ''} {state.waiting.message or ''}".strip()
    if state.terminated is not None and state.terminated.exit_code:
        return f"{c.name} exited {state.terminated.exit_code} ({state.terminated.reason or ''})"
    return ""


class _Follower:
    """The build container's log, followed in a thread: each line (redacted) to the live
    line and the tail. A pod not there yet, or a container not started, is waited for."""

    def __init__(self, core: k8s.CoreV1Api, spec: JobSpec, redact: Callable[[str], str],
                 on_line: Callable[[str], None] | None) -> None:
        self.core, self.spec, self.redact, self.on_line = core, spec, redact, on_line
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL)
        self.lines = 0
        self.ended = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name=f"log {spec.name}")

    def start(self) -> None:
        self.thread.start()

    def finish(self) -> None:
        """The Job has ended: the stream ends with its pod; a stuck one is left behind."""
        self.ended.set()
        self.thread.join(JOIN)

    def _run(self) -> None:
        while True:
            last_try = self.ended.is_set()
            pod = self._pod()
            if pod is not None:
                try:
                    for line in self._stream(pod, follow=not last_try):
                        self._add(line)
                except Exception:  # noqa: S110 -- not started yet, or gone: tried again below
                    pass
            if self.lines or last_try:
                return
            self.ended.wait(POLL)

    def _pod(self) -> str | None:
        try:
            pods = self.core.list_namespaced_pod(self.spec.namespace,
                                                 label_selector=f"job-name={self.spec.name}",
                                                 _request_timeout=REQUEST).items
        except Exception:
            return None
        return _name(pods[-1]) if pods else None

    def _stream(self, pod: str, follow: bool) -> Iterator[str]:
        # urllib3's response, not the str the annotation says: _preload_content=False
        response: Any = self.core.read_namespaced_pod_log(pod, self.spec.namespace, container="build",
                                                     follow=follow, _preload_content=False)
        pending, skipping = b"", False
        try:
            for chunk in response.stream(4096):
                *lines, rest = (pending + chunk).split(b"\n")
                if lines and skipping:  # the end of a line already given: not shown twice
                    lines, skipping = lines[1:], False
                yield from (x.decode("utf-8", errors="replace") for x in lines)
                pending = rest[:LINE_BYTES] if not skipping else b""
                if len(rest) > LINE_BYTES and not skipping:
                    # a line without end (a progress bar, a binary): its start shown, the rest
                    # dropped up to its newline, so memory stays bounded whatever the build prints
                    yield pending.decode("utf-8", errors="replace")
                    pending, skipping = b"", True
        finally:
            response.release_conn()
        if pending:
            yield pending.decode("utf-8", errors="replace")

    def _add(self, raw: str) -> None:
        line = self.redact(raw.rstrip("\r"))[:MAX_LINE]
        self.lines += 1
        self.tail.append(line)
        if self.on_line is not None:
            self.on_line(line)
