"""The webhook receiver: a small HTTP listener that turns a forge's signed push into a spool line.

`POST /webhook` only (any other path: 404; any other method: 405). The order of checks
keeps an unsigned sender cheap: Content-Length (411/400/413) before the body is read,
GitLab's token before the body is read, the HMAC over the body, then the event
(`payloads.classify`), then the delivery id (a replay: 200, nothing queued). A valid
push is answered as soon as its wake-up line is in the spool (one fsync'd file).

Standard library only: `ThreadingHTTPServer` in a daemon thread, at most `max_clients`
connections at once (more: 503 at once), and a reaper that cuts any connection older
than `deadline` seconds, so a slow client cannot hold a thread. The secret and the
signature headers are never logged.
"""

from __future__ import annotations

import contextlib
import hmac
import socket
import socketserver
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

from bot.atomic import write_atomic
from bot.config import host_port
from bot.config import read_secret as config_secret
from bot.errors import ConfigError, TaskbotError
from bot.forge.payloads import Decision, Headers, classify, delivery_id, signature_ok, token_ok, wake_line

__all__ = ["KEEP_DELIVERIES", "MAX_BODY", "PATH", "DeliveryLog", "Settings", "WebhookError",
           "WebhookServer", "parse_listen", "read_secret", "sign", "start"]

PATH = "/webhook"
MAX_BODY = 1 << 20
KEEP_DELIVERIES = 1000
_QUIET_SECONDS = 60.0
_LINGER_BYTES = 4 << 20

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
    timeout: float = 5.0  # one socket read or write
    deadline: float = 10.0  # a whole connection; forges give up after about 10 s anyway
    max_clients: int = 32


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


class _Quiet:
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


class _Reaper:
    """Cuts connections older than `deadline`: per-read timeouts alone let a client that
    sends one byte at a time hold a thread for ever."""

    def __init__(self, deadline: float) -> None:
        self._deadline = deadline
        self._socks: dict[socket.socket, float] = {}
        self._cond = threading.Condition()
        self._stopped = False

    def add(self, sock: socket.socket) -> None:
        with self._cond:
            self._socks[sock] = time.monotonic() + self._deadline
            self._cond.notify()

    def remove(self, sock: socket.socket) -> None:
        with self._cond:
            self._socks.pop(sock, None)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def run(self) -> None:
        with self._cond:
            while not self._stopped:
                now = time.monotonic()
                for sock in [s for s, end in self._socks.items() if end <= now]:
                    del self._socks[sock]
                    with contextlib.suppress(OSError):
                        sock.shutdown(socket.SHUT_RDWR)
                # Idle: sleep until a connection arrives (no polling while nothing happens).
                self._cond.wait(min(self._socks.values()) - now if self._socks else None)


class _App:
    """The decisions, apart from HTTP plumbing: one per server."""

    def __init__(self, settings: Settings, enqueue: Enqueue, seen: DeliveryLog, log: Log) -> None:
        self.settings, self._enqueue, self._seen, self.log = settings, enqueue, seen, log
        self.rejected = _Quiet(log)
        self.failed = _Quiet(log)
        self._lock = threading.Lock()  # a replay racing its original must not queue twice

    def queue(self, decision: Decision, delivery: str | None, peer: str) -> Decision:
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


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, app: _App) -> None:
        self.app = app
        self.reaper = _Reaper(app.settings.deadline)
        self._slots = threading.BoundedSemaphore(app.settings.max_clients)
        super().__init__((app.settings.host, app.settings.port), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks DNS for the host's name (getfqdn): never needed here.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def handle_error(self, request: object, client_address: object) -> None:
        """A client gone or cut at the deadline is no error; anything else is logged (rate-limited),
        never as a traceback on stderr."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            self.app.failed(f"webhook: internal error: {type(exc).__name__}: {exc}")

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        if not self._slots.acquire(blocking=False):
            with contextlib.suppress(OSError):
                request.settimeout(0.5)
                request.sendall(b"HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n"
                                b"Connection: close\r\n\r\n")
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        self.reaper.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.reaper.remove(request)
            self._slots.release()


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server_version = "taskbot-webhook"
    sys_version = ""

    def setup(self) -> None:
        self.request.settimeout(self._app.settings.timeout)
        self._body_read = False
        super().setup()

    @property
    def _app(self) -> _App:
        return cast(_Server, self.server).app

    def log_message(self, format: str, *args: object) -> None:
        """Silent: http.server would print every request line to stderr."""

    def _reply(self, decision: Decision) -> None:
        data = (decision.reason + "\n").encode()
        self.send_response(decision.status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        if decision.status == 405:
            self.send_header("Allow", "POST")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        self.wfile.flush()
        if not self._body_read and self._body_announced():
            self._linger()

    def _body_announced(self) -> bool:
        return "Transfer-Encoding" in self.headers or self.headers.get("Content-Length", "0") != "0"

    def _linger(self) -> None:
        """Read and drop what the client still sends (bounded), so that closing with unread
        data does not reset the connection before the client has read the answer."""
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(1.0)
            end, left = time.monotonic() + 1.0, _LINGER_BYTES
            while left > 0 and time.monotonic() < end:
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                left -= len(chunk)

    def _not_post(self) -> None:
        if urlsplit(self.path).path != self._app.settings.path:
            self._reply(Decision(404, "not found"))
        else:
            self._reply(Decision(405, "only POST"))

    do_GET = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_post

    def do_POST(self) -> None:
        self._reply(self._answer())

    def _length(self) -> int | Decision:
        if "Transfer-Encoding" in self.headers:
            return Decision(411, "a Content-Length is required (no chunked bodies)")
        value = self.headers.get("Content-Length")
        if value is None:
            return Decision(411, "a Content-Length is required")
        if not value.strip().isdigit():
            return Decision(400, "bad Content-Length")
        length = int(value)
        if length > self._app.settings.max_body:
            return Decision(413, f"body over {self._app.settings.max_body} bytes")
        return length

    def _answer(self) -> Decision:
        app, settings = self._app, self._app.settings
        if urlsplit(self.path).path != settings.path:
            return Decision(404, "not found")
        length = self._length()
        if isinstance(length, Decision):
            return length
        headers = Headers(list(self.headers.items()))
        peer = str(self.client_address[0])
        if token_ok(headers, settings.secret) is False:
            app.rejected(f"webhook: 401 wrong GitLab token from {peer}")
            return Decision(401, "bad signature")
        body = self.rfile.read(length)
        self._body_read = len(body) == length
        if not self._body_read:
            return Decision(400, "the body is shorter than its Content-Length")
        if not signature_ok(headers, body, settings.secret):
            app.rejected(f"webhook: 401 missing or bad signature from {peer}")
            return Decision(401, "bad signature")
        return self._decide(headers, body, peer)

    def _decide(self, headers: Headers, body: bytes, peer: str) -> Decision:
        decision = classify(headers, body, self._app.settings.branch_ref)
        if not decision.after:
            if decision.status >= 400:
                self._app.log(f"webhook: {decision.status} {decision.reason} (from {peer})")
            return decision
        delivery = delivery_id(headers)
        if delivery == "":
            return Decision(400, "bad delivery id")
        return self._app.queue(decision, delivery, peer)


class WebhookServer:
    """A running listener; `stop()` closes it and waits for its threads."""

    def __init__(self, server: _Server) -> None:
        self._server = server
        # No periodic wake-up while idle: stop() wakes the loop with a connection.
        self._threads = [threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 3600},
                                          name="webhook", daemon=True),
                         threading.Thread(target=server.reaper.run, name="webhook-reaper",
                                          daemon=True)]
        for thread in self._threads:
            thread.start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}{self._server.app.settings.path}"

    def stop(self) -> None:
        stopper = threading.Thread(target=self._server.shutdown, daemon=True)
        stopper.start()
        while stopper.is_alive():
            with contextlib.suppress(OSError):
                socket.create_connection(self.address, timeout=1).close()
            stopper.join(0.1)
        self._server.reaper.stop()
        self._server.server_close()
        for thread in self._threads:
            thread.join(5)


def start(settings: Settings, enqueue: Enqueue, seen: DeliveryLog, log: Log) -> WebhookServer:
    """Bind `settings.host:port` (port 0: any free one) and serve in daemon threads."""
    if not settings.secret:
        raise WebhookError("webhook: no secret: refusing to listen")
    if not settings.branch_ref.startswith("refs/heads/"):
        raise WebhookError(f"webhook: not a branch ref: {settings.branch_ref!r}")
    app = _App(settings, enqueue, seen, log)
    cls = _Server6 if ":" in settings.host else _Server
    try:
        server = cls(app)
    except OSError as exc:
        raise WebhookError(f"webhook: cannot listen on {settings.host}:{settings.port}: "
                           f"{exc.strerror or exc}") from exc
    return WebhookServer(server)


def sign(secret: bytes, body: bytes) -> str:
    """The hex HMAC-SHA256 a forge sends (GitHub prefixes it with `sha256=`): for tests and `doctor`."""
    return hmac.new(secret, body, "sha256").hexdigest()
