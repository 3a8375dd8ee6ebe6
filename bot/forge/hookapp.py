"""A webhook request, decided: its head read, its length and signature checked, its push
queued once (`DeliveryLog` refuses a replay), and the answer's bytes.

No sockets here: `bot.forge.webhook` reads the requests and calls `App` from its worker
threads. The order of checks keeps an unsigned sender cheap: Content-Length (411/400/413)
before the body is read, GitLab's token before the body is read, the HMAC over the body,
then the event (`payloads.classify`), then the delivery id (a replay: 200, nothing
queued). The secret and the signature headers are never logged.
"""

from __future__ import annotations

import contextlib
import email.utils
import hmac
import http.client
import io
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from bot.atomic import write_atomic
from bot.config import host_port
from bot.config import read_secret as config_secret
from bot.errors import ConfigError, TaskbotError
from bot.forge.payloads import Decision, Headers, classify, delivery_id, signature_ok, token_ok, wake_line

__all__ = ["HEAD_LIMIT", "KEEP_DELIVERIES", "MAX_BODY", "PATH", "App", "DeliveryLog", "Enqueue",
           "Log", "Quiet", "Request", "Settings", "WebhookError", "parse_head", "parse_listen",
           "read_secret", "response", "sign"]

PATH = "/webhook"
MAX_BODY = 1 << 20
HEAD_LIMIT = 16 << 10  # request line and headers; a forge sends about 2 KiB
KEEP_DELIVERIES = 1000
_QUIET_SECONDS = 60.0

Log = Callable[[str], None]
Enqueue = Callable[[list[str]], None]


class WebhookError(TaskbotError):
    """The listener cannot start (bad address, port taken, no secret)."""


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    secret: bytes
    branch_ref: str  # refs/heads/<branch>
    path: str = PATH
    max_body: int = MAX_BODY
    # A forge sends its whole request at once; forges give up after about 10 s anyway.
    read_deadline: float = 5.0  # the whole request, head and body, from the connection's start
    deadline: float = 10.0  # a whole connection, the answer included
    max_pending: int = 512  # unfinished requests held at once (a file descriptor each)
    per_client: int = 64  # of those, from one peer address
    max_buffered: int = 16 << 20  # announced body bytes being read at once
    workers: int = 4  # requests decided at once (HMAC, JSON, the spool's fsync)


def parse_listen(text: str) -> tuple[str, int]:
    """`127.0.0.1:8075` or `[::1]:8075` → (host, port), as the configuration reads it."""
    found = host_port(text)
    if found is None:
        raise WebhookError(f"webhook.listen: not HOST:PORT: {text!r}")
    return found


def read_secret(path: Path | str) -> bytes:
    """The shared secret from its file (the one `*_file` reader), surrounding whitespace
    removed; never echoed."""
    try:
        secret = config_secret(str(path), "webhook.secret_file").strip().encode()
    except ConfigError as exc:
        raise WebhookError(str(exc)) from exc
    if len(secret) < 16:
        raise WebhookError(f"webhook.secret_file {path}: the secret must be at least 16 bytes")
    return secret


class DeliveryLog:
    """The last `keep` delivery ids, one a line in `path`, so a replay is refused after a restart."""

    def __init__(self, path: Path | str, keep: int = KEEP_DELIVERIES) -> None:
        self.path = Path(path)
        self._ids: deque[str] = deque(maxlen=keep)
        with contextlib.suppress(FileNotFoundError):
            for line in self.path.read_text(errors="replace").splitlines()[-keep:]:
                if delivery_id(Headers({"X-GitHub-Delivery": line})):
                    self._ids.append(line.strip())
        self._set = set(self._ids)

    def __contains__(self, delivery: object) -> bool:
        return delivery in self._set

    def add(self, delivery: str) -> None:
        if delivery in self._set:
            return
        if len(self._ids) == self._ids.maxlen:
            self._set.discard(self._ids[0])
        self._ids.append(delivery)
        self._set.add(delivery)
        write_atomic(self.path, "".join(f"{d}\n" for d in self._ids).encode(), 0o600)


class Quiet:
    """At most one log line per `interval` for a repeated event (a flood of bad signatures)."""

    def __init__(self, log: Log, interval: float = _QUIET_SECONDS) -> None:
        self._log, self._interval = log, interval
        self._next, self._skipped = 0.0, 0
        self._lock = threading.Lock()

    def __call__(self, message: str) -> None:
        with self._lock:
            now = time.monotonic()
            if now < self._next:
                self._skipped += 1
                return
            skipped, self._skipped, self._next = self._skipped, 0, now + self._interval
        self._log(message + (f" ({skipped} more like it not logged)" if skipped else ""))


class Request(NamedTuple):
    """A request's head: what is known before its body is read."""

    method: str
    path: str
    headers: Headers
    peer: str

    def body_announced(self) -> bool:
        return "Transfer-Encoding" in self.headers or self.headers.get("Content-Length", "0") != "0"


def parse_head(head: bytes, peer: str) -> Request | None:
    """The request line and headers up to the blank line (http.server's rules); None: malformed."""
    line, _, rest = head.partition(b"\r\n")
    words = line.decode("latin-1").split()
    if len(words) != 3 or words[2] not in ("HTTP/1.0", "HTTP/1.1"):
        return None
    try:
        message = http.client.parse_headers(io.BytesIO(rest))
        path = urlsplit(words[1]).path
    except (http.client.HTTPException, ValueError):  # ValueError: a target like `http://[x`
        return None
    return Request(words[0], path, Headers(list(message.items())), peer)


def response(decision: Decision, *, head_only: bool = False) -> bytes:
    data = (decision.reason + "\n").encode()
    phrase = HTTPStatus(decision.status).phrase
    lines = [f"HTTP/1.0 {decision.status} {phrase}", "Server: taskbot-webhook",
             f"Date: {email.utils.formatdate(usegmt=True)}",
             "Content-Type: text/plain; charset=utf-8", f"Content-Length: {len(data)}",
             "Connection: close"]
    if decision.status == 405:
        lines.append("Allow: POST")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if head_only else data)


class App:
    """The decisions, apart from HTTP plumbing: one per server."""

    def __init__(self, settings: Settings, enqueue: Enqueue, seen: DeliveryLog, log: Log) -> None:
        self.settings, self._enqueue, self._seen, self.log = settings, enqueue, seen, log
        self.rejected = Quiet(log)
        self.slow = Quiet(log)  # its own limiter: a stalling flood must not hide a bad signature
        self.failed = Quiet(log)
        self._lock = threading.Lock()  # a replay racing its original must not queue twice

    def before_body(self, request: Request) -> Decision | int:
        """The answer that needs no body, or the body's length to read."""
        if request.path != self.settings.path:
            return Decision(404, "not found")
        if request.method != "POST":
            return Decision(405, "only POST")
        length = self._length(request.headers)
        if not isinstance(length, Decision) and token_ok(request.headers, self.settings.secret) is False:
            self.rejected(f"webhook: 401 wrong GitLab token from {request.peer}")
            return Decision(401, "bad signature")
        return length

    def _length(self, headers: Headers) -> int | Decision:
        if "Transfer-Encoding" in headers:
            return Decision(411, "a Content-Length is required (no chunked bodies)")
        value = headers.get("Content-Length")
        if value is None:
            return Decision(411, "a Content-Length is required")
        if not value.strip().isdigit():
            return Decision(400, "bad Content-Length")
        length = int(value)
        if length > self.settings.max_body:
            return Decision(413, f"body over {self.settings.max_body} bytes")
        return length

    def decide(self, request: Request, body: bytes) -> Decision:
        """A whole request's answer; a valid push is in the spool when this returns (blocks)."""
        headers, peer = request.headers, request.peer
        if not signature_ok(headers, body, self.settings.secret):
            self.rejected(f"webhook: 401 missing or bad signature from {peer}")
            return Decision(401, "bad signature")
        decision = classify(headers, body, self.settings.branch_ref)
        if not decision.after:
            if decision.status >= 400:
                self.log(f"webhook: {decision.status} {decision.reason} (from {peer})")
            return decision
        delivery = delivery_id(headers)
        if delivery == "":
            return Decision(400, "bad delivery id")
        return self._queue(decision, delivery, peer)

    def _queue(self, decision: Decision, delivery: str | None, peer: str) -> Decision:
        ref = self.settings.branch_ref
        with self._lock:
            if delivery and delivery in self._seen:
                return Decision(200, "duplicate delivery: nothing queued")
            try:
                self._enqueue([wake_line(decision.after, ref)])
            except Exception as exc:  # the daemon must keep listening; polling is the backstop
                self.log(f"webhook: cannot queue a push to {ref}: {exc}")
                return Decision(503, "cannot queue the push now")
            if delivery:
                try:
                    self._seen.add(delivery)
                except OSError as exc:
                    self.log(f"webhook: cannot record delivery {delivery}: {exc.strerror or exc}")
        self.log(f"webhook: push to {ref} at {decision.after[:12]} queued "
                 f"(delivery {delivery or 'none'}, from {peer})")
        return decision


def sign(secret: bytes, body: bytes) -> str:
    """The hex HMAC-SHA256 a forge sends (GitHub prefixes it with `sha256=`): for tests and `doctor`."""
    return hmac.new(secret, body, "sha256").hexdigest()
