"""A task run's results written back: its commit (the task moved to completed/ when done),
integrated into repo.branch, its report as a git note where people read the log, and the
report kept and queued for notification."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

from bot import safepath
from bot.config import Config
from bot.git import owncommits, read
from bot.git import write as gitrepo
from bot.git.messages import parse_trailers
from bot.git.target import Integrated, Target
from bot.git.writeback import Carry, integrate
from bot.notify import reportstore
from bot.pipeline.clone import where
from bot.pipeline.items import step
from bot.pipeline.places import Places, Where
from bot.run.journal import TaskJournal
from bot.run.report import Report
from bot.run.runmodel import TaskResult
from bot.state.memory import Memory
from bot.taskfile.edit import apply as apply_edit
from bot.taskfile.model import Edit
from bot.taskfile.save import write as write_task
from bot.taskfile.source import read as read_task
from bot.taskfile.status import COMPLETED_DIR

# refreshes the dashboard in a worktree before a commit: bot.dashboard.in_commit
Dashboard = Callable[[Config, Path, Report, Sequence[str]], object]
# tells the dashboard the commit taskbot made of what it refreshed: bot.dashboard.committed
Committed = Callable[[Config, str], object]

__all__ = ["Committed", "Dashboard", "attach_note", "commit", "integrated", "repair_notes",
           "touched"]


def commit(config: Config, places: Places, tj: TaskJournal | None, wt: Path, rel_path: str,
           report: Report, message: str, dashboard: Dashboard, committed: Committed,
           memory: Memory | None = None) -> tuple[str, str | None] | None:
    """The run's commit (made now, or the one the journal recorded) and where the task moved;
    `dashboard` refreshes the dashboard in the worktree (`bot.dashboard.in_commit`), and
    `committed` is told the commit made of it (`bot.dashboard.committed`); `memory`: the
    process's, where the worktree's repository is kept open."""
    if tj is not None and tj.step("commit"):
        moved = tj.step("moved")
        # A resumed run's worktree was reset to the pushed tip; re-applying after a refused
        # push reads taskbot's commit from the worktree's HEAD, so HEAD must be that commit.
        gitrepo.git(["reset", "--quiet", "--hard", str(tj.step("commit"))], wt)
        return str(tj.step("commit")), (str(moved) if moved else None)
    moved = _move_if_complete(config, wt, rel_path, report)
    wrote = [p for p in (rel_path, moved) if p]
    # part of this commit, never one of its own; only the paths the run wrote are compared
    dashboard(config, wt, report, wrote)
    # only what the run wrote is staged: its task file, where it moved, the dashboard
    sha = gitrepo.commit(wt, message, config.identity,
                         [*wrote, *([config.repo.dashboard] if config.repo.dashboard else [])],
                         memory)
    if sha is None:
        return None
    committed(config, sha)  # the dashboard then knows this commit without reading its tree
    owncommits.record(places.state, sha)
    step(tj, "moved", moved)
    step(tj, "commit", sha)
    return sha, moved


def touched(config: Config, rel_path: str) -> tuple[str, ...]:
    """Every path of the worktree a run of `rel_path` reads or writes: the task file, where
    it moves when complete, the dashboard, and the attributes files on their way (whether
    git stores a file's bytes as they are is judged from those on disk: `bot.git.unstaged`).
    The worktree holds only these (`bot.git.sparse`)."""
    files = (rel_path, str(_completed(rel_path)),
             *([config.repo.dashboard] if config.repo.dashboard else []))
    attributes = (str(PurePosixPath(folder, ".gitattributes")) for file in files
                  for folder in PurePosixPath(file).parents)
    return tuple(dict.fromkeys((*files, *attributes)))


def integrated(config: Config, tj: TaskJournal | None, target: Target, wt: Path, sha: str,
               rel_path: str, carry: Carry, message: str) -> Integrated:
    kept = tj.step("integrated") if tj is not None else None
    if kept:
        return Integrated(str(kept["commit"]), bool(kept["on_branch"]), str(kept["note"]))
    done = integrate(config, target, wt, sha, rel_path, carry, message)
    step(tj, "integrated", {"commit": done.commit, "on_branch": done.on_branch,
                            "note": done.note})
    return done


def _move_if_complete(config: Config, wt: Path, rel_path: str, report: Report) -> str | None:
    if config.repo.on_complete != "move" or report.result != TaskResult.COMPLETE:
        return None
    path = wt / rel_path
    data = apply_edit(read_task(path), Edit(
        frontmatter=(("status", "completed"),)), rel_path).data
    write_task(path, data)
    dest = _completed(rel_path)
    (wt / dest).parent.mkdir(parents=True, exist_ok=True)
    if _plain_move(wt, dest):
        os.rename(path, wt / dest)  # the commit stages both paths
    else:
        gitrepo.git(["mv", "--", rel_path, str(dest)], wt)  # git refuses, and says why
    return str(dest)


def _completed(rel_path: str) -> Path:
    """Where a complete task moves: the sibling completed/ folder."""
    return Path(rel_path).parent.parent / COMPLETED_DIR / Path(rel_path).name


def _plain_move(wt: Path, dest: Path) -> bool:
    """Nothing at `dest` yet and no link on the way to its folder: a rename is `git mv`."""
    try:
        safepath.dir_inside(wt, str(dest.parent))
    except (OSError, safepath.UnsafePath):
        return False
    return not os.path.lexists(wt / dest)


def repair_notes(config: Config, depth: int = 200) -> tuple[str, ...]:
    """Notes lost to a kill: taskbot's recorded commits among the branch's last `depth` whose
    note is missing get it from the stored report, and the notes ref is pushed again."""
    found = where(config)
    own = owncommits.load(Path(config.repo.state_dir))
    tip = read.resolve(found.clone, found.branch_rev) if own else None
    if tip is None:
        return ()
    listed = gitrepo.git(["notes", f"--ref={gitrepo.NOTES_REF}", "list"], found.clone,
                         check=False).stdout.split()
    noted = set(listed[1::2])  # "<note blob> <annotated commit>" per line
    repaired: list[str] = []
    for one in itertools.islice(read.open_repo(found.clone).walk(tip), depth):
        sha = str(one.id)
        if sha not in own or sha in noted:
            continue
        trailers = parse_trailers(one.message)
        text = reportstore.markdown(config.repo.state_dir, trailers.get("Task-Id", ""),
                                    trailers.get("Taskbot-Run", ""))
        if text:
            gitrepo.add_note(found.clone, sha, text, config.identity)
            repaired.append(sha)
    _share_notes(found, found.clone)
    return tuple(repaired)


def attach_note(config: Config, wt: Path, sha: str, text: str, found: Where) -> None:
    gitrepo.add_note(wt, sha, text, config.identity)
    _share_notes(found, wt)


def _share_notes(found: Where, source: Path) -> None:
    """Notes go where people read the log: pushed to the bare repository, or fetched into
    the person's clone (a fetch runs none of that clone's receive hooks)."""
    ref = f"+{gitrepo.NOTES_REF}:{gitrepo.NOTES_REF}"
    if found.bare:
        gitrepo.push(source, [ref])
    elif found.watched is not None:
        gitrepo.git(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head",
                     str(found.clone.resolve()), ref], found.watched, check=False)
