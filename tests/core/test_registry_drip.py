"""A registry that answers a byte at a time never trips a socket timeout; taskbot's client
bounds an answer's body in time and in size, so no registry can hold a run."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from bot.registry import UNREACHABLE, RegistryClient, RegistryError


@pytest.fixture
def dripping() -> Iterator[str]:
    """A plain-HTTP server on 127.0.0.1 that sends headers promising a large body, then one
    byte every 50 ms for as long as the client listens."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 100000000\r\n\r\n")
                while not stop.wait(0.05):
                    try:
                        conn.sendall(b" ")
                    except OSError:
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        server.close()
        thread.join(5)


def test_an_answer_dripping_forever_is_given_up(dripping: str) -> None:
    client = RegistryClient(dripping, timeout=0.3)
    with pytest.raises(RegistryError) as caught:
        client.tags("ffl/backend")
    assert caught.value.kind == UNREACHABLE
    assert "still coming after 0.9s; given up" in str(caught.value)
