"""`verify`: read-only checks, each with its evidence.

One of: `url` (HTTP status, `expect`, `contains`), `tcp` (host:port connects), `catalog`
(registry `_catalog` holds the images), `image` (registry tags), `pods` (every pod of a
namespace Ready, none in ImagePullBackOff/CrashLoopBackOff), `workload` (the same for one
workload's pods: `handlers/_workload.py`), `helmrelease` (its Ready condition). A command
in backticks in the criterion is never run: the default rules read the registry and image
name out of it and ask the registry API instead.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

from bot import api
from bot.api import (
    Cluster,
    Context,
    DefaultRule,
    Handler,
    Outcome,
    ParamError,
    Status,
    Step,
    beat,
    parse_bool,
    registry_client,
    reject_unknown,
    validate_url,
    validate_version,
)
from handlers._hrplace import release_namespace
from handlers._kube import (
    HELMRELEASE_JSONPATH,
    HELMRELEASE_RESOURCE,
    all_helmreleases_argv,
    check_all_helmreleases,
    check_context,
    check_helmrelease,
    check_pods,
    k8s_name,
    kubectl,
    pods_argv,
)
from handlers._project import ImageKeys
from handlers._registry import registry_diagnosis, same_registry, split_image
from handlers._workload import check_workload, selector_argv

KINDS = ("url", "tcp", "catalog", "image", "pods", "workload", "helmrelease")
_BODY_CAP = 1 << 20  # bytes of an answer that are read and checked
_BODY_TIMEOUTS = 3  # a url check takes at most this many `timeout`s in all
_HOST_PORT_RE = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.-]+)):(?P<port>\d{1,5})")


class VerifySettings(NamedTuple):
    kind: str
    target: str
    expect: int | None = None
    contains: str = ""
    insecure: bool = False
    namespace: str = ""
    version: str = ""
    names: tuple[str, ...] = ()
    timeout: float = 10.0


def _url_settings(kind: str, params: Mapping[str, str], ctx: Context, timeout: float
                  ) -> VerifySettings:
    expect = params.get("expect", "")
    if expect and not re.fullmatch(r"[1-5]\d\d", expect):
        raise ParamError(f"verify: expect {expect!r} is not an HTTP status")
    insecure = parse_bool(params.get("insecure", "false"), "insecure")
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
        names = tuple(sorted({i for p in ctx.config.projects.values()
                               for i in p.settings(ImageKeys).images}))
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
    workload = kind == "workload"
    found = release_namespace(ctx.config, target, pods=workload) if target != "all" else ""
    namespace = (params.get("namespace") or found
                 or (cluster.namespace if cluster else "default"))
    return VerifySettings(kind, k8s_name(target, kind),
                          namespace=k8s_name(namespace, "namespace"), timeout=timeout)


class VerifyHandler:
    name = "verify"
    project_settings = ImageKeys
    params = (*KINDS, "expect", "contains", "insecure", "namespace", "version", "registry",
              "timeout")
    rules = (
        DefaultRule(r"(?i)^verify (?:the )?images? (?:are )?in (?:the )?registry:?\s*"
                    r"`[^`]*?(?P<registry>https?://[^/\s`]+)/v2/(?P<image>[a-z0-9][a-z0-9._/-]*?)"
                    r"/tags/list[^`]*`\s*\.?$"),
        DefaultRule(r"(?i)^verify all images are in (?:the )?registry catalog:?\s*"
                    r"`[^`]*?(?P<registry>https?://[^/\s`]+)/v2/_catalog[^`]*`\s*\.?$",
                    {"catalog": "all"}),
        # no namespace in these either: the release's file in the GitOps repository says it
        DefaultRule(r"(?i)^`?(?P<helmrelease>[a-z0-9][a-z0-9.-]*)`? "
                    r"helm ?release (?:shows |is )?(?:ready\s*=\s*true|ready)\.?$"),
        DefaultRule(r"(?i)^helm ?release `?(?P<helmrelease>[a-z0-9][a-z0-9.-]*)`? (?:is |shows )?"
                    r"(?:ready\s*=\s*true|ready)\.?$"),
        DefaultRule(r"(?i)^(?:verify )?all (?:\d+ )?helm ?releases (?:reconcile|reconciled|"
                    r"are ready|ready|show ready\s*=\s*true)"
                    r"(?: successfully)?:?\s*(?:`[^`]*`)?\s*\.?$", {"helmrelease": "all"}),
        # no namespace here: the release's file in the GitOps repository says it
        DefaultRule(r"(?i)^`?(?P<helmrelease>[a-z0-9][a-z0-9.-]*)`? helm ?release "
                    r"(?:deploys|deployed|reconciles|reconciled) successfully\.?$"),
        DefaultRule(r"(?i)^no (?:crashloopbackoff|imagepullbackoff)"
                    r"(?:(?:,| or| and|/) ?(?:crashloopbackoff|imagepullbackoff))? errors? in "
                    r"(?:the )?`?(?P<pods>[a-z0-9][a-z0-9-]*)`? namespace\.?$"),
        # `ffl-backend` pods: that workload's; `ffl` pods: the namespace's
        DefaultRule(r"(?i)^`?(?P<workload>[a-z0-9]+-[a-z0-9.-]*[a-z0-9])`? pods (?:are )?running"
                    r"(?: and (?:healthy|ready))?\.?$"),
        DefaultRule(r"(?i)^`?(?P<pods>[a-z0-9]+)`? pods (?:are )?running"
                    r"(?: and (?:healthy|ready))?\.?$"),
        DefaultRule(r"(?i)^all pods (?:are )?running in (?:the )?namespace "
                    r"(?P<pods>[a-z0-9][a-z0-9-]*)\.?$"),
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
                "image": _image_settings, "pods": _cluster_settings, "workload": _cluster_settings,
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
        return _cluster_plan(s, cluster)

    def run(self, s: VerifySettings, ctx: Context) -> Outcome:
        # Its own waits are bounded by `timeout` (each step, and a body in all): said to the
        # daemon's stall guard, which would otherwise give up after limits.stall_timeout.
        beat(expect=_BODY_TIMEOUTS * s.timeout + 5)
        if s.kind == "url":
            return _url(s)
        if s.kind == "tcp":
            return _tcp(s)
        if s.kind in ("catalog", "image"):
            return _registry(s, ctx)
        return _cluster(s, ctx)


def _cluster_plan(s: VerifySettings, cluster: Cluster) -> Step:
    pre = "[cluster] configured and kubectl context matches"
    if s.kind == "pods":
        return Step(commands=(pods_argv(cluster, s.namespace),), preconditions=(pre,))
    if s.kind == "workload":
        return Step(commands=(selector_argv(cluster, s.target, s.namespace),
                              pods_argv(cluster, s.namespace, "<its selector>")),
                    preconditions=(pre, f"the pods of {s.target}: its Deployment's selector, "
                                        f"else app.kubernetes.io/name={s.target}"))
    if s.target == "all":
        return Step(commands=(all_helmreleases_argv(cluster),),
                    preconditions=(pre, "every HelmRelease in every namespace Ready"))
    return Step(commands=(kubectl(cluster, "get", HELMRELEASE_RESOURCE, s.target, "-n",
                                  s.namespace, "-o", f"jsonpath={HELMRELEASE_JSONPATH}"),),
                preconditions=(pre,))


def _cluster(s: VerifySettings, ctx: Context) -> Outcome:
    """pods, workload or helmrelease, only under the configured kubectl context."""
    record, why = check_context(ctx)
    commands = (record,) if record else ()
    if why:
        return Outcome(Status.BLOCKED, why, commands=commands)
    if s.kind == "pods":
        pods, problems, evidence, _ = check_pods(ctx, s.namespace)
        return Outcome(Status.FAILED if problems else Status.DONE, "; ".join(problems),
                       commands=(*commands, pods), evidence=tuple(evidence),
                       summary="" if problems else f"checked {evidence[-1]}: all Ready")
    if s.kind == "workload":
        records, problems, evidence = check_workload(ctx, s.target, s.namespace)
        return Outcome(Status.FAILED if problems else Status.DONE, "; ".join(problems),
                       commands=(*commands, *records), evidence=tuple(evidence),
                       summary="" if problems else f"checked {evidence[-1]}: all Ready")
    if s.target == "all":
        hrs, problems, evidence = check_all_helmreleases(ctx)
        return Outcome(Status.FAILED if problems else Status.DONE, "; ".join(problems),
                       commands=(*commands, hrs), evidence=tuple(evidence),
                       summary="" if problems else f"checked {evidence[-1]}")
    hr, ok, text = check_helmrelease(ctx, s.target, s.namespace)
    return Outcome(Status.DONE if ok else Status.FAILED, "" if ok else text,
                   commands=(*commands, hr), evidence=(text,), summary=f"checked {text}")


def _url(s: VerifySettings) -> Outcome:
    # deferred: ssl and urllib.request cost ~20 ms on every `plan`, needed only here
    import ssl  # noqa: PLC0415
    import urllib.error  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    context = ssl.create_default_context()
    if s.insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    request = urllib.request.Request(s.target, headers={"User-Agent": "taskbot"})  # noqa: S310
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=s.timeout, context=context) as reply:  # noqa: S310
            status, body = reply.status, _body(reply, started + _BODY_TIMEOUTS * s.timeout)
    except urllib.error.HTTPError as exc:
        body = _body(exc, started + _BODY_TIMEOUTS * s.timeout) if exc.fp is not None else b""
        status = exc.code
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
    return Outcome(Status.DONE, evidence=(evidence + found,), summary=f"GET {s.target} → {status}"
                   + found)


def _body(reply: Any, deadline: float) -> bytes:
    """At most 1 MiB of the answer, read by the deadline: a server that sends a byte now and
    then never trips the socket timeout. What came by then is what is checked."""
    chunks: list[bytes] = []
    size = 0
    while size < _BODY_CAP and time.monotonic() < deadline:
        chunk = reply.read1(min(1 << 16, _BODY_CAP - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _tcp(s: VerifySettings) -> Outcome:
    found = _HOST_PORT_RE.fullmatch(s.target)
    assert found is not None
    host = found["v6"] or found["host"]
    import socket  # noqa: PLC0415 -- here: loading the handlers for `plan` need not load it

    started = time.monotonic()
    try:
        with socket.create_connection((host, int(found["port"])), timeout=s.timeout) as sock:
            peer = sock.getpeername()
    except OSError as exc:
        return Outcome(Status.FAILED, f"TCP connect to {s.target} failed: {exc.strerror or exc}")
    took = time.monotonic() - started
    return Outcome(Status.DONE, evidence=(f"TCP connect to {s.target} ({peer[0]}) ok in "
                                          f"{took * 1000:.0f} ms",),
                   summary=f"TCP connect to {s.target} ok")


def _registry(s: VerifySettings, ctx: Context) -> Outcome:
    client = registry_client(ctx.config, timeout=s.timeout)
    try:
        return _catalog(s, client) if s.kind == "catalog" else _image(s, client)
    except api.RegistryError as exc:
        return Outcome(Status.BLOCKED, str(exc), diagnosis=(registry_diagnosis(client),))


def _catalog(s: VerifySettings, client: api.RegistryClient) -> Outcome:
    names = client.catalog()
    evidence = (f"GET {client.base}/v2/_catalog → {len(names)} repositories: "
                + ", ".join(names[:50]),)
    missing = [n for n in s.names if n not in names]
    if missing:
        return Outcome(Status.FAILED, f"not in the registry catalog: {', '.join(missing)}",
                       evidence=evidence)
    if not s.names:
        return Outcome(Status.FAILED, "no images are configured to look for", evidence=evidence)
    return Outcome(Status.DONE, evidence=evidence,
                   summary=f"registry catalog lists {', '.join(s.names)}")


def _image(s: VerifySettings, client: api.RegistryClient) -> Outcome:
    tags = client.tags(s.target)
    where = f"GET {client.base}/v2/{s.target}/tags/list"
    if tags is None:
        return Outcome(Status.FAILED, f"{s.target} is not in the registry ({where} → 404)",
                       evidence=(f"{where} → 404",))
    evidence: tuple[str, ...] = (f"{where} → 200 tags: {', '.join(tags) or '(none)'}",)
    if s.version and s.version not in tags:
        return Outcome(Status.FAILED, f"{s.target}: {s.version} not in tags [{', '.join(tags)}]",
                       evidence=evidence)
    if not tags:
        return Outcome(Status.FAILED, f"{s.target} has no tags", evidence=evidence)
    if s.version:
        evidence += (f"{s.target}:{s.version} {client.digest(s.target, s.version)}",)
        return Outcome(Status.DONE, evidence=evidence,
                       summary=f"registry has {s.target}:{s.version} (tags: {', '.join(tags)})")
    return Outcome(Status.DONE, evidence=evidence,
                   summary=f"registry has {s.target} (tags: {', '.join(tags)})")


HANDLER: Handler[VerifySettings] = VerifyHandler()
