"""Signs of life from the work in flight, for whoever guards it against stalls.

The daemon gives up on an item that shows no sign of life for `limits.stall_timeout`
(`bot.daemon.stall`). Code that is about to wait for something bounded by its own
deadline — a command with its timeout — says so with `beat(expect=seconds)`, so that the
guard allows that long; any other step says it is alive with `beat()`. A context
variable, like `bot.run.observe`: the stages the work passes through need not know that
somebody listens, and nobody listens outside the daemon.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

__all__ = ["Listener", "beat", "listening"]

Listener = Callable[[float], None]  # seconds the next quiet stretch may last (0: the budget)

_LISTENER: ContextVar[Listener | None] = ContextVar("taskbot_heartbeat", default=None)


def beat(expect: float = 0.0) -> None:
    """Alive now; `expect`: the next step may be quiet this long and still be alive."""
    listener = _LISTENER.get()
    if listener is not None:
        with contextlib.suppress(Exception):  # a broken guard must not fail the work
            listener(expect)


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[None]:
    token = _LISTENER.set(listener)
    try:
        yield
    finally:
        _LISTENER.reset(token)
