"""the quarantine sets aside whatever journal
is on disk, not the item the stall guard recorded.

`_stalled` runs on the guard's thread while the main thread goes on; between
`quarantine.record` (an fsync) and `execv`, the main thread may finish the stalled item
(the tip moves, its journal is removed) and begin the next push, whose journal is written
with its first step. The next daemon's `_quarantine` loads that journal and prefers it
(`item = dict(journal.item) or item`): it sets aside the *next* push's journal and moves
the tip past the *next* range: trusted commits that never stalled are skipped, and what
that item had already run is never committed. Expected: only the recorded item is set
aside (the journal's item compared with `stalled.work` first).
"""

from __future__ import annotations

from pathlib import Path

from bot.config import load as load_config
from bot.daemon import tip
from bot.daemon.backend import pipeline_backend
from bot.run.journal import Journal
from tests.kit.git import sandbox


def test_the_quarantine_sets_aside_only_the_item_that_stalled(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    config = load_config(box.config)
    state = Path(config.repo.state_dir)
    state.mkdir(exist_ok=True)
    ref = "refs/heads/main"
    a, b, c = "a" * 40, "b" * 40, "c" * 40
    stalled = {"kind": "push", "old": a, "new": b, "ref": ref}
    # The stalled item (a..b) finished meanwhile: the tip is b; the next one (b..c) began.
    tip.save(state, ref, b)
    nxt = Journal.begin(state, {"kind": "push", "old": b, "new": c, "ref": ref})
    nxt.task("tasks/active/TASK-2.md").record("run_id", "r1")
    backend = pipeline_backend(config, {}, lambda *_a, **_k: None)
    assert backend.quarantine is not None
    said = backend.quarantine(stalled)
    assert tip.load(state, ref) == b, f"the tip moved past the next range: {said}"
    assert (state / "journal.json").exists(), "the next item's journal was set aside"
