"""Real notification receivers for tests: an HTTP server apprise's `json://` posts to, and an
aiosmtpd SMTP server for `mailto://`. Tests wait on what arrives; nothing sleeps."""

from __future__ import annotations

import email
import email.policy
import http.server
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller

from bot.commands.demo_registry import free_port

WAIT = 10.0  # seconds: an upper bound for something that should happen at once


@dataclass(frozen=True)
class Post:
    path: str
    headers: dict[str, str]
    doc: dict[str, Any]
    status: int  # what the receiver answered

    @property
    def title(self) -> str:
        return str(self.doc.get("title", ""))

    @property
    def message(self) -> str:
        return str(self.doc.get("message", ""))


class HttpReceiver:
    """Records every POST. `fail_first=n` answers 500 to the first n; `on_post` sees each one.

    Not started until `start()` (or `with`), so a test can have a port nobody listens on yet.
    """

    def __init__(self, fail_first: int = 0, on_post: Callable[[Post], None] | None = None,
                 port: int | None = None) -> None:
        self.port = port or free_port()
        self.fail_first = fail_first
        self.on_post = on_post
        self.posts: list[Post] = []
        self._cond = threading.Condition()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "hook", scheme: str = "json", userinfo: str = "") -> str:
        at = f"{userinfo}@" if userinfo else ""
        return f"{scheme}://{at}127.0.0.1:{self.port}/{path}"

    @property
    def accepted(self) -> list[Post]:
        with self._cond:
            return [p for p in self.posts if p.status == 200]

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                doc = json.loads(self.rfile.read(length) or b"{}")
                with receiver._cond:
                    status = 500 if len(receiver.posts) < receiver.fail_first else 200
                    post = Post(self.path, dict(self.headers), doc, status)
                    receiver.posts.append(post)
                if receiver.on_post is not None:
                    receiver.on_post(post)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
                with receiver._cond:
                    receiver._cond.notify_all()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> HttpReceiver:
        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,),
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wait_for(self, count: int, accepted: bool = True) -> list[Post]:
        """Block until `count` (accepted) posts arrived; fail the test after WAIT seconds."""
        def ready() -> bool:
            seen = [p for p in self.posts if p.status == 200 or not accepted]
            return len(seen) >= count
        with self._cond:
            if not self._cond.wait_for(ready, WAIT):
                raise AssertionError(f"expected {count} posts, got {len(self.posts)}")
            return [p for p in self.posts if p.status == 200 or not accepted]

    def __enter__(self) -> HttpReceiver:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.cond = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.cond:
            self.messages.append(parsed)
            self.cond.notify_all()
        return "250 OK"


class SmtpReceiver:
    """A real SMTP server (aiosmtpd) on a free port."""

    def __init__(self) -> None:
        self.port = free_port()
        self._box = _Mailbox()
        self._controller = Controller(self._box, hostname="127.0.0.1", port=self.port)

    def url(self, to: str = "ops@example.com") -> str:
        return f"mailto://127.0.0.1:{self.port}?from=bot@example.com&to={to}"

    @property
    def messages(self) -> list[EmailMessage]:
        with self._box.cond:
            return list(self._box.messages)

    def wait_for(self, count: int) -> list[EmailMessage]:
        with self._box.cond:
            if not self._box.cond.wait_for(lambda: len(self._box.messages) >= count, WAIT):
                raise AssertionError(f"expected {count} mails, got {len(self._box.messages)}")
            return list(self._box.messages)

    def __enter__(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._controller.stop()


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())
