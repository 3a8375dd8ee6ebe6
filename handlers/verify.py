"""`verify`: read-only checks, each with its evidence.

One of: `url` (HTTP status, `expect`, `contains`), `tcp` (host:port connects), `catalog`
(registry `_catalog` holds the images), `image` (registry tags), `pods` (every pod of a
namespace Ready, none in ImagePullBackOff/CrashLoopBackOff), `helmrelease` (its Ready
condition). A command in backticks in the criterion is never run: the default rules
read the registry and image name out of it and ask the registry API instead.
"""

from __future__ import annotations

import re
import socket
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from bot.api import (
    Cluster,
    CommandRecord,
    Context,
    DefaultRule,
    Outcome,
    ParamError,
    RegistryClient,
    RegistryError,
    Status,
    Step,
    registry_client,
    reject_unknown,
    validate_url,
    validate_version,
)
from handlers.image import registry_diagnosis, same_registry, split_image

KINDS = ("url", "tcp", "catalog", "image", "pods", "helmrelease")
BAD_WAITING = ("ImagePullBackOff", "ErrImagePull", "CrashLoopBackOff", "CreateContainerConfigError",
               "InvalidImageName")
_HOST_PORT_RE = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.-]+)):(?P<port>\d{1,5})")
_K8S_NAME_RE = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
HELMRELEASE_RESOURCE = "helmreleases.helm.toolkit.fluxcd.io"


@dataclass(frozen=True)
class VerifySettings:
    kind: str
    target: str
    expect: int | None = None
    contains: str = ""
    insecure: bool = False
    namespace: str = ""
    version: str = ""
    names: tuple[str, ...] = ()
    timeout: float = 10.0


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


def check_context(ctx: Context) -> tuple[CommandRecord | None, str]:
    """(record, "") when kubectl's current context is the configured one, else the reason."""
    cluster = ctx.config.cluster
    if cluster is None:
        return None, "no [cluster] configured: taskbot runs no kubectl commands"
    if not cluster.context:
        return None, ""
    record = ctx.run(kubectl(cluster, "config", "current-context", context=False), ".")
    current = (record.output_tail.strip().splitlines() or [""])[-1].strip()
    if not record.ok:
        return record, f"kubectl config current-context failed: {record.describe()}"
    if current != cluster.context:
        return record, (f"kubectl's current context is {current!r}, but [cluster] context is "
                        f"{cluster.context!r}")
    return record, ""


# kubectl output reaches us as the record's last lines, so ask for one line per pod: Ready
# pods first, then the others, then a count; the problems are always in the tail.
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


@dataclass(frozen=True)
class Pod:
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


def check_pods(ctx: Context, namespace: str, selector: str = ""
               ) -> tuple[CommandRecord, list[str], list[str], list[Pod]]:
    """(record, problems, evidence, pods seen) for every pod of `namespace`."""
    cluster = ctx.config.cluster
    assert cluster is not None
    record = ctx.run(pods_argv(cluster, namespace, selector), ".")
    if not record.ok:
        return record, [f"kubectl get pods -n {namespace}: {record.error_line or record.error}"], [], []
    pods, total = parse_pods(record.output_tail)
    if total < 0:
        return record, ["kubectl printed no pod summary"], [], []
    problems: list[str] = []
    evidence: list[str] = []
    for pod in pods:
        bad = [w for w in pod.waiting if w in BAD_WAITING]
        evidence.append(f"pod {pod.name}: {pod.phase}, {'Ready' if pod.ok else 'not Ready'}, "
                        f"{' '.join(pod.images)}" + (f" ({', '.join(pod.waiting)})" if pod.waiting
                                                      else ""))
        if bad:
            problems.append(f"pod {pod.name}: {', '.join(bad)}")
        elif not pod.ok:
            problems.append(f"pod {pod.name} not Ready (phase {pod.phase})")
    hidden = total - len(pods)
    # Ready pods are listed first, so the ones cut off are Ready whenever a Ready one shows
    kind = "Ready " if any(p.ok for p in pods) else ""
    evidence.append(f"{total} pods in {namespace}" + (f" ({hidden} {kind}pods not listed)"
                                                       if hidden > 0 else ""))
    if total == 0:
        problems.append(f"no pods in namespace {namespace}"
                        + (f" with labels {selector}" if selector else ""))
    return record, problems, evidence, pods


def check_helmrelease(ctx: Context, name: str, namespace: str
                      ) -> tuple[CommandRecord, bool, str]:
    """(record, ready for its current generation, what it says)."""
    cluster = ctx.config.cluster
    assert cluster is not None
    record = ctx.run(kubectl(cluster, "get", HELMRELEASE_RESOURCE, name, "-n", namespace, "-o",
                             f"jsonpath={HELMRELEASE_JSONPATH}"), ".")
    if not record.ok:
        return record, False, f"HelmRelease {namespace}/{name}: {record.error_line or record.error}"
    line = next((x for x in reversed(record.output_tail.splitlines()) if x.count("\t") >= 4), "")
    fields = (line.split("\t") + [""] * 5)[:5]
    generation, observed, ready, reason, message = fields
    current = not generation or generation == observed
    text = f"HelmRelease {namespace}/{name}: Ready={ready or 'unknown'}"
    text += f" {reason}: {message}".rstrip(": ") if reason or message else ""
    if not current:
        text += f" (generation {generation} not yet observed: {observed or 'none'})"
    return record, ready == "True" and current, text


def _url_settings(kind: str, params: Mapping[str, str], ctx: Context, timeout: float
                  ) -> VerifySettings:
    expect = params.get("expect", "")
    if expect and not re.fullmatch(r"[1-5]\d\d", expect):
        raise ParamError(f"verify: expect {expect!r} is not an HTTP status")
    insecure = params.get("insecure", "false").lower() in ("true", "yes", "1")
    return VerifySettings(kind, validate_url(params[kind]), int(expect) if expect else None,
                          params.get("contains", ""), insecure, timeout=timeout)


def _tcp_settings(kind: str, params: Mapping[str, str], ctx: Context, timeout: float
                  ) -> VerifySettings:
    target = params[kind]
    found = _HOST_PORT_RE.fullmatch(target)
    if not found or not 0 < int(found["port"]) < 65536:
        raise ParamError(f"verify: tcp {target!r} is not host:port")
    return VerifySettings(kind, target, timeout=timeout)


def _catalog_settings(kind: str, params: Mapping[str, str], ctx: Context, timeout: float
                      ) -> VerifySettings:
    target = params[kind]
    if target == "all":
        names = tuple(sorted({i for p in ctx.config.projects.values() for i in p.images}))
    else:
        names = tuple(split_image(n.strip())[1] for n in target.split(",") if n.strip())
    return VerifySettings(kind, target, names=names, timeout=timeout)


def _image_settings(kind: str, params: Mapping[str, str], ctx: Context, timeout: float
                    ) -> VerifySettings:
    host, name, tag = split_image(params[kind])
    if host:
        same_registry(ctx.config, host, "verify")
    version = tag or params.get("version", "")
    return VerifySettings(kind, name, version=validate_version(version) if version else "",
                          timeout=timeout)


def _cluster_settings(kind: str, params: Mapping[str, str], ctx: Context, timeout: float
                      ) -> VerifySettings:
    target = params[kind]
    if kind == "pods":
        return VerifySettings(kind, k8s_name(target, "namespace"), namespace=target,
                              timeout=timeout)
    cluster = ctx.config.cluster
    namespace = params.get("namespace") or (cluster.namespace if cluster else "default")
    return VerifySettings(kind, k8s_name(target, "helmrelease"),
                          namespace=k8s_name(namespace, "namespace"), timeout=timeout)


class VerifyHandler:
    name = "verify"
    params = (*KINDS, "expect", "contains", "insecure", "namespace", "version", "registry",
              "timeout")
    rules = (
        DefaultRule(r"(?i)^verify (?:the )?images? (?:are )?in (?:the )?registry:?\s*"
                    r"`[^`]*?(?P<registry>https?://[^/\s`]+)/v2/(?P<image>[a-z0-9][a-z0-9._/-]*?)"
                    r"/tags/list[^`]*`\s*\.?$"),
        DefaultRule(r"(?i)^verify all images are in (?:the )?registry catalog:?\s*"
                    r"`[^`]*?(?P<registry>https?://[^/\s`]+)/v2/_catalog[^`]*`\s*\.?$",
                    {"catalog": "all"}),
    )

    def settings(self, params: Mapping[str, str], ctx: Context) -> VerifySettings:
        reject_unknown(self.name, params, self.params)
        kinds = [k for k in KINDS if k in params]
        if len(kinds) != 1:
            raise ParamError("verify: needs exactly one of " + ", ".join(f"{k}=…" for k in KINDS))
        kind = kinds[0]
        raw_timeout = params.get("timeout", "10")
        if not re.fullmatch(r"\d{1,4}(\.\d+)?", raw_timeout) or float(raw_timeout) <= 0:
            raise ParamError(f"verify: timeout {raw_timeout!r} is not a number of seconds")
        if kind in ("catalog", "image"):
            same_registry(ctx.config, params.get("registry", ""), self.name)
        elif "registry" in params:
            raise ParamError("verify: registry=… only goes with catalog or image")
        make = {"url": _url_settings, "tcp": _tcp_settings, "catalog": _catalog_settings,
                "image": _image_settings, "pods": _cluster_settings,
                "helmrelease": _cluster_settings}[kind]
        return make(kind, params, ctx, float(raw_timeout))

    def plan(self, s: VerifySettings, ctx: Context) -> Step:
        cluster = ctx.config.cluster or Cluster()
        if s.kind == "url":
            what = f"GET {s.target}" + (f" expecting {s.expect}" if s.expect else "")
            return Step(preconditions=(what + (f" containing {s.contains!r}" if s.contains else ""),))
        if s.kind == "tcp":
            return Step(preconditions=(f"TCP connect to {s.target}",))
        if s.kind == "catalog":
            return Step(preconditions=(f"registry GET /v2/_catalog lists {', '.join(s.names)}",))
        if s.kind == "image":
            tag = f" includes {s.version}" if s.version else " is not empty"
            return Step(preconditions=(f"registry GET /v2/{s.target}/tags/list{tag}",))
        if s.kind == "pods":
            return Step(commands=(pods_argv(cluster, s.namespace),),
                        preconditions=("[cluster] configured and kubectl context matches",))
        return Step(commands=(kubectl(cluster, "get", HELMRELEASE_RESOURCE, s.target, "-n",
                                      s.namespace, "-o", f"jsonpath={HELMRELEASE_JSONPATH}"),),
                    preconditions=("[cluster] configured and kubectl context matches",))

    def run(self, s: VerifySettings, ctx: Context) -> Outcome:
        if s.kind == "url":
            return _url(s)
        if s.kind == "tcp":
            return _tcp(s)
        if s.kind in ("catalog", "image"):
            return _registry(s, ctx)
        record, why = check_context(ctx)
        commands = (record,) if record else ()
        if why:
            return Outcome(Status.BLOCKED, why, commands=commands)
        if s.kind == "pods":
            pods, problems, evidence, _ = check_pods(ctx, s.namespace)
            status = Status.FAILED if problems else Status.DONE
            return Outcome(status, "; ".join(problems), commands=(*commands, pods),
                           evidence=tuple(evidence))
        hr, ok, text = check_helmrelease(ctx, s.target, s.namespace)
        return Outcome(Status.DONE if ok else Status.FAILED, "" if ok else text,
                       commands=(*commands, hr), evidence=(text,))


def _url(s: VerifySettings) -> Outcome:
    context = ssl.create_default_context()
    if s.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(s.target, headers={"User-Agent": "taskbot"})  # noqa: S310
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=s.timeout, context=context) as reply:  # noqa: S310
            status, body = reply.status, reply.read(1 << 20)
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read(1 << 20) if exc.fp is not None else b""
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Outcome(Status.FAILED, f"GET {s.target} failed: {reason}")
    took = time.monotonic() - started
    evidence = f"GET {s.target} → {status} ({len(body)} bytes, {took:.2f}s)"
    ok = status == s.expect if s.expect else 200 <= status < 400
    if not ok:
        want = s.expect or "2xx/3xx"
        return Outcome(Status.FAILED, f"GET {s.target} answered {status}, expected {want}",
                       evidence=(evidence,))
    if s.contains and s.contains not in body.decode("utf-8", errors="replace"):
        return Outcome(Status.FAILED, f"GET {s.target}: body does not contain {s.contains!r}",
                       evidence=(evidence,))
    found = f"; body contains {s.contains!r}" if s.contains else ""
    return Outcome(Status.DONE, evidence=(evidence + found,))


def _tcp(s: VerifySettings) -> Outcome:
    found = _HOST_PORT_RE.fullmatch(s.target)
    assert found is not None
    host = found["v6"] or found["host"]
    started = time.monotonic()
    try:
        with socket.create_connection((host, int(found["port"])), timeout=s.timeout) as sock:
            peer = sock.getpeername()
    except OSError as exc:
        return Outcome(Status.FAILED, f"TCP connect to {s.target} failed: {exc.strerror or exc}")
    took = time.monotonic() - started
    return Outcome(Status.DONE, evidence=(f"TCP connect to {s.target} ({peer[0]}) ok in "
                                          f"{took * 1000:.0f} ms",))


def _registry(s: VerifySettings, ctx: Context) -> Outcome:
    client = registry_client(ctx.config, timeout=s.timeout)
    try:
        return _catalog(s, client) if s.kind == "catalog" else _image(s, client)
    except RegistryError as exc:
        return Outcome(Status.BLOCKED, str(exc), diagnosis=(registry_diagnosis(client),))


def _catalog(s: VerifySettings, client: RegistryClient) -> Outcome:
    names = client.catalog()
    evidence = (f"GET {client.base}/v2/_catalog → {len(names)} repositories: "
                + ", ".join(names[:50]),)
    missing = [n for n in s.names if n not in names]
    if missing:
        return Outcome(Status.FAILED, f"not in the registry catalog: {', '.join(missing)}",
                       evidence=evidence)
    if not s.names:
        return Outcome(Status.FAILED, "no images are configured to look for", evidence=evidence)
    return Outcome(Status.DONE, evidence=evidence)


def _image(s: VerifySettings, client: RegistryClient) -> Outcome:
    tags = client.tags(s.target)
    where = f"GET {client.base}/v2/{s.target}/tags/list"
    if tags is None:
        return Outcome(Status.FAILED, f"{s.target} is not in the registry ({where} → 404)",
                       evidence=(f"{where} → 404",))
    evidence: tuple[str, ...] = (f"{where} → 200 tags: {', '.join(tags) or '(none)'}",)
    if s.version and s.version not in tags:
        return Outcome(Status.FAILED, f"{s.target} has no tag {s.version}", evidence=evidence)
    if not tags:
        return Outcome(Status.FAILED, f"{s.target} has no tags", evidence=evidence)
    if s.version:
        evidence += (f"{s.target}:{s.version} {client.digest(s.target, s.version)}",)
    return Outcome(Status.DONE, evidence=evidence)


HANDLER = VerifyHandler()
