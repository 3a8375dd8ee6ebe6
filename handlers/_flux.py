"""`reconcile`'s work: Flux asked to reconcile a Kustomization now, then its Ready awaited.

The request is what `flux reconcile kustomization` does: the
`reconcile.fluxcd.io/requestedAt` annotation, set through kubectl (on the source first with
`--with-source`), so no flux CLI is needed; `flux reconcile` is used when it is installed
(it waits by itself). Reconciled means the controller handled this very request
(`status.lastHandledReconcileAt` is the annotation's value) and the Kustomization is Ready
for its generation; Ready=False after handling it is a failure, seen at once.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import NamedTuple

from bot import api
from bot.api import Cluster, Context
from handlers._kube import kubectl
from handlers._path import which

KUSTOMIZATION_RESOURCE = "kustomizations.kustomize.toolkit.fluxcd.io"
SOURCE_RESOURCES = {"GitRepository": "gitrepositories.source.toolkit.fluxcd.io",
                    "OCIRepository": "ocirepositories.source.toolkit.fluxcd.io",
                    "Bucket": "buckets.source.toolkit.fluxcd.io"}
POLL_INTERVAL = 2.0
_STATE = ('{.metadata.generation}{"\\t"}{.status.observedGeneration}{"\\t"}'
          '{.status.lastHandledReconcileAt}{"\\t"}'
          '{.status.conditions[?(@.type=="Ready")].status}{"\\t"}'
          '{.status.conditions[?(@.type=="Ready")].reason}{"\\t"}'
          '{.spec.sourceRef.kind}{"\\t"}{.spec.sourceRef.name}{"\\t"}'
          '{.spec.sourceRef.namespace}{"\\t"}'
          # last: the controller's free text may hold a tab or a line break of its own
          '{.status.conditions[?(@.type=="Ready")].message}{"\\n"}')


class Target(NamedTuple):
    name: str
    namespace: str
    with_source: bool


class State(NamedTuple):
    handled: bool  # the controller answered this request
    ready: bool
    failed: bool
    text: str  # evidence: "Kustomization flux-system/apps: Ready=True …"
    source: tuple[str, str, str]  # kind, name, namespace of spec.sourceRef


def request_argv(cluster: Cluster, t: Target, stamp: str) -> tuple[str, ...]:
    """What asks Flux to reconcile the Kustomization (its source is asked first with_source)."""
    if which("flux"):
        argv = ["flux", "reconcile", "kustomization", t.name, "-n", t.namespace,
                "--timeout", f"{int(cluster.rollout_timeout)}s"]
        argv += ["--with-source"] if t.with_source else []
        argv += ["--kubeconfig", cluster.kubeconfig] if cluster.kubeconfig else []
        argv += ["--context", cluster.context] if cluster.context else []
        return tuple(argv)
    return annotate_argv(cluster, KUSTOMIZATION_RESOURCE, t.name, t.namespace, stamp)


def annotate_argv(cluster: Cluster, resource: str, name: str, namespace: str,
                  stamp: str) -> tuple[str, ...]:
    return kubectl(cluster, "annotate", "--overwrite", "-n", namespace, f"{resource}/{name}",
                   f"reconcile.fluxcd.io/requestedAt={stamp}")


def state_argv(cluster: Cluster, t: Target) -> tuple[str, ...]:
    return kubectl(cluster, "get", KUSTOMIZATION_RESOURCE, t.name, "-n", t.namespace, "-o",
                   f"jsonpath={_STATE}")


def read_state(ctx: Context, t: Target, stamp: str) -> tuple[api.CommandRecord, State]:
    cluster = ctx.config.cluster
    assert cluster is not None
    record = ctx.run(state_argv(cluster, t), ".")
    where = f"Kustomization {t.namespace}/{t.name}"
    if not record.ok:
        return record, State(False, False, True, f"{where}: {record.error_line or record.error}",
                             ("", "", ""))
    fields = (record.stdout.strip().split("\t", 8) + [""] * 9)[:9]
    generation, observed, handled_at, ready, reason, *source, message = fields
    handled = not stamp or handled_at == stamp
    current = bool(generation) and generation == observed
    text = f"{where}: Ready={ready or 'unknown'}" + (f" {reason}" if reason else "") + (
        f": {message}" if message else "")
    if not handled:  # Ready for an older request says nothing of this one
        text += f" (this request not handled yet; last handled: {handled_at or 'never'})"
    ok = handled and current and ready == "True"
    failed = handled and current and ready == "False"
    return record, State(handled, ok, failed, text, (source[0], source[1], source[2]))


def reconcile(ctx: Context, t: Target, interval: float = POLL_INTERVAL
              ) -> tuple[list[api.CommandRecord], State]:
    """Request, then poll until Ready for this request, seen to fail, or rollout_timeout."""
    cluster = ctx.config.cluster
    assert cluster is not None
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    # one limit for the whole wait: `flux reconcile` waits itself, the polling gets the rest
    deadline = time.monotonic() + cluster.rollout_timeout
    flux = bool(which("flux"))
    records: list[api.CommandRecord] = []
    if t.with_source and not flux:
        records.extend(_request_source(ctx, t, stamp))
    request = ctx.run(request_argv(cluster, t, stamp), ".", timeout=cluster.rollout_timeout + 30)
    records.append(request)
    if not request.ok:
        return records, State(False, False, True, f"reconcile request failed: "
                              f"{request.describe()}", ("", "", ""))
    stamp = "" if flux else stamp  # flux stamps its own time and has waited
    while True:
        api.beat(expect=interval + 30)
        record, state = read_state(ctx, t, stamp)
        if state.ready or state.failed or time.monotonic() + interval > deadline:
            return [*records, record], state
        time.sleep(interval)


def _request_source(ctx: Context, t: Target, stamp: str) -> list[api.CommandRecord]:
    cluster = ctx.config.cluster
    assert cluster is not None
    record, state = read_state(ctx, t, "")
    kind, name, namespace = state.source
    resource = SOURCE_RESOURCES.get(kind)
    if not record.ok or resource is None or not name:
        return [record]
    return [record, ctx.run(annotate_argv(cluster, resource, name, namespace or t.namespace,
                                          stamp), ".")]
