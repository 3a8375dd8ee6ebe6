"""`taskbot report`: the last stored report of a task."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.commands.common import load_config, tasks_dir

if TYPE_CHECKING:
    import argparse

    from bot.config import Config
    from bot.notify.reportstore import StoredReport


def stored(config: Config, arg: str, run_id: str = "") -> StoredReport:
    """The task's last stored report (or run `run_id`'s); `arg` is an id or a task file."""
    from bot.notify import reportstore
    from bot.taskfile.lookup import find_task
    from bot.taskfile.parse import load as load_task

    task_id = arg
    if arg.endswith(".md") or Path(arg).exists():
        task_id = load_task(find_task(arg, tasks_dir(config))).id
    if run_id:
        return reportstore.of_run(config.repo.state_dir, task_id, run_id)
    return reportstore.last(config.repo.state_dir, task_id)


def command(args: argparse.Namespace) -> int:
    import json

    found = stored(load_config(args.config, required=False), args.task)
    if args.json:
        print(json.dumps(found.json(), indent=2, ensure_ascii=False))
    else:
        print(found.markdown(), end="")
    return 0
