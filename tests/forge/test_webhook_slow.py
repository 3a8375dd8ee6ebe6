"""The webhook receiver under slow clients, over real sockets on 127.0.0.1 (127.0.0.2 as a
second client): stalled connections are closed by their read deadline or to make room for
newer ones, and every signed push meanwhile is answered 202 and lands in the real spool."""

from __future__ import annotations

import hashlib
import http.client
import select
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import pytest

from bot.forge.webhook import HEAD_LIMIT
from tests.forge.test_webhook import BRANCH, ZERO, Listener, body_of, github, serve

PUSHES = 58
READ_DEADLINE = 1.0
HEAD_STALL = b"POST /webhook HTTP/1.1\r\nHost: taskbot\r\nContent-Length: 1533\r\n"
BODY_STALL = b"POST /webhook HTTP/1.1\r\nHost: taskbot\r\nContent-Length: 1533\r\n\r\n{\"ref\": "


class Slow(NamedTuple):
    sock: socket.socket
    opened: float


def stall(listener: Listener, source: str, count: int) -> list[Slow]:
    """`count` connections from `source` that send part of a request (head or body) and stop."""
    host, port = listener.server.address
    out = []
    for n in range(count):
        sock = socket.create_connection((host, port), timeout=5, source_address=(source, 0))
        sock.sendall(BODY_STALL if n % 2 else HEAD_STALL)
        out.append(Slow(sock, time.monotonic()))
    return out


def closed_after(slow: list[Slow], within: float) -> list[tuple[float, bytes]]:
    """For each stalled connection: (seconds from its opening to its closing by the server,
    the answer it got); a connection still open after `within` seconds fails the test."""
    ends: dict[socket.socket, tuple[float, bytes]] = {}
    opened = {s.sock: s.opened for s in slow}
    limit = time.monotonic() + within
    while len(ends) < len(slow) and time.monotonic() < limit:
        waiting = [s for s in opened if s not in ends]
        for sock in select.select(waiting, [], [], max(0.0, limit - time.monotonic()))[0]:
            got = b""
            try:
                while chunk := sock.recv(4096):
                    got += chunk
            except ConnectionResetError:
                pass
            ends[sock] = (time.monotonic() - opened[sock], got)
    for sock in opened:
        sock.close()
    assert len(ends) == len(slow), f"{len(slow) - len(ends)} stalled connections still open"
    return list(ends.values())


def push(listener: Listener, n: int) -> tuple[int, str]:
    after = hashlib.sha1(str(n).encode()).hexdigest()
    body = body_of("github-push.json", after=after)
    host, port = listener.server.address
    conn = http.client.HTTPConnection(host, port, timeout=5, source_address=("127.0.0.1", 0))
    try:
        conn.request("POST", "/webhook", body=body, headers=github(body, f"slow-test-{n}"))
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def wake_lines(count: int) -> set[str]:
    return {f"{ZERO} {hashlib.sha1(str(n).encode()).hexdigest()} {BRANCH}" for n in range(count)}


@pytest.mark.parametrize("source", ["127.0.0.2", "127.0.0.1"], ids=["other-client", "same-client"])
@pytest.mark.parametrize("count", [40, 200])
def test_every_signed_push_is_queued_while_one_client_stalls_connections(
        tmp_path: Path, count: int, source: str) -> None:
    served = serve(tmp_path, read_deadline=READ_DEADLINE)
    try:
        slow = stall(served, source, count)
        with ThreadPoolExecutor(8) as pool:  # a burst, as a forge delivers several pushes at once
            answers = list(pool.map(lambda n: push(served, n), range(PUSHES)))
        assert answers == [(202, "queued\n")] * PUSHES
        assert set(served.queued()) == wake_lines(PUSHES)
        assert len(served.queued()) == PUSHES
        ends = closed_after(slow, READ_DEADLINE + 2.0)
        assert max(seconds for seconds, _ in ends) < READ_DEADLINE + 1.0
        for _, answer in ends:  # each told why, unless it was cut while telling it
            assert answer == b"" or answer.split(b" ", 2)[1] in (b"408", b"503"), answer
    finally:
        served.server.stop()


def test_a_client_trickling_its_request_is_answered_408_at_its_read_deadline(tmp_path: Path) -> None:
    served = serve(tmp_path, read_deadline=READ_DEADLINE)
    try:
        host, port = served.server.address
        slow = socket.create_connection((host, port), timeout=5)
        began = time.monotonic()
        slow.sendall(b"POST /webhook HTTP/1.1\r\n")
        answer = b""
        while not answer and time.monotonic() - began < 5:
            try:  # a header every 0.1 s: never idle long, never done
                slow.sendall(b"X-Slow: 1\r\n")
                if select.select([slow], [], [], 0.1)[0]:
                    answer = slow.recv(1024) or b"(closed)"
            except OSError as exc:
                answer = repr(exc).encode()
        elapsed = time.monotonic() - began
        slow.close()
        assert answer.startswith(b"HTTP/1.0 408 Request Timeout"), answer
        assert READ_DEADLINE - 0.05 <= elapsed < READ_DEADLINE + 0.75
        assert push(served, 0) == (202, "queued\n")
    finally:
        served.server.stop()


def test_a_client_at_its_cap_loses_its_oldest_stalled_connection_at_once(tmp_path: Path) -> None:
    served = serve(tmp_path, read_deadline=30.0, per_client=4)
    try:
        mine = stall(served, "127.0.0.1", 4)
        other = stall(served, "127.0.0.2", 4)
        assert push(served, 0) == (202, "queued\n")  # one more from 127.0.0.1: its oldest goes
        ends = closed_after(mine[:1], 1.0)
        assert ends[0][1].startswith(b"HTTP/1.0 503 Service Unavailable")
        assert not select.select([s.sock for s in mine[1:] + other], [], [], 0.2)[0]
        assert served.queued() == list(wake_lines(1))
        for s in mine[1:] + other:
            s.sock.close()
    finally:
        served.server.stop()


def test_stalled_bodies_cannot_hold_all_the_buffer(tmp_path: Path) -> None:
    """Two clients announce big bodies and stall: a push needing buffer room closes the oldest."""
    served = serve(tmp_path, read_deadline=30.0, max_body=8192, max_buffered=16384)
    try:
        host, port = served.server.address
        hogs = []
        for source in ("127.0.0.2", "127.0.0.3"):
            sock = socket.create_connection((host, port), timeout=5, source_address=(source, 0))
            sock.sendall(b"POST /webhook HTTP/1.1\r\nContent-Length: 8192\r\n\r\n{")
            hogs.append(Slow(sock, time.monotonic()))
        # Whichever the server reads last, the push's or the second hog's, the first hog goes.
        assert push(served, 0) == (202, "queued\n")
        ends = closed_after(hogs[:1], 1.0)
        assert ends[0][1].startswith(b"HTTP/1.0 503")
        assert not select.select([hogs[1].sock], [], [], 0.2)[0]
        assert served.queued() == list(wake_lines(1))
        hogs[1].sock.close()
    finally:
        served.server.stop()


def test_a_request_head_is_bounded_in_bytes(tmp_path: Path) -> None:
    served = serve(tmp_path)
    try:
        host, port = served.server.address
        with socket.create_connection((host, port), timeout=5) as sock:
            sock.sendall(b"POST /webhook HTTP/1.1\r\nX-Pad: " + b"a" * HEAD_LIMIT + b"\r\n\r\n")
            assert sock.recv(1024).startswith(b"HTTP/1.0 431 Request Header Fields Too Large")
        assert push(served, 0) == (202, "queued\n")
    finally:
        served.server.stop()


def test_a_malformed_request_line_is_answered_400(tmp_path: Path) -> None:
    served = serve(tmp_path)
    try:
        host, port = served.server.address
        for line in (b"POST http://[x/webhook HTTP/1.1", b"POST /webhook", b"POST /webhook HTTP/2"):
            with socket.create_connection((host, port), timeout=5) as sock:
                sock.sendall(line + b"\r\nContent-Length: 0\r\n\r\n")
                assert sock.recv(1024).startswith(b"HTTP/1.0 400 Bad Request"), line
        assert served.queued() == []
    finally:
        served.server.stop()
