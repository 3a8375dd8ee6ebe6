"""`taskbot doctor`: one line per check, ok or what to fix; exit 1 when any check fails."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.cli import main
from tests.kit.kube import KubeStandIn
from tests.kit.receivers import HttpReceiver
from tests.kit.registry import RegistryServer

pytest_plugins = ["tests.kit.plugin"]


def _setup(tmp_path: Path, registry: RegistryServer, kube: KubeStandIn, **over: str) -> Path:
    tasks = tmp_path / "tasks"
    (tasks / "tasks" / "active").mkdir(parents=True)
    (tasks / "tasks" / "active" / "TASK-1.md").write_text("# T\n")
    subprocess.run(["git", "init", "-q", "-b", "main", str(tasks)], check=True)
    subprocess.run(["git", "-C", str(tasks), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(tasks), "commit", "-qm", "t"], check=True)
    app = tmp_path / "app"
    (app / "deploy").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(app)], check=True)
    values = {
        "TRUST": 'authors = ["becker@example.com"]', "CA": str(registry.ca_file),
        "PW": str(registry.password_file), "CONTEXT": "minikube",
        "NOTIFY": 'urls = ["json://127.0.0.1:9/hook"]', "BUILD": '["sh", "-c", "true"]', **over}
    config = tmp_path / "taskbot.toml"
    config.write_text(f"""\
[repo]
path = "{tasks}"
state_dir = "{tmp_path}/state"

[trust]
{values["TRUST"]}

[registry]
url = "{registry.host}"
ca_file = "{values["CA"]}"
username = "{registry.username}"
password_file = "{values["PW"]}"

[projects.app]
path = "{app}"
build = {values["BUILD"]}
kustomize = ["deploy"]

[cluster]
context = "{values["CONTEXT"]}"
kubeconfig = "{kube.kubeconfig}"

[notify]
{values["NOTIFY"]}
""")
    return config


@pytest.mark.integration
def test_all_ok(tmp_path: Path, registry: RegistryServer, kube: KubeStandIn,
                capsys: pytest.CaptureFixture[str]) -> None:
    with HttpReceiver() as receiver:  # doctor connects to each target: one must be there
        config = _setup(tmp_path, registry, kube, NOTIFY=f'urls = ["{receiver.url()}"]')
        code = main(["--config", str(config), "doctor"])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0, lines
    assert all(line.startswith("ok   ") for line in lines)
    names = [line[5:].split(":", 1)[0] for line in lines]
    assert names == ["config", "trust", "repo", "state_dir", "project app", "git",
                     "kubectl/kustomize", "build engine", "registry", "cluster", "notify"]
    assert f"ok   registry: registry {registry.host} reachable, credentials accepted as 'ci'" in lines
    assert "ok   cluster: context minikube" in lines
    assert f"ok   notify: {receiver.url()}" in lines


@pytest.mark.integration
def test_each_problem_is_named(tmp_path: Path, registry: RegistryServer, kube: KubeStandIn,
                               capsys: pytest.CaptureFixture[str]) -> None:
    wrong = tmp_path / "wrong-pw"
    wrong.write_text("nope\n")
    config = _setup(tmp_path, registry, kube, TRUST="", PW=str(wrong), CONTEXT="production",
                    NOTIFY='urls = ["nosuchscheme://x"]', BUILD='["./build.sh"]')
    code = main(["--config", str(config), "doctor"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL trust: [trust] lists nobody: no commit will run anything" in out
    assert f"FAIL registry: registry {registry.host}: credentials refused for user 'ci'" in out
    assert "nope" not in out
    assert ("FAIL cluster: current context is 'minikube', configured 'production': run "
            "`kubectl config use-context production`") in out
    assert "FAIL notify: notify.urls[1]: not a usable apprise URL (nosuchscheme://…)" in out
    assert "FAIL project app: build: ./build.sh not found in" in out

    config = _setup(tmp_path / "again", registry, kube, CA="")
    main(["--config", str(config), "doctor"])
    assert "not trusted" in capsys.readouterr().out


def test_unreadable_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "taskbot.toml"
    config.write_text("[repo]\nbrnach = 'main'\n")
    assert main(["--config", str(config), "doctor"]) == 1
    assert capsys.readouterr().out == f"FAIL config: {config}: unknown key 'repo.brnach'\n"
