"""A push's approvals (bot/pipeline/approvals.py): judged by the same trust rules as task
files, recorded, and only a trusted one queues its task again."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from bot import config as configmod
from bot.git import read
from bot.git.messages import approval
from bot.pipeline.approvals import taken
from bot.state import approvals as store
from tests.kit.git import git, sandbox, signing_sandbox


def _approve(clone: Path, task_id: str, digest: str, email: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_EMAIL": email, "GIT_COMMITTER_EMAIL": email}
    git(clone, "commit", "-q", "--allow-empty", "-m", approval(task_id, [digest]), env=env)
    return git(clone, "rev-parse", "HEAD")


def test_a_forged_trailer_in_an_untrusted_commit_starts_nothing(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    config = configmod.load(box.config)
    state = tmp_path / "state"
    old = git(box.clone, "rev-parse", "HEAD")
    eve = _approve(box.clone, "TASK-1", "0123456789abcdef", "eve@example.com")
    becker = _approve(box.clone, "TASK-2", "fedcba9876543210", "becker@example.com")
    repo = read.open_repo(box.clone)
    pushed = read.walk(repo, old, becker, (config.repo.tasks_dir,))
    got = taken(config, state, repo, pushed, frozenset())
    assert got.approved == ("TASK-2",)  # never TASK-1: eve is not trusted
    ((what, why),) = got.untrusted
    assert what == f"commit {eve[:12]}"
    assert why == (f"commit {eve[:12]} by eve@example.com: its approval of TASK-1 plan "
                   f"0123456789abcdef counts for nothing: commit {eve[:12]} author "
                   "eve@example.com is not in [trust] authors")
    recorded = {s.task_id: s.trusted for s in store.load(state)}
    assert recorded == {"TASK-1": False, "TASK-2": True}
    # taskbot's own commits never approve, whatever they carry
    assert taken(config, state, repo, pushed, frozenset({eve, becker})).approved == ()


def test_with_allowed_signers_only_a_signed_approval_counts(tmp_path: Path) -> None:
    box = signing_sandbox(tmp_path)
    config = configmod.load(box.config)
    state = tmp_path / "state"
    state.mkdir()
    old = git(box.clone, "rev-parse", "HEAD")
    unsigned = _approve(box.clone, "TASK-1", "0123456789abcdef", "becker@example.com")
    git(box.clone, "commit", "-q", "-S", "--allow-empty", "-m",
        approval("TASK-2", ["fedcba9876543210"]))
    signed = git(box.clone, "rev-parse", "HEAD")
    repo = read.open_repo(box.clone)
    got = taken(config, state, repo, read.walk(repo, old, signed, ()), frozenset())
    assert got.approved == ("TASK-2",)  # becker's address alone proves nothing
    ((what, why),) = got.untrusted
    assert what == f"commit {unsigned[:12]}" and "no valid ssh signature" in why


def test_an_approval_made_by_taskbots_signing_identity_counts(tmp_path: Path) -> None:
    # `approve_task` (MCP) commits as [identity]; with its signing key that commit passes
    # allowed_signers like a person's signed approval, and without it, it does not
    from bot.git.write import commit_tree

    box = signing_sandbox(tmp_path)
    key = tmp_path / "taskbot"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "taskbot", "-f",
                    str(key)], check=True)
    signers = tmp_path / "allowed_signers"
    signers.write_text(signers.read_text()
                       + f"taskbot@build-host {key.with_suffix('.pub').read_text()}")
    config = configmod.load(box.config)
    old = git(box.clone, "rev-parse", "HEAD")
    signed_id = configmod.Identity("taskbot", "taskbot@build-host", str(key))
    signed = commit_tree(box.clone, old, approval("TASK-2", ["fedcba9876543210"]), signed_id)
    plain = commit_tree(box.clone, signed, approval("TASK-1", ["0123456789abcdef"]),
                        signed_id._replace(signing_key=""))
    repo = read.open_repo(box.clone)
    got = taken(config, tmp_path / "state", repo, read.walk(repo, old, plain, ()), frozenset())
    assert got.approved == ("TASK-2",)
    ((what, why),) = got.untrusted
    assert what == f"commit {plain[:12]}" and "no valid ssh signature" in why
