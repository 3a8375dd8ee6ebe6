"""`taskbot doctor` with builds as Kubernetes Jobs (issue 23), against the API stand-in: the
API answers, the namespace and the registry Secret exist, Jobs may be created."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import config as configmod
from bot.commands.doctor_executor import executor_checks
from tests.kit.buildjob import executor_config
from tests.kit.kube import KubeStandIn, start_kube


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[KubeStandIn]:
    stand_in = start_kube(tmp_path)
    try:
        yield stand_in
    finally:
        stand_in.stop()


def _lines(tmp_path: Path, kube: KubeStandIn, **extra: object) -> list[str]:
    (tmp_path / "bld").mkdir(exist_ok=True)
    config = configmod.parse(executor_config(tmp_path, kube, **extra), str(tmp_path / "t.toml"))
    return [c.line() for c in executor_checks(config)]


def test_doctor_passes_every_executor_check_on_stand_in(tmp_path: Path, kube: KubeStandIn) -> None:
    kube.state.jobs.namespaces = {"builds"}
    kube.state.jobs.secrets[("builds", "regcred")] = {"apiVersion": "v1", "kind": "Secret",
                                                      "metadata": {"name": "regcred"}}
    lines = _lines(tmp_path, kube)
    assert lines == [
        f"ok   executor: Kubernetes API http://127.0.0.1:{kube.server.server_port} answers "
        "(v1.32.0-standin)",
        "ok   executor: namespace builds exists",
        "ok   executor: Secret builds/regcred exists",
        "ok   executor: may create Jobs in namespace builds"]
    review, = kube.state.jobs.reviews
    assert review["resourceAttributes"] == {"namespace": "builds", "verb": "create",
                                            "group": "batch", "resource": "jobs"}
    assert not kube.state.jobs.created  # doctor creates nothing


def test_doctor_says_what_is_missing_on_stand_in(tmp_path: Path, kube: KubeStandIn) -> None:
    kube.state.jobs.namespaces = {"ffl"}
    kube.state.jobs.allowed = False
    lines = _lines(tmp_path, kube)
    assert lines[1:] == [
        "FAIL executor: namespace builds ([executor] namespace): 404 Not Found",
        "FAIL executor: Secret builds/regcred ([executor] registry_secret): 404 Not Found",
        "FAIL executor: may NOT create Jobs in namespace builds (RBAC: no rule allows it): "
        "apply the Role and RoleBinding of docs/kubernetes-builds.md"]


def test_doctor_says_the_api_is_not_reachable_on_stand_in(tmp_path: Path, kube: KubeStandIn) -> None:
    kube.stop()
    lines = _lines(tmp_path, kube)
    assert len(lines) == 1 and lines[0].startswith("FAIL executor: Kubernetes API http://127.0.0.1:")
    assert "not reachable" in lines[0]


def test_no_executor_checks_for_local_builds(tmp_path: Path, kube: KubeStandIn) -> None:
    assert _lines(tmp_path, kube, executor={"kind": "local"}) == []
