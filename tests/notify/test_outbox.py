"""The outbox never loses a notification and never sends one twice: retries with backoff,
restarts (a new object, a new process), two deliverers at once. Real HTTP receivers."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.commands.demo_registry import free_port
from bot.config import NotifyConfig
from bot.notify.outbox import BACKOFF_CAP, Entry, Outbox, backoff, describe
from bot.notify.targets import Delivery, Message
from tests.kit.receivers import WAIT, HttpReceiver

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
T0 = 1_800_000_000.0  # a fixed "now": tests move time by passing it, never by sleeping
MESSAGE = Message("TASK-001 partial: 2/4 criteria done", "# Task Execution Report: TASK-001\n",
                  "partial", "TASK-001", "run-1")


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 32, 64]
    assert backoff(9) == 256 and backoff(10) == BACKOFF_CAP == 300
    assert backoff(10_000) == BACKOFF_CAP


def test_receiver_down_twice_then_delivered_once_across_restart(tmp_path: Path) -> None:
    with HttpReceiver(fail_first=2) as http:
        config = NotifyConfig(urls=(http.url(),))
        box = Outbox(tmp_path, config)
        entry = box.enqueue(MESSAGE, now=T0)
        assert box.next_due() == T0

        first = box.deliver_due(T0)
        assert [e.id for e in first.failed] == [entry.id] and first.delivered == ()
        assert first.failed[0].attempts == 1 and first.failed[0].next_attempt == T0 + 1
        assert "500" in first.failed[0].last_error
        assert box.deliver_due(T0 + 0.5) == box.deliver_due(T0 + 0.9)  # not due: nothing sent
        assert len(http.posts) == 1

        second = box.deliver_due(T0 + 1)
        assert second.failed[0].attempts == 2 and second.failed[0].next_attempt == T0 + 3

        restarted = Outbox(tmp_path, config)  # the daemon restarted: only the files remain
        assert [e.id for e in restarted.pending()] == [entry.id]
        assert restarted.next_due() == T0 + 3
        third = restarted.deliver_due(T0 + 3)
        assert [e.id for e in third.delivered] == [entry.id]
        assert restarted.deliver_due(T0 + 1000) == restarted.deliver_due(T0 + 2000)
        [post] = http.wait_for(1)
    assert [p.status for p in http.posts] == [500, 500, 200]
    assert post.title == MESSAGE.title and post.message == MESSAGE.body.rstrip("\n")
    assert restarted.pending() == () and restarted.next_due() is None
    assert list((tmp_path / "outbox").glob("*.json")) == []


DELIVER = """
import sys
from bot.config import NotifyConfig
from bot.notify.outbox import Outbox
result = Outbox(sys.argv[1], NotifyConfig(urls=(sys.argv[2],))).deliver_due(float(sys.argv[3]))
print(len(result.delivered), len(result.failed))
"""


def _deliver_in_new_process(state: Path, url: str, now: float) -> str:
    done = subprocess.run([sys.executable, "-c", DELIVER, str(state), url, str(now)],
                          capture_output=True, text=True, timeout=WAIT, cwd=REPO, check=True)
    return done.stdout.strip()


def test_nobody_listening_then_a_new_process_delivers_once(tmp_path: Path) -> None:
    port = free_port()
    http = HttpReceiver(port=port)  # not started: connections are refused
    config = NotifyConfig(urls=(http.url(),))
    box = Outbox(tmp_path, config)
    box.enqueue(MESSAGE, now=T0)
    assert box.deliver_due(T0).failed[0].last_error != ""
    assert box.deliver_due(T0 + 1).failed[0].attempts == 2
    with http:
        assert _deliver_in_new_process(tmp_path, http.url(), T0 + 2) == "0 0"  # not due yet
        assert _deliver_in_new_process(tmp_path, http.url(), T0 + 3) == "1 0"
        assert _deliver_in_new_process(tmp_path, http.url(), T0 + 999) == "0 0"
        [post] = http.wait_for(1)
    assert len(http.posts) == 1 and post.title == MESSAGE.title
    assert box.pending() == ()


def test_target_that_took_it_is_not_sent_it_again(tmp_path: Path) -> None:
    with HttpReceiver() as up, HttpReceiver(fail_first=1) as flaky:
        box = Outbox(tmp_path, NotifyConfig(urls=(up.url("a"), flaky.url("b"))))
        box.enqueue(MESSAGE, now=T0)
        [failed] = box.deliver_due(T0).failed
        assert len(failed.delivered_to) == 1  # the one that took it is remembered
        assert box.deliver_due(T0 + 1).delivered
        up.wait_for(1)
        flaky.wait_for(1)
    assert [p.path for p in up.posts] == ["/a"]
    assert [p.status for p in flaky.posts] == [500, 200]


def _lock_waiters() -> int:
    return sum(" -> FLOCK " in line for line in Path("/proc/locks").read_text().splitlines())


def test_two_deliverers_at_once_send_once(tmp_path: Path) -> None:
    arrived, release = threading.Event(), threading.Event()

    def hold_first(post: object) -> None:
        arrived.set()
        release.wait(WAIT)  # keep the first deliverer inside its send

    with HttpReceiver(on_post=hold_first) as http:
        config = NotifyConfig(urls=(http.url(),))
        Outbox(tmp_path, config).enqueue(MESSAGE, now=T0)
        results: list[int] = []

        def deliver() -> None:
            results.append(len(Outbox(tmp_path, config).deliver_due(T0).delivered))

        first = threading.Thread(target=deliver)
        first.start()
        assert arrived.wait(WAIT)
        waiters = _lock_waiters()
        second = threading.Thread(target=deliver)
        second.start()
        deadline = time.monotonic() + WAIT
        while _lock_waiters() == waiters and time.monotonic() < deadline:
            time.sleep(0.005)  # bounded wait on an observable state: the second is blocked
        assert _lock_waiters() > waiters
        release.set()
        first.join(WAIT)
        second.join(WAIT)
    assert sorted(results) == [0, 1]
    assert len(http.posts) == 1


def test_pending_next_due_and_describe(tmp_path: Path) -> None:
    sent: list[Message] = []

    def refuse(message: Message, skip: frozenset[str]) -> Delivery:
        sent.append(message)
        return Delivery(errors=("json://127.0.0.1/hook: Internal server error, error=500.",))

    box = Outbox(tmp_path, send=refuse)
    assert box.pending() == () and box.next_due() is None
    a = box.enqueue(MESSAGE, now=T0)
    b = box.enqueue(Message("TASK-002 blocked: 0/1 criteria done", "x", "blocked"), now=T0 + 5)
    assert [e.id for e in box.pending()] == [a.id, b.id]  # oldest first
    assert box.deliver_due(T0 + 1).failed[0].id == a.id and len(sent) == 1
    assert box.next_due() == T0 + 2
    assert describe(box.pending(), now=T0 + 1) == [
        "TASK-001 partial: 2/4 criteria done (1 attempt, next try in 1s): "
        "json://127.0.0.1/hook: Internal server error, error=500.",
        "TASK-002 blocked: 0/1 criteria done (0 attempts, next try in 4s)",
    ]
    doc = json.loads((tmp_path / "outbox" / f"{a.id}.json").read_text())
    assert Entry.from_json(doc) == box.pending()[0]
    assert (tmp_path / "outbox" / f"{a.id}.json").stat().st_mode & 0o777 == 0o600


def test_unreadable_entry_is_kept_and_skipped(tmp_path: Path) -> None:
    box = Outbox(tmp_path, send=lambda m, s: Delivery())
    box.enqueue(MESSAGE, now=T0)
    broken = tmp_path / "outbox" / "0000000000000-broken.json"
    broken.write_text("{not json")
    (tmp_path / "outbox" / ".x.json.abc.tmp").write_text("half written")
    assert len(box.pending()) == 1
    assert len(box.deliver_due(T0).delivered) == 1
    assert broken.exists()  # never deleted: a person can look at it
    assert box.pending() == ()


def test_deliver_needs_a_configuration(tmp_path: Path) -> None:
    box = Outbox(tmp_path)
    box.enqueue(MESSAGE, now=T0)
    assert len(box.pending()) == 1
    with pytest.raises(ValueError, match="notify"):
        box.deliver_due(T0)
