"""Gates in the runner (`bot.run.gate`), with stand-in handlers: the checks that follow a gate
in its group are its last step; a failed one undoes it, once, even across a kill."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot import taskfile
from bot.api import Context, Handler, Outcome, Status, Step
from bot.run.actions import resolve
from bot.run.gate import followers
from bot.run.journal import Journal, Recorded
from bot.run.runner import Result, State, executed
from tests.kit.context import make_ctx
from tests.kit.journal import Forgetful


class _Gate:
    name = "release"
    params = ("v",)
    rules = ()
    gate_followers = ("check",)

    def __init__(self) -> None:
        self.undone: list[str] = []

    def settings(self, params: Mapping[str, str], ctx: Context) -> str:
        return params.get("v", "")

    def plan(self, s: str, ctx: Context) -> Step:
        return Step()

    def run(self, s: str, ctx: Context) -> Outcome:
        return Outcome(Status.FAILED if s == "bad" else Status.DONE, "rollout", summary="out")

    def undo(self, s: str, ctx: Context, outcome: Outcome, reason: str) -> Outcome:
        self.undone.append(reason)
        return Outcome(Status.FAILED, f"rolled back to 1 (abc1234): {reason}", final=True)


class _Check:
    name = "check"
    params = ("ok",)
    rules = ()

    def __init__(self) -> None:
        self.ran: list[str] = []

    def settings(self, params: Mapping[str, str], ctx: Context) -> str:
        return params.get("ok", "yes")

    def plan(self, s: str, ctx: Context) -> Step:
        return Step()

    def run(self, s: str, ctx: Context) -> Outcome:
        self.ran.append(s)
        return Outcome(Status.DONE if s == "yes" else Status.FAILED, "answered 500")


def _task(*lines: str) -> bytes:
    return ("# T\n## Acceptance Criteria\n" + "".join(f"{x}\n" for x in lines)).encode()


def _run(tmp_path: Path, text: bytes, journal: Any = None
         ) -> tuple[tuple[Result, ...], _Gate, _Check]:
    gate, check = _Gate(), _Check()
    handlers: dict[str, Handler[Any]] = {"release": gate, "check": check}
    ctx = make_ctx({}, tmp_path)
    actions = resolve(taskfile.parse(text, "T.md"), handlers, ctx)
    return executed(actions, handlers, ctx, journal=journal).results, gate, check


BUMP = "- [ ] Bump <!-- taskbot: release v=2 -->"
GOOD = "- [ ] Health <!-- taskbot: check -->"
BAD = "- [ ] Answers <!-- taskbot: check ok=no -->"


def test_a_failed_check_undoes_its_gate_and_the_later_checks_do_not_run(tmp_path: Path) -> None:
    results, gate, check = _run(tmp_path, _task(BUMP, GOOD, BAD, GOOD.replace("Health", "Up")))
    assert gate.undone == ["verify failed: Answers: answered 500"]
    assert [r.state for r in results] == [State.FAILED, State.DONE, State.FAILED, State.BLOCKED]
    assert results[0].reason == "rolled back to 1 (abc1234): verify failed: Answers: answered 500"
    assert results[3].reason == "not run: the criterion it checks did not pass: Bump"
    assert check.ran == ["yes", "no", "no"]  # a failed check is retried as any criterion is


def test_passing_checks_leave_the_gate_done(tmp_path: Path) -> None:
    results, gate, _ = _run(tmp_path, _task(BUMP, GOOD))
    assert [r.state for r in results] == [State.DONE, State.DONE] and gate.undone == []


def test_a_check_in_another_group_does_not_gate(tmp_path: Path) -> None:
    results, gate, _ = _run(tmp_path, _task("### Deploy", BUMP, "### Later", BAD))
    assert [r.state for r in results] == [State.DONE, State.FAILED] and gate.undone == []


def test_a_failed_gate_leaves_its_checks_not_run(tmp_path: Path) -> None:
    results, gate, check = _run(tmp_path, _task(BUMP.replace("v=2", "v=bad"), GOOD))
    assert [r.state for r in results] == [State.FAILED, State.BLOCKED]
    assert check.ran == [] and gate.undone == []


def test_a_kill_before_the_undo_undoes_once_on_resume(tmp_path: Path) -> None:
    journal = Journal.begin(tmp_path, {"range": "x"})
    tj = journal.task("T.md")
    tj.ended("Bump <!-- taskbot: release v=2 -->", 0, "done", 1, Outcome(Status.DONE))
    tj.ended("Answers <!-- taskbot: check ok=no -->", 0, "failed", 2,
             Outcome(Status.FAILED, "answered 500"))  # then killed: the undo never ran
    results, gate, check = _run(tmp_path, _task(BUMP, BAD), tj)
    assert gate.undone == ["verify failed: Answers: answered 500"] and check.ran == []
    assert results[0].state is State.FAILED
    kept = Journal.load(tmp_path)
    assert kept is not None
    recorded = kept.task("T.md").recorded("Bump <!-- taskbot: release v=2 -->", 0)
    assert recorded is not None and recorded.state == "failed"
    again, gate, _ = _run(tmp_path, _task(BUMP, BAD), kept.task("T.md"))
    assert gate.undone == [] and again[0].reason.startswith("rolled back to 1")


def test_followers_are_the_checks_after_the_gate_up_to_the_next_gate(tmp_path: Path) -> None:
    handlers: dict[str, Handler[Any]] = {"release": _Gate(), "check": _Check()}
    ctx = make_ctx({}, tmp_path)
    text = _task(BUMP, GOOD, "- [ ] By hand", BUMP.replace("Bump", "Other"), BAD)
    actions = resolve(taskfile.parse(text, "T.md"), handlers, ctx)
    found = {gate: [f.criterion.text for f in fs] for gate, fs in
             followers(actions, handlers).items()}
    assert found == {0: ["Health"], 3: ["Answers"]}


class _Kept(Forgetful):
    """A journal holding the gate done in an earlier run (a tick kept on a branch): 0 attempts."""

    def recorded(self, identity: str, occurrence: int) -> Any:
        return Recorded("done", 0, Outcome(Status.DONE)) if identity.startswith("Bump") else None


def test_a_gate_done_in_an_earlier_run_is_not_undone_by_this_one(tmp_path: Path) -> None:
    results, gate, _ = _run(tmp_path, _task(BUMP, BAD), _Kept())
    assert [r.state for r in results] == [State.DONE, State.FAILED] and gate.undone == []
