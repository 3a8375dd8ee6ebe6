"""A small client for the registry HTTP API v2: ping, manifest digests, tags, catalog.

TLS is verified with the configured CA file (or the system store), or not at all with
`insecure`. Basic auth and Bearer token auth (the `WWW-Authenticate` challenge) are
answered with the configured username and password. Failures say which of three things
went wrong: the registry is unreachable, its TLS certificate is not trusted, or it
refused the credentials.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import time
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from typing import TYPE_CHECKING, Any

from bot import heartbeat
from bot.config import Registry
from bot.errors import TaskbotError

if TYPE_CHECKING:
    import ssl

__all__ = ["MANIFEST_TYPES", "Ping", "RegistryClient", "RegistryError", "normalize_registry"]

MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
_CHALLENGE_RE = re.compile(r'(\w+)="([^"]*)"')
_NAME_RE = re.compile(r"[a-z0-9]+(?:[._-]+[a-z0-9]+)*(?:/[a-z0-9]+(?:[._-]+[a-z0-9]+)*)*")
_TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")

UNREACHABLE = "unreachable"
TLS = "tls"
CREDENTIALS = "credentials"
HTTP = "http"
MAX_BODY = 32 << 20  # bytes of one answer: a tag list or a catalog is far smaller
BODY_TIME_FACTOR = 3  # an answer's body may take this many socket timeouts in all


class RegistryError(TaskbotError):
    """The registry could not answer: `kind` is unreachable, tls, credentials or http."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise RegistryError(HTTP, f"registry answered {self.status} with no JSON") from exc


@dataclass(frozen=True)
class Ping:
    ok: bool
    kind: str  # "" when ok
    message: str
    status: int | None = None


def normalize_registry(url: str) -> str:
    """`host:port` of a registry written as `host:port`, `https://host:port/` or similar."""
    parsed = urllib.parse.urlsplit(url if "://" in url else f"//{url}")
    return (parsed.netloc or parsed.path).rstrip("/").lower()


def check_name(name: str) -> str:
    if not _NAME_RE.fullmatch(name) or len(name) > 255:
        raise TaskbotError(f"{name!r} is not an image repository name (like ffl/backend)")
    return name


def check_tag(tag: str) -> str:
    if not _TAG_RE.fullmatch(tag):
        raise TaskbotError(f"{tag!r} is not a valid image tag")
    return tag


@dataclass
class RegistryClient:
    url: str
    ca_file: str = ""
    insecure: bool = False
    username: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 10.0
    _auth: dict[str, str] = field(default_factory=dict, repr=False)  # scope -> header

    @classmethod
    def from_config(cls, registry: Registry, timeout: float = 10.0) -> RegistryClient:
        return cls(registry.url, registry.ca_file, registry.insecure, registry.username,
                   registry.password(), timeout)

    @property
    def base(self) -> str:
        if "://" in self.url:
            parsed = urllib.parse.urlsplit(self.url)
            return f"{parsed.scheme}://{parsed.netloc}"
        return f"https://{self.url.rstrip('/')}"

    @property
    def host(self) -> str:
        return normalize_registry(self.url)

    def _context(self) -> ssl.SSLContext:
        import ssl  # noqa: PLC0415 -- ssl and urllib.request cost ~25 ms that `plan` never needs

        if self.insecure:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        try:
            return ssl.create_default_context(cafile=self.ca_file or None)
        except (OSError, ssl.SSLError) as exc:
            raise RegistryError(TLS, f"registry CA file {self.ca_file}: cannot load: {exc}") from exc

    def _send(self, method: str, url: str, headers: Mapping[str, str]) -> Response:
        import ssl  # noqa: PLC0415 -- as in _context
        import urllib.error  # noqa: PLC0415
        import urllib.request  # noqa: PLC0415

        request = urllib.request.Request(url, method=method, headers=dict(headers))  # noqa: S310
        heartbeat.beat((BODY_TIME_FACTOR + 2) * self.timeout)  # connect, headers, the body
        try:
            with urllib.request.urlopen(  # noqa: S310 (http/https only: base is built here)
                request, timeout=self.timeout, context=self._context()
            ) as reply:
                return Response(reply.status, _headers(reply.headers), self._body(reply))
        except urllib.error.HTTPError as exc:
            body = self._body(exc) if exc.fp is not None else b""
            return Response(exc.code, _headers(exc.headers), body)
        except urllib.error.URLError as exc:
            raise self._connection_error(exc.reason) from exc
        except (OSError, ssl.SSLError) as exc:
            raise self._connection_error(exc) from exc

    def _body(self, reply: Any) -> bytes:
        """The reply's body, bounded in size and in time: a registry that sends a byte now
        and then would never trip the socket timeout, and would hold the run for good."""
        deadline = time.monotonic() + BODY_TIME_FACTOR * self.timeout
        chunks: list[bytes] = []
        size = 0
        while chunk := reply.read1(1 << 16):
            size += len(chunk)
            if size > MAX_BODY:
                raise RegistryError(UNREACHABLE, f"registry {self.host}: an answer larger than "
                                    f"{MAX_BODY >> 20} MiB; not read")
            if time.monotonic() > deadline:
                raise RegistryError(UNREACHABLE, f"registry {self.host}: an answer still "
                                    f"coming after {BODY_TIME_FACTOR * self.timeout:g}s; "
                                    "given up")
            chunks.append(chunk)
        return b"".join(chunks)

    def _connection_error(self, reason: object) -> RegistryError:
        import ssl  # noqa: PLC0415 -- as in _context

        where = self.base
        if isinstance(reason, ssl.SSLCertVerificationError):
            detail = reason.verify_message or str(reason)
            fix = (f"the CA file {self.ca_file} does not sign it" if self.ca_file
                   else "set registry.ca_file to the registry's CA (or insecure = true)")
            return RegistryError(TLS, f"TLS certificate of {where} not trusted ({detail}): {fix}")
        if isinstance(reason, ssl.SSLError):
            if _plain_http_reply(reason) or self._speaks_plain_http():
                return RegistryError(TLS, f"TLS handshake with {where} failed: the registry "
                                     f"speaks plain HTTP: write http://{self.host} as "
                                     "registry.url (or give it a TLS certificate)")
            return RegistryError(TLS, f"TLS handshake with {where} failed: {reason}")
        if isinstance(reason, TimeoutError | socket.timeout):
            return RegistryError(UNREACHABLE, f"registry {where} unreachable: timed out "
                                 f"after {self.timeout:g}s")
        text = getattr(reason, "strerror", None) or str(reason)
        return RegistryError(UNREACHABLE, f"registry {where} unreachable: {text}")

    def _speaks_plain_http(self) -> bool:
        """Whether `host:port` answers plain HTTP (asked only after a TLS handshake failed)."""
        if self.base.startswith("http://"):
            return False
        try:
            with socket.create_connection(_split_host(self.host), timeout=min(self.timeout, 3)) as s:
                s.sendall(f"GET /v2/ HTTP/1.0\r\nHost: {self.host}\r\n\r\n".encode())
                return s.recv(5) == b"HTTP/"
        except (OSError, ValueError):
            return False

    def request(self, method: str, path: str, accept: tuple[str, ...] = (),
                scope: str = "") -> Response:
        """One API call, answering an auth challenge once; HTTP errors are returned, not raised."""
        url = self.base + path
        headers = {"User-Agent": "taskbot"}
        if accept:
            headers["Accept"] = ", ".join(accept)
        cached = self._auth.get(scope) or self._auth.get("basic")
        if cached:
            headers["Authorization"] = cached
        response = self._send(method, url, headers)
        if response.status != 401:
            return response
        challenge = response.headers.get("www-authenticate", "")
        header = self._answer(challenge, scope, sent=bool(cached))
        headers["Authorization"] = header
        response = self._send(method, url, headers)
        if response.status == 401:
            raise self._refused()
        return response

    def _refused(self, who: str = "") -> RegistryError:
        return RegistryError(CREDENTIALS, f"{who}registry {self.host}: credentials refused for "
                             f"user {self.username!r} (HTTP 401): check registry.password_file")

    def _answer(self, challenge: str, scope: str, sent: bool) -> str:
        scheme = challenge.split(" ", 1)[0].lower()
        if not self.username:
            raise RegistryError(CREDENTIALS, f"registry {self.host} requires credentials "
                                "(HTTP 401): set registry.username and registry.password_file")
        if scheme == "basic":
            if sent and "basic" in self._auth:
                raise self._refused()
            pair = f"{self.username}:{self.password}".encode()
            self._auth["basic"] = "Basic " + base64.b64encode(pair).decode("ascii")
            return self._auth["basic"]
        if scheme == "bearer":
            token = self._token(dict(_CHALLENGE_RE.findall(challenge)), scope)
            self._auth[scope] = f"Bearer {token}"
            return self._auth[scope]
        raise RegistryError(HTTP, f"registry {self.host} asks for unsupported auth {challenge!r}")

    def _token(self, params: dict[str, str], scope: str) -> str:
        realm = params.pop("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise RegistryError(HTTP, f"registry {self.host}: bad token realm {realm!r}")
        if scope and "scope" not in params:
            params["scope"] = scope
        url = realm + ("&" if "?" in realm else "?") + urllib.parse.urlencode(params)
        pair = f"{self.username}:{self.password}".encode()
        headers = {"User-Agent": "taskbot",
                   "Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        response = self._send("GET", url, headers)
        if response.status == 401:
            raise self._refused("token service of ")
        if response.status != 200:
            raise RegistryError(HTTP, f"token service of {self.host} answered {response.status}")
        doc = response.json()
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryError(HTTP, f"token service of {self.host} returned no token")
        return token

    # --- the API ------------------------------------------------------------------------

    def ping(self) -> Ping:
        """`GET /v2/`: reachable, TLS trusted and credentials accepted?"""
        try:
            response = self.request("GET", "/v2/")
        except RegistryError as exc:
            return Ping(False, exc.kind, str(exc))
        if response.status == 200:
            who = f" as {self.username!r}" if self.username else ""
            return Ping(True, "", f"registry {self.host} reachable, credentials accepted{who}",
                        200)
        return Ping(False, HTTP, f"registry {self.host}: GET /v2/ answered {response.status}",
                    response.status)

    def digest(self, name: str, tag: str) -> str | None:
        """`HEAD /v2/<name>/manifests/<tag>`: the manifest digest, None when there is none."""
        check_name(name)
        check_tag(tag)
        response = self.request("HEAD", f"/v2/{name}/manifests/{tag}", MANIFEST_TYPES,
                                scope=f"repository:{name}:pull")
        if response.status == 404:
            return None
        if response.status != 200:
            raise RegistryError(HTTP, f"HEAD /v2/{name}/manifests/{tag} answered {response.status}")
        digest = response.headers.get("docker-content-digest", "")
        return digest or "(no Docker-Content-Digest header)"

    def tags(self, name: str) -> tuple[str, ...] | None:
        """`GET /v2/<name>/tags/list`: the tags, None when the repository does not exist."""
        check_name(name)
        response = self.request("GET", f"/v2/{name}/tags/list", scope=f"repository:{name}:pull")
        if response.status == 404:
            return None
        if response.status != 200:
            raise RegistryError(HTTP, f"GET /v2/{name}/tags/list answered {response.status}")
        doc = response.json()
        tags = doc.get("tags") if isinstance(doc, dict) else None
        return tuple(str(t) for t in tags or ())

    def catalog(self) -> tuple[str, ...]:
        """`GET /v2/_catalog`: every repository name (following `Link` pages)."""
        names: list[str] = []
        path = "/v2/_catalog?n=1000"
        for _ in range(100):
            response = self.request("GET", path, scope="registry:catalog:*")
            if response.status != 200:
                raise RegistryError(HTTP, f"GET /v2/_catalog answered {response.status}")
            doc = response.json()
            names.extend(str(n) for n in (doc.get("repositories") or ()))
            link = response.headers.get("link", "")
            found = re.match(r"<([^>]+)>", link)
            if not found or not found.group(1).startswith("/v2/_catalog"):
                break
            path = found.group(1)
        return tuple(names)


def _headers(message: Message | Mapping[str, str] | None) -> dict[str, str]:
    if message is None:
        return {}
    return {k.lower(): v for k, v in message.items()}


def _plain_http_reply(error: ssl.SSLError) -> bool:
    """OpenSSL's words for "the server's first bytes are no TLS record" (an HTTP answer)."""
    text = f"{getattr(error, 'reason', '')} {error}".lower()
    return any(w in text for w in ("wrong_version_number", "wrong version number",
                                   "record layer failure", "http_request"))


def _split_host(host: str) -> tuple[str, int]:
    """`host:port` (or `[v6]:port`) → (host, port); 443 when no port is written."""
    name, sep, port = host.rpartition(":")
    if not sep or "]" in port:
        return host.strip("[]"), 443
    return name.strip("[]"), int(port)
