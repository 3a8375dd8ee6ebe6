"""A file's verdict kept in the process's memory: the dashboard judges the run's file again
in the same commit, and gets the answer without a second walk of its history. A kept
verdict is used only for the same commit, path, own-commits set and policy: never under
another policy, another record of taskbot's commits, or `allowed_signers` (a key may be
revoked in that file at any time)."""

from __future__ import annotations

from pathlib import Path

import pygit2
import pytest

from bot import config as configmod
from bot.git import trust
from bot.state.memory import Memory
from tests.kit.git import git, sandbox

TASK = "---\nid: T-1\ntitle: One\n---\n# T-1\n\n## Acceptance Criteria\n- [ ] A\n"


def _tip(root: Path) -> tuple[configmod.Config, pygit2.Repository, str]:
    box = sandbox(root)
    (box.clone / "tasks/active").mkdir(parents=True, exist_ok=True)
    (box.clone / "tasks/active/T-1.md").write_text(TASK)
    git(box.clone, "add", "-A")
    git(box.clone, "commit", "-q", "--no-gpg-sign", "-m", "T-1")  # by Becker (conftest)
    return configmod.load(box.config), pygit2.Repository(str(box.clone)), \
        git(box.clone, "rev-parse", "HEAD")


def _walks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    walked: list[str] = []
    real = trust.file_history

    def counted(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        walked.append(str(args[2]))
        return real(*args, **kwargs)  # type: ignore[arg-type]
    monkeypatch.setattr(trust, "file_history", counted)
    return walked


def test_a_file_judged_trusted_is_not_walked_again_for_the_same_commit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config, repo, tip = _tip(tmp_path)
    memory, own = Memory(), frozenset[str]()
    walked = _walks(monkeypatch)

    first = trust.check_file(repo, tip, "tasks/active/T-1.md", config, own, memory=memory)
    again = trust.check_file(repo, tip, "tasks/active/T-1.md", config, own, memory=memory)

    assert first.trusted and again.trusted
    assert walked == ["tasks/active/T-1.md"]


def test_a_kept_verdict_never_answers_for_another_policy_or_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config, repo, tip = _tip(tmp_path)
    memory, own = Memory(), frozenset[str]()
    assert trust.check_file(repo, tip, "tasks/active/T-1.md", config, own, memory=memory).trusted
    assert config.trust is not None
    strict = config._replace(trust=config.trust._replace(authors=("someone-else@example.com",)))
    walked = _walks(monkeypatch)

    verdict = trust.check_file(repo, tip, "tasks/active/T-1.md", strict, own, memory=memory)
    trust.check_file(repo, tip, "tasks/active/T-1.md", config, frozenset({"0" * 40}),
                     memory=memory)

    assert not verdict.trusted and "becker@example.com is not in [trust] authors" in verdict.reason
    assert walked == ["tasks/active/T-1.md", "tasks/active/T-1.md"]


def test_no_verdict_is_kept_under_allowed_signers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config, repo, tip = _tip(tmp_path)
    assert config.trust is not None
    signed = config._replace(trust=config.trust._replace(
        allowed_signers=str(tmp_path / "allowed_signers")))
    memory, own = Memory(), frozenset[str]()
    walked = _walks(monkeypatch)

    for _ in range(2):
        assert not trust.check_file(repo, tip, "tasks/active/T-1.md", signed, own,
                                    memory=memory).trusted

    assert walked == ["tasks/active/T-1.md", "tasks/active/T-1.md"]
    assert not memory.verdicts.items
