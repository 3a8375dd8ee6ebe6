"""What hands the daemon its items besides the spool itself: watch mode's branch ref, and
in hook mode, a check that the hook is there to hand pushes over."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from bot.atomic import write_atomic
from bot.daemon import hook as hookinstall
from bot.daemon import spool as queue
from bot.daemon import watchstate
from bot.daemon.logline import WARNING, log
from bot.errors import TaskbotError
from bot.git import read
from bot.state.statedir import PID

__all__ = ["RefWatch", "check_hook", "recreate_spool"]


def check_hook(repo: Path) -> None:
    """Hook mode: say so when no hook hands pushes over (they would wait unseen)."""
    try:
        hook = read.hooks_dir(repo) / hookinstall.HOOK_NAME
        text = hook.read_text(errors="replace")
    except (TaskbotError, OSError):
        log(f"warning: no taskbot post-receive hook in {repo}: pushes will not reach "
            "the daemon (run 'taskbot init')", WARNING)
        return
    if hookinstall.MARKER_PREFIX not in text and "hook post-receive" not in text:
        log(f"warning: {hook} does not hand pushes to taskbot (run 'taskbot init')", WARNING)


def recreate_spool(state_dir: Path, lost: Exception) -> None:
    """The spool (or the whole state dir) was removed or moved: made again, with the pid file."""
    log(f"{lost}: recreating {queue.queue_dir(state_dir)}")
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o755)
    queue.ensure_dirs(state_dir)
    with contextlib.suppress(OSError):
        write_atomic(state_dir / PID, f"{os.getpid()}\n".encode(), 0o644)


class RefWatch:
    """Watch mode: the clone's branch ref, queued as a push line whenever it moves."""

    def __init__(self, state_dir: Path, git_dir: Path, ref: str) -> None:
        self.state_dir = state_dir
        self.git_dir = git_dir.absolute()
        self.ref = ref
        self.last_queued = ""  # the branch tip already handed to the spool

    def start(self) -> None:
        """Record the tip on a first start; else take up where watch.json and the spool left."""
        current = self.read_ref()
        last = watchstate.load(self.state_dir, self.ref)
        if not last:
            log(f"watch mode: first start, watching {self.ref} from {current[:12] or 'nothing'}")
            self.save(current)
            last = current
        queued: list[queue.Line] = []
        for entry in queue.pending(self.state_dir):
            for text in entry.lines:
                with contextlib.suppress(queue.QueueError):
                    queued.append(queue.parse_line(text))
        mine = [p for p in queued if p.kind == "push" and p.ref == self.ref]
        self.last_queued = mine[-1].new if mine else last
        log(f"watch mode: {self.git_dir} {self.ref} (last processed {last[:12] or 'none'})")

    def read_ref(self) -> str:
        try:
            return read.resolve(self.git_dir, self.ref) or ""
        except read.GitError:  # the clone went away; watching its refs says so
            return ""

    def save(self, sha: str) -> None:
        watchstate.save(self.state_dir, self.git_dir, self.ref, sha)

    def check(self) -> None:
        """Queue the range the ref moved since it was last queued."""
        current = self.read_ref()
        if not current or current == self.last_queued:
            return
        old = self.last_queued or "0" * len(current)
        queue.enqueue(self.state_dir, [f"{old} {current} {self.ref}"])
        log(f"watch: {self.ref} moved {old[:8]}..{current[:8]}: queued")
        self.last_queued = current

    def ref_dir(self) -> Path:
        """The directory whose changes say the ref moved."""
        ref_dir = (self.git_dir / self.ref).parent
        return ref_dir if ref_dir.is_dir() else self.git_dir / "refs" / "heads"
