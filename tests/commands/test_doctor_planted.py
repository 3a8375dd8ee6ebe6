"""`taskbot doctor` finds each planted mistake: a failing line naming the file and key and
what to do, exit 1; a clean setup exits 0; `--send-test` reports each target."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.cli import main
from bot.plugin import plugins
from tests.kit.git import Sandbox, sandbox
from tests.kit.receivers import HttpReceiver, free_port

pytestmark = pytest.mark.integration


def _clean(tmp_path: Path, **trust: str) -> Sandbox:
    box = sandbox(tmp_path, trust_extra=trust)
    subprocess.run(["git", "init", "-q", str(tmp_path / "demo")], check=True)
    box.write("tasks/active/TASK-001.md", "---\nid: TASK-001\n---\n# TASK-001\n")
    box.commit_push("a task")
    assert main(["init", "--config", str(box.config)]) == 0
    return box


def _doctor(box: Sandbox, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main(["--config", str(box.config), "doctor", *extra])
    return code, capsys.readouterr().out.splitlines()


def _append(box: Sandbox, text: str) -> None:
    box.config.write_text(box.config.read_text() + "\n" + text)


def _failing(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("FAIL")]


def test_a_clean_setup_is_all_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    box = _clean(tmp_path)
    code, lines = _doctor(box, capsys)
    assert code == 0, lines
    assert f"ok   hook: {box.bare / 'hooks' / 'post-receive'}" in lines


def test_bare_repository_without_the_hook(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    box = _clean(tmp_path)
    hook = box.bare / "hooks" / "post-receive"
    hook.unlink()
    code, lines = _doctor(box, capsys)
    assert code == 1
    assert _failing(lines) == [
        f"FAIL hook: {hook}: taskbot's hook is not installed (repo.path = {box.bare}): pushes "
        f"do not reach taskbot; run `taskbot --config {box.config} init` to install it"]
    hook.write_text("#!/bin/sh\necho mine\n")
    code, lines = _doctor(box, capsys)
    assert code == 1 and "is not taskbot's" in _failing(lines)[0]


def test_unknown_handler_in_rules(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    box = _clean(tmp_path)
    _append(box, '[[rules]]\nmatch = "build"\nhandler = "build"\n\n'
                 '[[rules]]\nmatch = "deploy"\nhandler = "deploi"\n')
    code, lines = _doctor(box, capsys)
    assert code == 1
    [line] = _failing(lines)
    assert line.startswith(f"FAIL rules: {box.config}: rules[2].handler = 'deploi': no such "
                           "handler (known: build, ")
    assert line.endswith("fix the name or install the plugin that provides it")


def test_missing_allowed_signers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    signers = tmp_path / "allowed_signers"
    box = _clean(tmp_path, allowed_signers=str(signers))
    code, lines = _doctor(box, capsys)
    assert code == 1
    [line] = _failing(lines)
    assert line.startswith(f"FAIL trust: {box.config}: trust.allowed_signers = {signers}: "
                           "No such file or directory: no signed commit is trusted; create it")


def test_notification_target_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    box = _clean(tmp_path)
    port = free_port()  # nobody listens there
    _append(box, f'[notify]\nurls = ["json://127.0.0.1:{port}/x"]\n')
    code, lines = _doctor(box, capsys)
    assert code == 1
    assert _failing(lines) == [
        f"FAIL notify: notify.urls[1] json://127.0.0.1:{port}/x: not reachable (connection "
        f"refused, 127.0.0.1:{port}): check the target or remove it from {box.config}"]


def test_broken_handler_plugin(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    box = _clean(tmp_path)
    loaded = plugins.discover()
    why = "handler plugin 'acme_deploy:handler' failed to load: No module named 'acme_deploy'"
    monkeypatch.setattr(plugins, "discover", lambda: plugins.Loaded(loaded.handlers, (why,)))
    code, lines = _doctor(box, capsys)
    assert code == 1
    assert _failing(lines) == [f"FAIL plugins: {why}: its criteria are refused; reinstall or "
                               "remove that package"]


def test_send_test_reports_each_target(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    box = _clean(tmp_path)
    down = free_port()
    with HttpReceiver() as receiver:
        _append(box, f'[notify]\nurls = ["{receiver.url()}", "failure={receiver.url("b")}", '
                     f'"json://127.0.0.1:{down}/x"]\n')
        code, lines = _doctor(box, capsys, "--send-test")
        posts = receiver.wait_for(2)
    assert code == 1
    assert f"ok   notify: {receiver.url()}: test notification sent" in lines
    assert f"ok   notify: {receiver.url('b')}: test notification sent" in lines  # tags ignored
    [line] = _failing(lines)
    assert line.startswith(f"FAIL notify: notify.urls[3] json://127.0.0.1:{down}/x: test "
                           "notification not sent (")
    assert sorted(p.path for p in posts) == ["/b", "/hook"]
    assert "test notification" in posts[0].title


def test_missing_config_says_run_init(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "taskbot.toml"
    assert main(["--config", str(missing), "doctor"]) == 2
    assert capsys.readouterr().out == (f"FAIL config: {missing}: config file not found: run "
                                       f"`taskbot init --config {missing}` to write one\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TASKBOT_CONFIG", raising=False)
    monkeypatch.setattr("bot.config.SYSTEM_CONFIG", tmp_path / "none.toml")
    assert main(["doctor"]) == 2
    [line] = capsys.readouterr().out.splitlines()
    assert "run `taskbot init`" in line
