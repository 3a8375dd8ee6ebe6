"""The forge stand-ins themselves: a real sshd and a real lighttpd + git http-backend accept
the right deploy key / token and refuse a wrong key, an unknown host key or a wrong token,
as a real forge does; and they are stopped (and reaped) afterwards."""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.commands.sandbox import git, stop_server
from tests.kit.forge import HttpForge, SshForge, keygen, start_http_forge, start_ssh_forge

pytest_plugins = ["tests.kit.forge_plugin"]
pytestmark = pytest.mark.integration


def run_git(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=False, timeout=30)


def forge_main(bare: Path) -> str:
    return git(bare, "rev-parse", "refs/heads/main")


def commit_file(clone: Path, name: str) -> str:
    (clone / name).write_text(f"{name}\n")
    git(clone, "add", name)
    git(clone, "commit", "-qm", f"add {name}")
    return git(clone, "rev-parse", "HEAD")


def refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


def greets(port: int) -> bool:
    """sshd's child for this connection sends its banner only after it closed its copy of
    the listening socket: awaiting it keeps that child from answering the probe after stop."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        return conn.recv(4).startswith(b"SSH-")


REFUSE_ALL = "#!/bin/sh\necho 'main is protected' >&2\nexit 1\n"
Starter = Callable[[Path], tuple[SshForge | HttpForge, "subprocess.Popen[bytes]"]]


# --- ssh ------------------------------------------------------------------------------------

def test_ssh_ls_remote_with_the_deploy_key(ssh_forge: SshForge, tmp_path: Path) -> None:
    done = run_git(tmp_path, "ls-remote", ssh_forge.url, env=ssh_forge.git_env())
    assert done.returncode == 0, done.stderr
    assert f"{forge_main(ssh_forge.bare)}\trefs/heads/main" in done.stdout
    user = pwd.getpwuid(os.getuid()).pw_name
    assert ssh_forge.url == f"ssh://{user}@127.0.0.1:{ssh_forge.port}{ssh_forge.bare}"


def test_ssh_clone_and_push_with_the_deploy_key(ssh_forge: SshForge, tmp_path: Path) -> None:
    env = ssh_forge.git_env()
    done = run_git(tmp_path, "clone", "-q", ssh_forge.url, "bot", env=env)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "bot" / "tasks" / "active" / ".gitkeep").is_file()
    head = commit_file(tmp_path / "bot", "from-bot.txt")
    done = run_git(tmp_path / "bot", "push", "-q", "origin", "main", env=env)
    assert done.returncode == 0, done.stderr
    assert forge_main(ssh_forge.bare) == head


def test_ssh_persons_clone_pushes_with_its_own_key(ssh_forge: SshForge, tmp_path: Path
                                                   ) -> None:
    clone = ssh_forge.clone(tmp_path / "laptop")
    head = commit_file(clone, "from-laptop.txt")
    git(clone, "push", "-q", "origin", "main")  # core.sshCommand carries the key
    assert forge_main(ssh_forge.bare) == head


def test_ssh_wrong_key_is_refused(ssh_forge: SshForge, tmp_path: Path) -> None:
    stranger = keygen(tmp_path / "stranger_ed25519", "stranger")
    done = run_git(tmp_path, "ls-remote", ssh_forge.url, env=ssh_forge.git_env(key=stranger))
    assert done.returncode != 0
    assert "Permission denied (publickey)" in done.stderr


@pytest.mark.parametrize("known", ["", "other-host-key"])
def test_ssh_unknown_host_key_is_refused(ssh_forge: SshForge, tmp_path: Path, known: str
                                         ) -> None:
    known_hosts = tmp_path / "known_hosts"
    if known:
        other = keygen(tmp_path / "other_host", "other")
        pub = " ".join(other.with_name("other_host.pub").read_text().split()[:2])
        known_hosts.write_text(f"[127.0.0.1]:{ssh_forge.port} {pub}\n")
    else:
        known_hosts.write_text("")
    done = run_git(tmp_path, "ls-remote", ssh_forge.url,
                   env=ssh_forge.git_env(known_hosts=known_hosts))
    assert done.returncode != 0
    assert "Host key verification failed" in done.stderr


# --- https with a token ---------------------------------------------------------------------

def test_https_ls_remote_with_the_token(http_forge: HttpForge, tmp_path: Path) -> None:
    done = run_git(tmp_path, "ls-remote", http_forge.url, env=http_forge.git_env())
    assert done.returncode == 0, done.stderr
    assert f"{forge_main(http_forge.bare)}\trefs/heads/main" in done.stdout
    assert http_forge.token_file.read_text().strip() == http_forge.token


def test_https_clone_and_push_with_the_token(http_forge: HttpForge, tmp_path: Path) -> None:
    env = http_forge.git_env()
    done = run_git(tmp_path, "clone", "-q", http_forge.url, "bot", env=env)
    assert done.returncode == 0, done.stderr
    head = commit_file(tmp_path / "bot", "from-bot.txt")
    done = run_git(tmp_path / "bot", "push", "-q", "origin", "main", env=env)
    assert done.returncode == 0, done.stderr
    assert forge_main(http_forge.bare) == head
    assert http_forge.token not in (tmp_path / "bot" / ".git" / "config").read_text()


def test_https_persons_clone_pushes(http_forge: HttpForge, tmp_path: Path) -> None:
    clone = http_forge.clone(tmp_path / "laptop")
    head = commit_file(clone, "from-laptop.txt")
    git(clone, "push", "-q", "origin", "main")
    assert forge_main(http_forge.bare) == head


def test_https_wrong_token_is_refused(http_forge: HttpForge, tmp_path: Path) -> None:
    done = run_git(tmp_path, "ls-remote", http_forge.url,
                   env=http_forge.git_env(token="not-the-token"))
    assert done.returncode != 0
    assert http_forge.token not in done.stderr


def test_https_no_token_is_refused(http_forge: HttpForge, tmp_path: Path) -> None:
    env = http_forge.git_env()
    env["GIT_CONFIG_COUNT"] = "0"  # drop the Authorization header
    done = run_git(tmp_path, "ls-remote", http_forge.url, env=env)
    assert done.returncode != 0


def test_https_unknown_certificate_is_refused(http_forge: HttpForge, tmp_path: Path) -> None:
    env = http_forge.git_env()
    del env["GIT_SSL_CAINFO"]
    done = run_git(tmp_path, "ls-remote", http_forge.url, env=env)
    assert done.returncode != 0
    assert "certificate" in done.stderr


# --- both -----------------------------------------------------------------------------------

@pytest.mark.parametrize("forge_fixture", ["ssh_forge", "http_forge"])
def test_pre_receive_refuses_a_push(forge_fixture: str, request: pytest.FixtureRequest,
                                    tmp_path: Path) -> None:
    forge: SshForge | HttpForge = request.getfixturevalue(forge_fixture)
    clone = forge.clone(tmp_path / "laptop")
    before = forge_main(forge.bare)
    forge.pre_receive(REFUSE_ALL)
    commit_file(clone, "refused.txt")
    done = run_git(clone, "push", "origin", "main", env=forge.git_env())
    assert done.returncode != 0
    assert "main is protected" in done.stderr
    assert forge_main(forge.bare) == before


@pytest.mark.parametrize("start", [start_ssh_forge, start_http_forge], ids=["ssh", "https"])
def test_forge_is_stopped_and_reaped(start: Starter, tmp_path: Path) -> None:
    forge, proc = start(tmp_path / "forge")
    assert greets(forge.port) if start is start_ssh_forge else not refused(forge.port)
    stop_server(proc)
    assert proc.returncode is not None
    assert refused(forge.port)
