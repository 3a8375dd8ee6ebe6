"""Groups side by side (`bot.run.lanes`, `bot.run.runner`), with stand-in handlers that sleep:
independent project groups overlap, a barrier waits for all above, one repository is
worked on by one criterion at a time, results stay in file order."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bot import taskfile
from bot.api import Context, Handler, Outcome, Status, Step
from bot.plugin.plugins import load_handlers
from bot.run import lanes, observe, repolock
from bot.run.actions import resolve
from bot.run.journal import Journal
from bot.run.report import to_json, to_markdown
from bot.run.runner import Executed, State, executed
from bot.run.taskrun import RunOptions, run_task
from tests.kit.context import make_ctx, operator_ctx
from tests.kit.journal import Forgetful

NAP = 0.3
FAIL = "0.01"


class _Work:
    """Sleeps `s` seconds; records when each criterion ran and how many ran at once per
    project directory it names."""

    name = "work"
    params = ("project", "app", "s")
    rules = ()
    inherits_from = ("app",)

    def __init__(self) -> None:
        self.spans: dict[str, tuple[float, float]] = {}
        self.threads: set[str] = set()
        self._lock = threading.Lock()
        self.busy: dict[str, int] = {}
        self.overlap: dict[str, int] = {}

    def settings(self, params: Mapping[str, str], ctx: Context) -> dict[str, str]:
        return dict(params)

    def plan(self, s: dict[str, str], ctx: Context) -> Step:
        return Step()

    def run(self, s: dict[str, str], ctx: Context) -> Outcome:
        key = s.get("project", "")
        with self._lock:
            self.busy[key] = self.busy.get(key, 0) + 1
            self.overlap[key] = max(self.overlap.get(key, 0), self.busy[key])
            self.threads.add(threading.current_thread().name)
        began = time.monotonic()
        time.sleep(float(s.get("s", NAP)))
        with self._lock:
            self.busy[key] -= 1
        self.spans[f"{s.get('app', '')}/{key}/{s.get('s', '')}"] = (began, time.monotonic())
        fail = s.get("s") == FAIL  # parameters are inherited: a fail= would be too
        return Outcome(Status.FAILED if fail else Status.DONE, "asked to fail" if fail else "")


def _config(tmp_path: Path, parallel: int, names: tuple[str, ...] = ("a", "b", "c", "d", "ops")
            ) -> dict[str, Any]:
    projects = {}
    for n in names:
        (tmp_path / n).mkdir(exist_ok=True)
        projects[n] = {"path": str(tmp_path / n)}
    return {"projects": projects, "limits": {"parallel": parallel, "retries": 0}}


def _task(groups: Mapping[str, list[str]]) -> bytes:
    body = "".join(f"### {name}\n" + "".join(f"- [ ] {c}\n" for c in lines)
                   for name, lines in groups.items())
    return f"# T\n## Acceptance Criteria\n{body}".encode()


def _crit(text: str, **params: str) -> str:
    words = " ".join(f"{k}={v}" for k, v in params.items())
    return f"{text} <!-- taskbot: work {words} -->"


FOUR = {name.upper(): [_crit(f"Build {name}", project=name, s=str(NAP)),
                       _crit(f"Push {name}", project=name, s="0.05")]
        for name in "abcd"}
VERIFY = {"Post-Build Verification": [_crit("Verify all", s="0.05")]}


def _run(tmp_path: Path, text: bytes, parallel: int, journal: Any = None
         ) -> tuple[Executed, _Work, float]:
    work = _Work()
    handlers: dict[str, Handler[Any]] = {"work": work}
    ctx = make_ctx(_config(tmp_path, parallel), tmp_path)
    actions = resolve(taskfile.parse(text, "T.md"), handlers, ctx)
    began = time.monotonic()
    ran = executed(actions, handlers, ctx, journal=journal)
    return ran, work, time.monotonic() - began


def test_four_project_groups_run_side_by_side_then_the_barrier(tmp_path: Path) -> None:
    ran, work, wall = _run(tmp_path, _task({**FOUR, **VERIFY}), 4)
    assert [r.state for r in ran.results] == [State.DONE] * 9
    assert [r.action.criterion.text for r in ran.results] == [
        "Build a", "Push a", "Build b", "Push b", "Build c", "Push c", "Build d", "Push d",
        "Verify all"]  # file order, whichever ended first
    longest = NAP + 0.05
    assert wall < 2 * longest  # one after the other it would take 4 × longest
    assert len(work.threads - {threading.current_thread().name}) == 4  # the barrier: here
    verify = work.spans["//0.05"]
    others = [span for key, span in work.spans.items() if key != "//0.05"]
    assert verify[0] >= max(end for _, end in others)  # the barrier waits for all above
    assert [g.name for g in ran.groups] == ["A", "B", "C", "D", "Post-Build Verification"]
    assert [g.project for g in ran.groups] == ["a", "b", "c", "d", ""]
    assert all(g.seconds >= longest for g in ran.groups[:4])


def test_parallel_one_keeps_file_order(tmp_path: Path) -> None:
    _, work, wall = _run(tmp_path, _task(FOUR), 1)
    starts = sorted(work.spans.items(), key=lambda kv: kv[1][0])
    assert [k.split("/")[1] for k, _ in starts] == ["a", "a", "b", "b", "c", "c", "d", "d"]
    assert wall >= 4 * NAP
    assert work.threads == {threading.current_thread().name}


def test_a_failure_in_one_group_leaves_the_others_running(tmp_path: Path) -> None:
    groups = {"A": [_crit("Build a", project="a", s=FAIL),
                    _crit("Push a", project="a", s="0.05")],
              "B": [_crit("Build b", project="b", s="0.05")]}
    ran, _, _ = _run(tmp_path, _task(groups), 4)
    assert [r.state for r in ran.results] == [State.FAILED, State.DONE, State.DONE]
    # (no gate here: the next criterion of the group still runs, as in file order)


def test_groups_of_one_repository_take_turns(tmp_path: Path) -> None:
    """Two app groups each bump in the one GitOps project: the app makes them independent
    groups, the lock on the GitOps directory keeps their bumps apart."""
    groups = {name.upper(): [_crit(f"Build {name}", project=name, s="0.05"),
                             _crit(f"Bump {name}", app=name, project="ops", s="0.2")]
              for name in "ab"}
    ran, work, wall = _run(tmp_path, _task(groups), 4)
    assert [g.project for g in ran.groups] == ["a", "b"]
    assert work.overlap["ops"] == 1
    assert wall >= 0.4


def test_stages_barriers_and_free_groups() -> None:
    def g(name: str, project: str, work: bool = True) -> lanes.Group:
        return lanes.Group(name, (), project, work)

    a, a2, b, none, done = g("A", "a"), g("A2", "a"), g("B", "b"), g("V", ""), g("X", "", False)
    assert lanes.stages([a, b, none, a2], 4) == [((a,), (b,)), ((none,),), ((a2,),)]
    assert lanes.stages([a, a2, done, b], 4) == [((a, a2), (done,), (b,))]
    assert lanes.stages([a, b], 1) == [((a,),), ((b,),)]


def test_the_journal_records_each_group_and_resumes_each(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    journal = Journal.begin(state, {"kind": "rerun", "task": "T"})
    tj = journal.task("T.md")
    _run(tmp_path, _task(FOUR), 4, journal=tj)
    assert len(journal.doc["tasks"]["T.md"]["outcomes"]) == 8
    assert journal.doc["tasks"]["T.md"]["flight"] == []
    # three in flight at a kill: each has its own commands, each runs once more
    barrier = threading.Barrier(3)

    def start(n: int) -> None:
        tj.started(f"crit {n}", 0)
        barrier.wait()
        tj.spawned(1_000_000 + n)

    threads = [threading.Thread(target=start, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    loaded = Journal.load(state)
    assert loaded is not None
    flight = loaded.doc["tasks"]["T.md"]["flight"]
    assert {(m["identity"], m["groups"][0][0]) for m in flight} == {
        (f"crit {n}", 1_000_000 + n) for n in range(3)}
    assert sorted(g[0] for g in loaded.running_groups()) == [1_000_000 + n for n in range(3)]
    again = loaded.task("T.md")
    again.resume_interrupted()
    assert all(again.was_interrupted(f"crit {n}", 0) for n in range(3))
    assert loaded.running_groups() == []


def test_the_report_gives_each_groups_wall_time(tmp_path: Path) -> None:
    path = tmp_path / "T.md"
    path.write_bytes(_task({**FOUR, **VERIFY}))
    work = _Work()
    ctx = make_ctx(_config(tmp_path, 4), tmp_path)
    result = run_task(path, {"work": work}, ctx,
                      RunOptions(now=datetime(2026, 1, 2, 3, 4).astimezone()))
    markdown = to_markdown(result.report)
    assert "## Timing" in markdown and "- Post-Build Verification: " in markdown
    timing = to_json(result.report)["timing"]
    assert [g["group"] for g in timing["groups"]][:2] == ["A", "B"]
    assert timing["wall"] >= max(g["seconds"] for g in timing["groups"])
    log = [line for line in path.read_text().splitlines() if ": Done: " in line]
    assert [line.split("Done: ")[1] for line in log] == [
        "Build a", "Push a", "Build b", "Push b", "Build c", "Push c", "Build d", "Push d",
        "Verify all"]


def test_what_watches_a_run_is_told_only_the_criteria_that_will_run(tmp_path: Path) -> None:
    """status' "left" and the progress message count the run's work: not a checked box, a
    manual line, or a criterion the push did not select."""
    path = tmp_path / "T.md"
    path.write_bytes(_task(FOUR).replace(b"- [ ] Push a", b"- [x] Push a")
                     + b"- [ ] Ask the operator\n")
    told: list[str] = []
    watcher = observe.Observer(on_run=lambda _id, actions: told.extend(
        a.criterion.text for a in actions))
    ctx = make_ctx(_config(tmp_path, 4), tmp_path)
    with observe.watching(watcher):
        run_task(path, {"work": _Work()}, ctx,
                 RunOptions(now=datetime(2026, 1, 2, 3, 4).astimezone(), selected={0, 2, 3}))
    assert told == ["Build a", "Build b", "Push b"]


def test_a_group_waiting_for_a_dependency_waits_alone(tmp_path: Path) -> None:
    work = _Work()
    handlers: dict[str, Handler[Any]] = {"work": work}
    ctx = make_ctx(_config(tmp_path, 4), tmp_path)
    actions = resolve(taskfile.parse(_task(FOUR), "T.md"), handlers, ctx)
    held = {a.criterion.index: "waiting for TASK-001" for a in actions
            if a.criterion.group == "A"}
    began = time.monotonic()
    ran = executed(actions, handlers, ctx, held=held)
    assert time.monotonic() - began < 2 * (NAP + 0.05)
    assert [r.state for r in ran.results] == [State.WAITING] * 2 + [State.DONE] * 6
    assert [g.name for g in ran.groups] == ["B", "C", "D"]


OPERATOR = b"""# T
## Acceptance Criteria
### FFL
- [ ] Build all FFL containers with version 0.1.18
- [ ] Push all FFL images to registry 192.168.7.21:5000
- [ ] Update ffl HelmRelease in beckerkube to version 0.1.18
### Triager
- [ ] Build all triager containers with version 2.0.0
- [ ] Update triager HelmRelease in beckerkube to version 2.0.0
### Post-Build Verification
- [ ] Verify images in registry: `curl http://192.168.7.21:5000/v2/ffl/backend/tags/list`
- [ ] Verify images in registry: `curl http://192.168.7.21:5000/v2/triager/app/tags/list`
"""


def test_the_operators_task_groups_by_app_and_bumps_share_the_gitops_lock(
        tmp_path: Path) -> None:
    """With the real handlers and phrasing: a HelmRelease bump belongs to its app's group,
    holds the GitOps clone's lock too; the verification over both apps is a barrier."""
    ctx = operator_ctx(tmp_path)
    handlers = load_handlers()
    actions = resolve(taskfile.parse(OPERATOR, "T.md"), handlers, ctx)
    assert not [a.error for a in actions if a.error]
    groups = lanes.split(actions, lambda a: True,
                         lambda a: lanes.project_of(a, handlers, ctx.config))
    assert [(g.name, g.project) for g in groups] == [
        ("FFL", "ffl"), ("Triager", "triager"), ("Post-Build Verification", "")]
    assert lanes.stages(groups, 4) == [((groups[0],), (groups[1],)), ((groups[2],),)]
    gitops = str((tmp_path / "bk").resolve())
    bumps = [a for a in actions if a.handler == "helmrelease"]
    assert all(gitops in repolock.paths(a, handlers, ctx.config) for a in bumps)


class _ImplicitGitOps(_Work):
    """Like `helmrelease` naming no project=: its settings find the one GitOps project."""

    def settings(self, params: Mapping[str, str], ctx: Context) -> dict[str, str]:
        return {"project": "ops", **params}


def test_bumps_into_a_gitops_project_they_do_not_name_take_turns(tmp_path: Path) -> None:
    """The app names the group; the repository the handler settled on is still locked."""
    work = _ImplicitGitOps()
    ctx = make_ctx(_config(tmp_path, 4), tmp_path)
    text = _task({name.upper(): [_crit(f"Bump {name}", app=name, s="0.2")] for name in "ab"})
    actions = resolve(taskfile.parse(text, "T.md"), {"work": work}, ctx)
    ran = executed(actions, {"work": work}, ctx)
    assert [g.project for g in ran.groups] == ["a", "b"]
    assert [r.state for r in ran.results] == [State.DONE] * 2
    assert work.overlap["ops"] == 1


def test_the_real_bump_locks_the_gitops_clone_it_was_not_told(tmp_path: Path) -> None:
    for name in ("ffl", "bk"):
        (tmp_path / name).mkdir()
    ctx = make_ctx({"projects": {
        "ffl": {"path": str(tmp_path / "ffl"), "images": ["ffl/backend"]},
        "beckerkube": {"path": str(tmp_path / "bk"),
                       "helmrelease": "apps/{app}/helmrelease.yaml"}}}, tmp_path)
    handlers = load_handlers()
    text = b"# T\n## Acceptance Criteria\n### FFL\n" \
        b"- [ ] Roll out ffl <!-- taskbot: helmrelease app=ffl version=0.1.18 -->\n"
    [bump] = resolve(taskfile.parse(text, "T.md"), handlers, ctx)
    assert not bump.error and "project" not in bump.params
    assert str((tmp_path / "bk").resolve()) in repolock.paths(bump, handlers, ctx.config)


class _FullDisk(Forgetful):
    """A journal whose write of one criterion's outcome fails, as a full disk would."""

    def __init__(self, breaks: str) -> None:
        self.breaks = breaks
        self.kept: list[str] = []

    def ended(self, identity: str, occurrence: int, state: str, attempts: int,
              outcome: Outcome | None) -> None:
        if identity.startswith(self.breaks):
            raise OSError(28, "No space left on device")
        self.kept.append(identity.split(" <!--", maxsplit=1)[0])


def test_an_error_in_one_group_stops_the_others_starting_and_is_raised(
        tmp_path: Path) -> None:
    """As one after the other: nothing starts after the run broke; what was running ends
    and is kept; the error reaches the caller."""
    groups = {"A": [_crit("Build a", project="a", s="0.05")],
              "B": [_crit("Build b", project="b", s="0.4"),
                    _crit("Push b", project="b", s="0.05")]}
    journal = _FullDisk("Build a")
    with pytest.raises(OSError, match="No space left"):
        _run(tmp_path, _task(groups), 4, journal=journal)
    assert journal.kept == ["Build b"]


# a build long enough that the main thread, however loaded the machine, takes the Ctrl-C
# (it looks every 0.1 s) before the build ends and a push could start
BUILD = "1"


class _Told(_Work):
    """Tells the test when `count` criteria are running."""

    def __init__(self, count: int) -> None:
        super().__init__()
        self.all_running = threading.Barrier(count + 1)

    def run(self, s: dict[str, str], ctx: Context) -> Outcome:
        if s.get("s") == BUILD:
            self.all_running.wait(5)
        return super().run(s, ctx)


def test_ctrl_c_with_groups_in_flight_starts_nothing_more(tmp_path: Path) -> None:
    """Ctrl-C while the run waits for its groups: as one after the other, the run stops
    (there, the command in flight is killed; here, each group's ends), nothing starts."""
    groups = {name.upper(): [_crit(f"Build {name}", project=name, s=BUILD),
                             _crit(f"Push {name}", project=name, s="0.05")]
              for name in "ab"}
    work = _Told(2)
    ctx = make_ctx(_config(tmp_path, 4), tmp_path)
    actions = resolve(taskfile.parse(_task(groups), "T.md"), {"work": work}, ctx)

    def interrupt() -> None:
        work.all_running.wait(5)
        os.kill(os.getpid(), signal.SIGINT)  # as a terminal sends it

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        executed(actions, {"work": work}, ctx)
    assert sorted(work.spans) == [f"/a/{BUILD}", f"/b/{BUILD}"]  # the builds ended; no push started
