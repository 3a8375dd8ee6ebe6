"""Review of issue 17: one untrusted push of small files holds the daemon until the stall
guard gives up on it, and sends one notification per file.

Each refused file is published on its own (report + outbox entry) with no sign of life in
between, and `Outbox.enqueue` reads every pending entry to deduplicate: the push costs
O(files²) while nothing is delivered (the outbox is delivered only between items). Measured
with defaults (stall_timeout 2m): 300 files 9 s, 1,200 files 43 s, 2,500 files: stalled at
2 min, the daemon restarted (exec), the range set aside ("commits … are not run"), and
2,100 notifications queued. README: "Bounded cost", "No pushed file stops, stalls or
misleads it".

Real daemon, real hook, real `git push`. The first test is quick (notifications per
untrusted push); the second takes ~2.5 minutes (defaults, 2,500 files).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.daemonkit import idle_and_empty, running_daemon
from tests.exactlykit import installed, wait_until
from tests.receivers import HttpReceiver

pytestmark = pytest.mark.integration

EVIL = "--author=Mallory <mallory@example.com>"


def _flood(clone: Path, count: int) -> None:
    folder = clone / "tasks" / "active"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"E{i:05d}.md").write_text("## Acceptance Criteria\n- [ ] x\n")


def test_one_untrusted_push_sends_a_bounded_number_of_notifications(tmp_path: Path) -> None:
    with HttpReceiver() as receiver:
        box = installed(tmp_path, notify_url=receiver.url())
        state = tmp_path / "state"
        with running_daemon(box.config, tmp_path / "serve.log"):
            _flood(box.clone, 300)
            box.commit_push("300 files", EVIL)
            time.sleep(1)
            wait_until(idle_and_empty(state), timeout=120, what="idle")
            wait_until(lambda: not any((state / "outbox").glob("*.json")), timeout=60,
                       what="the outbox delivered")
        # Expected: one push, a bounded number of messages (one summary, or a few).
        assert len(receiver.posts) <= 10, f"{len(receiver.posts)} notifications for one push"


@pytest.mark.timeout(600)
@pytest.mark.skipif(not os.environ.get("REVIEW_SLOW"), reason="~2.5 min: REVIEW_SLOW=1")
def test_one_untrusted_push_of_2500_files_does_not_stall_the_daemon(tmp_path: Path) -> None:
    box = installed(tmp_path, notify_url="json://127.0.0.1:9/down")  # a target that is down
    state = tmp_path / "state"
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        _flood(box.clone, 2500)
        started = time.monotonic()
        box.commit_push("2,500 files", EVIL)
        time.sleep(1)
        wait_until(idle_and_empty(state), timeout=500, what="idle")
        took = time.monotonic() - started
        log = daemon.stderr()
    assert "stalled" not in log, [line for line in log.splitlines() if "stalled" in line][:2]
    assert took < 30, f"an untrusted push of 2,500 small files held the daemon {took:.0f}s"
