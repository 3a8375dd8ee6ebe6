"""Handlers from other packages load through the `taskbot.handlers` entry-point group.

A tiny third-party distribution (a module plus its `*.dist-info` with `entry_points.txt`,
what `pip install` leaves behind) is put on sys.path; taskbot finds it as importlib.metadata would.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import load
from bot.errors import ConfigError
from bot.plugin import plugins
from bot.plugin.plugins import discover, load_handlers
from tests.kit.config import TomlValue, write_config

PLUGIN = '''
from dataclasses import dataclass
from bot.api import DefaultRule, Outcome, ParamError, Status, Step, reject_unknown


@dataclass(frozen=True)
class Greeting:
    who: str


class Hello:
    name = "hello"
    params = ("who",)
    rules = (DefaultRule(r"(?i)^say hello to (?P<who>\\w+)$"),)

    def settings(self, params, ctx):
        reject_unknown(self.name, params, self.params)
        if not params.get("who", "").isalpha():
            raise ParamError("hello: who must be a name")
        return Greeting(params["who"])

    def plan(self, settings, ctx):
        return Step(preconditions=(f"{settings.who} is listening",))

    def run(self, settings, ctx):
        return Outcome(Status.DONE, evidence=(f"said hello to {settings.who}",))


HANDLER = Hello()
'''


def _install(site: Path, module: str, entry: str, source: str = PLUGIN) -> None:
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(source)
    info = site / f"{module}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[taskbot.handlers]\n{entry}\n")
    (info / "RECORD").write_text("")


def test_builtin_handlers_are_entry_points() -> None:
    assert set(load_handlers()) >= {"shell", "build", "image", "helmrelease", "kustomize",
                                    "verify", "registry-ip"}


def test_a_third_party_handler_loads_and_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    _install(tmp_path / "site", "taskbot_hello", "hello = taskbot_hello:HANDLER")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    handlers = load_handlers()
    assert handlers["hello"].name == "hello" and "build" in handlers

    task = tmp_path / "TASK-5.md"
    task.write_text("# T\n## Acceptance Criteria\n- [ ] Say hello to Becker\n")
    config = write_config(tmp_path / "taskbot.toml", {
        "repo": {"path": tmp_path, "state_dir": tmp_path / "state"}, "trust": {"anyone": True}})
    assert main(["--config", str(config), "run", str(task), "--json"]) == 0
    (criterion,) = json.loads(capsys.readouterr().out)["criteria"]
    assert (criterion["handler"], criterion["outcome"]) == ("hello", "done")
    assert criterion["evidence"] == ["said hello to Becker"]
    assert "- [x] Say hello to Becker" in task.read_text()


def test_a_broken_plugin_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    _install(tmp_path / "site", "taskbot_broken", "broken = taskbot_broken:NOTHING", "X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    handlers = load_handlers()
    assert "handler plugin 'taskbot_broken:NOTHING' failed to load" in capsys.readouterr().err
    assert "broken" not in handlers and "build" in handlers


def test_a_plugin_that_raises_on_import_leaves_the_others_loaded(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site"
    _install(site, "taskbot_raises", "raises = taskbot_raises:HANDLER",
             "raise RuntimeError('no licence key')\n")
    _install(site, "taskbot_hello", "hello = taskbot_hello:HANDLER")
    _install(site, "taskbot_empty", "empty = taskbot_empty:HANDLER", "HANDLER = object()\n")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()

    loaded = discover()
    assert set(loaded.handlers) >= {"hello", "shell", "build", "image", "helmrelease", "kustomize",
                                    "verify", "registry-ip"}
    assert loaded.broken == (
        "handler plugin 'taskbot_empty:HANDLER' has no 'name': not a taskbot handler",
        "handler plugin 'taskbot_raises:HANDLER' failed to load: no licence key",
    )

    handlers = load_handlers()
    assert "hello" in handlers and "raises" not in handlers
    assert capsys.readouterr().err.splitlines() == [
        "taskbot: warning: handler plugin 'taskbot_empty:HANDLER' has no 'name': not a taskbot "
        "handler",
        "taskbot: warning: handler plugin 'taskbot_raises:HANDLER' failed to load: no licence key",
    ]


def test_the_first_distribution_of_a_name_on_sys_path_wins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As importlib.metadata does: a second copy of a distribution further down sys.path
    (an older install, a build directory's *.egg-info) adds no entry points of its own."""
    first, second = tmp_path / "first", tmp_path / "second"
    _install(first, "taskbot_hello", "hello = taskbot_hello:HANDLER")
    second.mkdir()
    stale = second / "Taskbot.Hello.egg-info"
    stale.mkdir()
    (stale / "entry_points.txt").write_text(
        "# an older build\n[console_scripts]\nx = y:z\n\n[taskbot.handlers]\n"
        "hello = taskbot_hello_old:HANDLER\nhello2 = taskbot_hello_old:HANDLER\n")
    monkeypatch.syspath_prepend(str(second))
    monkeypatch.syspath_prepend(str(first))
    found = {ep.name: ep.value for ep in plugins.entry_points(plugins.GROUP)}
    assert found["hello"] == "taskbot_hello:HANDLER" and "hello2" not in found
    assert found["build"] == "handlers.build:HANDLER"


def test_entry_points_match_importlib_metadata() -> None:
    """The reader sees what the standard library sees, for our group and a busy one."""
    import importlib.metadata

    for group in (plugins.GROUP, "console_scripts"):
        expected = sorted((e.name, e.value) for e in importlib.metadata.entry_points(group=group))
        assert sorted(plugins.entry_points(group)) == expected


def test_an_unreadable_entry_points_file_is_named_and_the_others_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site"
    _install(site, "taskbot_garbled", "this line has no equals sign")
    _install(site, "taskbot_latin", "latin = taskbot_latin:HANDLER")
    latin = site / "taskbot_latin-0.1.dist-info" / "entry_points.txt"
    latin.write_bytes(b"[taskbot.handlers]\nlatin = caf\xe9:HANDLER\n")
    monkeypatch.syspath_prepend(str(site))
    loaded = discover()
    assert loaded.broken == (
        f"{site}/taskbot_garbled-0.1.dist-info/entry_points.txt: line 2 in "
        "[taskbot.handlers] is not 'name = module:attribute'",
        f"{latin}: not UTF-8",
    )
    assert "build" in loaded.handlers


GREETER = '''
from typing import NamedTuple
from bot.api import DefaultRule, Outcome, Status, Step, require_project


class GreeterKeys(NamedTuple):
    greeting: str = "hi"


class Greeter:
    name = "greeter"
    params = ("project",)
    rules = (DefaultRule(r"(?i)^greet from (?P<project>\\w+)$"),)
    project_settings = GreeterKeys

    def settings(self, params, ctx):
        project = require_project(ctx.config, params["project"])
        return project.settings(GreeterKeys).greeting

    def plan(self, settings, ctx):
        return Step()

    def run(self, settings, ctx):
        return Outcome(Status.DONE, evidence=(f"said {settings}",))


HANDLER = Greeter()
'''


def _greeter_config(root: Path, project: Mapping[str, TomlValue]) -> Path:
    return write_config(root / "taskbot.toml", {
        "repo": {"path": root, "state_dir": root / "state"}, "trust": {"anyone": True},
        "projects.x": {"path": root, **project}})


def test_a_third_party_handler_declares_its_own_project_keys(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _install(tmp_path / "site", "taskbot_greeter", "greeter = taskbot_greeter:HANDLER", GREETER)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    task = tmp_path / "TASK-6.md"
    task.write_text("# T\n## Acceptance Criteria\n- [ ] Greet from x\n")

    config = _greeter_config(tmp_path, {"greeting": "yo"})
    assert main(["--config", str(config), "run", str(task), "--json"]) == 0
    (criterion,) = json.loads(capsys.readouterr().out)["criteria"]
    assert (criterion["handler"], criterion["evidence"]) == ("greeter", ["said yo"])

    for keys, problem in (({"greting": "yo"}, "unknown key 'projects.x.greting'"),
                          ({"greeting": 1}, "projects.x.greeting: expected a string")):
        with pytest.raises(ConfigError) as raised:
            load(_greeter_config(tmp_path, keys))
        assert str(raised.value) == f"{tmp_path / 'taskbot.toml'}: {problem}"


def test_without_its_handler_a_key_is_unknown(tmp_path: Path) -> None:
    """The keys belong to the handlers installed: none here declares `greeting`."""
    with pytest.raises(ConfigError) as raised:
        load(_greeter_config(tmp_path, {"greeting": "yo"}))
    assert str(raised.value).endswith(": unknown key 'projects.x.greeting'")
