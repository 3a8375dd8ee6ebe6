"""The webhook receiver: a small HTTP listener that turns a forge's signed push into a spool line.

`POST /webhook` only (any other path: 404; any other method: 405); what each request
gets is decided in `bot.forge.hookapp`. A valid push is answered as soon as its wake-up
line is in the spool (one fsync'd file).

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
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from bot.forge.admission import Admission, Limits
from bot.forge.hookapp import (
    HEAD_LIMIT,
    KEEP_DELIVERIES,
    MAX_BODY,
    PATH,
    App,
    DeliveryLog,
    Enqueue,
    Log,
    Request,
    Settings,
    WebhookError,
    parse_head,
    parse_listen,
    read_secret,
    response,
    sign,
)
from bot.forge.payloads import Decision

__all__ = ["HEAD_LIMIT", "KEEP_DELIVERIES", "MAX_BODY", "PATH", "DeliveryLog", "Settings",
           "WebhookError", "WebhookServer", "parse_listen", "read_secret", "sign", "start"]

_LINGER_BYTES = 4 << 20
_LINGER_SECONDS = 1.0
# The kernel's accept queue: when full, a connecting forge waits a SYN-ACK retry (1 s), and
# its read deadline only starts at accept. The loop accepts fast; only a burst must fit.
_BACKLOG = 1024


class _Conn:
    """One accepted connection: what eviction needs to close it."""

    __slots__ = ("answered", "peer", "task", "writer")

    def __init__(self, writer: asyncio.StreamWriter, peer: str) -> None:
        self.writer, self.peer, self.answered = writer, peer, False
        self.task = asyncio.current_task()


_BUSY = response(Decision(503, "too many unfinished requests: the oldest, this one, is closed"))


class _Listener:
    """The event loop's side: reading, answering and closing connections."""

    def __init__(self, app: App, sock: socket.socket) -> None:
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
                    ) -> tuple[Request | None, bytes | Decision] | None:
        """The request and its body, or the answer to give before (or instead of) reading the
        body; None: the client left without sending a request."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            return None, Decision(431, f"request head over {HEAD_LIMIT} bytes")
        except asyncio.IncompleteReadError:
            return None
        request = parse_head(head, conn.peer)
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
                      request: Request | None, *, linger: bool) -> None:
        writer = conn.writer
        if conn.answered or writer.is_closing():
            return
        conn.answered = True
        writer.write(response(decision, head_only=request is not None and request.method == "HEAD"))
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
    return WebhookServer(_Listener(App(settings, enqueue, seen, log), sock))
