"""`taskbot approve TASK-ID [--push]`: in a person's clone, the plan and digest of each
criterion of the task that waits for approval, then an empty commit approving them.

The task is read as the clone's HEAD has it, and planned with the configuration taskbot
runs with (`--config`, `$TASKBOT_CONFIG`, …): the digest covers that file's bytes, so an
approval made with another configuration names another plan and counts for nothing. The
commit is the person's own (their identity, their signature); `--push` pushes it to the
tasks branch of `origin`, where the daemon reads it.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.commands.common import context, load_config
from bot.config import Config
from bot.errors import TaskbotError, UsageError
from bot.git import approve
from bot.git.messages import approval
from bot.git.read import open_repo
from bot.plugin.plugins import load_handlers
from bot.run.actions import resolve
from bot.run.approval import planned
from bot.taskfile.model import Task
from bot.taskfile.parse import parse as parse_task
from bot.taskfile.treeindex import find_in_tree

if TYPE_CHECKING:
    import argparse


def _task(task_id: str, clone: Path, config: Config) -> Task:
    found = find_in_tree(open_repo(clone), "HEAD", config.repo.tasks_dir, task_id)
    if found is None:
        raise UsageError(f"{task_id}: no such task in {config.repo.tasks_dir} at HEAD of "
                         f"{clone} (pull first?)")
    rel, data = found
    return parse_task(data, rel)


def command(args: argparse.Namespace) -> int:
    config = load_config(args.config, required=True)
    clone = approve.toplevel(Path.cwd())
    task = _task(args.task, clone, config)
    ctx = context(config, task.id, datetime.now().astimezone(), lazy_secrets=True)
    handlers = load_handlers()
    found = planned(task.id, resolve(task, handlers, ctx), handlers, ctx)
    if not found:
        raise UsageError(f"{task.id}: no open criterion needs approval")
    for pending, why in found:
        print(f"{pending.text}\n  {why if not pending.digest else f'plan {pending.digest}'}")
        print("".join(f"    {line}\n" for line in pending.plan), end="")
    digests = [p.digest for p, _ in found if p.digest]
    if not digests:
        raise TaskbotError(f"{task.id}: no plan can be approved")
    sha = approve.commit(clone, approval(task.id, digests))
    print(f"taskbot: approved {len(digests)} plan(s) of {task.id} in commit {sha[:12]}",
          file=sys.stderr)
    if args.push:
        approve.push(clone, config.repo.branch)
        print(f"taskbot: pushed to origin {config.repo.branch}", file=sys.stderr)
    else:
        print(f"taskbot: push it to {config.repo.branch} to start the approved criteria",
              file=sys.stderr)
    return 0
