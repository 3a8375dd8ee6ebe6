"""bot.registry against a real docker-registry (TLS + htpasswd) and a token-auth stand-in."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bot.registry import CREDENTIALS, TLS, UNREACHABLE, RegistryClient, normalize_registry
from tests.kit.registry import RegistryServer, free_port, push_image

pytest_plugins = ["tests.kit.plugin"]


def client(reg: RegistryServer, **kw: object) -> RegistryClient:
    args: dict[str, object] = {"ca_file": str(reg.ca_file), "username": reg.username,
                               "password": reg.password}
    args.update(kw)
    return RegistryClient(reg.host, **args)  # type: ignore[arg-type]


@pytest.mark.integration
def test_ping_says_what_is_wrong(registry: RegistryServer) -> None:
    ok = client(registry).ping()
    assert ok.ok and ok.status == 200 and "credentials accepted" in ok.message

    wrong = client(registry, password="nope").ping()
    assert not wrong.ok and wrong.kind == CREDENTIALS
    assert "credentials refused" in wrong.message and repr(registry.username) in wrong.message
    assert "nope" not in wrong.message

    anonymous = client(registry, username="", password="").ping()
    assert anonymous.kind == CREDENTIALS and "requires credentials" in anonymous.message

    untrusted = client(registry, ca_file="").ping()
    assert untrusted.kind == TLS and "not trusted" in untrusted.message

    assert client(registry, ca_file="", insecure=True).ping().ok

    nobody = RegistryClient(f"127.0.0.1:{free_port()}", timeout=2).ping()
    assert nobody.kind == UNREACHABLE and "unreachable" in nobody.message


@pytest.mark.integration
def test_digest_tags_catalog(registry: RegistryServer, tmp_path: Path) -> None:
    push_image(registry, tmp_path, "reg-test/app", "1.0.0")
    c = client(registry)
    digest = c.digest("reg-test/app", "1.0.0")
    assert digest is not None and digest.startswith("sha256:") and len(digest) == 71
    assert c.digest("reg-test/app", "9.9.9") is None
    assert c.tags("reg-test/app") == ("1.0.0",)
    assert c.tags("reg-test/nothing") is None
    assert "reg-test/app" in c.catalog()
    with pytest.raises(Exception, match="credentials refused"):
        client(registry, password="nope").digest("reg-test/app", "1.0.0")


def test_normalize_registry() -> None:
    assert normalize_registry("https://192.168.7.21:5000/") == "192.168.7.21:5000"
    assert normalize_registry("192.168.7.21:5000") == "192.168.7.21:5000"
    assert normalize_registry("Registry.LAN") == "registry.lan"


class _TokenRegistry(BaseHTTPRequestHandler):
    """Bearer-token auth as Docker Hub and Harbor do it: 401 + challenge, then a token service."""

    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: dict[str, object], headers: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self) -> None:
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization", "")))
        if self.path.startswith("/token"):
            good = "Basic " + base64.b64encode(b"u:right").decode()
            if self.headers.get("Authorization") != good:
                self._send(401, {"errors": []}, {})
                return
            self._send(200, {"token": "T0KEN"}, {})
            return
        if self.headers.get("Authorization") != "Bearer T0KEN":
            realm = f"http://127.0.0.1:{self.server.server_port}/token"
            challenge = f'Bearer realm="{realm}",service="reg",scope="repository:a/b:pull"'
            self._send(401, {"errors": []}, {"WWW-Authenticate": challenge})
            return
        self._send(200, {"name": "a/b", "tags": ["1"]},
                   {"Docker-Content-Digest": "sha256:" + "a" * 64})

    do_HEAD = do_GET


class _Server(ThreadingHTTPServer):
    seen: list[tuple[str, str, str]]


@pytest.fixture
def token_registry() -> Iterator[_Server]:
    server = _Server(("127.0.0.1", 0), _TokenRegistry)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def test_bearer_token_auth(token_registry: _Server) -> None:
    host = f"http://127.0.0.1:{token_registry.server_port}"
    c = RegistryClient(host, username="u", password="right")
    assert c.digest("a/b", "1") == "sha256:" + "a" * 64
    assert c.tags("a/b") == ("1",)
    token_calls = [p for _, p, _ in token_registry.seen if p.startswith("/token")]
    assert len(token_calls) == 1  # the token is reused for the same scope
    assert "service=reg" in token_calls[0] and "scope=repository%3Aa%2Fb%3Apull" in token_calls[0]

    refused = RegistryClient(host, username="u", password="wrong")
    with pytest.raises(Exception, match=r"token service of registry .* credentials refused"):
        refused.digest("a/b", "1")
