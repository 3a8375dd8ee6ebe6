"""Reports reach real receivers through the apprise library: a local HTTP server (`json://`)
and a local SMTP server (aiosmtpd, `mailto://`). Assertions are on what arrived."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli import main
from bot.config import NotifyConfig
from bot.notify import targets as notify
from bot.notify.outbox import Outbox
from tests.kit.config import local_workspace
from tests.kit.receivers import HttpReceiver, SmtpReceiver, text_of

pytestmark = pytest.mark.integration

TASK = """\
---
id: TASK-042
title: Notify people
priority: high
status: active
---
# TASK-042

## Acceptance Criteria
- [ ] Say hello <!-- taskbot: shell project=demo cmd="echo hello" -->
- [ ] Fail loudly <!-- taskbot: shell project=demo cmd="sh -c 'echo nope >&2; exit 4'" -->
- [ ] Ask a person
- [x] Done long ago
"""


def _workspace(tmp_path: Path, urls: list[str], task: str = TASK) -> Path:
    cfg, _ = local_workspace(tmp_path, "TASK-042.md", task, {
        "limits": {"command_timeout": "5s"}, "notify": {"urls": urls}})
    return cfg


def test_report_arrives_over_http_and_smtp(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    with HttpReceiver() as http, SmtpReceiver() as smtp:
        cfg = _workspace(tmp_path, [http.url("reports"), smtp.url()])
        code = main(["--config", str(cfg), "run", "TASK-042"])
        printed = capsys.readouterr()
        [post] = http.wait_for(1)
        [mail] = smtp.wait_for(1)
    assert code == 1  # a criterion failed; delivery does not change that
    assert printed.err == ""
    title = "TASK-042 partial: 2/4 criteria done"
    assert post.path == "/reports"
    assert post.title == title
    assert post.doc["type"] == "warning"
    assert post.message == printed.out.rstrip("\n")  # the printed Markdown, as is
    assert post.message.startswith("# Task Execution Report: TASK-042\n## Task: Notify people\n")
    assert "- ✅ Say hello" in post.message
    assert "Fix \"Fail loudly\"" in post.message
    assert mail["Subject"] == title
    assert mail["From"] == "bot@example.com" and mail["To"] == "ops@example.com"
    body = text_of(mail)
    assert "Task Execution Report: TASK-042" in body
    assert "Completed 2 of 4 acceptance criteria. Task is partially complete." in body
    assert Outbox(tmp_path / "state").pending() == ()


def test_routing_by_result_with_tags(tmp_path: Path) -> None:
    with HttpReceiver() as http:
        config = NotifyConfig(urls=(
            http.url("everything"),
            "failure=" + http.url("failures"),
            "warning, progress = " + http.url("warnings"),
            "ops=" + http.url("ops"),  # not a routing tag: gets everything
        ))
        assert notify.send("all done", "T-1 complete: 1/1 criteria done", "complete", config)
        assert notify.send("stuck", "T-1 blocked: 0/1 criteria done", "blocked", config)
        assert notify.send("half", "T-1 partial: 1/2 criteria done", "partial", config)
        assert notify.send("going", "T-1 still running", "progress", config)
        posts = http.wait_for(2 + 3 + 3 + 3)
    got = sorted((p.path, p.doc["type"], p.message) for p in posts)
    assert got == sorted([
        ("/everything", "success", "all done"), ("/ops", "success", "all done"),
        ("/everything", "failure", "stuck"), ("/ops", "failure", "stuck"),
        ("/failures", "failure", "stuck"),
        ("/everything", "warning", "half"), ("/ops", "warning", "half"),
        ("/warnings", "warning", "half"),
        ("/everything", "info", "going"), ("/ops", "info", "going"),
        ("/warnings", "info", "going"),
    ])


def test_routing_rules() -> None:
    assert [notify.notify_type(r) for r in ("complete", "partial", "waiting", "blocked")] == [
        "success", "warning", "warning", "failure"]
    assert notify.wants(set(), "complete")
    assert notify.wants({"failure"}, "blocked")
    assert notify.wants({"blocked"}, "blocked")
    assert not notify.wants({"failure"}, "partial")
    assert notify.wants({"warning"}, "waiting")
    assert notify.wants({"FAILURE", "mine"}, "blocked")
    assert notify.split_tags("failure, blocked=mailto://h?from=a@b.example&to=c@d.example") == (
        frozenset({"failure", "blocked"}), "mailto://h?from=a@b.example&to=c@d.example")
    assert notify.split_tags("mailto://h?from=a@b.example") == (
        frozenset(), "mailto://h?from=a@b.example")


def test_rejected_delivery_returns_false_with_reason(tmp_path: Path) -> None:
    with HttpReceiver(fail_first=1) as http:
        config = NotifyConfig(urls=(http.url(userinfo="bot:hunter22"), "nosuchscheme://x/y"))
        delivery = notify.deliver(notify.Message("t", "b", "blocked"), config)
        assert not notify.send("b", "t", "blocked", config)  # the bad URL still fails
    assert not delivery.ok and delivery.delivered == ()
    problem, rejected = delivery.errors
    assert problem == "notify.urls[2]: not a usable apprise URL (nosuchscheme://…)"
    assert "500" in rejected and "hunter22" not in rejected and "bot:****@" in rejected


def test_apprise_config_file_with_tags(tmp_path: Path) -> None:
    with HttpReceiver() as http:
        apprise_yml = tmp_path / "apprise.yml"
        apprise_yml.write_text(
            "urls:\n"
            f"  - {http.url('all')}\n"
            f"  - {http.url('failures')}:\n"
            "    - tag: failure\n")
        config = NotifyConfig(config=str(apprise_yml))
        assert notify.send("ok", "T-2 complete", "complete", config)
        assert notify.send("bad", "T-2 blocked", "blocked", config)
        posts = http.wait_for(3)
    assert sorted((p.path, p.message) for p in posts) == [
        ("/all", "bad"), ("/all", "ok"), ("/failures", "bad")]
    missing = NotifyConfig(config=str(tmp_path / "nope.yml"))
    assert notify.deliver(notify.Message("t", "b", "blocked"), missing).errors == (
        f"notify.config: {tmp_path / 'nope.yml'}: no such file",)


def test_no_notify_and_dry_run_send_nothing(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    with HttpReceiver() as http:
        cfg = _workspace(tmp_path, [http.url()])
        main(["--config", str(cfg), "run", "TASK-042", "--dry-run"])
        main(["--config", str(cfg), "run", "TASK-042", "--no-notify"])
        assert http.posts == []  # delivery is synchronous: it would have arrived by now
    assert Outbox(tmp_path / "state").pending() == ()


def test_failed_delivery_is_kept_and_told(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    task = TASK.replace("- [ ] Fail loudly", "- [x] Fail loudly")
    with HttpReceiver(fail_first=1) as http:
        cfg = _workspace(tmp_path, [http.url()], task)
        code = main(["--config", str(cfg), "run", "TASK-042"])
        err = capsys.readouterr().err
        http.wait_for(1, accepted=False)
        [entry] = Outbox(tmp_path / "state").pending()
        daemon = Outbox(tmp_path / "state", NotifyConfig(urls=(http.url(),)))
        assert [e.id for e in daemon.deliver_due(entry.next_attempt).delivered] == [entry.id]
        [post] = http.wait_for(1)
    assert code == 0  # every attempted criterion done; the delivery problem is only told
    assert err.startswith("taskbot: report not delivered yet; kept in ")
    assert "500" in err and err.count("\n") == 1
    assert entry.attempts == 1 and entry.message.title == "TASK-042 partial: 3/4 criteria done"
    assert post.title == entry.message.title
