"""`bot.git.write`: worktrees reset for each run, one per repository and process; taskbot's
clone packs its loose objects; `push_ff` without an origin moves a bare repository's branch
only by fast-forward."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import Identity
from bot.git import worktree as worktrees
from bot.git import write as gitrepo
from tests.kit.git import git, sandbox

pytestmark = pytest.mark.integration


def test_worktree_of_a_bare_repo_fast_forwards_or_keeps_the_branch(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    state = tmp_path / "state"
    first = worktrees.prepare_worktree(box.bare, state, "taskbot/T-1", "main")
    (first / "docs.md").write_text("new address\n")
    sha = gitrepo.commit(first, "edit docs\n", Identity())
    assert sha is not None
    assert gitrepo.push_ff(first, "taskbot/T-1", "main") == "main fast-forwarded"
    assert git(box.bare, "rev-parse", "main") == sha

    second = worktrees.worktree(box.bare, state, "taskbot/T-2", f"{sha}~1")
    (second / "other.md").write_text("diverged\n")
    assert gitrepo.commit(second, "diverge\n", Identity()) is not None
    said = gitrepo.push_ff(second, "taskbot/T-2", "main")
    assert said == "main moved meanwhile: branch taskbot/T-2 kept for a person to merge"
    assert git(box.bare, "rev-parse", "main") == sha


def test_clone_without_origin_keeps_the_branch(tmp_path: Path) -> None:
    box = sandbox(tmp_path)
    git(box.clone, "remote", "remove", "origin")
    work = worktrees.prepare_worktree(box.clone, tmp_path / "state", "taskbot/T-1", "main")
    (work / "x.md").write_text("x\n")
    assert gitrepo.commit(work, "x\n", Identity()) is not None
    before = git(box.clone, "rev-parse", "main")
    assert gitrepo.push_ff(work, "taskbot/T-1", "main") == (
        "no origin: branch taskbot/T-1 kept for a person to merge")
    assert git(box.clone, "rev-parse", "main") == before


def _as_git_leaves_it(work: Path, branch: str, sha: str) -> None:
    assert git(work, "symbolic-ref", "HEAD") == f"refs/heads/{branch}"
    assert git(work, "rev-parse", "HEAD") == sha
    assert git(work, "status", "--porcelain", "--ignored") == ""


def test_a_reused_worktree_is_reset_like_git_checkout_force_B(tmp_path: Path) -> None:
    """The second run of a task reuses its worktree (libgit2, no git process): whether the
    worktree is still on its branch or detached after a landed run, it ends on the branch
    at the start commit, a person-free copy of it, as `git checkout --force -B` leaves it."""
    box = sandbox(tmp_path)
    state = tmp_path / "state"
    start = git(box.bare, "rev-parse", "main")
    work = worktrees.worktree(box.bare, state, "taskbot/T-1", start)
    (work / "docs.md").write_text("half-done edit\n")
    (work / "stray.txt").write_text("left by a killed run\n")
    sha = gitrepo.commit(work, "edit\n", Identity(), ["docs.md"])
    assert sha is not None

    again = worktrees.worktree(box.bare, state, "taskbot/T-1", start)  # on its branch
    assert again == work
    _as_git_leaves_it(work, "taskbot/T-1", start)

    gitrepo.drop_branch(work, "taskbot/T-1")  # as after a landed run: detached, branch gone
    (work / "docs.md").write_text("changed while detached\n")
    assert worktrees.worktree(box.bare, state, "taskbot/T-1", sha) == work
    _as_git_leaves_it(work, "taskbot/T-1", sha)
    assert (work / "docs.md").read_text() == "half-done edit\n"


def test_a_worktree_with_gitattributes_is_reset_by_git(tmp_path: Path) -> None:
    """Where git and libgit2 could write different bytes (attributes, filter drivers), git
    resets the worktree: the file is what `git checkout` writes (here CRLF by eol=crlf)."""
    box = sandbox(tmp_path)
    (box.clone / ".gitattributes").write_text("*.md text eol=crlf\n")
    (box.clone / "notes.md").write_text("one\ntwo\n")
    _, start = box.commit_push("attributes")
    state = tmp_path / "state"
    work = worktrees.worktree(box.bare, state, "taskbot/T-2", start)
    (work / "notes.md").write_bytes(b"edited\n")
    gitrepo.drop_branch(work, "taskbot/T-2")
    assert worktrees.worktree(box.bare, state, "taskbot/T-2", start) == work
    assert (work / "notes.md").read_bytes() == b"one\r\ntwo\r\n"
    _as_git_leaves_it(work, "taskbot/T-2", start)


def test_a_reused_worktree_loses_files_the_start_commit_does_not_have(tmp_path: Path) -> None:
    """Reset to a commit without a file removes it, detached or on the branch: a stale file
    would otherwise ride along in the next `git add --all`."""
    box = sandbox(tmp_path)
    box.write("gone.md", "soon removed\n")
    _, with_file = box.commit_push("add")
    (box.clone / "gone.md").unlink()
    _, without = box.commit_push("remove")
    state = tmp_path / "state"
    work = worktrees.worktree(box.bare, state, "taskbot/T-3", with_file)
    assert (work / "gone.md").exists()
    gitrepo.drop_branch(work, "taskbot/T-3")
    worktrees.worktree(box.bare, state, "taskbot/T-3", without)
    assert not (work / "gone.md").exists()
    _as_git_leaves_it(work, "taskbot/T-3", without)
    worktrees.worktree(box.bare, state, "taskbot/T-3", with_file)
    worktrees.worktree(box.bare, state, "taskbot/T-3", without)  # on the branch this time
    assert not (work / "gone.md").exists()
    _as_git_leaves_it(work, "taskbot/T-3", without)


ENCODED = "*.md working-tree-encoding=UTF-16LE\n"


@pytest.mark.parametrize("how", ["encoding in a subdirectory's .gitattributes",
                                 "encoding in info/attributes", "autocrlf from the environment"])
def test_what_makes_git_write_other_bytes_sends_the_reset_to_git(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """Where libgit2 would write the blob's UTF-8/LF bytes and git writes others (libgit2 knows
    no `working-tree-encoding` and reads no config from the environment), git resets."""
    box = sandbox(tmp_path)
    (box.clone / "docs").mkdir()
    if how.endswith("subdirectory's .gitattributes"):
        (box.clone / "docs" / ".gitattributes").write_text(ENCODED)
    (box.clone / "docs" / "notes.md").write_bytes("one\ntwo\n".encode(
        "utf-16-le" if "subdirectory" in how else "utf-8"))
    _, first = box.commit_push("notes")
    state = tmp_path / "state"
    work = worktrees.worktree(box.bare, state, "taskbot/T-4", first)
    text = "one\ntwo\nthree\n"
    (work / "docs" / "notes.md").write_bytes(text.encode(
        "utf-16-le" if "subdirectory" in how else "utf-8"))
    second = gitrepo.commit(work, "more notes\n", Identity())
    assert second is not None
    gitrepo.drop_branch(work, "taskbot/T-4")
    worktrees.worktree(box.bare, state, "taskbot/T-4", first)
    expected = text.encode("utf-16-le")
    if how == "encoding in info/attributes":
        common = box.bare / "info"
        common.mkdir(exist_ok=True)
        (common / "attributes").write_text(ENCODED)
        blob = text.encode()  # committed as UTF-8 before the attribute existed
        (work / "docs" / "notes.md").write_bytes(blob)
    elif how == "autocrlf from the environment":
        monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
        monkeypatch.setenv("GIT_CONFIG_KEY_0", "core.autocrlf")
        monkeypatch.setenv("GIT_CONFIG_VALUE_0", "true")
        expected = text.replace("\n", "\r\n").encode()
    worktrees.worktree(box.bare, state, "taskbot/T-4", second)
    assert (work / "docs" / "notes.md").read_bytes() == expected
    assert git(work, "rev-parse", "HEAD") == second


def _entries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_one_worktree_per_repository_whatever_the_branch(tmp_path: Path) -> None:
    """Every task's run reuses the repository's one worktree: the state dir holds one
    checkout per repository, not one per task id ever run."""
    box = sandbox(tmp_path)
    state = tmp_path / "state"
    start = git(box.bare, "rev-parse", "main")
    paths = set()
    for n in range(5):
        work = worktrees.worktree(box.bare, state, f"taskbot/T-{n}", start)
        (work / f"t-{n}.md").write_text("done\n")
        sha = gitrepo.commit(work, f"t-{n}\n", Identity())
        assert sha is not None
        if n % 2:  # landed: detached, branch dropped; else kept on its branch
            gitrepo.drop_branch(work, f"taskbot/T-{n}")
        paths.add(work)
    (folder,) = (state / "worktrees").iterdir()
    assert len(paths) == 1 and _entries(folder) == ["@0", "@0.lock"]
    again = worktrees.worktree(box.bare, state, "taskbot/T-0", start)  # a kept branch, reset
    _as_git_leaves_it(again, "taskbot/T-0", start)
    assert not (again / "t-4.md").exists()
    kept = git(box.bare, "for-each-ref", "--format=%(refname:short)", "refs/heads/taskbot")
    assert kept.split() == ["taskbot/T-0", "taskbot/T-2", "taskbot/T-4"]


def test_worktrees_of_earlier_versions_and_ended_processes_are_removed(tmp_path: Path) -> None:
    """A worktree per work branch (as earlier versions made them), and a slot whose process
    ended, are removed when a process takes its slot: only what is in use stays."""
    box = sandbox(tmp_path)
    state = tmp_path / "state"
    start = git(box.bare, "rev-parse", "main")
    folder = state / "worktrees" / f"tasks.git-{gitrepo._digest(box.bare)}"
    folder.mkdir(parents=True)
    for name in ("taskbot_T-1", "taskbot_T-2", "@3"):
        git(box.bare, "worktree", "add", "--quiet", "-b", name.replace("_", "/").lstrip("@"),
            str(folder / name), start)
    (folder / "@3.lock").touch()  # its process ended: nobody holds the lock
    work = worktrees.worktree(box.bare, state, "taskbot/T-1", start)
    assert work == folder / "@0"
    assert _entries(folder) == ["@0", "@0.lock", "@3.lock"]
    listed = git(box.bare, "worktree", "list", "--porcelain").splitlines()
    assert [line for line in listed if line.startswith("worktree ")] == [
        f"worktree {box.bare}", f"worktree {work}"]
    _as_git_leaves_it(work, "taskbot/T-1", start)  # the branch the old worktree held


HOLD = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


def test_a_slot_another_process_holds_is_left_alone(tmp_path: Path) -> None:
    """Two processes at work in one repository (the daemon, `taskbot run`) never share a
    worktree: the second takes the next slot, and the first one's checkout stays."""
    box = sandbox(tmp_path)
    state = tmp_path / "state"
    start = git(box.bare, "rev-parse", "main")
    folder = state / "worktrees" / f"tasks.git-{gitrepo._digest(box.bare)}"
    folder.mkdir(parents=True)
    git(box.bare, "worktree", "add", "--quiet", "--detach", str(folder / "@0"), start)
    (folder / "@0" / "half-done.md").write_text("another process's run\n")
    with subprocess.Popen([sys.executable, "-c", HOLD, str(folder / "@0.lock")],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        try:
            work = worktrees.worktree(box.bare, state, "taskbot/T-1", start)
        finally:
            holder.communicate("")
    assert work == folder / "@1"
    assert (folder / "@0" / "half-done.md").read_text() == "another process's run\n"
    _as_git_leaves_it(work, "taskbot/T-1", start)


def _blob_in_folder(prefix: str, n: int) -> list[str]:
    """`n` file contents whose git blob ids start with `prefix` (found by trying)."""
    found: list[str] = []
    i = 0
    while len(found) < n:
        text = f"filler {i}\n"
        if hashlib.sha1(f"blob {len(text)}\0{text}".encode()).hexdigest().startswith(prefix):
            found.append(text)
        i += 1
    return found


def test_taskbots_clone_packs_its_loose_objects(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Each commit, tree and note taskbot makes is a file in its clone until packed: past
    the limit (estimated as git does, from objects/17), the clone is packed, and every
    commit is still there."""
    monkeypatch.setattr(gitrepo, "LOOSE_OBJECTS", 256)
    box = sandbox(tmp_path)
    state = tmp_path / "state"
    clone = gitrepo.private_clone(box.bare, state)
    work = worktrees.worktree(clone, state, "taskbot/T-1", "origin/main")
    for n, text in enumerate(_blob_in_folder("17", 3)):
        (work / f"filler-{n}.txt").write_text(text)
    sha = gitrepo.commit(work, "fillers\n", Identity())
    assert sha is not None
    loose = clone / ".git" / "objects" / "17"
    assert len(list(loose.iterdir())) >= 3
    assert gitrepo.private_clone(box.bare, state) == clone
    assert not loose.exists() or list(loose.iterdir()) == []
    assert list((clone / ".git" / "objects" / "pack").glob("*.pack"))
    assert git(clone, "cat-file", "-t", sha) == "commit"
    assert git(work, "status", "--porcelain") == ""


def test_objects_the_bare_repository_has_are_not_kept_twice(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """What taskbot pushed to the bare repository its clone borrows from is read from there:
    the clone's loose copies go (packing would keep them, being reachable and borrowed)."""
    monkeypatch.setattr(gitrepo, "LOOSE_OBJECTS", 256)
    box = sandbox(tmp_path)
    state = tmp_path / "state"
    clone = gitrepo.private_clone(box.bare, state)
    work = worktrees.worktree(clone, state, "taskbot/T-1", "origin/main")
    for n, text in enumerate(_blob_in_folder("17", 3)):
        (work / f"filler-{n}.txt").write_text(text)
    sha = gitrepo.commit(work, "fillers\n", Identity())
    assert sha is not None and gitrepo.push(work, ["HEAD:refs/heads/main"]).ok
    objects = clone / ".git" / "objects"
    assert len(list((objects / "17").iterdir())) >= 3
    gitrepo.private_clone(box.bare, state)
    assert [p for p in objects.glob("??/*")] == []
    assert not list((objects / "pack").glob("*.pack"))
    assert git(clone, "cat-file", "-t", sha) == "commit"
    assert git(work, "status", "--porcelain") == ""


def test_a_push_to_this_host_sends_its_pack_stored_not_deflated(tmp_path: Path) -> None:
    """Deflating (and walking the parent's trees for a thin pack's delta bases) costs more
    than it saves with no wire between the repositories, and grows with the tasks folder:
    a push to a repository on this host sends the pack stored. The bare repository keeps
    what it receives as a pack here (`receive.unpackLimit=1`), so its size shows it."""
    bare, clone = tmp_path / "bare.git", tmp_path / "clone"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    git(bare, "config", "receive.unpackLimit", "1")
    git(tmp_path, "clone", "-q", str(bare), str(clone))
    (clone / "same.txt").write_bytes(b"a" * 65536)  # deflates to a few hundred bytes
    git(clone, "add", "same.txt")
    git(clone, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "one")

    assert gitrepo.push(clone, ["HEAD:refs/heads/main"]).ok

    packs = list((bare / "objects" / "pack").glob("*.pack"))
    assert len(packs) == 1 and packs[0].stat().st_size > 65536
    assert git(bare, "rev-parse", "main") == git(clone, "rev-parse", "HEAD")
