"""pytest fixtures `ssh_forge` and `http_forge` (see tests.kit.forge); test modules load them
with `pytest_plugins = ["tests.kit.forge_plugin"]` and import the types from tests.kit.forge."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.commands.sandbox import stop_server
from tests.kit.forge import HttpForge, SshForge, start_http_forge, start_ssh_forge


@pytest.fixture
def ssh_forge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SshForge]:
    """A bare `forge.git` served by a private sshd on 127.0.0.1 (see SshForge)."""
    for name in ("GIT_SSH", "GIT_SSH_COMMAND", "GIT_SSH_VARIANT"):
        monkeypatch.delenv(name, raising=False)  # would override the key under test
    forge, proc = start_ssh_forge(tmp_path / "ssh-forge")
    try:
        yield forge
    finally:
        stop_server(proc)


@pytest.fixture
def http_forge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[HttpForge]:
    """A bare `forge.git` behind lighttpd + git http-backend over TLS (see HttpForge)."""
    for name in ("GIT_SSL_CAINFO", "GIT_SSL_CAPATH", "GIT_SSL_NO_VERIFY"):
        # Some machines export GIT_SSL_CAINFO (the system bundle); it overrides any
        # http.sslCAInfo, so the forge's CA would never be used.
        monkeypatch.delenv(name, raising=False)
    forge, proc = start_http_forge(tmp_path / "http-forge")
    try:
        yield forge
    finally:
        stop_server(proc)
