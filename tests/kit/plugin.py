"""pytest fixtures for the handler tests; test modules load them with
`pytest_plugins = ["tests.kit.plugin"]` (tests/conftest.py is shared, so they live here)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.commands.sandbox import stop_server
from tests.kit.kube import KubeStandIn, start_kube
from tests.kit.registry import RegistryServer, need, start_registry


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    need("docker-registry", "openssl", "htpasswd")
    server, proc = start_registry(tmp_path_factory.mktemp("registry"))
    try:
        yield server
    finally:
        stop_server(proc)


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[KubeStandIn]:
    """A Kubernetes API stand-in and a kubeconfig (context "minikube") pointing at it."""
    need("kubectl")
    stand_in = start_kube(tmp_path)
    try:
        yield stand_in
    finally:
        stand_in.stop()


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[KubeStandIn]:
    """The stand-in for the Python client (builds as Jobs): no kubectl needed."""
    stand_in = start_kube(tmp_path)
    try:
        yield stand_in
    finally:
        stand_in.stop()
