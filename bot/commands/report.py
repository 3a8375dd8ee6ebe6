"""`taskbot report`: the last stored report of a task."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.commands.common import load_config, tasks_dir

if TYPE_CHECKING:
    import argparse


def command(args: argparse.Namespace) -> int:
    import json

    from bot.notify import reportstore
    from bot.taskfile.lookup import find_task
    from bot.taskfile.parse import load as load_task

    config = load_config(args.config, required=False)
    task_id = args.task
    if args.task.endswith(".md") or Path(args.task).exists():
        task_id = load_task(find_task(args.task, tasks_dir(config))).id
    stored = reportstore.last(config.repo.state_dir, task_id)
    if args.json:
        print(json.dumps(stored.json(), indent=2, ensure_ascii=False))
    else:
        print(stored.markdown(), end="")
    return 0
