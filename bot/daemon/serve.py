"""`taskbot serve`: drains the spool one item at a time, in order, and wakes on events only.

- Wakes on changes in `<state_dir>/queue/` and, in watch mode, in the clone's branch
  refs (`pipeline.watch_target`) — inotify, or watchfiles where there is none
  (`bot/wake.py`); nothing polls, and the idle daemon uses no CPU.
- Each spool line becomes a `pipeline.Push` or `pipeline.Rerun` handed to the `Backend`
  (`bot.daemon.backend`: `pipeline.process`, which `taskbot serve` passes in,
  `bot/commands/serve.py`); a line is removed only after it was processed, and reruns it
  returns are queued before that, so a crash repeats work rather than loses it. An
  item whose processing raised is moved to `queue/failed/` with the reason.
- Watch mode remembers the last processed sha of the branch in `<state_dir>/watch.json`
  and, on start, queues `last..current` (the first start only records the tip).
- systemd: READY=1, STATUS=, WATCHDOG=1 (a thread, every WATCHDOG_USEC/2, while the
  loop turns or the item in flight shows signs of life), STOPPING=1.
- No item holds the daemon: one quiet past `limits.stall_timeout` outside a command is
  recorded and the daemon starts afresh (`bot/daemon/stall.py`); the new process sets
  it aside before anything else (`bot/daemon/quarantine.py`).
- SIGTERM/SIGINT: no new item is taken, the pipeline is told to stop after the
  criterion in flight (`should_stop`), then the daemon exits 0; an item quiet outside
  any command is not waited for (the journal resumes it at the next start).
- One line on stderr per event; `<state_dir>/status.json` says what it does now.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

from bot import heartbeat
from bot.atomic import write_atomic
from bot.config import Config
from bot.daemon import entries, intake, outcomes, stalls, statusfile
from bot.daemon import spool as queue
from bot.daemon.attempt import DISK_FULL_PAUSE, attempt
from bot.daemon.contract import Backend
from bot.daemon.criteria import CriterionLog
from bot.daemon.delivery import Delivery
from bot.daemon.forgewatch import ForgeWatch
from bot.daemon.logline import ERR, WARNING, log
from bot.daemon.sdnotify import Notifier, Watchdog, watchdog_interval
from bot.daemon.stall import Guard, Progress
from bot.daemon.stalls import start_afresh
from bot.daemon.statusdoc import DaemonState, document, iso
from bot.daemon.statusdoc import now as _now
from bot.daemon.wake import Waker, WatchLost, make_waker
from bot.errors import ConfigError, TaskbotError
from bot.pipeline.items import Processed
from bot.run import observe
from bot.state.statedir import JOURNAL, PID, journal_aside

__all__ = ["Backend", "Daemon", "Processed", "log"]


class Daemon:
    def __init__(self, config: Config, backend: Backend, *, notifier: Notifier | None = None,
                 environ: Mapping[str, str] | None = None,
                 restart: Callable[[], None] = start_afresh) -> None:
        self.config = config
        self.backend = backend
        self._restart = restart
        # Signs of life of the item in flight; past limits.stall_timeout it is given up.
        self._progress = Progress(config.limits.stall_timeout)
        self.state_dir = Path(config.repo.state_dir).absolute()
        self.notifier = notifier or Notifier(environ)
        self._watchdog_interval = watchdog_interval(environ)
        self._beat = time.monotonic()  # the main loop's last turn, for the watchdog
        self.stop = threading.Event()
        self._waker: Waker | None = None
        self._mode = ("remote" if config.repo.remote else
                      "watch" if backend.watch_target else "hook")
        self._forge: ForgeWatch | None = None
        self._watch: intake.RefWatch | None = None  # watch mode only
        self._started = _now()
        self._status = statusfile.StatusWriter(self.state_dir)
        self._in_flight: dict[str, Any] | None = None
        # groups of a task run side by side: their threads publish status too
        self._status_lock = threading.RLock()
        self._criteria = CriterionLog(config.limits, self._progress, lambda: self._in_flight,
                                      self._publish, self._status_lock)
        self._state = "starting"
        self._status_text = "starting"
        self._queue_length = 0
        self._paused = False
        self._resumed = True  # set by run(): whether the journal a killed daemon left is done
        self._last_error = ""

    # --- stopping ---------------------------------------------------------------------

    def request_stop(self, why: str) -> None:
        """Safe from a signal handler: a flag, a byte to the waker's pipe, one log line."""
        if not self.stop.is_set():
            log(f"stopping ({why}): no new item is taken"
                + ("; the criterion in flight finishes first" if self._in_flight else ""))
        self.stop.set()
        if self._waker is not None:
            self._waker.wake()

    def _should_stop(self) -> bool:
        """What the pipeline asks between criteria (in the main flow, so it may write)."""
        if not self.stop.is_set():
            return False
        if self._state != "stopping":
            self._publish("stopping: committing the run in flight as it stands", state="stopping")
        return True

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.request_stop(signal.Signals(signum).name)

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    # --- status -----------------------------------------------------------------------

    def _publish(self, text: str | None = None, *, state: str | None = None) -> None:
        with self._status_lock:
            self._publish_locked(text, state)

    def _publish_locked(self, text: str | None, state: str | None) -> None:
        self._progress.beat()  # the pipeline's status lines say the item is alive
        if text is not None:
            self._status_text = text
        if state is not None:
            self._state = state
        if self._in_flight is not None and text is not None:
            self._in_flight["status"] = text
        doc = document(DaemonState(self._started, self._mode, self._state, self._status_text),
                       queue_length=self._queue_length,
                       failed=len(queue.failed(self.state_dir)), in_flight=self._in_flight,
                       forge=self._forge.status() if self._forge is not None else None)
        problem = self._status.write(doc)
        if problem:
            log(problem, WARNING)
        if text is not None:  # after the file, so that a reader woken by it sees the new state
            self.notifier.status(text)

    def _watch_paths(self) -> list[Path]:
        paths = [queue.queue_dir(self.state_dir)]
        if self._watch is not None:
            paths.append(self._watch.ref_dir())
        return paths

    # --- processing ---------------------------------------------------------------------

    def _process_entry(self, entry: queue.Entry) -> None:
        entry = entries.collapse(entry, self.config.repo.branch)
        while entry.lines and not self.stop.is_set():
            text = entry.lines[0]
            try:
                line = queue.parse_line(text)
            except queue.QueueError as exc:
                log(f"{entry.name}: skipped: {exc}")
                entry = queue.rest(entry, entry.lines[1:])
                continue
            now = _now()
            self._in_flight = {"entry": entry.name, "item": text, "since": iso(now), "status": ""}
            self._publish(f"processing {entries.short(line)} ({self._queue_length} more queued)",
                          state="running")
            log(f"processing {entries.short(line)} from {entry.name}")
            started = time.monotonic()
            with self._watched():
                results = self._guarded(entries.short(line), partial(
                    self.backend.process, line, self._should_stop, self._publish, now))
            if results is None:
                self._in_flight = None
                if not self._paused:
                    self._set_aside(entry, entries.short(line))
                return
            self._after(results, now, line)
            entry = queue.rest(entry, entry.lines[1:])
            self._in_flight = None
            log(f"done {entries.short(line)} in {time.monotonic() - started:.2f}s: "
                f"{len(results)} task(s)")

    def _guarded(self, what: str, work: Callable[[], Sequence[Processed]]
                 ) -> Sequence[Processed] | None:
        """Whatever one item does, the daemon goes on: None when it raised."""
        tried = attempt(what, work, self.state_dir)
        self._paused = tried.paused
        if tried.error:
            self._last_error = tried.error
        return tried.results

    def _set_aside(self, entry: queue.Entry, what: str) -> None:
        outcomes.set_aside(entry, what, self._last_error, self._notify_failure)

    def _notify_failure(self, what: str, reason: str, target: Path, retry: bool = True
                        ) -> None:
        outcomes.notify_failure(self.state_dir, self.config.notify, what, reason, target,
                                retry=retry)

    def _after(self, results: Sequence[Processed], now: datetime, line: queue.Line) -> None:
        if self._forge is not None and line.kind == "push":
            self._forge.reached()  # the range was fetched from the forge just now
        reruns = outcomes.record(results, now, self._status)
        if reruns:
            try:
                queue.enqueue_reruns(self.state_dir, reruns, on_skip=log)
                log(f"queued again: {', '.join(dict.fromkeys(reruns))}")
            except (OSError, TaskbotError) as exc:
                log(f"cannot queue again {', '.join(reruns)}: {exc}", ERR)
        if self._watch is not None and line.kind == "push" and line.ref == self._watch.ref:
            with contextlib.suppress(OSError):
                self._watch.save(line.new)

    def _resume(self) -> bool:
        """Finish the item a killed daemon left half done (its journal), before anything new.
        False while it must wait (a full disk, a forge that does not answer): nothing else
        may start then, or a new item's journal would replace the one being resumed."""
        if self.backend.resume is None:
            return True
        now = _now()
        with self._watched():
            results = self._guarded("resuming the interrupted item", partial(
                self.backend.resume, self._should_stop, self._publish, now))
        if results is not None:
            self._after(results, now, queue.Line("resume"))
            return True
        if self._paused:
            return False
        journal = self.state_dir / JOURNAL
        aside = journal.with_name(journal_aside("failed", int(time.time())))
        with contextlib.suppress(OSError):
            journal.replace(aside)  # kept for the operator; the daemon goes on
        self._notify_failure("resuming the interrupted item", self._last_error, aside)
        return True

    def _alive(self) -> bool:
        """For the watchdog: the loop turned lately, or it is busy with an item that still
        shows signs of life (commands have their own timeouts; the rest a stall budget)."""
        if self._progress.overdue():
            return False
        limit = 3 * (self._watchdog_interval or 0.0)
        return self._in_flight is not None or time.monotonic() - self._beat < limit

    # --- stalls -------------------------------------------------------------------------

    @contextlib.contextmanager
    def _watched(self) -> Iterator[None]:
        """The item's work, watched by the terminal-less observer and the stall guard."""
        self._progress.begin()
        try:
            with (observe.watching(self._criteria.observer()),
                  heartbeat.listening(self._progress.beat)):
                yield
        finally:
            self._progress.end()

    def _stalled(self, quiet: float) -> None:
        """The guard's thread: the item in flight is given up; a fresh daemon sets it aside."""
        stalls.give_up(self.state_dir, self._in_flight, self._status_text,
                       self.config.limits.stall_timeout, quiet, self.backend.in_flight)
        self._restart()

    def _stuck_stop(self, quiet: float) -> None:
        stalls.stop_now(self.state_dir, self.notifier, quiet)

    def _idle_timeout(self, outbox: Delivery) -> float | None:
        waits = [outbox.seconds_to_next(), self._watchdog_interval,
                 self._forge.due_in() if self._forge is not None else None]
        known = [w for w in waits if w is not None]
        return min(known) if known else None

    def _drain(self, outbox: Delivery) -> None:
        while not self.stop.is_set():
            self._beat = time.monotonic()
            outbox.deliver_due()
            if self._watch is not None:
                self._watch.check()
            if self._forge is not None:
                self._forge.poll_if_due()
            if not self._resumed:
                self._resumed = self._resume()
                if not self._resumed:
                    self._wait(DISK_FULL_PAUSE)
                    continue
            pending = queue.pending(self.state_dir)
            if pending:
                later = entries.absorbed(pending[0], pending[1:])
                self._queue_length = len(later)
                self._process_entry(pending[0])
                if not self._paused:
                    continue
                timeout: float | None = DISK_FULL_PAUSE
            else:
                self._queue_length = 0
                self._publish("idle: waiting for pushes", state="idle")
                timeout = self._idle_timeout(outbox)
            self._wait(timeout)

    def _wait(self, timeout: float | None) -> None:
        assert self._waker is not None
        try:
            self._waker.wait(timeout)
        except WatchLost as exc:
            self._rewatch(exc)

    def _rewatch(self, lost: WatchLost) -> None:
        """The spool (or the whole state dir) was removed or moved: make it again and go on,
        so later pushes are still processed. A clone that went away cannot be made again."""
        if not self.state_dir.is_dir() or not queue.queue_dir(self.state_dir).is_dir():
            intake.recreate_spool(self.state_dir, lost)
        elif self._watch is not None and not self._watch.git_dir.is_dir():
            raise lost
        if self._waker is not None:
            self._waker.close()
        self._waker = make_waker(self._watch_paths())

    # --- the whole run ------------------------------------------------------------------

    def _start_intake(self) -> None:
        """What hands the daemon its items: a watched clone, a forge, or the hook."""
        if self.backend.watch_target is not None:
            self._watch = intake.RefWatch(self.state_dir, *self.backend.watch_target())
            self._watch.start()
        elif self.config.repo.remote:
            self._forge = ForgeWatch(self.config, self.state_dir, log)
            self._forge.start()
        else:
            intake.check_hook(Path(self.config.repo.path))

    def _start_guards(self) -> tuple[Watchdog | None, Guard]:
        """systemd's watchdog (when it asks for one) and the stall guard."""
        watchdog = None
        if self._watchdog_interval:
            watchdog = Watchdog(self.notifier, self._watchdog_interval, self._alive)
            watchdog.start()
        guard = Guard(self._progress, on_stall=self._stalled, stopping=self.stop.is_set,
                      on_stuck_stop=self._stuck_stop)
        guard.start()
        return watchdog, guard

    def run(self) -> int:
        """Serve until asked to stop; 0 after a clean stop."""
        if not self.state_dir.is_dir():
            raise ConfigError(f"{self.config.source}: repo.state_dir: {self.state_dir} does not "
                              "exist (run 'taskbot init')")
        queue.ensure_dirs(self.state_dir)
        with queue.lock(self.state_dir):
            pid_file = self.state_dir / PID
            write_atomic(pid_file, f"{os.getpid()}\n".encode(), 0o644)
            watchdog: Watchdog | None = None
            guard: Guard | None = None
            exit_code = 0
            try:
                queue.clean_tmp(self.state_dir)
                self._start_intake()
                # Watch before the first scan, so that nothing queued after it is missed.
                self._waker = make_waker(self._watch_paths())
                if self.stop.is_set():  # a signal came before the waker could be woken
                    self._waker.wake()
                waiting = len(queue.pending(self.state_dir))
                log(f"serving {self.config.repo.remote or self.config.repo.path} "
                    f"({self._mode} mode), state dir "
                    f"{self.state_dir}, {waiting} queued")
                watchdog, guard = self._start_guards()
                self.notifier.ready(f"ready: {waiting} queued")
                stalls.set_aside(self.state_dir, self.backend.quarantine, self._notify_failure)
                self._resumed = self._resume()
                self._drain(Delivery(self.config.notify, self.state_dir))
            except WatchLost as exc:
                log(f"cannot go on: {exc}", ERR)
                exit_code = 1
            finally:
                self.notifier.stopping("stopping")
                if self._forge is not None:
                    self._forge.stop()
                if self._waker is not None:
                    self._waker.close()
                    self._waker = None
                if watchdog is not None:
                    watchdog.stop()
                if guard is not None:
                    guard.stop()
                self._in_flight = None
                self._queue_length = max(len(queue.pending(self.state_dir)), 0)
                self._publish("stopped", state="stopped")
                with contextlib.suppress(FileNotFoundError):
                    pid_file.unlink()
                log("stopped")
                self.notifier.close()
        return exit_code
