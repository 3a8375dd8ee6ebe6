"""`verify workload=NAME`: the pods of one workload, not every pod of its namespace.

"`ffl-backend` pods running and healthy" is about ffl-backend's pods: those its
Deployment's selector picks (`spec.selector.matchLabels`), else — no such Deployment —
those labelled `app.kubernetes.io/name=NAME`. Judged like `pods`: Ready, none in
ImagePullBackOff/CrashLoopBackOff, and at least one.
"""

from __future__ import annotations

from bot import api
from bot.api import Cluster, Context
from handlers._kube import check_pods, kubectl

_MATCH_LABELS = ("go-template={{range $k, $v := .spec.selector.matchLabels}}"
                 "{{$k}}={{$v}},{{end}}")


def selector_argv(cluster: Cluster, name: str, namespace: str) -> tuple[str, ...]:
    return kubectl(cluster, "get", "deployment", name, "-n", namespace, "-o", _MATCH_LABELS)


def workload_selector(ctx: Context, name: str, namespace: str
                      ) -> tuple[api.CommandRecord, str]:
    """(record, label selector): the Deployment's, else `app.kubernetes.io/name=NAME`."""
    cluster = ctx.config.cluster
    assert cluster is not None
    record = ctx.run(selector_argv(cluster, name, namespace), ".")
    labels = record.stdout.strip().rstrip(",") if record.ok else ""
    return record, labels or f"app.kubernetes.io/name={name}"


def check_workload(ctx: Context, name: str, namespace: str
                   ) -> tuple[tuple[api.CommandRecord, ...], list[str], list[str]]:
    """(records, problems, evidence) for the pods of workload `name`."""
    selected, selector = workload_selector(ctx, name, namespace)
    record, problems, evidence, _ = check_pods(ctx, namespace, selector)
    if evidence:
        evidence[-1] += f" of {name} ({selector})"
    return (selected, record), problems, evidence
