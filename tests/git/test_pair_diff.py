"""One comparison of a push's two trees (`bot.git.pairdiff`) answers detection, trust and
the worktree's reset exactly as each one's own comparison did, for every kind of push."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pygit2
import pytest

from bot.config import Config, load
from bot.git import pairdiff, trust
from bot.git.detect import changed_files
from bot.git.read import open_repo
from bot.git.reset import reset_in_process

TASK = "---\nid: {id}\n---\n# {id}\n## Acceptance Criteria\n- [ ] Run {id} <!-- taskbot: shell cmd=true -->\n"


def _git(repo: Path, *args: str, who: str = "p@x") -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "p", "GIT_AUTHOR_EMAIL": who,
           "GIT_COMMITTER_NAME": "p", "GIT_COMMITTER_EMAIL": who,
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    return subprocess.run(["git", "-c", "core.hooksPath=/dev/null", *args], cwd=repo,
                          env=env, check=True, capture_output=True, text=True).stdout.strip()


def _commit(repo: Path, who: str = "p@x") -> str:
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "--allow-empty", "-m", "change", who=who)
    return _git(repo, "rev-parse", "HEAD")


def _write(repo: Path, rel: str, text: str) -> None:
    (repo / rel).parent.mkdir(parents=True, exist_ok=True)
    (repo / rel).write_text(text)


def _add(repo: Path) -> None:
    _write(repo, "tasks/active/NEW.md", TASK.format(id="NEW"))


def _add_two(repo: Path) -> None:
    _add(repo)
    _write(repo, "docs/guide.md", "words\n")


def _edit(repo: Path) -> None:
    _write(repo, "tasks/active/A.md", TASK.format(id="A") + "- [ ] More <!-- taskbot: shell cmd=true -->\n")


def _rename(repo: Path) -> None:
    _git(repo, "mv", "tasks/active/A.md", "tasks/active/A2.md")


def _move_in(repo: Path) -> None:
    _git(repo, "mv", "tasks/backlog/B.md", "tasks/active/B.md")


def _copy(repo: Path) -> None:
    _write(repo, "tasks/active/C.md", (repo / "tasks/backlog/B.md").read_text())


def _add_and_edit(repo: Path) -> None:
    _add(repo)
    _edit(repo)


def _delete(repo: Path) -> None:
    (repo / "tasks/active/A.md").unlink()


def _to_link(repo: Path) -> None:
    (repo / "tasks/active/A.md").unlink()
    (repo / "tasks/active/A.md").symlink_to("../backlog/B.md")


def _untrusted_copy(repo: Path) -> None:
    _write(repo, "notes/evil.md", TASK.format(id="EVIL"))
    _commit(repo, who="evil@x")
    _write(repo, "tasks/active/EVIL.md", TASK.format(id="EVIL"))


PUSHES: dict[str, Callable[[Path], None]] = {
    "add": _add, "add_two": _add_two, "edit": _edit, "rename": _rename, "move_in": _move_in,
    "copy": _copy, "add_and_edit": _add_and_edit, "delete": _delete, "to_link": _to_link,
    "untrusted_copy": _untrusted_copy,
}


def _config(repo: Path) -> Config:
    toml = repo.parent / "taskbot.toml"
    toml.write_text(f'[repo]\npath = "{repo}"\n[trust]\nauthors = ["p@x"]\n')
    return load(toml)


def _repo(tmp_path: Path) -> tuple[Path, str]:
    repo = tmp_path / "r"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _write(repo, "tasks/active/A.md", TASK.format(id="A"))
    _write(repo, "tasks/backlog/B.md", TASK.format(id="B"))
    for i in range(30):
        _write(repo, f"tasks/active/DONE-{i}.md", TASK.format(id=f"DONE-{i}").replace("[ ]", "[x]"))
    return repo, _commit(repo)


@pytest.mark.parametrize("push", sorted(PUSHES))
def test_detection_and_trust_read_the_pair_as_their_own_diffs(tmp_path: Path, push: str) -> None:
    repo, old = _repo(tmp_path)
    PUSHES[push](repo)
    new = _commit(repo)
    git = open_repo(repo)
    pair = pairdiff.of(git, old, new)
    assert pair is not None
    assert changed_files(git, old, new, "tasks/active", pair) \
        == changed_files(git, old, new, "tasks/active")
    config = _config(repo)
    for change in changed_files(git, old, new, "tasks/active"):
        if change.error:
            continue
        assert trust.check_file(git, new, change.path, config, frozenset(), pair) \
            == trust.check_file(git, new, change.path, config, frozenset())
        assert list(trust.file_history(git, new, change.path, pair)) \
            == list(trust.file_history(git, new, change.path))


@pytest.mark.parametrize("push", sorted(PUSHES))
def test_a_reset_with_the_pair_leaves_what_one_without_it_does(tmp_path: Path,
                                                                push: str) -> None:
    repo, old = _repo(tmp_path)
    PUSHES[push](repo)
    new = _commit(repo)
    pair = pairdiff.of(open_repo(repo), old, new)
    results = []
    for given in (None, pair):
        _git(repo, "checkout", "-q", "--detach", old)
        done = reset_in_process(repo, "taskbot/T", new, None, settled=True, pair=given)
        results.append((done, _git(repo, "rev-parse", "HEAD"),
                        _git(repo, "status", "--porcelain", "--ignored"),
                        sorted(str(p.relative_to(repo)) for p in repo.rglob("*.md"))))
    assert results[0] == results[1]


def test_a_pair_of_other_trees_is_not_used(tmp_path: Path) -> None:
    repo, old = _repo(tmp_path)
    _add(repo)
    middle = _commit(repo)
    _edit(repo)
    new = _commit(repo)
    git = open_repo(repo)
    other = pairdiff.of(git, old, middle)  # not the two tips asked about
    assert changed_files(git, middle, new, "tasks/active", other) \
        == changed_files(git, middle, new, "tasks/active")
    _git(repo, "checkout", "-q", "--detach", middle)
    assert reset_in_process(repo, "taskbot/T", new, None, settled=True, pair=other)
    assert _git(repo, "status", "--porcelain", "--ignored") == ""
    assert (repo / "tasks/active/A.md").read_text().count("- [ ]") == 2
    assert pairdiff.of(git, None, new) is None
    assert isinstance(git.revparse_single(new), pygit2.Commit)


def test_a_verbatim_copy_of_an_untrusted_file_is_still_found_with_the_pair(tmp_path: Path
                                                                           ) -> None:
    repo, _ = _repo(tmp_path)
    _write(repo, "notes/evil.md", TASK.format(id="EVIL"))
    old = _commit(repo, who="evil@x")
    _write(repo, "tasks/active/EVIL.md", TASK.format(id="EVIL"))
    new = _commit(repo)
    git = open_repo(repo)
    pair = pairdiff.of(git, old, new)
    assert pair is not None and pair.only(pygit2.enums.DeltaStatus.ADDED)
    verdict = trust.check_file(git, new, "tasks/active/EVIL.md", _config(repo), frozenset(),
                               pair)
    assert not verdict.trusted
    assert "evil@x changed notes/evil.md (now tasks/active/EVIL.md)" in verdict.reason
