"""`run_task` with `dry_run`: the task resolved as a run would resolve it, with its
dependencies and approvals judged, and nothing executed or written.

A task on repo.branch is read without a checkout: the task files of the tasks root are
copied from the branch's tree into a temporary folder, so that the dependency lookup
finds the same files a run would (`lookup` judges a folder as `treeindex` does a tree).
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path, PurePosixPath

from bot.commands.common import context, on_branch, tasks_dir
from bot.config import Config
from bot.plugin.plugins import load_handlers
from bot.proc import Redactor
from bot.run.report import Report
from bot.run.taskrun import RunOptions, run_task
from bot.state import approvals
from bot.taskfile.lookup import find_task
from bot.taskfile.treeindex import task_files

__all__ = ["run"]


def run(config: Config, task_id: str) -> tuple[Report, Redactor]:
    """The dry run's report (every criterion that would run: skipped), and its redactor."""
    found = on_branch(task_id, config)
    if found is None:  # a tasks folder that is no git repository: the file itself, unwritten
        return _run(config, task_id, find_task(task_id, tasks_dir(config)), "")
    repo, rel, _ = found
    root = str(PurePosixPath(config.repo.tasks_dir).parent)
    with tempfile.TemporaryDirectory(prefix="taskbot-dry-run-") as tmp:
        for name, read in task_files(repo, config.repo.branch, root):
            data = read()
            # a crafted tree may name `..`: nothing is written outside the copy
            if data is not None and ".." not in PurePosixPath(name).parts:
                path = Path(tmp, name)
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
        return _run(config, task_id, Path(tmp, rel), rel)


def _run(config: Config, task_id: str, path: Path, shown: str) -> tuple[Report, Redactor]:
    now = datetime.now().astimezone()
    ctx = context(config, task_id, now)
    options = RunOptions(now=now, dry_run=True, write=False, display_path=shown,
                         repo_label=Path(config.repo.path).resolve().name.removesuffix(".git"),
                         approvals=approvals.of(config.repo.state_dir, ctx.task_id))
    return run_task(path, load_handlers(), ctx, options).report, ctx.redactor
