"""`[identity] signing_key`: every commit taskbot makes is ssh-signed, in the tasks repository
and in a GitOps repository, so a branch that requires signed commits takes them.

Real keys (ssh-keygen), real git; signatures are checked by `git verify-commit` alone."""

from __future__ import annotations

import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from bot import config as configmod
from bot.config import Identity
from bot.git import write as gitrepo
from bot.pipeline import Processed, Push, process
from bot.plugin.plugins import load_handlers
from tests.kit.daemon import TASKBOT, idle_and_empty, running_daemon, until
from tests.kit.flux import CRASHLOOP, READY, FluxPlayer
from tests.kit.git import Sandbox, git, sandbox, signing_sandbox
from tests.kit.kube import KubeStandIn
from tests.kit.registry import RegistryServer, push_image
from tests.kit.workspace import make_workspace

pytestmark = pytest.mark.integration
pytest_plugins = ["tests.kit.plugin"]

TASK = """\
---
id: TASK-001
title: One shell criterion
status: active
updated: 2026-01-01
---
# TASK-001

## Acceptance Criteria
- [ ] Works <!-- taskbot: shell project=demo cmd="true" -->

## Progress Log
- 2026-01-01 10:00: created
"""

NOW = datetime(2026, 11, 26, 14, 30).astimezone()
EMAIL = "taskbot@build-host"  # the sandbox's and the workspace's identity


def keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f",
                    str(path)], check=True)
    return path


def signers_file(path: Path, *entries: tuple[str, Path]) -> Path:
    path.write_text("".join(f"{email} {key.with_suffix('.pub').read_text()}"
                            for email, key in entries))
    return path


def verified(repo: Path, rev: str, signers: Path) -> bool:
    return subprocess.run(["git", "-c", f"gpg.ssh.allowedSignersFile={signers}", "verify-commit",
                           rev], cwd=repo, capture_output=True, check=False).returncode == 0


def sign_with(config: Path, key: Path) -> None:
    """The sandbox's `[identity]` gains `signing_key`."""
    text = config.read_text()
    line = f'email = "{EMAIL}"\n'
    assert line in text
    config.write_text(text.replace(line, f'{line}signing_key = "{key}"\n'))


def _process(box: Sandbox, old: str, new: str) -> tuple[Processed, ...]:
    return process(configmod.load(box.config), load_handlers(), Push(old, new, "refs/heads/main"),
                   now=NOW)


def test_a_run_commits_signed_on_main(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    key = keygen(tmp_path / "taskbot-key")
    sign_with(box.config, key)
    box.write("tasks/active/TASK-001.md", TASK)
    old, new = box.commit_push("add task")
    (result,) = _process(box, old, new)
    assert result.commit is not None and git(box.bare, "rev-parse", "main") == result.commit
    assert git(box.bare, "log", "-1", "--format=%ae", "main") == EMAIL
    assert verified(box.bare, "main", signers_file(tmp_path / "signers", (EMAIL, key)))
    other = signers_file(tmp_path / "other", (EMAIL, keygen(tmp_path / "other-key")))
    assert not verified(box.bare, "main", other)


def test_the_daemon_commits_signed(tmp_path: Path) -> None:
    """The same through the hook and `taskbot serve`, a process of its own."""
    box = sandbox(tmp_path)
    key = keygen(tmp_path / "taskbot-key")
    sign_with(box.config, key)
    done = subprocess.run([str(TASKBOT), "init", "--config", str(box.config)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    box.write("tasks/active/TASK-001.md", TASK)
    box.commit_push("add task")
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        until(daemon.notify, idle_and_empty(tmp_path / "state"))
    assert git(box.bare, "log", "-1", "--format=%ae %s", "main").startswith(f"{EMAIL} taskbot(")
    assert verified(box.bare, "main", signers_file(tmp_path / "signers", (EMAIL, key)))


def test_unsigned_without_a_key(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001.md", TASK)
    old, new = box.commit_push("add task")
    (result,) = _process(box, old, new)
    assert result.commit is not None
    assert git(box.bare, "cat-file", "commit", result.commit).find("gpgsig") == -1


PRE_RECEIVE = """\
#!/bin/sh
# main takes signed commits only (as a forge's branch protection does); notes are not checked
while read -r old new ref; do
  [ "$ref" = refs/heads/main ] || continue
  for c in $(git rev-list "$new" --not --all); do
    git -c gpg.ssh.allowedSignersFile=@SIGNERS@ verify-commit "$c" 2>/dev/null \\
      || { echo "commit $c is not signed by a known key" >&2; exit 1; }
  done
done
"""


@pytest.mark.parametrize("signing", [True, False])
def test_a_branch_requiring_signed_commits(tmp_path: Path, signing: bool) -> None:
    box = signing_sandbox(tmp_path)  # Becker signs his pushes
    key = keygen(tmp_path / "taskbot-key")
    signers = signers_file(tmp_path / "hook_signers", ("becker@example.com", tmp_path / "becker"),
                           (EMAIL, key))
    hook = box.bare / "hooks" / "pre-receive"
    hook.write_text(PRE_RECEIVE.replace("@SIGNERS@", str(signers)))
    hook.chmod(0o755)
    if signing:
        sign_with(box.config, key)
    box.write("tasks/active/TASK-001.md", TASK)
    old, new = box.commit_push("add task", "-S")
    (result,) = _process(box, old, new)
    main = git(box.bare, "rev-parse", "main")
    if signing:
        assert result.commit == main and verified(box.bare, "main", signers)
    else:  # refused: main keeps Becker's commit, taskbot's work waits on its branch
        assert main == new
        kept = git(box.bare, "rev-parse", "refs/heads/taskbot/TASK-001")
        assert kept != new and not verified(box.bare, kept, signers)


def test_commit_of_named_paths_is_signed_in_process(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The in-process commit of a few paths is signed as git signs: `git verify-commit`
    takes it, and HEAD's reflog reads as after `git commit`."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("a\n")
    key = keygen(tmp_path / "taskbot-key")
    identity = Identity(email=EMAIL, signing_key=str(key))
    assert gitrepo.commit(repo, "first\n", identity) is not None  # unborn HEAD: git's
    signers = signers_file(tmp_path / "signers", (EMAIL, key))
    assert verified(repo, "HEAD", signers)

    def no_git(args: object, *_: object, **__: object) -> None:
        raise AssertionError(f"git ran: {args}")

    (repo / "a.txt").write_text("b\n")
    with monkeypatch.context() as m:
        m.setattr(gitrepo, "git", no_git)
        sha = gitrepo.commit(repo, "second\n\nTask-Id: A\n", identity, ["a.txt"])
        assert gitrepo.commit(repo, "nothing\n", identity, ["a.txt"]) is None
    assert sha is not None and git(repo, "rev-parse", "main") == sha
    assert verified(repo, sha, signers) and git(repo, "status", "--porcelain") == ""
    # the header as git writes it: no blank continuation line after the signature
    assert "\n -----END SSH SIGNATURE-----\n\nsecond\n" in git(repo, "cat-file", "commit", sha)
    assert git(repo, "log", "-g", "-1", "--format=%gs", "main") == "commit: second"
    assert not verified(repo, sha, signers_file(tmp_path / "other", (EMAIL, keygen(
        tmp_path / "other-key"))))


def test_a_key_that_cannot_sign_fails_the_commit(tmp_path: Path) -> None:
    """In process or not, an unsigned commit is never made in its place."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "a.txt").write_text("a\n")
    assert gitrepo.commit(repo, "first\n", Identity()) is not None
    key = tmp_path / "taskbot-key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "words", "-f", str(key)],
                   check=True)
    head = git(repo, "rev-parse", "HEAD")
    (repo / "a.txt").write_text("b\n")
    with pytest.raises(gitrepo.GitError, match="passphrase"):
        gitrepo.commit(repo, "second\n", Identity(signing_key=str(key)), ["a.txt"])
    assert git(repo, "rev-parse", "HEAD") == head


def test_gitops_bump_commit_is_signed(tmp_path: Path, registry: RegistryServer,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    ws = make_workspace(tmp_path, registry, build_project=False)
    for name in ("ffl/backend", "ffl/frontend"):
        push_image(registry, tmp_path, name, "0.6.0")
    key = keygen(tmp_path / "taskbot-key")
    sign_with(ws.config, key)
    before = ws.gitops.origin_head()
    ws.write_task("0.6.0", ["- [ ] Update ffl HelmRelease in beckerkube to version @VERSION@"])
    code, report = ws.run(capsys)
    assert code == 0, report
    bump = ws.gitops.origin_head()
    assert bump != before and "0.6.0" in git(ws.gitops.origin, "show", "main")
    assert verified(ws.gitops.origin, "main", signers_file(tmp_path / "signers", (EMAIL, key)))


def test_the_bump_and_its_rollback_are_signed_on_stand_in(
        tmp_path: Path, registry: RegistryServer, kube: KubeStandIn,
        capsys: pytest.CaptureFixture[str]) -> None:
    ws = make_workspace(tmp_path, registry, build_project=False)
    for name in ("ffl/backend", "ffl/frontend"):
        push_image(registry, tmp_path, name, "0.2.0")
    key = keygen(tmp_path / "taskbot-key")
    sign_with(ws.config, key)
    ws.add_config(f'\n[cluster]\ncontext = "minikube"\nkubeconfig = "{kube.kubeconfig}"\n'
                  'namespace = "ffl"\nrollout_timeout = "20s"\n')
    player = FluxPlayer(kube.state, ws.gitops.origin, "apps/ffl/helmrelease.yaml",
                        (f"{registry.host}/ffl/backend", f"{registry.host}/ffl/frontend"),
                        lambda tag: CRASHLOOP if tag == "0.2.0" else READY)
    player.start()
    ws.write_task("0.2.0", ["- [ ] Update ffl HelmRelease in beckerkube to version 0.2.0"])
    code, report = ws.run(capsys)
    assert code == 1 and report["criteria"][0]["outcome"] == "failed", report
    subjects = git(ws.gitops.origin, "log", "-2", "--format=%s", "main").splitlines()
    assert subjects == ["taskbot(TASK-001): roll back ffl to 0.1.17",
                        "taskbot(TASK-001): ffl image tag 0.1.17 → 0.2.0"]
    signers = signers_file(tmp_path / "signers", (EMAIL, key))
    assert verified(ws.gitops.origin, "main", signers)  # the rollback
    assert verified(ws.gitops.origin, "main~1", signers)  # the bump
