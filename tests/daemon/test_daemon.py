"""The daemon: spool order, restarts, reruns, failures, stops, watch mode.

In-process tests drive `Daemon` with a fake pipeline (a `Backend` of two callables) to
pin down the loop; the integration tests run `taskbot serve` as a subprocess with the
real pipeline, real bare repos and real `git push`.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest
import watchfiles

from bot import config as configmod
from bot.daemon import spool as queue
from bot.daemon.serve import Backend, Daemon
from bot.pipeline import Processed
from bot.run.report import Report, TaskInfo
from tests.kit.daemon import (
    TASKBOT,
    await_entries,
    await_spool,
    idle_and_empty,
    running_daemon,
    status_doc,
    until,
)
from tests.kit.git import Sandbox, git, sandbox
from tests.kit.receivers import HttpReceiver

A, B, C = "a" * 40, "b" * 40, "c" * 40


def _report(task_id: str, result: str = "complete") -> Report:
    return Report(TaskInfo(task_id, f"title of {task_id}", "high", "active", f"{task_id}.md"),
                  result, 1, 1, (), (), (), (), (), f"run-{task_id}")


@dataclass
class FakePipeline:
    """Records what it is given; `script` maps a line to what to do with it."""

    seen: list[str] = field(default_factory=list)
    script: dict[str, Callable[[Callable[[], bool]], Sequence[Processed]]] = field(
        default_factory=dict)
    changed: threading.Event = field(default_factory=threading.Event)

    def process(self, line: queue.Line, should_stop: Callable[[], bool],
                on_status: Callable[[str], None], now: datetime) -> Sequence[Processed]:
        text = line.text()
        self.seen.append(text)
        self.changed.set()
        on_status(f"working on {text}")
        action = self.script.get(text)
        if action is not None:
            return action(should_stop)
        if line.kind == "rerun":
            return (Processed(line.task_id, _report(line.task_id), "f" * 40),)
        return ()


class InProcess:
    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon
        self.code: int | None = None
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        self.code = self.daemon.run()

    def stop(self) -> int | None:
        self.daemon.request_stop("test")
        self.thread.join(10)
        assert not self.thread.is_alive()
        return self.code


def _config(tmp_path: Path, repo: Path | None = None) -> configmod.Config:
    state = tmp_path / "state"
    state.mkdir(exist_ok=True)
    return configmod.parse({"repo": {"path": str(repo or tmp_path), "state_dir": str(state)},
                            "trust": {"anyone": True}}, str(tmp_path / "taskbot.toml"))


@pytest.fixture
def start() -> Iterator[Callable[..., InProcess]]:
    started: list[InProcess] = []

    def _start(config: configmod.Config, backend: Backend) -> InProcess:
        runner = InProcess(Daemon(config, backend, environ={}))
        started.append(runner)
        runner.thread.start()
        return runner

    yield _start
    for runner in started:
        if runner.thread.is_alive():
            runner.stop()


def _await(condition: Callable[[], bool], state: Path, timeout: float = 10) -> None:
    """Re-check `condition` whenever the daemon writes in the state dir (status.json, spool)."""
    if condition():
        return
    stop = threading.Event()
    timer = threading.Timer(timeout, stop.set)
    timer.start()
    try:
        for _ in watchfiles.watch(state, debounce=50, step=10, stop_event=stop,
                                  watch_filter=None):
            if condition():
                return
    finally:
        timer.cancel()
    assert condition(), "condition not met in time"


def _idle(state: Path) -> Callable[[], bool]:
    def check() -> bool:
        doc = status_doc(state)
        daemon = doc.get("daemon")
        return (not queue.pending(state) and isinstance(daemon, dict)
                and daemon.get("state") == "idle")
    return check


def test_entries_are_processed_in_order_and_reruns_are_queued(
        tmp_path: Path, start: Callable[..., InProcess]) -> None:
    config = _config(tmp_path)
    state = Path(config.repo.state_dir)
    fake = FakePipeline()
    fake.script[f"{A} {B} refs/heads/main"] = lambda _stop: (
        Processed("T-1", _report("T-1", "complete"), B, reruns=("T-2",)),)
    queue.enqueue(state, [f"{A} {B} refs/heads/main", "rerun T-9"])  # queued while "down"
    queue.enqueue(state, [f"{B} {C} refs/heads/main"])
    runner = start(config, Backend(fake.process))
    _await(_idle(state), state)
    assert fake.seen == [f"{A} {B} refs/heads/main", "rerun T-9", f"{B} {C} refs/heads/main",
                         "rerun T-2"]
    queue.enqueue(state, ["rerun T-3"])  # queued while it runs: woken, not polled
    _await(lambda: "rerun T-3" in fake.seen and _idle(state)(), state)
    assert runner.stop() == 0
    doc = json.loads((state / "status.json").read_text())
    assert doc["daemon"]["state"] == "stopped" and doc["in_flight"] is None
    assert doc["tasks"]["T-1"] == {"result": "complete", "title": "title of T-1", "done": "1/1",
                                   "time": doc["tasks"]["T-1"]["time"], "commit": B,
                                   "run_id": "run-T-1"}
    assert set(doc["tasks"]) == {"T-1", "T-2", "T-3", "T-9"}
    assert not (state / "daemon.pid").exists()


def test_a_failing_item_is_kept_aside_and_the_rest_goes_on(
        tmp_path: Path, start: Callable[..., InProcess]) -> None:
    config = _config(tmp_path)
    state = Path(config.repo.state_dir)
    fake = FakePipeline()

    def boom(_stop: Callable[[], bool]) -> Sequence[Processed]:
        raise RuntimeError("disk on fire")

    fake.script["rerun T-1"] = boom
    queue.enqueue(state, ["rerun T-1", "rerun T-2"])
    (state / "queue" / f"{'9' * 19}-1.push").write_text("not a spool line\nrerun T-4\n")
    queue.enqueue(state, ["rerun T-3"])
    runner = start(config, Backend(fake.process))
    _await(_idle(state), state)
    runner.stop()
    assert fake.seen == ["rerun T-1", "rerun T-4", "rerun T-3"]
    [failed] = queue.failed(state)
    assert failed.read_text() == "rerun T-1\nrerun T-2\n"
    assert "RuntimeError: disk on fire" in failed.with_name(failed.name + ".reason").read_text()


def test_stop_lets_the_item_in_flight_finish_and_keeps_the_rest(
        tmp_path: Path, start: Callable[..., InProcess]) -> None:
    config = _config(tmp_path)
    state = Path(config.repo.state_dir)
    fake = FakePipeline()
    release = threading.Event()
    asked: list[bool] = []

    def slow(should_stop: Callable[[], bool]) -> Sequence[Processed]:
        release.wait(10)
        asked.append(should_stop())
        return (Processed("T-1", _report("T-1", "partial"), None),)

    fake.script["rerun T-1"] = slow
    entry = queue.enqueue(state, ["rerun T-1", "rerun T-2"])
    runner = start(config, Backend(fake.process))
    _await(lambda: bool(fake.seen), state)
    runner.daemon.request_stop("test")
    release.set()
    assert runner.stop() == 0
    assert asked == [True]  # the pipeline was told to stop after its criterion
    assert fake.seen == ["rerun T-1"]
    assert [(e.path, e.lines) for e in queue.pending(state)] == [(entry, ("rerun T-2",))]
    assert status_doc(state)["tasks"] == {"T-1": status_doc(state)["tasks"]["T-1"]}


def test_watch_mode_follows_the_branch_and_catches_up_after_a_restart(
        tmp_path: Path, start: Callable[..., InProcess]) -> None:
    box = sandbox(tmp_path, bare=False)
    config = _config(tmp_path, box.clone)
    state = Path(config.repo.state_dir)
    fake = FakePipeline()
    backend = Backend(fake.process, lambda: (box.clone / ".git", "refs/heads/main"))
    first = git(box.clone, "rev-parse", "HEAD")
    runner = start(config, backend)
    _await(_idle(state), state)
    assert fake.seen == []  # the first start records the tip and runs nothing
    (box.clone / "a.txt").write_text("a\n")
    git(box.clone, "add", "-A")
    git(box.clone, "commit", "-q", "-m", "a")
    second = git(box.clone, "rev-parse", "HEAD")
    _await(lambda: len(fake.seen) == 1 and _idle(state)(), state)
    assert fake.seen == [f"{first} {second} refs/heads/main"]
    runner.stop()
    for name in ("b", "c"):
        (box.clone / f"{name}.txt").write_text(f"{name}\n")
        git(box.clone, "add", "-A")
        git(box.clone, "commit", "-q", "-m", name)
    fourth = git(box.clone, "rev-parse", "HEAD")
    runner = start(config, backend)
    _await(lambda: len(fake.seen) == 2 and _idle(state)(), state)
    runner.stop()
    assert fake.seen[1] == f"{second} {fourth} refs/heads/main"
    assert json.loads((state / "watch.json").read_text())["sha"] == fourth


# --- the real thing: `taskbot serve` as a subprocess -----------------------------------

TASK = """\
---
id: {id}
title: Task {n}
---
# {id}

## Acceptance Criteria
- [ ] Record {n} <!-- taskbot: shell project=demo cmd="sh -c 'echo {n} >> {order}'" -->
"""


def _installed(tmp_path: Path) -> Sandbox:
    box = sandbox(tmp_path)
    done = subprocess.run([str(TASKBOT), "init", "--config", str(box.config)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return box


@pytest.mark.integration
def test_five_pushes_made_while_stopped_run_in_order_after_start(tmp_path: Path) -> None:
    box = _installed(tmp_path)
    state = box.root / "state"
    order = box.root / "order.txt"
    for n in range(1, 6):
        box.write(f"tasks/active/TASK-00{n}.md", TASK.format(id=f"TASK-00{n}", n=n, order=order))
        box.commit_push(f"add TASK-00{n}")
    assert len(await_entries(state, 5)) == 5
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        until(daemon.notify, idle_and_empty(state))
    assert order.read_text().split() == ["1", "2", "3", "4", "5"]
    subjects = [line.split(" ", 2)[2] for line in box.log()]
    bot = [s for s in subjects if s.startswith("taskbot(")]
    assert bot == [f"taskbot(TASK-00{n}): complete, 1/1 criteria done" for n in range(5, 0, -1)]
    tasks = status_doc(state)["tasks"]
    assert isinstance(tasks, dict) and sorted(tasks) == [f"TASK-00{n}" for n in range(1, 6)]
    for n in range(1, 6):
        assert f"- [x] Record {n}" in box.main_file(f"tasks/active/TASK-00{n}.md")


SLOW_TASK = """\
---
id: TASK-010
title: Slow
---
# TASK-010

## Acceptance Criteria
- [ ] Slow step <!-- taskbot: shell project=demo cmd="sh -c '{script}'" -->
- [ ] Next step <!-- taskbot: shell project=demo cmd="touch {d}/second" -->
"""


def _lines(state: Path) -> list[str]:
    return [line for e in queue.pending(state) for line in e.lines]


@pytest.mark.integration
def test_sigterm_mid_criterion_finishes_it_and_leaves_nothing_half_written(tmp_path: Path) -> None:
    box = _installed(tmp_path)
    state = box.root / "state"
    marks = box.root / "marks"
    marks.mkdir()
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        script = f"touch {marks}/started; sleep 1; touch {marks}/finished"
        box.write("tasks/active/TASK-010.md", SLOW_TASK.format(d=marks, script=script))
        _, pushed = box.commit_push("add a slow task")
        for changes in watchfiles.watch(marks, debounce=50, step=10, rust_timeout=20_000):
            if any(Path(p).name == "started" for _, p in changes):
                break
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.terminate() == 0
        log = daemon.stderr()
    assert (marks / "finished").exists()  # the criterion in flight ran to its end
    assert not (marks / "second").exists()  # nothing new was started
    assert "stopping (SIGTERM)" in log and "the criterion in flight finishes first" in log
    text = box.main_file("tasks/active/TASK-010.md")
    assert "- [x] Slow step" in text and "- [ ] Next step" in text
    message = git(box.bare, "log", "-1", "--format=%B", "main")
    assert f"Triggered-By: {pushed}" in message
    doc = status_doc(state)
    assert doc["daemon"]["state"] == "stopped" and doc["in_flight"] is None  # type: ignore[index]
    leftovers = [p for p in state.rglob("*") if p.name.endswith((".tmp", ".rest"))]
    assert leftovers == []
    # The interrupted task is queued again, so the rest runs when the daemon is back; beside
    # it wait the hook's entries for taskbot's own pushes (its commit, its note), which the
    # hook writes in the background after each push has returned: in either order.
    bot_commit = git(box.bare, "rev-parse", "main")
    bot_push = f"{pushed} {bot_commit} refs/heads/main"
    await_spool(state, lambda _: bot_push in _lines(state), "taskbot's own push")
    assert "rerun TASK-010" in _lines(state)
    with running_daemon(box.config, tmp_path / "serve2.log") as daemon:
        until(daemon.notify, idle_and_empty(state))
    assert (marks / "second").exists()
    assert "- [x] Next step" in box.main_file("tasks/active/TASK-010.md")


@pytest.mark.integration
def test_watch_mode_runs_a_local_commit_and_leaves_uncommitted_work_alone(tmp_path: Path) -> None:
    box = sandbox(tmp_path, bare=False)
    state = box.root / "state"
    state.mkdir()
    order = box.root / "order.txt"
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        box.write("tasks/active/TASK-001.md", TASK.format(id="TASK-001", n=1, order=order))
        git(box.clone, "add", "-A")
        git(box.clone, "commit", "-q", "-m", "add TASK-001")
        (box.clone / "README.md").write_text("tasks\nwork in progress, not committed\n")
        until(daemon.notify, lambda: "TASK-001" in (status_doc(state).get("tasks") or {})
                             and idle_and_empty(state)())
    assert order.read_text().split() == ["1"]
    assert (box.clone / "README.md").read_text() == "tasks\nwork in progress, not committed\n"


@pytest.mark.integration
def test_the_daemon_delivers_reports_and_retries_when_the_outbox_says(tmp_path: Path) -> None:
    box = _installed(tmp_path)
    state = box.root / "state"
    order = box.root / "order.txt"
    with HttpReceiver(fail_first=1) as receiver:
        with box.config.open("a") as fh:
            fh.write(f'\n[notify]\nurls = ["{receiver.url()}"]\n')
        with running_daemon(box.config, tmp_path / "serve.log") as daemon:
            box.write("tasks/active/TASK-001.md", TASK.format(id="TASK-001", n=1, order=order))
            box.commit_push("add TASK-001")
            # The first delivery fails; the daemon sleeps until the outbox's next try (no push
            # wakes it) and delivers then.
            [post] = receiver.wait_for(1)
            assert post.title == "TASK-001 complete: 1/1 criteria done"
            assert len(receiver.posts) == 2 and receiver.posts[0].status == 500
            until(daemon.notify, idle_and_empty(state))
        log = daemon.stderr()
    assert "notification not sent yet (1 attempts)" in log
    assert "notification sent: TASK-001 complete: 1/1 criteria done" in log
    assert not list((state / "outbox").glob("*.json"))
