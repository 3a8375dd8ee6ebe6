"""The webhook receiver: a small HTTP listener that turns a forge's signed push into a spool line.

`POST /webhook` only (any other path: 404; any other method: 405). The order of checks
keeps an unsigned sender cheap: Content-Length (411/400/413) before the body is read,
GitLab's token before the body is read, the HMAC over the body, then the event
(`payloads.classify`), then the delivery id (a replay: 200, nothing queued). A valid
push is answered as soon as its wake-up line is in the spool (one fsync'd file).

Slow clients cannot starve it. All socket I/O runs on one asyncio loop in one thread, so
a stalled connection costs a file descriptor and a small buffer, never a thread; a few
worker threads decide (HMAC, JSON, the spool's fsync) only requests that arrived whole.
Each request must arrive whole (head and body) within `read_deadline` seconds of its
connection (else 408, closed), its head within 16 KiB (else 431) and its body within
`max_body` (else 413). Unfinished requests are bounded per peer address, in all, and in
body bytes (`bot.forge.admission`): over a bound, the oldest unfinished connection is
closed at once (503), so the newest — a forge's delivery, sent in milliseconds — is read.
Standard library only. The secret and the signature headers are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import hmac
import http.client
import io
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from bot.atomic import write_atomic
from bot.config import host_port
from bot.config import read_secret as config_secret
from bot.errors import ConfigError, TaskbotError
from bot.forge.admission import Admission, Limits
from bot.forge.payloads import Decision, Headers, classify, delivery_id, signature_ok, token_ok, wake_line

__all__ = ["HEAD_LIMIT", "KEEP_DELIVERIES", "MAX_BODY", "PATH", "DeliveryLog", "Settings",
           "WebhookError", "WebhookServer", "parse_listen", "read_secret", "sign", "start"]

PATH = "/webhook"
MAX_BODY = 1 << 20
HEAD_LIMIT = 16 << 10  # request line and headers; a forge sends about 2 KiB
KEEP_DELIVERIES = 1000
_QUIET_SECONDS = 60.0
_LINGER_BYTES = 4 << 20
_LINGER_SECONDS = 1.0
# The kernel's accept queue: when full, a connecting forge waits a SYN-ACK retry (1 s), and
# its read deadline only starts at accept. The loop accepts fast; only a burst must fit.
_BACKLOG = 1024

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



class _Request(NamedTuple):
    """A request's head: what is known before its body is read."""

    method: str
    path: str
    headers: Headers
    peer: str

    def body_announced(self) -> bool:
        return "Transfer-Encoding" in self.headers or self.headers.get("Content-Length", "0") != "0"


def _parse_head(head: bytes, peer: str) -> _Request | None:
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
    return _Request(words[0], path, Headers(list(message.items())), peer)


def _response(decision: Decision, *, head_only: bool = False) -> bytes:
    data = (decision.reason + "\n").encode()
    phrase = HTTPStatus(decision.status).phrase
    lines = [f"HTTP/1.0 {decision.status} {phrase}", "Server: taskbot-webhook",
             f"Date: {email.utils.formatdate(usegmt=True)}",
             "Content-Type: text/plain; charset=utf-8", f"Content-Length: {len(data)}",
             "Connection: close"]
    if decision.status == 405:
        lines.append("Allow: POST")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if head_only else data)


class _App:
    """The decisions, apart from HTTP plumbing: one per server."""

    def __init__(self, settings: Settings, enqueue: Enqueue, seen: DeliveryLog, log: Log) -> None:
        self.settings, self._enqueue, self._seen, self.log = settings, enqueue, seen, log
        self.rejected = _Quiet(log)
        self.slow = _Quiet(log)  # its own limiter: a stalling flood must not hide a bad signature
        self.failed = _Quiet(log)
        self._lock = threading.Lock()  # a replay racing its original must not queue twice

    def before_body(self, request: _Request) -> Decision | int:
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

    def decide(self, request: _Request, body: bytes) -> Decision:
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


class _Conn:
    """One accepted connection: what eviction needs to close it."""

    __slots__ = ("answered", "peer", "task", "writer")

    def __init__(self, writer: asyncio.StreamWriter, peer: str) -> None:
        self.writer, self.peer, self.answered = writer, peer, False
        self.task = asyncio.current_task()


_BUSY = _response(Decision(503, "too many unfinished requests: the oldest, this one, is closed"))


class _Listener:
    """The event loop's side: reading, answering and closing connections."""

    def __init__(self, app: _App, sock: socket.socket) -> None:
        s = app.settings
        self.app, self.sock = app, sock
        self._admission: Admission[_Conn] = Admission(
            Limits(s.max_pending, s.per_client, s.max_buffered), self._evict)
        self._pool = ThreadPoolExecutor(s.workers, thread_name_prefix="webhook-decide")
        self._conns: set[_Conn] = set()
        self._stop = asyncio.Event()
        self.loop = asyncio.new_event_loop()

    def run(self) -> None:
        try:
            self.loop.run_until_complete(self._main())
        finally:
            self.loop.close()
            self._pool.shutdown(wait=True, cancel_futures=True)

    def stop(self) -> None:
        """From any thread."""
        with contextlib.suppress(RuntimeError):  # the loop has ended already
            self.loop.call_soon_threadsafe(self._stop.set)

    async def _main(self) -> None:
        server = await asyncio.start_server(self._connection, sock=self.sock, limit=HEAD_LIMIT,
                                            backlog=_BACKLOG)
        await self._stop.wait()
        server.close()
        # Not cancelled: Python 3.11's streams report a cancelled handler as an error. A lost
        # connection ends each one (a decision under way finishes first).
        tasks = [c.task for c in self._conns if c.task is not None]
        for conn in list(self._conns):
            conn.writer.transport.abort()
        if tasks:
            await asyncio.wait(tasks, timeout=self.app.settings.deadline)
        await server.wait_closed()

    def _evict(self, conn: _Conn) -> None:
        """Closes `conn`; its handler then reads the end of the stream and returns."""
        self.app.slow(f"webhook: 503 the oldest unfinished request from {conn.peer} closed "
                      "to make room")
        if not conn.answered and not conn.writer.is_closing():
            conn.answered = True
            conn.writer.write(_BUSY)
        conn.writer.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        conn = _Conn(writer, str(peername[0]) if peername else "?")
        self._conns.add(conn)
        self._admission.admit(conn, conn.peer)
        try:
            async with asyncio.timeout(self.app.settings.deadline):
                await self._exchange(conn, reader)
        except (OSError, EOFError, TimeoutError):
            pass  # a client gone, or cut at the deadline, is no error
        except Exception as exc:
            self.app.failed(f"webhook: internal error: {type(exc).__name__}: {exc}")
        finally:
            self._admission.release(conn)
            self._conns.discard(conn)
            writer.close()

    async def _exchange(self, conn: _Conn, reader: asyncio.StreamReader) -> None:
        settings = self.app.settings
        try:
            async with asyncio.timeout(settings.read_deadline):
                got = await self._read(conn, reader)
        except TimeoutError:
            self.app.slow(f"webhook: 408 request not sent whole within {settings.read_deadline:g} s "
                          f"(from {conn.peer})")
            got = None, Decision(408, "the request was not sent in time")
        if got is None:
            return
        request, body = got
        if isinstance(body, Decision):
            linger = request is not None and request.body_announced()
            await self._answer(conn, reader, body, request, linger=linger)
            return
        assert request is not None
        self._admission.release(conn)  # read whole: no longer a slow client's to hold
        decision = await asyncio.get_running_loop().run_in_executor(
            self._pool, self.app.decide, request, body)
        await self._answer(conn, reader, decision, request, linger=False)

    async def _read(self, conn: _Conn, reader: asyncio.StreamReader
                    ) -> tuple[_Request | None, bytes | Decision] | None:
        """The request and its body, or the answer to give before (or instead of) reading the
        body; None: the client left without sending a request."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            return None, Decision(431, f"request head over {HEAD_LIMIT} bytes")
        except asyncio.IncompleteReadError:
            return None
        request = _parse_head(head, conn.peer)
        if request is None:
            return None, Decision(400, "bad request line or headers")
        length = self.app.before_body(request)
        if isinstance(length, Decision):
            return request, length
        self._admission.reserve(conn, length)
        try:
            return request, await reader.readexactly(length)
        except asyncio.IncompleteReadError:
            return request, Decision(400, "the body is shorter than its Content-Length")

    async def _answer(self, conn: _Conn, reader: asyncio.StreamReader, decision: Decision,
                      request: _Request | None, *, linger: bool) -> None:
        writer = conn.writer
        if conn.answered or writer.is_closing():
            return
        conn.answered = True
        writer.write(_response(decision, head_only=request is not None and request.method == "HEAD"))
        await writer.drain()
        if linger:
            await _linger(reader, writer)


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read and drop what the client still sends (bounded), so that closing with unread data
    does not reset the connection before the client has read the answer."""
    with contextlib.suppress(OSError, TimeoutError):
        writer.write_eof()
        async with asyncio.timeout(_LINGER_SECONDS):
            left = _LINGER_BYTES
            while left > 0:
                chunk = await reader.read(65536)
                if not chunk:
                    break
                left -= len(chunk)


class WebhookServer:
    """A running listener; `stop()` closes it and waits for its threads."""

    def __init__(self, listener: _Listener) -> None:
        self._listener = listener
        self._address = listener.sock.getsockname()[:2]
        self._thread = threading.Thread(target=listener.run, name="webhook", daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._address
        return str(host), int(port)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{f'[{host}]' if ':' in host else host}:{port}{self._listener.app.settings.path}"

    def stop(self) -> None:
        self._listener.stop()
        self._thread.join(10)


def start(settings: Settings, enqueue: Enqueue, seen: DeliveryLog, log: Log) -> WebhookServer:
    """Bind `settings.host:port` (port 0: any free one) and serve in a daemon thread."""
    if not settings.secret:
        raise WebhookError("webhook: no secret: refusing to listen")
    if not settings.branch_ref.startswith("refs/heads/"):
        raise WebhookError(f"webhook: not a branch ref: {settings.branch_ref!r}")
    if not 0 < settings.max_body <= settings.max_buffered:
        raise WebhookError("webhook: max_body must be positive and within max_buffered")
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    try:
        sock = socket.create_server((settings.host, settings.port), family=family, backlog=_BACKLOG)
    except OSError as exc:
        raise WebhookError(f"webhook: cannot listen on {settings.host}:{settings.port}: "
                           f"{exc.strerror or exc}") from exc
    return WebhookServer(_Listener(_App(settings, enqueue, seen, log), sock))


def sign(secret: bytes, body: bytes) -> str:
    """The hex HMAC-SHA256 a forge sends (GitHub prefixes it with `sha256=`): for tests and `doctor`."""
    return hmac.new(secret, body, "sha256").hexdigest()
