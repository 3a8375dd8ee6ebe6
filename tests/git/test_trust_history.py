"""What runs must come wholly from trusted people: a task file's whole history is judged,
followed through renames and copies, not only the commits of the push that triggers it."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from bot import config as configmod
from bot.pipeline import Processed, Push, Rerun, process
from bot.plugin.plugins import load_handlers
from tests.kit.git import Sandbox, git, sandbox

NOW = datetime(2026, 11, 26, 14, 30).astimezone()
# conftest sets GIT_AUTHOR_EMAIL (Becker), which outranks `-c user.email`: name the author.
MALLORY = ("--author", "Mallory <mallory@example.com>")
BECKER = ("--author", "Becker <becker@example.com>")

EVIL = "- [{}] Evil <!-- taskbot: shell project=demo cmd=\"sh -c 'echo EVIL >> ledger'\" -->\n"
TASK = """\
---
id: T-2
title: Moved in
status: active
updated: 2026-01-01
---
# T-2

## Acceptance Criteria
{criterion}- [ ] By hand

## Progress Log
- 2026-01-01 10:00: created
"""


def _process(box: Sandbox, old: str, new: str) -> tuple[Processed, ...]:
    config = configmod.load(box.config)
    return process(config, load_handlers(), Push(old, new, "refs/heads/main"), now=NOW)


def _commit(box: Sandbox, who: tuple[str, ...], message: str) -> str:
    git(box.clone, "add", "-A")
    git(box.clone, "commit", "-q", "--no-gpg-sign", *who, "-m", message)
    return git(box.clone, "rev-parse", "HEAD")


def _push(box: Sandbox) -> tuple[str, str]:
    old = git(box.bare, "rev-parse", "main")
    git(box.clone, "push", "-q", "origin", "HEAD:main")
    return old, git(box.bare, "rev-parse", "main")


def _ledger(box: Sandbox) -> Path:
    return box.root / "demo" / "ledger"


def _move_in(box: Sandbox) -> tuple[str, str]:
    """Becker moves tasks/backlog/T-2.md into tasks/active and pushes."""
    (box.clone / "tasks/active").mkdir(parents=True, exist_ok=True)
    git(box.clone, "mv", "tasks/backlog/T-2.md", "tasks/active/T-2.md")
    _commit(box, BECKER, "start T-2")
    return _push(box)


def test_an_untrusted_file_moved_in_by_a_trusted_person_runs_nothing(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/backlog/T-2.md", TASK.format(criterion=EVIL.format(" ")))
    evil = _commit(box, MALLORY, "backlog idea")
    _push(box)
    results = _process(box, *_move_in(box))
    assert not _ledger(box).exists()
    assert [r.commit for r in results] == [None]
    message = results[0].message
    assert f"commit {evil[:12]} by mallory@example.com changed tasks/backlog/T-2.md " \
           "(now tasks/active/T-2.md): mallory@example.com is not in [trust] authors" in message


def test_a_copy_of_an_untrusted_file_runs_nothing(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/backlog/T-2.md", TASK.format(criterion=EVIL.format(" ")))
    evil = _commit(box, MALLORY, "backlog idea")
    _push(box)
    box.write("tasks/active/T-2.md", (box.clone / "tasks/backlog/T-2.md").read_text())
    _commit(box, BECKER, "copy T-2")
    results = _process(box, *_push(box))
    assert not _ledger(box).exists()
    assert evil[:12] in results[0].message and "mallory@example.com" in results[0].message


def test_unticking_a_criterion_an_untrusted_person_edited_runs_nothing(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    done = '- [x] Done <!-- taskbot: shell project=demo cmd="true" -->\n'
    box.write("tasks/active/T-2.md", TASK.format(criterion=done))
    _commit(box, BECKER, "task")
    _process(box, *_push(box))
    git(box.clone, "pull", "-q", "--rebase", "origin", "main")
    path = box.clone / "tasks/active/T-2.md"
    path.write_text(path.read_text().replace(done, EVIL.format("x")))
    evil = _commit(box, MALLORY, "reword")
    assert _process(box, *_push(box)) == ()  # still ticked: nothing runs, nothing refused
    path.write_text(path.read_text().replace("- [x] Evil", "- [ ] Evil"))
    _commit(box, BECKER, "run it again")
    results = _process(box, *_push(box))
    assert not _ledger(box).exists()
    assert [r.commit for r in results] == [None]
    assert f"commit {evil[:12]} by mallory@example.com changed tasks/active/T-2.md: " \
           in results[0].message


def test_a_trusted_file_moved_in_by_a_trusted_person_runs(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/backlog/T-2.md", TASK.format(criterion=EVIL.format(" ")))
    _commit(box, BECKER, "backlog idea")
    _push(box)
    results = _process(box, *_move_in(box))
    assert [r.commit is not None for r in results] == [True]
    assert _ledger(box).read_text() == "EVIL\n"


def test_a_rerun_of_a_file_renamed_from_an_untrusted_file_is_refused(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/backlog/T-2.md", TASK.format(criterion=EVIL.format(" ")))
    evil = _commit(box, MALLORY, "backlog idea")
    _push(box)
    _move_in(box)  # its push never processed: only `run --commit` asks
    config = configmod.load(box.config)
    rerun = process(config, load_handlers(), Rerun("T-2"), now=NOW)
    assert not _ledger(box).exists()
    assert rerun[0].commit is None
    assert f"commit {evil[:12]} by mallory@example.com changed tasks/backlog/T-2.md " \
           "(now tasks/active/T-2.md)" in rerun[0].message


def test_a_new_file_merely_like_an_untrusted_one_runs(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    box.write("tasks/backlog/T-2.md", TASK.format(criterion=EVIL.format(" ")))
    _commit(box, MALLORY, "backlog idea")
    _push(box)
    # Same template, one line apart: a copy only when verbatim, a rename only with a delete.
    box.write("tasks/active/T-3.md", TASK.replace("T-2", "T-3").format(
        criterion='- [ ] Fine <!-- taskbot: shell project=demo cmd="sh -c \'echo OK >> ledger\'" -->\n'))
    _commit(box, BECKER, "own task")
    results = _process(box, *_push(box))
    assert [r.commit is not None for r in results] == [True]
    assert _ledger(box).read_text() == "OK\n"


def test_a_trusted_person_clears_a_file_by_deleting_and_adding_it_again(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    good = "- [ ] Good <!-- taskbot: shell project=demo cmd=\"sh -c 'echo GOOD >> ledger'\" -->\n"
    box.write("tasks/active/T-2.md", TASK.format(criterion=""))
    _commit(box, BECKER, "add T-2")
    _process(box, *_push(box))
    box.write("tasks/active/T-2.md", TASK.format(criterion="").replace("Moved in", "Moved on"))
    _commit(box, MALLORY, "retitle")  # an untrusted edit, harmless but on the record
    _push(box)
    git(box.clone, "rm", "-q", "tasks/active/T-2.md")
    _commit(box, BECKER, "remove T-2")
    box.write("tasks/active/T-2.md", TASK.format(criterion=good))
    _commit(box, BECKER, "T-2 again, written by Becker")
    _process(box, *_push(box))
    assert _ledger(box).read_text() == "GOOD\n"


def test_history_is_followed_whatever_the_commit_clocks_say(tmp_path: Path) -> None:
    """Committer times out of order (a parent dated after its child, a merge of the two):
    every commit that changed the file is still found."""
    import os
    import subprocess

    from bot.git.read import open_repo
    from bot.git.trust import file_history

    repo = tmp_path / "r"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)

    def commit(who: str, when: int, text: str | None, *args: str) -> None:
        if text is not None:
            (repo / "T.md").write_text(text)
            subprocess.run(["git", "add", "T.md"], cwd=repo, check=True)
        env = {**os.environ, "GIT_AUTHOR_EMAIL": who, "GIT_COMMITTER_EMAIL": who,
               "GIT_AUTHOR_NAME": who, "GIT_COMMITTER_NAME": who,
               "GIT_AUTHOR_DATE": f"{1_700_000_000 + when} +0000",
               "GIT_COMMITTER_DATE": f"{1_700_000_000 + when} +0000"}
        subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "c", *args], cwd=repo,
                       env=env, check=True)

    commit("a@x", 5000, "one\n")
    subprocess.run(["git", "checkout", "-q", "-b", "side"], cwd=repo, check=True)
    commit("mallory@x", 9000, "one\ntwo\n")  # dated long after what follows
    subprocess.run(["git", "checkout", "-q", "main"], cwd=repo, check=True)
    commit("b@x", 1000, None)
    subprocess.run(["git", "merge", "-q", "--no-ff", "--no-edit", "side"], cwd=repo,
                   env={**os.environ, "GIT_COMMITTER_DATE": "1700001500 +0000",
                        "GIT_AUTHOR_DATE": "1700001500 +0000"}, check=True)
    who = {c.author_email for c in file_history(open_repo(repo), "main", "T.md")}
    assert {"a@x", "mallory@x"} <= who  # and the merge that brought the side in


def test_a_copy_of_an_untrusted_file_thirty_folders_down_runs_nothing(tmp_path: Path) -> None:
    """The copy's source is searched in every folder, however deep (folder by folder, not by
    a whole-tree comparison): one thirty folders down is found as well."""
    box = sandbox(tmp_path)
    deep = "notes/" + "/".join(f"d{i}" for i in range(30)) + "/T-2.md"
    box.write(deep, TASK.format(criterion=EVIL.format(" ")))
    evil = _commit(box, MALLORY, "an idea, filed deep")
    _push(box)
    box.write("tasks/active/T-2.md", (box.clone / deep).read_text())
    _commit(box, BECKER, "copy T-2")
    results = _process(box, *_push(box))
    assert not _ledger(box).exists()
    assert evil[:12] in results[0].message and "mallory@example.com" in results[0].message


def _raw_tree(box: Sandbox, entries: list[tuple[str, str, str]]) -> str:
    """A tree written byte for byte (`hash-object --literally`): git and libgit2 read any
    mode with a folder's type bits as a folder, `40755` too, which `mktree` never writes."""
    raw = b"".join(f"{mode} {name}".encode() + b"\0" + bytes.fromhex(sha)
                   for mode, name, sha in sorted(entries, key=lambda e: e[1]))
    path = box.root / "tree.raw"
    path.write_bytes(raw)
    return git(box.clone, "hash-object", "-w", "-t", "tree", "--literally", str(path))


def test_a_copy_from_a_folder_with_an_odd_mode_runs_nothing(tmp_path: Path) -> None:
    """Mallory's commit files her task under a folder whose entries carry mode 40755; a
    trusted person copies it into tasks/active. The copy is still traced to her commit."""
    box = sandbox(tmp_path)
    (box.root / "evil.md").write_text(TASK.format(criterion=EVIL.format(" ")))
    blob = git(box.clone, "hash-object", "-w", str(box.root / "evil.md"))
    readme = git(box.clone, "rev-parse", "HEAD:README.md")
    evil_dir = _raw_tree(box, [("100644", "x.md", blob)])
    root = _raw_tree(box, [("100644", "README.md", readme), ("40755", "evil", evil_dir)])
    head = git(box.clone, "rev-parse", "HEAD")
    evil = git(box.clone, "commit-tree", root, "-p", head, "-m", "an idea", env={
        **os.environ, "GIT_AUTHOR_NAME": "Mallory", "GIT_AUTHOR_EMAIL": "mallory@example.com"})
    git(box.clone, "push", "-q", "origin", f"{evil}:refs/heads/main")
    git(box.clone, "fetch", "-q", "origin")
    git(box.clone, "read-tree", evil)
    git(box.clone, "update-index", "--add", "--cacheinfo", f"100644,{blob},tasks/active/T-2.md")
    copied = git(box.clone, "commit-tree", git(box.clone, "write-tree"), "-p", evil,
                 "-m", "copy T-2")  # by Becker (conftest)
    old = git(box.bare, "rev-parse", "main")
    git(box.clone, "push", "-q", "origin", f"{copied}:refs/heads/main")
    results = _process(box, old, copied)
    assert not _ledger(box).exists()
    assert evil[:12] in results[0].message and "mallory@example.com" in results[0].message
