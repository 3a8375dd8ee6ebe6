"""`taskbot serve`: drains the spool one item at a time, in order, and wakes on events only.

- Wakes on changes in `<state_dir>/queue/` and, in watch mode, in the clone's branch
  refs (`pipeline.watch_target`) — inotify, or watchfiles where there is none
  (`bot/wake.py`); nothing polls, and the idle daemon uses no CPU.
- Each spool line becomes a `pipeline.Push` or `pipeline.Rerun` handed to
  `pipeline.process`; a line is removed only after it was processed, and reruns it
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
import errno
import json
import os
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

import pygit2

from bot import heartbeat, observe
from bot.actions import Action
from bot.atomic import write_atomic
from bot.config import Config
from bot.context import Handler
from bot.daemon import hook as hookinstall
from bot.daemon import quarantine, statusfile
from bot.daemon import spool as queue
from bot.daemon.backend import Backend, pipeline_backend
from bot.daemon.forgewatch import ForgeWatch
from bot.daemon.sdnotify import Notifier, Watchdog, watchdog_interval
from bot.daemon.stall import Guard, Progress
from bot.daemon.wake import Waker, WatchLost, make_waker
from bot.durations import format_duration
from bot.errors import ConfigError, TaskbotError
from bot.forge.remote import ForgeUnreachable
from bot.git import read
from bot.mdescape import code_span, inline, link_markup
from bot.notify.outbox import Outbox
from bot.notify.targets import Message
from bot.pipeline import Processed
from bot.runner import Result, State
from bot.statedir import JOURNAL, PID, STALLED, WATCH, journal_aside
from bot.textcap import display_name

__all__ = ["Backend", "Daemon", "Processed", "pipeline_backend", "serve"]

MAX_SLEEP = 24 * 3600.0
MAX_ENTRY_LINES = 1000  # distinct lines taken from one spool entry
DISK_FULL_PAUSE = 10.0  # seconds between tries while the state dir's file system is full


def _now() -> datetime:
    return datetime.now().astimezone()


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


ERR, WARNING, INFO, DEBUG = 3, 4, 6, 7  # syslog priorities, as sd-daemon(3) prefixes them


def log(message: str, level: int = INFO) -> None:
    """One line per event on stderr; journald adds its own timestamp.

    Under journald (`JOURNAL_STREAM` set) the line starts with `<N>`, its priority, so
    `journalctl -p err` finds failures. One `write(2)` per line, past Python's buffered
    stream: safe from a signal handler and from the watchdog thread, and lines never
    interleave. Names and criteria in `message` come from pushes: control characters (an
    escape sequence, a carriage return) and undecodable bytes are escaped.
    """
    line = display_name(" ".join(message.splitlines()))
    if not os.environ.get("JOURNAL_STREAM"):
        line = f"{datetime.now().astimezone().isoformat(timespec='milliseconds')} taskbot: {line}"
    else:
        line = f"<{level}>taskbot: {line}"
    with contextlib.suppress(OSError):
        sys.stderr.flush()
        os.write(sys.stderr.fileno(), (line + "\n").encode(errors="replace"))


def _pushes(lines: Sequence[str]) -> tuple[frozenset[str], bool]:
    """An entry's push lines, and whether it holds nothing else."""
    pushes: set[str] = set()
    only_pushes = True
    for text in lines:
        try:
            line = queue.parse_line(text)
        except queue.QueueError:
            only_pushes = False
            continue
        if line.kind == "push":
            pushes.add(text)
        else:
            only_pushes = False
    return frozenset(pushes), only_pushes


def _short(line: queue.Line) -> str:
    if line.kind == "rerun":
        return f"rerun {line.task_id}"
    return f"push {line.old[:8]}..{line.new[:8]} {line.ref}"


class _Outbox:
    """The notification outbox: delivery failures are logged, never stop the daemon."""

    def __init__(self, config: Config, state_dir: Path) -> None:
        self._box = Outbox(state_dir, config.notify)

    def deliver_due(self) -> None:
        try:
            result = self._box.deliver_due(time.time())
        except Exception as exc:
            log(f"outbox: delivery failed: {type(exc).__name__}: {exc}", ERR)
            return
        for entry in result.delivered:
            log(f"notification sent: {entry.message.title}")
        for entry in result.failed:
            log(f"notification not sent yet ({entry.attempts} attempts): {entry.message.title}: "
                f"{entry.last_error}", WARNING)

    def seconds_to_next(self) -> float | None:
        try:
            due = self._box.next_due()
        except Exception as exc:
            log(f"outbox: cannot tell the next delivery: {type(exc).__name__}: {exc}", WARNING)
            return 60.0
        return None if due is None else min(max(due - time.time(), 0.0), MAX_SLEEP)


def start_afresh() -> None:
    """The same daemon, a new process image (same pid, so systemd and the pid file still
    name it): the only way to leave pure-Python work that does not return. Descriptors are
    close-on-exec, the state dir's lock with them."""
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    try:
        os.execv(sys.executable, sys.orig_argv)  # noqa: S606 -- its own argv, no shell
    except OSError as exc:
        log(f"cannot start afresh: {exc}; exiting for the service manager to restart", ERR)
        os._exit(70)  # EX_SOFTWARE: Restart=on-failure brings the daemon back


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
        self._git_dir: Path | None = None
        self._ref = ""
        self._last_queued = ""  # watch mode: the branch tip already handed to the spool
        self._started = _now()
        self._status = statusfile.StatusWriter(self.state_dir)
        self._in_flight: dict[str, Any] | None = None
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
        self._progress.beat()  # the pipeline's status lines say the item is alive
        if text is not None:
            self._status_text = text
        if state is not None:
            self._state = state
        if self._in_flight is not None and text is not None:
            self._in_flight["status"] = text
        doc = {
            "version": 1,
            "updated": _iso(_now()),
            "daemon": {"pid": os.getpid(), "started": _iso(self._started), "mode": self._mode,
                       "state": self._state, "status": self._status_text},
            "queue_length": self._queue_length,
            "failed": len(queue.failed(self.state_dir)),
            "in_flight": self._in_flight,
            **({"forge": self._forge.status()} if self._forge is not None else {}),
        }
        problem = self._status.write(doc)
        if problem:
            log(problem, WARNING)
        if text is not None:  # after the file, so that a reader woken by it sees the new state
            self.notifier.status(text)

    # --- watching -----------------------------------------------------------------------

    def _watch_paths(self) -> list[Path]:
        paths = [queue.queue_dir(self.state_dir)]
        if self._git_dir is not None:
            ref_dir = (self._git_dir / self._ref).parent
            paths.append(ref_dir if ref_dir.is_dir() else self._git_dir / "refs" / "heads")
        return paths

    def _check_hook(self) -> None:
        """Hook mode: say so when no hook hands pushes over (they would wait unseen)."""
        repo = Path(self.config.repo.path)
        try:
            hook = read.hooks_dir(repo) / hookinstall.HOOK_NAME
            text = hook.read_text(errors="replace")
        except (TaskbotError, OSError):
            log(f"warning: no taskbot post-receive hook in {repo}: pushes will not reach "
                "the daemon (run 'taskbot init')", WARNING)
            return
        if hookinstall.MARKER_PREFIX not in text and "hook post-receive" not in text:
            log(f"warning: {hook} does not hand pushes to taskbot (run 'taskbot init')", WARNING)

    def _read_ref(self) -> str:
        assert self._git_dir is not None
        try:
            return read.resolve(self._git_dir, self._ref) or ""
        except read.GitError:  # the clone went away; watching its refs says so
            return ""

    def _load_watch_state(self) -> str:
        try:
            data = json.loads((self.state_dir / WATCH).read_text())
        except (OSError, ValueError):
            return ""
        if not isinstance(data, dict) or data.get("ref") != self._ref:
            return ""
        return str(data.get("sha", ""))

    def _save_watch_state(self, sha: str) -> None:
        doc = {"git_dir": str(self._git_dir), "ref": self._ref, "sha": sha}
        write_atomic(self.state_dir / WATCH, json.dumps(doc).encode(), 0o644)

    def _init_watch(self) -> None:
        assert self.backend.watch_target is not None
        git_dir, self._ref = self.backend.watch_target()
        self._git_dir = git_dir.absolute()
        current = self._read_ref()
        last = self._load_watch_state()
        if not last:
            log(f"watch mode: first start, watching {self._ref} from {current[:12] or 'nothing'}")
            self._save_watch_state(current)
            last = current
        queued: list[queue.Line] = []
        for entry in queue.pending(self.state_dir):
            for text in entry.lines:
                with contextlib.suppress(queue.QueueError):
                    queued.append(queue.parse_line(text))
        mine = [p for p in queued if p.kind == "push" and p.ref == self._ref]
        self._last_queued = mine[-1].new if mine else last
        log(f"watch mode: {self._git_dir} {self._ref} (last processed {last[:12] or 'none'})")

    def _check_ref(self) -> None:
        current = self._read_ref()
        if not current or current == self._last_queued:
            return
        old = self._last_queued or "0" * len(current)
        queue.enqueue(self.state_dir, [f"{old} {current} {self._ref}"])
        log(f"watch: {self._ref} moved {old[:8]}..{current[:8]}: queued")
        self._last_queued = current

    # --- processing ---------------------------------------------------------------------

    def _record(self, results: Sequence[Processed], now: datetime) -> list[str]:
        reruns: list[str] = []
        for p in results:
            reruns.extend(p.reruns)
            r = p.report
            if r is None:
                if p.message:
                    log(f"{p.task_id}: {p.message}", WARNING)
                continue
            refused = r.run_id.endswith("-refused")
            if not refused:  # a refused file is no task's result: it never takes a task's line
                self._status.record(p.task_id, statusfile.task_entry(r, p.commit, now))
            log(f"{r.title}" + (f" (commit {p.commit[:12]})" if p.commit else " (no commit)")
                + (f": {p.message}" if p.message else ""),
                WARNING if refused or p.message else INFO)
        return reruns

    # --- the criterion in flight: the log and status.json -----------------------------

    def _observer(self) -> observe.Observer:
        return observe.Observer(on_start=self._criterion_started,
                                on_end=self._criterion_ended, on_command=self._command)

    def _criterion_started(self, task_id: str, action: Action, attempt: int) -> None:
        limits = self.config.limits
        self._progress.hold(max(limits.command_timeout, limits.build_timeout))
        text = action.criterion.text
        again = f" (attempt {attempt})" if attempt > 1 else ""
        log(f"{task_id}: started \"{text}\"{again}")
        if self._in_flight is not None:
            self._in_flight.update(task=task_id, criterion=text, command="",
                                   criterion_since=_iso(_now()))
            self._publish()

    def _command(self, argv: Sequence[str]) -> None:
        if self._in_flight is not None and self._in_flight.get("criterion"):
            self._in_flight["command"] = shlex.join(argv)
            self._publish()

    def _criterion_ended(self, task_id: str, result: Result, seconds: float) -> None:
        self._progress.hold(0.0)
        level = {State.FAILED: ERR, State.BLOCKED: WARNING,
                 State.INTERRUPTED: WARNING}.get(result.state, INFO)
        why = f": {result.reason}" if result.state is not State.DONE and result.reason else ""
        log(f"{task_id}: {result.state.value} \"{result.action.criterion.text}\" in "
            f"{seconds:.1f}s{why}", level)
        if self._in_flight is not None:
            for key in ("task", "criterion", "command", "criterion_since"):
                self._in_flight.pop(key, None)
            self._publish()

    def _process_entry(self, entry: queue.Entry) -> None:
        entry = self._collapse(entry)
        while entry.lines and not self.stop.is_set():
            text = entry.lines[0]
            try:
                line = queue.parse_line(text)
            except queue.QueueError as exc:
                log(f"{entry.name}: skipped: {exc}")
                entry = queue.rest(entry, entry.lines[1:])
                continue
            now = _now()
            self._in_flight = {"entry": entry.name, "item": text, "since": _iso(now), "status": ""}
            self._publish(f"processing {_short(line)} ({self._queue_length} more queued)",
                          state="running")
            log(f"processing {_short(line)} from {entry.name}")
            started = time.monotonic()
            with self._watched():
                results = self._guarded(_short(line), partial(
                    self.backend.process, line, self._should_stop, self._publish, now))
            if results is None:
                self._in_flight = None
                if not self._paused:
                    self._set_aside(entry, _short(line))
                return
            self._after(results, now, line)
            entry = queue.rest(entry, entry.lines[1:])
            self._in_flight = None
            log(f"done {_short(line)} in {time.monotonic() - started:.2f}s: "
                f"{len(results)} task(s)")

    def _absorbed(self, first: queue.Entry, later: Sequence[queue.Entry]) -> list[queue.Entry]:
        """`later` without the entries that only repeat push lines of `first`: removed.

        A push line is only a wake-up (the range is taskbot's own tip .. the branch as it is
        when the item runs), so the same line already in the spool when `first` starts adds
        nothing to it: a signed webhook replayed with its delivery id changed or left out
        costs one fetch, not one each. A kill after the removal loses nothing: `first` is
        still in the spool."""
        pushes, _ = _pushes(first.lines)
        kept: list[queue.Entry] = []
        for entry in later:
            theirs, only_pushes = _pushes(entry.lines)
            if only_pushes and theirs and theirs <= pushes:
                queue.done(entry)
            else:
                kept.append(entry)
        return kept

    def _collapse(self, entry: queue.Entry) -> queue.Entry:
        """Anyone who can push can write the spool: lines that say the same (push lines are
        only wake-ups, one per ref is enough; a rerun of the same task) are taken once, and
        an entry keeps at most MAX_ENTRY_LINES of them."""
        kept: list[str] = []
        seen: set[tuple[str, str]] = set()
        for text in entry.lines:
            try:
                line = queue.parse_line(text)
            except queue.QueueError:
                key = ("bad", text)
            else:
                key = ("push", line.ref) if line.kind == "push" else ("rerun", line.task_id.lower())
            if key not in seen:
                seen.add(key)
                kept.append(text)
        branch = f" refs/heads/{self.config.repo.branch}"
        kept.sort(key=lambda t: not t.rstrip().endswith(branch))  # the branch's wake-up first
        if len(kept) > MAX_ENTRY_LINES:
            log(f"{entry.name}: {len(kept)} different lines; the first {MAX_ENTRY_LINES} are "
                "taken, the rest dropped", level=WARNING)
            kept = kept[:MAX_ENTRY_LINES]
        if len(kept) == len(entry.lines):
            return entry
        return queue.rest(entry, tuple(kept))

    def _guarded(self, what: str, work: Callable[[], Sequence[Processed]]
                 ) -> Sequence[Processed] | None:
        """Whatever one item does, the daemon goes on: None when it raised. A full disk or a
        forge that does not answer leaves the item where it is, to be resumed (its journal
        says how far it got) once there is room again, or the forge answers."""
        self._paused = False
        try:
            return work()
        except ForgeUnreachable as exc:
            self._paused = True  # the forge is down for now: the item waits, it is not failed
            log(f"{what}: {exc}; retried in {DISK_FULL_PAUSE:.0f}s", WARNING)
            return None
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                self._paused = True
                log(f"{what}: no space left in {self.state_dir}: {exc}; retried in "
                    f"{DISK_FULL_PAUSE:.0f}s, nothing queued is lost", ERR)
                return None
            self._last_error = f"{type(exc).__name__}: {exc}"
        except Exception as exc:  # one bad item must not stop the daemon
            self._last_error = f"{type(exc).__name__}: {exc}"
        log(f"{what} failed: {self._last_error}", ERR)
        return None

    def _set_aside(self, entry: queue.Entry, what: str) -> None:
        """The failed item goes to queue/failed/ with its reason, and a notification says so."""
        reason = self._last_error
        try:
            target = queue.fail(entry, reason)
        except (OSError, TaskbotError) as exc:
            log(f"cannot move {entry.name} to queue/failed/: {exc}", ERR)
            return
        log(f"{what}: entry kept in {target} (move it back to queue/ to retry)", ERR)
        self._notify_failure(what, reason, target)

    def _notify_failure(self, what: str, reason: str, target: Path, *, retry: bool = True
                        ) -> None:
        hint = "; move it back to `queue/` to retry." if retry else "."
        # The reason may quote a pushed file's name or a handler's words: text, never markup.
        message = Message(f"taskbot: {link_markup(what)} failed",
                          f"**{inline(what)}** failed: {inline(reason)}\n\n"
                          f"The entry is kept in {code_span(str(target))}{hint}", "blocked")
        try:
            Outbox(self.state_dir, self.config.notify).enqueue(message)
        except (OSError, ValueError) as exc:
            log(f"cannot queue the failure notification: {exc}", WARNING)

    def _after(self, results: Sequence[Processed], now: datetime, line: queue.Line) -> None:
        if self._forge is not None and line.kind == "push":
            self._forge.reached()  # the range was fetched from the forge just now
        reruns = self._record(results, now)
        if reruns:
            try:
                queue.enqueue_reruns(self.state_dir, reruns, on_skip=log)
                log(f"queued again: {', '.join(dict.fromkeys(reruns))}")
            except (OSError, TaskbotError) as exc:
                log(f"cannot queue again {', '.join(reruns)}: {exc}", ERR)
        if self._git_dir is not None and line.kind == "push" and line.ref == self._ref:
            with contextlib.suppress(OSError):
                self._save_watch_state(line.new)

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
            with observe.watching(self._observer()), heartbeat.listening(self._progress.beat):
                yield
        finally:
            self._progress.end()

    def _stalled(self, quiet: float) -> None:
        """The guard's thread: the item in flight is given up; a fresh daemon sets it aside."""
        flight = dict(self._in_flight or {})
        doing = str(flight.get("status") or self._status_text)
        why = (f"no sign of life for {quiet:.0f}s (limits.stall_timeout is "
               f"{format_duration(self.config.limits.stall_timeout)}) while: {doing}")
        what = str(flight.get("item") or "the resumed item")
        log(f"{what}: stalled: {why}; it is set aside and taskbot starts afresh", ERR)
        work = self.backend.in_flight() if self.backend.in_flight is not None else {}
        try:
            quarantine.record(self.state_dir, quarantine.Stalled(
                str(flight.get("entry", "")), str(flight.get("item", "")), why, work))
        except OSError as exc:
            log(f"cannot record the stalled item: {exc}", ERR)
        self._restart()

    def _stuck_stop(self, quiet: float) -> None:
        """The guard's thread: a stop waits on an item quiet outside any command; the
        journal resumes it at the next start, so leaving now loses nothing."""
        log(f"stopping now: the item in flight has shown no sign of life for {quiet:.0f}s; "
            "it resumes at the next start", WARNING)
        with contextlib.suppress(OSError):
            (self.state_dir / PID).unlink()
        self.notifier.stopping("stopping")
        os._exit(0)

    def _set_aside_stalled(self) -> None:
        """At start: the item a stalled daemon gave up on goes to queue/failed/, its
        journal aside, and a notification says what was not run."""
        stalled = quarantine.load(self.state_dir)
        if stalled is None:
            return
        skipped = ""
        if self.backend.quarantine is not None:
            try:
                skipped = self.backend.quarantine(stalled.work)
            except (OSError, TaskbotError) as exc:
                log(f"cannot set the stalled item's journal aside: {exc}", ERR)
        what = stalled.line or "the resumed item"
        reason = f"stalled: {stalled.why}" + (f"; {skipped}" if skipped else "")
        kept = self.state_dir / STALLED
        for entry in queue.pending(self.state_dir):
            if stalled.entry and entry.name == stalled.entry and entry.lines[:1] == (stalled.line,):
                kept, _ = queue.fail_first(entry, reason)
        log(f"{what}: {reason}; kept in {kept}", ERR)
        self._notify_failure(what, reason, kept, retry=False)
        quarantine.clear(self.state_dir)

    def _idle_timeout(self, outbox: _Outbox) -> float | None:
        waits = [outbox.seconds_to_next(), self._watchdog_interval,
                 self._forge.due_in() if self._forge is not None else None]
        known = [w for w in waits if w is not None]
        return min(known) if known else None

    def _drain(self, outbox: _Outbox) -> None:
        while not self.stop.is_set():
            self._beat = time.monotonic()
            outbox.deliver_due()
            if self._git_dir is not None:
                self._check_ref()
            if self._forge is not None:
                self._forge.poll_if_due()
            if not self._resumed:
                self._resumed = self._resume()
                if not self._resumed:
                    self._wait(DISK_FULL_PAUSE)
                    continue
            entries = queue.pending(self.state_dir)
            if entries:
                later = self._absorbed(entries[0], entries[1:])
                self._queue_length = len(later)
                self._process_entry(entries[0])
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
            log(f"{lost}: recreating {queue.queue_dir(self.state_dir)}")
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o755)
            queue.ensure_dirs(self.state_dir)
            with contextlib.suppress(OSError):
                write_atomic(self.state_dir / PID, f"{os.getpid()}\n".encode(),
                             0o644)
        elif self._git_dir is not None and not self._git_dir.is_dir():
            raise lost
        if self._waker is not None:
            self._waker.close()
        self._waker = make_waker(self._watch_paths())

    # --- the whole run ------------------------------------------------------------------

    def _start_intake(self) -> None:
        """What hands the daemon its items: a watched clone, a forge, or the hook."""
        if self.backend.watch_target is not None:
            self._init_watch()
        elif self.config.repo.remote:
            self._forge = ForgeWatch(self.config, self.state_dir, log)
            self._forge.start()
        else:
            self._check_hook()

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
                self._set_aside_stalled()
                self._resumed = self._resume()
                self._drain(_Outbox(self.config, self.state_dir))
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


def serve(config: Config, handlers: Mapping[str, Handler]) -> int:
    # libgit2's object cache keeps what a repository read after the repository is gone:
    # ~20 KB more resident memory per push, for good, in a process that runs for months.
    # Every read here opens its repository afresh, so the cache saves nothing (measured:
    # 4 KB a push without it, and no slower).
    pygit2.settings.enable_caching(False)
    daemon = Daemon(config, pipeline_backend(config, handlers, log))
    daemon.install_signal_handlers()
    return daemon.run()
