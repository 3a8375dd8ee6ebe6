"""Secrets (a `*_file` password, apprise URL secrets) appear nowhere taskbot writes or sends:
not the printed report, its JSON, the notification that arrived, the task file's progress
log, the stored report files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.notify import targets as notify
from tests.kit.config import write_config
from tests.kit.receivers import HttpReceiver

pytestmark = pytest.mark.integration

PASSWORD = "Regi$try-Pa55-XYZ"
URL_PASSWORD = "UrlPa55word"
URL_TOKEN = "DiscordT0kenAbc"

TASK = """\
---
id: TASK-066
title: Leaky build
---
# TASK-066
## Acceptance Criteria
- [ ] Prints the password <!-- taskbot: shell project=x cmd="cat {pwfile}" -->
- [ ] Fails with the password <!-- taskbot: shell project=x \
cmd="sh -c 'echo pushing; cat {pwfile} >&2; exit 1'" -->
- [ ] Prints URL secrets <!-- taskbot: shell project=x cmd="echo {url_pw} {token}" -->

## Progress Log
"""

SECRETS = (PASSWORD, URL_PASSWORD, URL_TOKEN)


def _clean(where: str, text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into {where}"


def test_secrets_reach_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "secrets").mkdir()
    pwfile = tmp_path / "secrets" / "registry-password"
    pwfile.write_text(PASSWORD + "\n")
    task = tmp_path / "TASK-066.md"
    task.write_text(TASK.format(pwfile=pwfile, url_pw=URL_PASSWORD, token=URL_TOKEN))
    with HttpReceiver() as http:
        json_url = http.url("hook", userinfo=f"bot:{URL_PASSWORD}")
        cfg = write_config(tmp_path / "taskbot.toml", {
            "repo": {"path": tmp_path, "state_dir": tmp_path / "state"},
            "trust": {"anyone": True},
            "limits": {"retries": 0, "command_timeout": "5s"},
            "registry": {"url": "127.0.0.1:5000", "username": "ci", "password_file": pwfile},
            "notify": {"urls": [json_url, f"progress=discord://1234567/{URL_TOKEN}"]},
            "projects.x": {"path": tmp_path / "x", "allow_shell": True},
        })
        assert main(["--config", str(cfg), "run", str(task)]) == 1
        first = capsys.readouterr()
        assert main(["--config", str(cfg), "run", str(task), "--json"]) == 1  # re-runs the failure
        second = capsys.readouterr()
        assert main(["--config", str(cfg), "report", "TASK-066"]) == 0
        assert main(["--config", str(cfg), "report", "TASK-066", "--json"]) == 0
        reports = capsys.readouterr()
        posts = http.wait_for(2)

    for where, text in [("stdout of run", first.out), ("stderr of run", first.err),
                        ("JSON of run", second.out), ("stderr of run --json", second.err),
                        ("taskbot report", reports.out),
                        ("the progress log", task.read_text().split("## Progress Log")[1])]:
        _clean(where, text)
    for post in posts:
        _clean("the notification", json.dumps(post.doc, ensure_ascii=False))
    stored = [p for p in (tmp_path / "state").rglob("*") if p.is_file()]
    assert {p.suffix for p in stored} >= {".md", ".json"}
    for path in stored:
        _clean(str(path), path.read_text())

    # the secrets were there to leak, and were replaced rather than dropped
    assert "Output: Success: `***`" in first.out
    assert "Output: Success: `*** ***`" in first.out
    log = task.read_text().split("## Progress Log\n", 1)[1]
    assert "Failed: Fails with the password: sh -c" in log and "exited 1: ***" in log
    doc = json.loads(second.out)
    assert doc["criteria"][0]["reason"].endswith("exited 1: ***")
    assert posts[0].message.count("***") >= 3
    assert posts[0].headers["Authorization"].startswith("Basic ")  # the URL password was used


def test_url_secrets_of_common_apprise_urls() -> None:
    found = notify.url_secrets([
        "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js",
        "mailtos://becker:app-pass-123@gmail.com",
        "failure=tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/-100123",
        "json://127.0.0.1:8080/hook?token=q-secret-9",
        "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#ops",
        "mailto://127.0.0.1:2525?from=bot@example.com&to=ops@example.com",
    ])
    for secret in ("JHMHI8qBe7bk2ZwO5U711o3dV_js", "app-pass-123",
                   "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "q-secret-9",
                   "T1JJ3T3L2", "A1BRTD4JD", "TIiajkdnlazkcOXrIdevi7FQ"):
        assert secret in found
    for public in ("gmail.com", "hook", "127.0.0.1", "ops@example.com", "bot@example.com",
                   "becker", "8080", "ops"):
        assert public not in found
