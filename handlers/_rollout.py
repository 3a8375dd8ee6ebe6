"""After a HelmRelease commit: Flux asked to reconcile, then the releases and their pods
awaited until they run the new version or `[cluster] rollout_timeout` passes."""

from __future__ import annotations

import time
from collections.abc import Sequence

from bot import api
from bot.api import Context
from handlers._bump import Release, repository_matches
from handlers._kube import check_helmrelease, check_pods
from handlers._path import which

POLL_INTERVAL = 2.0


def wait_rollout(ctx: Context, releases: Sequence[Release], images: Sequence[str], version: str,
                 interval: float = POLL_INTERVAL) -> tuple[list[str], list[api.CommandRecord], list[str]]:
    """Reconcile with flux (when on PATH), then wait for Ready releases and pods on `version`."""
    cluster = ctx.config.cluster
    assert cluster is not None
    records: list[api.CommandRecord] = []
    if which("flux"):
        for r in releases:
            argv = ["flux", "reconcile", "helmrelease", r.name, "--with-source",
                    "--timeout", f"{int(cluster.rollout_timeout)}s"]
            argv += ["-n", r.namespace or cluster.namespace]
            argv += ["--kubeconfig", cluster.kubeconfig] if cluster.kubeconfig else []
            argv += ["--context", cluster.context] if cluster.context else []
            records.append(ctx.run(argv, ".", timeout=cluster.rollout_timeout + 30))
    deadline = time.monotonic() + cluster.rollout_timeout
    while True:
        problems, polled, seen = _rollout_state(ctx, releases, images, version)
        if not problems or time.monotonic() + interval > deadline:
            return problems, records + polled, seen
        time.sleep(interval)


def _rollout_state(ctx: Context, releases: Sequence[Release], images: Sequence[str],
                   version: str) -> tuple[list[str], list[api.CommandRecord], list[str]]:
    cluster = ctx.config.cluster
    assert cluster is not None
    problems: list[str] = []
    records: list[api.CommandRecord] = []
    seen: list[str] = []
    for r in releases:
        namespace = r.namespace or cluster.namespace
        record, ready, text = check_helmrelease(ctx, r.name, namespace)
        records.append(record)
        seen.append(text)
        if not ready:
            problems.append(text)
        pods_ns = r.pods_namespace or namespace
        record, pod_problems, pod_seen, pods = check_pods(
            ctx, pods_ns, f"app.kubernetes.io/instance={r.release_name}")
        if not pods and any(p.startswith("no pods") for p in pod_problems):
            # the chart does not label its pods with the release: look at the whole namespace
            record, pod_problems, pod_seen, pods = check_pods(ctx, pods_ns)
        records.append(record)
        seen.extend(pod_seen)
        problems.extend(pod_problems)
        for pod in pods:
            for image in pod.images:
                repo, _, tag = image.split("@")[0].rpartition(":")
                if "/" in tag or not repo:
                    continue
                if repository_matches(repo, images) and tag != version:
                    problems.append(f"pod {pod.name} still runs {image}")
    return problems, records, seen
