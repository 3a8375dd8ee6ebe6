"""The webhook's table of unfinished requests (`bot.forge.admission`): over a bound, the
oldest goes, never the newest; a finished request frees its place and its bytes."""

from __future__ import annotations

import pytest

from bot.forge.admission import Admission, Limits


def table(total: int = 10, per_client: int = 3, body_bytes: int = 100
          ) -> tuple[Admission[str], list[str]]:
    closed: list[str] = []
    return Admission(Limits(total, per_client, body_bytes), closed.append), closed


def test_a_client_over_its_cap_loses_its_own_oldest() -> None:
    held, closed = table(per_client=3)
    for key in ("a1", "b1", "a2", "a3"):
        held.admit(key, key[0])
    held.admit("a4", "a")
    assert closed == ["a1"]
    assert "a4" in held and "b1" in held and held.from_client("a") == 3


def test_a_burst_from_one_client_displaces_its_stalled_connections_not_itself() -> None:
    held, closed = table(per_client=3)
    for n in range(3):
        held.admit(f"stall{n}", "forge")
    for n in range(3):  # three deliveries at once, from the stalling client's address
        held.admit(f"push{n}", "forge")
    assert closed == ["stall0", "stall1", "stall2"]
    for n in range(3):
        held.release(f"push{n}")
    assert len(held) == 0 and held.from_client("forge") == 0


def test_over_the_total_everyones_oldest_goes() -> None:
    held, closed = table(total=4, per_client=4)
    for key in ("a1", "b1", "c1", "a2"):
        held.admit(key, key[0])
    held.admit("d1", "d")
    held.admit("d2", "d")
    assert closed == ["a1", "b1"] and len(held) == 4


def test_body_bytes_go_to_the_newest_the_oldest_holder_gives_way() -> None:
    held, closed = table(body_bytes=100)
    for key in ("a", "b", "c", "d"):
        held.admit(key, key)
    held.reserve("a", 60)
    held.reserve("c", 30)
    held.reserve("d", 50)  # b holds nothing: a, the oldest holder, goes
    assert closed == ["a"] and held.reserved == 80
    held.release("c")
    assert held.reserved == 50
    held.release("c")  # twice, or unknown: nothing
    held.reserve("gone", 10)
    assert held.reserved == 50 and closed == ["a"]


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        table(per_client=0)
