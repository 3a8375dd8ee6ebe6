"""Is a notification target there? A TCP connect to its server, or (`--send-test`) a real
test message; each answer is one line for `taskbot doctor`.

A connect sends nothing, so a plain `doctor` can run as often as anyone likes: it finds a
server that is down or a host that does not resolve, not a wrong token (only a message does).
"""

from __future__ import annotations

import errno
import socket
from typing import Any
from urllib.parse import urlsplit

from bot.notify import targets as notify

CONNECT_TIMEOUT = 3.0  # seconds: a target on the LAN or the internet answers well within it
_CLOUD_URL_ATTRS = ("notify_url", "webhook_url", "api_url")


def endpoint(service: Any) -> tuple[str, int] | None:
    """host and port taskbot's messages go to; None when apprise does not say.

    Services a person runs themselves (json://, ntfy://, mailto://…) have an insecure
    `protocol` and the URL's host is the server's; cloud services (slack://, tgram://…) use
    the host in their API URL, and the URL's "host" is a token.
    """
    cls = type(service)
    secure = bool(getattr(service, "secure", False))
    if getattr(cls, "protocol", None):
        host = getattr(service, "smtp_host", None) or getattr(service, "host", None)
        port = getattr(service, "port", None)
        if not isinstance(host, str) or not host:
            return None
        return host, int(port) if isinstance(port, int) else (443 if secure else 80)
    for attr in _CLOUD_URL_ATTRS:
        url = getattr(cls, attr, None)
        if isinstance(url, str) and "://" in url:
            parts = urlsplit(url)
            if parts.hostname:
                return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    return None


def _why(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return "host not found"
    if isinstance(exc, TimeoutError):
        return f"no answer within {CONNECT_TIMEOUT:g} s"
    if exc.errno == errno.ECONNREFUSED:
        return "connection refused"
    return exc.strerror or str(exc)


def connect(service: Any) -> str:
    """"" when the target's server accepts a connection (or there is none to try), else why not."""
    found = endpoint(service)
    if found is None:
        return ""
    host, port = found
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT):
            return ""
    except OSError as exc:
        return f"not reachable ({_why(exc)}, {host}:{port})"


def send_test(target: notify.Target, host: str) -> str:
    """"" when the target took a test message, else why not."""
    message = notify.Message(f"taskbot doctor on {host}: test notification",
                             f"A test from `taskbot doctor --send-test` on {host}: this target "
                             "receives taskbot's reports.", "progress")
    # Straight to the target, whatever its routing tags: the test is of the target itself.
    error = notify._send_one(target, message)
    return error.split(": ", 1)[1] if error.startswith(f"{target.shown}: ") else error
