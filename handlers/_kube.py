"""kubectl for the cluster handlers: argv for `[cluster]`, the context check, pods and
HelmReleases read through templates into records, with evidence lines."""

from __future__ import annotations

import re
from typing import NamedTuple

from bot import api
from bot.api import Cluster, Context, ParamError

BAD_WAITING = ("ImagePullBackOff", "ErrImagePull", "CrashLoopBackOff", "CreateContainerConfigError",
               "InvalidImageName")
_K8S_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
HELMRELEASE_RESOURCE = "helmreleases.helm.toolkit.fluxcd.io"
EVIDENCE_PODS = 19  # pod lines in a report: a long list of Ready pods says nothing more


def k8s_name(value: str, what: str) -> str:
    if not _K8S_NAME_RE.fullmatch(value):
        raise ParamError(f"{what} {value!r} is not a Kubernetes name")
    return value


def kubectl(cluster: Cluster, *args: str, context: bool = True) -> tuple[str, ...]:
    argv = ["kubectl"]
    if cluster.kubeconfig:
        argv += ["--kubeconfig", cluster.kubeconfig]
    if context and cluster.context:
        argv += ["--context", cluster.context]
    return (*argv, *args)


def check_context(ctx: Context) -> tuple[api.CommandRecord | None, str]:
    """(record, "") when kubectl's current context is the configured one, else the reason."""
    cluster = ctx.config.cluster
    if cluster is None:
        return None, "no [cluster] configured: taskbot runs no kubectl commands"
    if not cluster.context:
        return None, ""
    record = ctx.run(kubectl(cluster, "config", "current-context", context=False), ".")
    current = (record.stdout.strip().splitlines() or [""])[-1].strip()
    if not record.ok:
        return record, f"kubectl config current-context failed: {record.describe()}"
    if current != cluster.context:
        return record, (f"kubectl's current context is {current!r}, but [cluster] context is "
                        f"{cluster.context!r}")
    return record, ""


# One line per pod: Ready pods first, then the others, then a count, so that when a huge
# namespace overflows the record's stdout (its last 64 KiB) only Ready pods are cut off.
_POD_READY = ('{{$r := "False"}}{{range .status.conditions}}{{if eq .type "Ready"}}'
              '{{$r = .status}}{{end}}{{end}}')
_POD_LINE = ('{{.metadata.name}}\t{{.status.phase}}\t'
             '{{range .status.initContainerStatuses}}{{with .state.waiting}}{{.reason}} {{end}}{{end}}'
             '{{range .status.containerStatuses}}{{with .state.waiting}}{{.reason}} {{end}}{{end}}\t'
             '{{range .spec.containers}}{{.image}} {{end}}\n')
POD_TEMPLATE = (
    '{{range .items}}' + _POD_READY + '{{if or (eq $r "True") (eq .status.phase "Succeeded")}}'
    'OK\t' + _POD_LINE + '{{end}}{{end}}'
    '{{range .items}}' + _POD_READY + '{{if not (or (eq $r "True") (eq .status.phase "Succeeded"))}}'
    'BAD\t' + _POD_LINE + '{{end}}{{end}}'
    'TOTAL\t{{len .items}}\n'
)
HELMRELEASE_JSONPATH = (
    '{.metadata.generation}{"\\t"}{.status.observedGeneration}{"\\t"}'
    '{.status.conditions[?(@.type=="Ready")].status}{"\\t"}'
    '{.status.conditions[?(@.type=="Ready")].reason}{"\\t"}'
    '{.status.conditions[?(@.type=="Ready")].message}{"\\n"}'
)


class Pod(NamedTuple):
    name: str
    ok: bool
    phase: str
    waiting: tuple[str, ...]
    images: tuple[str, ...]


def pods_argv(cluster: Cluster, namespace: str, selector: str = "") -> tuple[str, ...]:
    extra = ("-l", selector) if selector else ()
    return kubectl(cluster, "get", "pods", "-n", namespace, *extra, "-o",
                   f"go-template={POD_TEMPLATE}")


def parse_pods(text: str) -> tuple[list[Pod], int]:
    """The pods listed (ok ones may be cut off the top) and the total count."""
    pods: list[Pod] = []
    total = -1
    for line in text.splitlines():
        fields = line.split("\t")
        if fields[0] == "TOTAL" and len(fields) == 2 and fields[1].isdigit():
            total = int(fields[1])
        elif fields[0] in ("OK", "BAD") and len(fields) == 5:
            pods.append(Pod(fields[1], fields[0] == "OK", fields[2], tuple(fields[3].split()),
                            tuple(fields[4].split())))
    return pods, total


def _listed(pods: list[Pod]) -> list[Pod]:
    """The pods evidence names: every one that is not Ready, then the last Ready ones."""
    ready = [p for p in pods if p.ok]
    others = [p for p in pods if not p.ok]
    room = max(0, EVIDENCE_PODS - len(others))
    return ready[len(ready) - room :] + others if room else others


def _pod_line(pod: Pod) -> str:
    waiting = f" ({', '.join(pod.waiting)})" if pod.waiting else ""
    return (f"pod {pod.name}: {pod.phase}, {'Ready' if pod.ok else 'not Ready'}, "
            f"{' '.join(pod.images)}{waiting}")


def check_pods(ctx: Context, namespace: str, selector: str = ""
               ) -> tuple[api.CommandRecord, list[str], list[str], list[Pod]]:
    """(record, problems, evidence, pods seen) for every pod of `namespace`."""
    cluster = ctx.config.cluster
    assert cluster is not None
    record = ctx.run(pods_argv(cluster, namespace, selector), ".")
    if not record.ok:
        return record, [f"kubectl get pods -n {namespace}: {record.error_line or record.error}"], [], []
    pods, total = parse_pods(record.stdout)
    if total < 0:
        return record, ["kubectl printed no pod summary"], [], []
    problems: list[str] = []
    for pod in pods:
        bad = [w for w in pod.waiting if w in BAD_WAITING]
        if bad:
            problems.append(f"pod {pod.name}: {', '.join(bad)}")
        elif not pod.ok:
            problems.append(f"pod {pod.name} not Ready (phase {pod.phase})")
    listed = _listed(pods)
    evidence = [_pod_line(pod) for pod in listed]
    hidden = total - len(listed)
    # Ready pods come first, so pods cut off stdout are Ready whenever a Ready one is left
    kind = "Ready " if total == len(pods) or any(p.ok for p in pods) else ""
    evidence.append(f"{total} pods in {namespace}" + (f" ({hidden} {kind}pods not listed)"
                                                       if hidden > 0 else ""))
    if total == 0:
        problems.append(f"no pods in namespace {namespace}"
                        + (f" with labels {selector}" if selector else ""))
    return record, problems, evidence, pods


class HelmReleaseState(NamedTuple):
    ready: bool  # Ready=True for its current generation
    failed: bool  # Ready=False for its current generation: Flux gave up on this version
    text: str  # what it says


def check_helmrelease(ctx: Context, name: str, namespace: str
                      ) -> tuple[api.CommandRecord, bool, str]:
    """(record, ready for its current generation, what it says)."""
    record, state = helmrelease_status(ctx, name, namespace)
    return record, state.ready, state.text


def helmrelease_status(ctx: Context, name: str, namespace: str
                       ) -> tuple[api.CommandRecord, HelmReleaseState]:
    cluster = ctx.config.cluster
    assert cluster is not None
    record = ctx.run(kubectl(cluster, "get", HELMRELEASE_RESOURCE, name, "-n", namespace, "-o",
                             f"jsonpath={HELMRELEASE_JSONPATH}"), ".")
    if not record.ok:
        return record, HelmReleaseState(False, False, f"HelmRelease {namespace}/{name}: "
                                        f"{record.error_line or record.error}")
    line = next((x for x in reversed(record.stdout.splitlines()) if x.count("\t") >= 4), "")
    return record, _helmrelease_state(namespace, name, line.split("\t"))


def _helmrelease_state(namespace: str, name: str, fields: list[str]) -> HelmReleaseState:
    """Ready, failed and what it says, from HELMRELEASE_JSONPATH's fields."""
    generation, observed, ready, reason, message = (fields + [""] * 5)[:5]
    current = not generation or generation == observed
    text = f"HelmRelease {namespace}/{name}: Ready={ready or 'unknown'}"
    text += f" {reason}: {message}".rstrip(": ") if reason or message else ""
    if not current:
        text += f" (generation {generation} not yet observed: {observed or 'none'})"
    return HelmReleaseState(ready == "True" and current, ready == "False" and current, text)


_HELMRELEASES_JSONPATH = ('{range .items[*]}{.metadata.namespace}{"\\t"}{.metadata.name}{"\\t"}'
                          + HELMRELEASE_JSONPATH.replace('{"\\n"}', '{"\\n"}{end}'))


def all_helmreleases_argv(cluster: Cluster) -> tuple[str, ...]:
    return kubectl(cluster, "get", HELMRELEASE_RESOURCE, "--all-namespaces", "-o",
                   f"jsonpath={_HELMRELEASES_JSONPATH}")


def check_all_helmreleases(ctx: Context) -> tuple[api.CommandRecord, list[str], list[str]]:
    """(record, problems, evidence): every HelmRelease of every namespace Ready, one line each."""
    cluster = ctx.config.cluster
    assert cluster is not None
    record = ctx.run(all_helmreleases_argv(cluster), ".")
    if not record.ok:
        return record, [f"kubectl get helmreleases -A: {record.error_line or record.error}"], []
    problems: list[str] = []
    evidence: list[str] = []
    for line in record.stdout.splitlines():
        fields = line.split("\t")
        if len(fields) < 3 or not fields[1]:
            continue
        ok, _, text = _helmrelease_state(fields[0], fields[1], fields[2:])
        evidence.append(text)
        if not ok:
            problems.append(text)
    if not evidence:
        problems.append("no HelmRelease in any namespace")
    evidence.append(f"{len(evidence)} HelmReleases, {len(evidence) - len(problems)} Ready"
                    if evidence else "no HelmReleases found")
    return record, problems, evidence
