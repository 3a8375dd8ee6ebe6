"""After a HelmRelease commit: Flux asked to reconcile, then the release awaited until it runs
the new version — or seen to fail, or `[cluster] rollout_timeout` passes.

The reconcile is requested by annotating the HelmRelease (`reconcile.fluxcd.io/requestedAt`,
what `flux reconcile` does), so no flux CLI is needed; `flux reconcile` is used instead when
it is installed. Rolled out means: the HelmRelease Ready for its current generation; every
Deployment and StatefulSet of the release (labelled for it, or whose pod template runs one
of the app's images) with its generation observed and updated = ready = available = desired
replicas; and its pods Ready on the new tag. Counts alone pass a broken release (the old pod
serves while the new one crash-loops), so a failure is seen as soon as the HelmRelease turns
Ready=False for its generation or a pod of the new version waits in CrashLoopBackOff,
ImagePullBackOff, ErrImagePull or CreateContainerConfigError — not only when time runs out.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NamedTuple

from bot import api
from bot.api import Context
from handlers._bump import Release, repository_matches
from handlers._kube import BAD_WAITING, HELMRELEASE_RESOURCE, Pod, check_pods, kubectl
from handlers._kube import helmrelease_status as hr_status
from handlers._path import which

POLL_INTERVAL = 2.0
_WORKLOADS = ('{range .items[*]}{.kind}/{.metadata.name}{"\\t"}{.metadata.generation}{"\\t"}'
              '{.status.observedGeneration}{"\\t"}{.spec.replicas}{"\\t"}'
              '{.status.updatedReplicas}{"\\t"}{.status.readyReplicas}{"\\t"}'
              '{.status.availableReplicas}{"\\t"}{.metadata.labels.app\\.kubernetes\\.io/instance}'
              '{"\\t"}{.spec.template.spec.containers[*].image}{"\\n"}{end}')
_EVENTS = '{range .items[*]}{.reason}: {.message}{"\\n"}{end}'
EVENTS_KEPT = 3  # a failing pod's last events in the evidence


class Verdict(NamedTuple):
    problems: tuple[str, ...]  # empty: rolled out
    failed: bool  # seen to fail (not only "not yet")
    records: tuple[api.CommandRecord, ...]
    seen: tuple[str, ...]  # what the cluster said, for the evidence


# a chart's source kinds → the resource kubectl annotates
_SOURCES = {"HelmRepository": "helmrepositories", "GitRepository": "gitrepositories",
            "OCIRepository": "ocirepositories", "Bucket": "buckets"}


def request_reconcile(ctx: Context, releases: Sequence[Release], *,
                      chart_changed: bool = False) -> list[api.CommandRecord]:
    """Ask Flux to reconcile each release now (its interval may be hours); with a new chart
    version, its source first, so the chart is fetched before the release looks for it."""
    cluster = ctx.config.cluster
    assert cluster is not None
    records: list[api.CommandRecord] = []
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for r in releases:
        namespace = r.namespace or cluster.namespace
        if which("flux"):
            argv = ["flux", "reconcile", "helmrelease", r.name, "--with-source",
                    "--timeout", f"{int(cluster.rollout_timeout)}s", "-n", namespace]
            argv += ["--kubeconfig", cluster.kubeconfig] if cluster.kubeconfig else []
            argv += ["--context", cluster.context] if cluster.context else []
        else:
            kind, source, source_ns = r.source
            if chart_changed and kind in _SOURCES and source:
                records.append(ctx.run(kubectl(
                    cluster, "annotate", "--overwrite", "-n", source_ns or namespace,
                    f"{_SOURCES[kind]}.source.toolkit.fluxcd.io/{source}",
                    f"reconcile.fluxcd.io/requestedAt={stamp}"), ".",
                    timeout=cluster.rollout_timeout + 30))
            argv = list(kubectl(cluster, "annotate", "--overwrite", "-n", namespace,
                                f"{HELMRELEASE_RESOURCE}/{r.name}",
                                f"reconcile.fluxcd.io/requestedAt={stamp}"))
        records.append(ctx.run(argv, ".", timeout=cluster.rollout_timeout + 30))
    return records


def wait_rollout(ctx: Context, releases: Sequence[Release], images: Sequence[str], version: str,
                 interval: float = POLL_INTERVAL, *, chart_changed: bool = False) -> Verdict:
    """Reconcile, then poll until rolled out, seen to fail, or the timeout passes."""
    cluster = ctx.config.cluster
    assert cluster is not None
    records = request_reconcile(ctx, releases, chart_changed=chart_changed)
    failed_request = [r for r in records if not r.ok]
    deadline = time.monotonic() + cluster.rollout_timeout
    while True:
        api.beat()
        verdict = _poll(ctx, releases, images, version)
        if not verdict.problems or verdict.failed or time.monotonic() + interval > deadline:
            break
        time.sleep(interval)
    problems = list(verdict.problems)
    if problems and not verdict.failed:
        problems.append(f"not rolled out within {int(cluster.rollout_timeout)}s")
    problems += [f"reconcile request failed: {r.describe()}" for r in failed_request][:1] \
        if problems else []
    return Verdict(tuple(problems), bool(problems), (*records, *verdict.records), verdict.seen)


def _poll(ctx: Context, releases: Sequence[Release], images: Sequence[str],
          version: str) -> Verdict:
    cluster = ctx.config.cluster
    assert cluster is not None
    problems: list[str] = []
    records: list[api.CommandRecord] = []
    seen: list[str] = []
    failed = False
    for r in releases:
        namespace = r.namespace or cluster.namespace
        record, state = hr_status(ctx, r.name, namespace)
        records.append(record)
        seen.append(state.text)
        if not state.ready:
            problems.append(state.text)
            failed |= state.failed
        pods_ns = r.pods_namespace or namespace
        records.append(_workloads(ctx, pods_ns, r.release_name, images, problems, seen))
        pod_failed, pod_records = _pods(ctx, pods_ns, r.release_name, images, version,
                                        problems, seen)
        records.extend(pod_records)
        failed |= pod_failed
    return Verdict(tuple(problems), failed, tuple(records), tuple(seen))


def _workloads(ctx: Context, namespace: str, release: str, images: Sequence[str],
               problems: list[str], seen: list[str]) -> api.CommandRecord:
    """Whether each Deployment and StatefulSet of the release has rolled out."""
    cluster = ctx.config.cluster
    assert cluster is not None
    record = ctx.run(kubectl(cluster, "get", "deployments,statefulsets", "-n", namespace,
                             "-o", f"jsonpath={_WORKLOADS}"), ".")
    if not record.ok:
        problems.append(f"kubectl get deployments,statefulsets -n {namespace}: "
                        f"{record.error_line or record.error}")
        return record
    for line in record.stdout.splitlines():
        fields = (line.split("\t") + [""] * 9)[:9]
        name, generation, observed, *counts = fields[:7]
        instance, template = fields[7], fields[8].split()
        if instance != release and not any(
                repository_matches(i.split("@")[0].rpartition(":")[0], images) for i in template):
            continue
        desired, updated, ready, available = (int(c) if c.isdigit() else 0 for c in counts)
        text = (f"{name}: {updated} updated, {ready} ready, {available} available of {desired}"
                + (f" (generation {generation} not yet observed)"
                   if generation and observed != generation else ""))
        seen.append(text)
        if (generation and observed != generation) or not desired == updated == ready == available:
            problems.append(text)
    return record


def _pods(ctx: Context, namespace: str, release: str, images: Sequence[str], version: str,
          problems: list[str], seen: list[str]) -> tuple[bool, list[api.CommandRecord]]:
    """(a pod of the new version failed, records): pods Ready on the new tag, and each
    failing pod's waiting reason and last events in the evidence."""
    record, pod_problems, pod_seen, pods = check_pods(
        ctx, namespace, f"app.kubernetes.io/instance={release}")
    if not pods and any(p.startswith("no pods") for p in pod_problems):
        # the chart does not label its pods with the release: look at the whole namespace
        record, pod_problems, pod_seen, pods = check_pods(ctx, namespace)
    records = [record]
    seen.extend(pod_seen)
    problems.extend(pod_problems)
    failed = False
    for pod in pods:
        if _runs(pod, images, version) and any(w in BAD_WAITING for w in pod.waiting):
            failed = True
            events = _events(ctx, namespace, pod.name, records)
            seen.extend(f"pod {pod.name} event: {e}" for e in events)
        for image in pod.images:
            repo, _, tag = image.split("@")[0].rpartition(":")
            if "/" not in tag and repo and repository_matches(repo, images) and tag != version:
                problems.append(f"pod {pod.name} still runs {image}")
    return failed, records


def _runs(pod: Pod, images: Sequence[str], version: str) -> bool:
    """The pod runs the new version (or, with no images known, any pod counts)."""
    if not images:
        return True
    for image in pod.images:
        repo, _, tag = image.split("@")[0].rpartition(":")
        if repo and repository_matches(repo, images) and tag == version:
            return True
    return False


def _events(ctx: Context, namespace: str, pod: str,
            records: list[api.CommandRecord]) -> list[str]:
    cluster = ctx.config.cluster
    assert cluster is not None
    record = ctx.run(kubectl(cluster, "get", "events", "-n", namespace, "--field-selector",
                             f"involvedObject.name={pod}", "-o", f"jsonpath={_EVENTS}"), ".")
    records.append(record)
    lines = [line.strip() for line in record.stdout.splitlines() if line.strip()]
    return lines[-EVENTS_KEPT:] if record.ok else []
