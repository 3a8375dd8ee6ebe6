"""Progress Log lines: a handler's summary says what it did; a line the log already has
(after its time) is not appended again on a re-run."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from bot.api import CommandRecord, Outcome, Status
from bot.run.runner import Result, State
from bot.run.taskrun import _edit, _log_text
from tests.kit.context import actions, make_ctx

NOW = datetime(2026, 11, 26, 14, 30)


def _result(tmp_path: Path, state: State, outcome: Outcome) -> Result:
    (action,) = actions(make_ctx({}, tmp_path), "Update ffl HelmRelease")
    return Result(action, state, outcome, 1)


def test_summary_replaces_the_last_line_of_a_validation_command(tmp_path: Path) -> None:
    record = CommandRecord(("kubectl", "kustomize", "clusters/minikube"), ".", 0, 0.1,
                           "tag: 0.0.1", "tag: 0.0.1")
    plain = _result(tmp_path, State.DONE, Outcome(Status.DONE, commands=(record,)))
    assert _log_text(plain) == ("Done: Update ffl HelmRelease (kubectl kustomize "
                                "clusters/minikube exited 0: tag: 0.0.1)")
    said = _result(tmp_path, State.DONE, Outcome(
        Status.DONE, commands=(record,),
        summary="ffl image tag 0.1.17 → 0.1.18 in apps/ffl/helmrelease.yaml; "
                "kustomize clusters/minikube ok"))
    assert _log_text(said) == ("Done: Update ffl HelmRelease (ffl image tag 0.1.17 → 0.1.18 "
                               "in apps/ffl/helmrelease.yaml; kustomize clusters/minikube ok)")


def test_the_same_blocked_line_is_logged_once(tmp_path: Path) -> None:
    ctx = make_ctx({}, tmp_path)
    blocked = _result(tmp_path, State.BLOCKED, Outcome(Status.BLOCKED, "image missing"))
    first = _edit((blocked,), NOW, ctx, ("2026-01-01 10:00: created",))
    assert first.log == ("2026-11-26 14:30: Blocked: Update ffl HelmRelease: image missing",)
    again = _edit((blocked,), NOW, ctx, ("2026-01-01 10:00: created",
                                         "2026-11-25 09:00: Blocked: Update ffl HelmRelease: "
                                         "image missing"))
    assert again.log == () and again.ticks == () and not again.updated
    other = _result(tmp_path, State.BLOCKED, Outcome(Status.BLOCKED, "registry unreachable"))
    assert len(_edit((other,), NOW, ctx, first.log).log) == 1  # a new reason is logged
