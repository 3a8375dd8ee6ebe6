"""The registry URL: REGISTRY_URL is always host:port; the scheme only picks TLS; a TLS
handshake against a plain-HTTP registry (a real `docker-registry` without TLS) says so."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from collections.abc import Iterator

import pytest

from bot.api import Context
from bot.commands.sandbox import stop_server
from bot.config import Registry, default
from bot.redact import Redactor
from bot.registry import RegistryClient, normalize_registry
from handlers.build import HANDLER as BUILD
from handlers.build import BuildSettings
from tests.kit.registry import free_port, need

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def plain_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    need("docker-registry")
    root = tmp_path_factory.mktemp("plain-registry")
    port = free_port()
    (root / "config.yml").write_text(
        "version: 0.1\nlog: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {root}/data}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}, secret: test}}\n")
    proc = subprocess.Popen(["docker-registry", "serve", str(root / "config.yml")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    host = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            urllib.request.urlopen(f"http://{host}/v2/", timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("docker-registry (plain HTTP) did not start") from None
            time.sleep(0.05)
    try:
        yield host
    finally:
        stop_server(proc)


@pytest.mark.parametrize("written", ["127.0.0.1:5000", "http://127.0.0.1:5000",
                                     "https://127.0.0.1:5000/", "HTTP://127.0.0.1:5000"])
def test_registry_url_passed_to_builds_is_host_and_port(written: str) -> None:
    settings = BuildSettings("ffl", "/src", ("./build.sh",), "1.0.0", True, (), written, ())
    env = BUILD._env(settings)  # type: ignore[attr-defined]
    assert env["REGISTRY_URL"] == "127.0.0.1:5000"
    assert normalize_registry(written) == "127.0.0.1:5000"
    step = BUILD.plan(settings, Context(default(), "TASK-1", "run-1", Redactor()))
    assert "environment: REGISTRY_URL=127.0.0.1:5000 VERSION=1.0.0" in step.preconditions


def test_http_scheme_talks_plain_http(plain_registry: str) -> None:
    ping = RegistryClient(f"http://{plain_registry}", timeout=5).ping()
    assert ping.ok, ping.message


@pytest.mark.parametrize("scheme", ["", "https://"])
def test_tls_against_a_plain_http_registry_says_so(plain_registry: str, scheme: str) -> None:
    ping = RegistryClient(f"{scheme}{plain_registry}", timeout=5).ping()
    assert not ping.ok and ping.kind == "tls"
    assert f"the registry speaks plain HTTP: write http://{plain_registry}" in ping.message


def test_client_from_config_keeps_the_scheme(plain_registry: str) -> None:
    client = RegistryClient.from_config(Registry(url=f"http://{plain_registry}"))
    assert client.base == f"http://{plain_registry}" and client.host == plain_registry
