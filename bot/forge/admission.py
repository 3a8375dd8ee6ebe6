"""Which unfinished requests the webhook listener holds: at most `per_client` from one peer
address, `total` in all, and `body_bytes` of announced bodies being read.

A new connection is never refused and never queued: it is read at once, and when it puts
its client (or everyone) over a bound, the *oldest* unfinished connections are closed to
make room. A forge sends a delivery in milliseconds, so the connections that have waited
longest are the slow ones: a client stalling hundreds of connections only churns its own,
and a burst of real deliveries still gets in, even from that client's address (a reverse
proxy, a forge shared with the attacker). A request read whole is released: deciding and
answering it is bounded by time, not by this table.

Not thread-safe: the listener's event loop is its only user.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, NamedTuple, TypeVar

__all__ = ["Admission", "Limits"]

K = TypeVar("K", bound=Hashable)


class Limits(NamedTuple):
    total: int
    per_client: int
    body_bytes: int


class _Held(NamedTuple):
    client: str
    reserved: int


class Admission(Generic[K]):
    """The table of unfinished requests, oldest first; `close(key)` is called for each one
    evicted (after it left the table)."""

    def __init__(self, limits: Limits, close: Callable[[K], None]) -> None:
        if min(limits) < 1:
            raise ValueError(f"admission limits must be positive: {limits}")
        self._limits, self._close = limits, close
        self._held: dict[K, _Held] = {}  # insertion order: oldest first
        self._clients: dict[str, dict[K, None]] = {}
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._held)

    def __contains__(self, key: object) -> bool:
        return key in self._held

    def from_client(self, client: str) -> int:
        return len(self._clients.get(client, ()))

    @property
    def reserved(self) -> int:
        return self._bytes

    def admit(self, key: K, client: str) -> None:
        """Hold `key`, closing the client's oldest, then everyone's oldest, to stay in bounds."""
        while self.from_client(client) >= self._limits.per_client:
            self._evict(next(iter(self._clients[client])))
        while len(self._held) >= self._limits.total:
            self._evict(next(iter(self._held)))
        self._held[key] = _Held(client, 0)
        self._clients.setdefault(client, {})[key] = None

    def reserve(self, key: K, size: int) -> None:
        """`size` more body bytes for `key`, closing the oldest others that hold bytes until
        they fit (`size` alone never exceeds the bound: the listener checks `max_body`)."""
        held = self._held.get(key)
        if held is None:
            return
        while self._bytes + size > self._limits.body_bytes:
            victim = next((k for k, h in self._held.items() if h.reserved and k != key), None)
            if victim is None:
                break
            self._evict(victim)
        self._held[key] = held._replace(reserved=held.reserved + size)
        self._bytes += size

    def release(self, key: K) -> None:
        """`key` is read whole or gone: no longer held (unknown keys are ignored)."""
        held = self._held.pop(key, None)
        if held is None:
            return
        self._bytes -= held.reserved
        mine = self._clients[held.client]
        del mine[key]
        if not mine:
            del self._clients[held.client]

    def _evict(self, key: K) -> None:
        self.release(key)
        self._close(key)
