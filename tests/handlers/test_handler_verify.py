"""verify: url and tcp against real local servers, catalog and image against the real registry,
pods and helmrelease against the Kubernetes API stand-in."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.api import Context, Status
from handlers.verify import HANDLER as VERIFY
from tests.kit.context import actions, make_ctx, registry_section
from tests.kit.kube import KubeStandIn, helmrelease, pod
from tests.kit.registry import RegistryServer, free_port, push_image

pytest_plugins = ["tests.kit.plugin"]


class _Web(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        status, body = (200, b"status: ok\n") if self.path == "/healthz" else (404, b"nope")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def web() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Web)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


def _verify(ctx: Context, **params: str) -> tuple[Status, str, tuple[str, ...]]:
    outcome = VERIFY.run(VERIFY.settings(params, ctx), ctx)
    return outcome.status, outcome.reason, outcome.evidence


def test_url_against_a_real_server(tmp_path: Path, web: str) -> None:
    ctx = make_ctx({}, tmp_path)
    status, _, evidence = _verify(ctx, url=f"{web}/healthz", contains="status: ok")
    assert status is Status.DONE and evidence[0].startswith(f"GET {web}/healthz → 200 (11 bytes")
    assert _verify(ctx, url=f"{web}/healthz", contains="degraded")[1] == \
        f"GET {web}/healthz: body does not contain 'degraded'"
    assert _verify(ctx, url=f"{web}/missing")[1] == f"GET {web}/missing answered 404, expected 2xx/3xx"
    assert _verify(ctx, url=f"{web}/missing", expect="404")[0] is Status.DONE
    gone = f"http://127.0.0.1:{free_port()}/"
    status, reason, _ = _verify(ctx, url=gone)
    assert status is Status.FAILED and reason.startswith(f"GET {gone} failed:")


def test_tcp_against_a_real_listener(tmp_path: Path) -> None:
    ctx = make_ctx({}, tmp_path)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        status, _, evidence = _verify(ctx, tcp=f"127.0.0.1:{port}")
        assert status is Status.DONE and f"TCP connect to 127.0.0.1:{port}" in evidence[0]
    status, reason, _ = _verify(ctx, tcp=f"127.0.0.1:{port}")
    assert status is Status.FAILED and "refused" in reason.lower()


def test_parameters_are_checked_at_plan_time(tmp_path: Path) -> None:
    ctx = make_ctx({"registry": {"url": "192.168.7.21:5000"}}, tmp_path)
    for bad, why in [({"url": "ftp://x"}, "not an http(s) URL"),
                     ({"tcp": "host"}, "not host:port"),
                     ({"url": "http://x", "tcp": "x:1"}, "exactly one of"),
                     ({"pods": "Bad_NS"}, "not a Kubernetes name"),
                     ({"catalog": "all", "registry": "10.0.0.1:5000"}, "configured registry is"),
                     ({"url": "http://x", "bogus": "1"}, "unknown parameter 'bogus'")]:
        with pytest.raises(Exception, match=re.escape(why)):
            VERIFY.settings(bad, ctx)


@pytest.mark.integration
def test_catalog_and_image_from_the_default_rules(tmp_path: Path, registry: RegistryServer) -> None:
    push_image(registry, tmp_path, "vfy/api", "2.0.0")
    data = {"registry": registry_section(registry),
            "projects": {"vfy": {"path": str(tmp_path), "images": ["vfy/api"]}}}
    ctx = make_ctx(data, tmp_path)
    marker = tmp_path / "pwned"
    image, catalog, other = actions(
        ctx,
        f"Verify images in registry: `curl -k https://{registry.host}/v2/vfy/api/tags/list "
        f"&& touch {marker}`",
        f"Verify all images are in registry catalog: `curl -k https://{registry.host}/v2/_catalog`",
        "Verify all images are in registry catalog: `curl -k https://10.9.9.9:5000/v2/_catalog`",
    )
    assert (image.handler, dict(image.params)) == (
        "verify", {"registry": f"https://{registry.host}", "image": "vfy/api"})
    outcome = VERIFY.run(image.settings, ctx)
    assert outcome.status is Status.DONE and outcome.commands == ()  # the API, never curl
    assert "tags: 2.0.0" in outcome.evidence[0]
    assert not marker.exists()
    assert catalog.params["catalog"] == "all"
    outcome = VERIFY.run(catalog.settings, ctx)
    assert outcome.status is Status.DONE and "vfy/api" in outcome.evidence[0]
    assert other.error == ("verify: the criterion names registry 10.9.9.9:5000, but the "
                           f"configured registry is {registry.host}")
    missing = VERIFY.run(VERIFY.settings({"catalog": "vfy/api,vfy/web"}, ctx), ctx)
    assert (missing.status, missing.reason) == (Status.FAILED, "not in the registry catalog: vfy/web")
    no_tag = VERIFY.run(VERIFY.settings({"image": "vfy/api:9.9.9"}, ctx), ctx)
    assert (no_tag.status, no_tag.reason) == (Status.FAILED,
                                              "vfy/api: 9.9.9 not in tags [2.0.0]")


def _cluster_ctx(tmp_path: Path, kube: KubeStandIn, context: str = "minikube") -> Context:
    return make_ctx({"cluster": {"context": context, "kubeconfig": str(kube.kubeconfig),
                                 "namespace": "ffl"}}, tmp_path)


@pytest.mark.integration
def test_pods_ready_on_stand_in(tmp_path: Path, kube: KubeStandIn) -> None:
    ctx = _cluster_ctx(tmp_path, kube)
    # many Ready pods and one in ImagePullBackOff: the bad one is reported whatever the count
    kube.state.pods["ffl"] = [pod(f"web-{i}", "reg/ffl/web:1") for i in range(30)]
    kube.state.pods["ffl"].insert(3, pod("api-0", "reg/ffl/api:2", ready=False,
                                         waiting="ImagePullBackOff"))
    status, reason, evidence = _verify(ctx, pods="ffl")
    assert status is Status.FAILED and reason == "pod api-0: ImagePullBackOff"
    assert evidence[-1] == "31 pods in ffl (12 Ready pods not listed)"
    kube.state.pods["ffl"] = [pod("web-0", "reg/ffl/web:1"), pod("job-0", "x:1", ready=False,
                                                                 phase="Succeeded")]
    status, _, evidence = _verify(ctx, pods="ffl")
    assert status is Status.DONE and evidence[0] == "pod web-0: Running, Ready, reg/ffl/web:1"
    kube.state.pods["ffl"] = [pod("api-0", "reg/ffl/api:2", ready=False, waiting="CrashLoopBackOff")]
    assert _verify(ctx, pods="ffl")[1] == "pod api-0: CrashLoopBackOff"
    assert _verify(ctx, pods="empty")[1] == "no pods in namespace empty"
    assert any("/api/v1/namespaces/ffl/pods" in r for r in kube.state.requests)


@pytest.mark.integration
def test_helmrelease_ready_on_stand_in(tmp_path: Path, kube: KubeStandIn) -> None:
    ctx = _cluster_ctx(tmp_path, kube)
    kube.state.helmreleases[("ffl", "ffl")] = helmrelease("ffl", "ffl")
    status, _, evidence = _verify(ctx, helmrelease="ffl")
    assert status is Status.DONE
    assert evidence == ("HelmRelease ffl/ffl: Ready=True UpgradeSucceeded: Helm upgrade succeeded",)
    kube.state.helmreleases[("ffl", "ffl")] = helmrelease("ffl", "ffl", ready=False,
                                                          message="image pull failed")
    status, reason, _ = _verify(ctx, helmrelease="ffl")
    assert status is Status.FAILED and "Ready=False UpgradeFailed: image pull failed" in reason
    kube.state.helmreleases[("ffl", "ffl")] = helmrelease("ffl", "ffl", generation=2, observed=1)
    assert "generation 2 not yet observed" in _verify(ctx, helmrelease="ffl")[1]
    status, reason, _ = _verify(ctx, helmrelease="nope")
    assert status is Status.FAILED and "(NotFound)" in reason and "\"nope\" not found" in reason


@pytest.mark.integration
def test_wrong_context_blocks_kubectl_on_stand_in(tmp_path: Path, kube: KubeStandIn) -> None:
    ctx = _cluster_ctx(tmp_path, kube, context="production")
    outcome = VERIFY.run(VERIFY.settings({"pods": "ffl"}, ctx), ctx)
    assert outcome.status is Status.BLOCKED
    assert outcome.reason == ("kubectl's current context is 'minikube', but [cluster] context is "
                              "'production'")
    assert not any("pods" in r for r in kube.state.requests)
    no_cluster = make_ctx({}, tmp_path)
    outcome = VERIFY.run(VERIFY.settings({"pods": "ffl"}, no_cluster), no_cluster)
    assert outcome.status is Status.BLOCKED and "no [cluster] configured" in outcome.reason
