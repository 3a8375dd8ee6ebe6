"""Approval before risky changes (bot/run/approval.py and what it reads): which criteria
wait, what the digest covers, which approvals count, and how trailers and config are read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import config as configmod
from bot.errors import ConfigError
from bot.git.messages import approval as approval_message
from bot.git.messages import approvals as trailers
from bot.plugin.plugins import load_handlers
from bot.run import approval
from bot.run.taskrun import RunOptions, run_task
from bot.state import approvals as store
from bot.state.approvals import Seen
from tests.kit.context import actions, make_ctx
from tests.kit.git import git
from tests.kit.gitops import make_gitops
from tests.run.test_gate import BUMP, GOOD, _Check, _Gate, _task

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SHELL = '<!-- taskbot: shell project=demo cmd="echo hi" -->'


def _data(root: Path, *, project_approval: bool = True, **extra: Any) -> dict[str, Any]:
    (root / "demo").mkdir(exist_ok=True)
    return {"projects": {"demo": {"path": str(root / "demo"), "allow_shell": True,
                                  "approval": project_approval}}, **extra}


def _seen(digest: str, *, trusted: bool = True, age: timedelta = timedelta(minutes=5),
          author: str = "becker@example.com") -> Seen:
    return Seen("TASK-009", digest, "c0ffee" * 6 + "abcd", author,
                int((NOW - age).timestamp()), trusted, "" if trusted else
                f"commit c0ffeec0ffee author {author} is not in [trust] authors")


def _judged(tmp_path: Path, seen: tuple[Seen, ...], text: str = f"Say hi {SHELL}"
            ) -> approval.Judged:
    ctx = make_ctx(_data(tmp_path), tmp_path)
    return approval.judge("TASK-009", actions(ctx, text), load_handlers(), ctx, seen, NOW)


def _digest(tmp_path: Path, text: str = f"Say hi {SHELL}") -> str:
    (pending,) = _judged(tmp_path, (), text).pending
    return pending.digest


def test_a_project_with_approval_holds_its_criterion_with_plan_and_digest(tmp_path: Path
                                                                         ) -> None:
    judged = _judged(tmp_path, ())
    (pending,) = judged.pending
    assert len(pending.digest) == approval.DIGEST_LENGTH
    assert judged.held == {0: f"waiting for approval: plan {pending.digest}; approve with "
                              "`taskbot approve TASK-009`"}
    assert pending.plan[0] == f"run: echo hi  (in {tmp_path / 'demo'})"
    assert judged.void == ()


def test_which_criteria_need_approval(tmp_path: Path) -> None:
    ctx = make_ctx(_data(tmp_path, project_approval=False), tmp_path)
    shell, manual = actions(ctx, f"Say hi {SHELL}", "Ask a person")
    assert not approval.needs(shell, ctx.config) and not approval.needs(manual, ctx.config)
    listed = make_ctx(_data(tmp_path, project_approval=False,
                            approval={"handlers": ["shell"]}), tmp_path)
    assert approval.needs(actions(listed, f"Say hi {SHELL}")[0], listed.config)
    refused = actions(listed, 'x <!-- taskbot: shell project=nowhere cmd="x" -->')[0]
    assert refused.error and not approval.needs(refused, listed.config)  # it never runs


def test_the_digest_changes_with_the_criterion_and_the_configuration(tmp_path: Path) -> None:
    first = _digest(tmp_path)
    assert _digest(tmp_path) == first  # the same task and configuration: the same plan
    assert _digest(tmp_path, f"Say hi {SHELL.replace('echo hi', 'echo bye')}") != first
    config = tmp_path / "taskbot.toml"
    config.write_text("# one byte more changes what is approved\n")
    assert _digest(tmp_path) != first


def test_only_a_trusted_fresh_approval_of_this_plan_lets_it_run(tmp_path: Path) -> None:
    digest = _digest(tmp_path)
    assert _judged(tmp_path, (_seen(digest),)).held == {}
    untrusted = _judged(tmp_path, (_seen(digest, trusted=False, author="eve@example.com"),))
    assert 0 in untrusted.held
    assert untrusted.void == ("approval in commit c0ffeec0ffee by eve@example.com counts for "
                              "nothing: commit c0ffeec0ffee author eve@example.com is not in "
                              "[trust] authors",)
    stale = _judged(tmp_path, (_seen("0123456789abcdef"),))
    assert 0 in stale.held
    assert stale.void == (f"approval in commit c0ffeec0ffee by becker@example.com is for plan "
                          f"0123456789abcdef, the plan is now {digest}: it is void",)
    expired = _judged(tmp_path, (_seen(digest, age=timedelta(hours=25)),))
    assert 0 in expired.held
    assert expired.void == (f"approval in commit c0ffeec0ffee by becker@example.com for plan "
                            f"{digest} expired: older than 24h ([approval] expires)",)


def test_a_helmrelease_plan_depends_on_the_gitops_file(tmp_path: Path) -> None:
    gitops = make_gitops(tmp_path / "gitops", "registry.local:5000")
    data = {"approval": {"handlers": ["helmrelease"]}, "projects": {"beckerkube": {
        "path": str(gitops.clone), "helmrelease": "apps/{app}/helmrelease.yaml"}}}
    text = "Update ffl HelmRelease in beckerkube to version 0.2.0"

    def planned() -> approval.Pending:
        ctx = make_ctx(data, tmp_path)
        found = approval.planned("TASK-009", actions(ctx, text), load_handlers(), ctx)
        return found[0][0]

    before = planned()
    blob = git(gitops.clone, "rev-parse", "origin/main:apps/ffl/helmrelease.yaml")
    assert f"input: beckerkube:apps/ffl/helmrelease.yaml@{blob}" in before.plan
    path = gitops.clone / "apps" / "ffl" / "helmrelease.yaml"
    path.write_text(path.read_text() + "# a person's edit\n")
    git(gitops.clone, "commit", "-qam", "edit")
    git(gitops.clone, "push", "-q", "origin", "HEAD:main")
    assert planned().digest != before.digest


def test_only_the_trailer_block_approves() -> None:
    message = approval_message("TASK-1", ["0123456789abcdef", "fedcba9876543210"])
    assert trailers(message) == (("TASK-1", "0123456789abcdef"), ("TASK-1", "fedcba9876543210"))
    quoted = "Fix\n\nTaskbot-Approve: TASK-1 0123456789abcdef\nas said above\n\nSigned-off-by: x"
    assert trailers(quoted) == ()  # a line in the body, not a trailer
    assert trailers("Taskbot-Approve: TASK-1 0123456789abcdef\n") == ()  # a subject only
    assert trailers("x\n\nTaskbot-Approve: TASK-1 not-a-digest\n") == ()
    with pytest.raises(ValueError, match="nothing to approve"):
        approval_message("TASK-1", [])


def test_approval_config_errors_name_the_file_and_key(tmp_path: Path) -> None:
    source = str(tmp_path / "taskbot.toml")
    with pytest.raises(ConfigError) as err:
        configmod.parse({"approval": {"handlers": ["helmrelease", "helmrelase"]}}, source)
    assert str(err.value).startswith(f"{source}: approval.handlers[2]: unknown handler "
                                     "'helmrelase' (installed: ")
    with pytest.raises(ConfigError, match=r"approval\.expires"):
        configmod.parse({"approval": {"expires": "soon"}}, source)
    parsed = configmod.parse({"approval": {"handlers": ["registry-ip"], "expires": "2h"}}, source)
    assert parsed.approval == configmod.Approval(("registry-ip",), 7200.0)
    assert configmod.default().approval == configmod.Approval((), 86400.0)


def test_the_store_keeps_each_approval_once(tmp_path: Path) -> None:
    seen = _seen("0123456789abcdef")
    store.add(tmp_path, [seen, seen])
    store.add(tmp_path, [seen, seen._replace(task_id="TASK-2")])
    assert store.of(tmp_path, "task-009") == (seen,)
    assert len(store.load(tmp_path)) == 2
    (tmp_path / "approvals.json").write_text("{not json")
    assert store.load(tmp_path) == ()  # unreadable: no approval, nothing runs


def test_a_flood_of_untrusted_approvals_never_pushes_a_trusted_one_out(tmp_path: Path) -> None:
    mine = _seen("0123456789abcdef")
    store.add(tmp_path, [mine])
    flood = [_seen(f"{n:016x}", trusted=False)._replace(commit=f"{n:040x}")
             for n in range(store.KEPT + 5)]
    store.add(tmp_path, flood)
    kept = store.load(tmp_path)
    assert len(kept) == store.KEPT and mine in kept
    assert kept[-1] == flood[-1]


def test_a_gates_checks_wait_while_the_gate_waits_for_approval(tmp_path: Path) -> None:
    gate, check = _Gate(), _Check()
    handlers: dict[str, Any] = {"release": gate, "check": check}
    ctx = make_ctx({}, tmp_path)  # `release` is no installed handler: [approval] set directly
    ctx = ctx._replace(config=ctx.config._replace(
        approval=configmod.Approval(handlers=("release",))))
    path = tmp_path / "T.md"
    path.write_bytes(_task(BUMP, GOOD))
    report = run_task(path, handlers, ctx, RunOptions(now=NOW, write=False)).report
    assert [r.state for r in report.results] == ["waiting", "waiting"]
    assert check.ran == [] and gate.undone == []
    assert report.results[1].reason == 'waiting: it checks "Bump", which waits for approval'
    assert [p.text for p in report.awaiting] == ["Bump"]
