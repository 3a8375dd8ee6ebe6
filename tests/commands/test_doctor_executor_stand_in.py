"""`taskbot doctor` with builds as Kubernetes Jobs (issue 23), against the API stand-in: the
API answers, the namespace and the registry Secret exist, Jobs may be created."""

from __future__ import annotations

from pathlib import Path

from bot import config as configmod
from bot.commands.doctor import _tools
from bot.commands.doctor_executor import executor_checks
from tests.kit.buildjob import executor_config
from tests.kit.kube import KubeStandIn

pytest_plugins = ["tests.kit.plugin"]


def _lines(tmp_path: Path, kube_api: KubeStandIn, **extra: object) -> list[str]:
    (tmp_path / "bld").mkdir(exist_ok=True)
    config = configmod.parse(executor_config(tmp_path, kube_api, **extra), str(tmp_path / "t.toml"))
    return [c.line() for c in executor_checks(config)]


def test_doctor_passes_every_executor_check_on_stand_in(tmp_path: Path, kube_api: KubeStandIn) -> None:
    kube_api.state.jobs.namespaces = {"builds"}
    kube_api.state.jobs.secrets[("builds", "regcred")] = {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred"}}
    lines = _lines(tmp_path, kube_api)
    assert lines == [
        f"ok   executor: Kubernetes API http://127.0.0.1:{kube_api.server.server_port} answers "
        "(v1.32.0-standin)",
        "ok   executor: namespace builds exists",
        "ok   executor: Secret builds/regcred exists",
        "ok   executor: may create, watch and delete Jobs in namespace builds"]
    asked = [(r["resourceAttributes"]["verb"], r["resourceAttributes"].get("group", ""),
              r["resourceAttributes"]["resource"], r["resourceAttributes"].get("subresource", ""))
             for r in kube_api.state.jobs.reviews]
    assert asked == [("create", "batch", "jobs", ""), ("get", "batch", "jobs", ""),
                     ("delete", "batch", "jobs", ""), ("list", "", "pods", ""),
                     ("get", "", "pods", "log")]
    assert {r["resourceAttributes"]["namespace"] for r in kube_api.state.jobs.reviews} == {
        "builds"}
    assert not kube_api.state.jobs.created  # doctor creates nothing


def test_doctor_says_what_is_missing_on_stand_in(tmp_path: Path, kube_api: KubeStandIn) -> None:
    kube_api.state.jobs.namespaces = {"ffl"}
    kube_api.state.jobs.allowed = False
    lines = _lines(tmp_path, kube_api)
    assert lines[1:] == [
        "FAIL executor: namespace builds ([executor] namespace): 404 Not Found",
        "FAIL executor: Secret builds/regcred ([executor] registry_secret): 404 Not Found",
        "FAIL executor: may NOT create jobs (RBAC: no rule allows it); get jobs (RBAC: no rule "
        "allows it); delete jobs (RBAC: no rule allows it); list pods (RBAC: no rule allows "
        "it); get pods/log (RBAC: no rule allows it) in namespace builds: apply the Role and "
        "RoleBinding of docs/kubernetes-builds.md"]


def test_doctor_names_each_missing_permission_on_stand_in(tmp_path: Path,
                                                          kube_api: KubeStandIn) -> None:
    # a Role granting only `create`: the build would make its Job and never see it again
    kube_api.state.jobs.namespaces = {"builds"}
    kube_api.state.jobs.secrets[("builds", "regcred")] = {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "regcred"}}
    kube_api.state.jobs.denied = {"get pods/log", "delete jobs"}
    assert _lines(tmp_path, kube_api)[-1] == (
        "FAIL executor: may NOT delete jobs (RBAC: no rule allows it); get pods/log (RBAC: no "
        "rule allows it) in namespace builds: apply the Role and RoleBinding of "
        "docs/kubernetes-builds.md")


def test_doctor_says_the_api_is_not_reachable_on_stand_in(tmp_path: Path, kube_api: KubeStandIn) -> None:
    kube_api.stop()
    lines = _lines(tmp_path, kube_api)
    assert len(lines) == 1 and lines[0].startswith("FAIL executor: Kubernetes API http://127.0.0.1:")
    assert "not reachable" in lines[0]


def test_no_executor_checks_for_local_builds(tmp_path: Path, kube_api: KubeStandIn) -> None:
    assert _lines(tmp_path, kube_api, executor={"kind": "local"}) == []


def test_no_local_build_engine_wanted_when_builds_run_as_jobs(tmp_path: Path,
                                                              kube_api: KubeStandIn) -> None:
    (tmp_path / "bld").mkdir()
    on_cluster = configmod.parse(executor_config(tmp_path, kube_api), str(tmp_path / "t.toml"))
    assert not [c for c in _tools(on_cluster) if c.name == "build engine"]
    here = configmod.parse(executor_config(tmp_path, kube_api, executor={"kind": "local"}),
                           str(tmp_path / "t.toml"))
    assert [c.name for c in _tools(here) if c.name == "build engine"] == ["build engine"]
