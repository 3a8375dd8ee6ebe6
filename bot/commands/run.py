"""`taskbot run`: a task's unchecked criteria, executed now, in place or (--commit) as the
daemon does."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from bot.commands.common import context, load_config, on_branch, require_trust, tasks_dir
from bot.errors import TaskbotError, UsageError

if TYPE_CHECKING:
    import argparse

    from bot.config import Config
    from bot.proc import Redactor
    from bot.run.observe import Observer
    from bot.run.report import Report


class Ran(NamedTuple):
    """What `run_commit` did: the run's report and taskbot's commit on repo.branch, if any."""

    report: Report
    commit: str | None


def _run_path(arg: str, config: Config) -> Path:
    """The task file `run` edits in place; a task only on the bare repository's branch (hook
    mode) is run with --commit, in taskbot's own clone, never by editing a copy here."""
    from bot.taskfile.lookup import find_task

    try:
        return find_task(arg, tasks_dir(config))
    except UsageError:
        if Path(arg).suffix != ".md" and on_branch(arg, config) is not None:
            raise UsageError(f"{arg} is on {config.repo.branch} of {config.repo.path}, not in a "
                             f"file here: `taskbot run --commit {arg}` runs it in taskbot's own "
                             "clone and commits like the daemon") from None
        raise


def command(args: argparse.Namespace) -> int:
    from datetime import datetime

    from bot.notify import progress
    from bot.notify import targets as notify
    from bot.notify.publish import publish
    from bot.plugin.plugins import load_handlers
    from bot.run.taskrun import RunOptions, run_task
    from bot.state import approvals

    config = load_config(args.config, required=True)
    require_trust(config)
    if args.commit:
        return _run_commit(args, config)
    path = _run_path(args.task, config)
    now = datetime.now().astimezone()
    ctx = context(config, path.stem, now)
    handlers = load_handlers()
    notifying = not (args.no_notify or args.dry_run) and notify.configured(config.notify)
    sender = progress.outbox_sender(config, ctx.run_id) if notifying else None
    watch = progress.watch(ctx, sender)  # inert without a sender
    options = RunOptions(now=now, dry_run=args.dry_run,
                         repo_label=Path(config.repo.path).resolve().name.removesuffix(".git"),
                         approvals=approvals.of(config.repo.state_dir, ctx.task_id))
    with watch, _watched(args, watch.observer()):
        result = run_task(path, handlers, ctx, options)
    report = result.report
    _print_report(report, ctx.redactor, as_json=args.json)
    if not args.dry_run and (any(r.attempted for r in report.results) or report.awaiting):
        published = publish(config, report, ctx.redactor, send=notifying)
        if published.problem:
            print(f"taskbot: {published.problem}", file=sys.stderr)
    return result.exit_code


@contextlib.contextmanager
def _watched(args: argparse.Namespace, *also: Observer) -> Iterator[None]:
    """The run's events, to `also` and, on a terminal only, to the status line of the
    criterion in flight."""
    from bot.commands import live
    from bot.run import observe

    with contextlib.ExitStack() as stack:
        observers = list(also)
        if live.wanted(sys.stdout, as_json=args.json):
            observers.append(stack.enter_context(live.LiveLine(sys.stdout)).observer())
        if observers:
            stack.enter_context(observe.watching(observe.fanout(*observers)))
        yield


def _print_report(report: Report, redact: Redactor, *, as_json: bool) -> None:
    import json

    from bot.run.report import to_json, to_markdown

    if as_json:
        print(json.dumps(to_json(report, redact), indent=2, ensure_ascii=False))
    else:
        print(to_markdown(report, redact), end="")


def _run_commit(args: argparse.Namespace, config: Config) -> int:
    """`run --commit`, started by hand: the report printed, the outbox sent."""
    from bot.notify import redactor
    from bot.notify.outbox import Outbox
    from bot.run.taskrun import exit_code
    from bot.taskfile.lookup import find_task
    from bot.taskfile.parse import load as load_task

    if args.dry_run:
        raise UsageError("--commit and --dry-run exclude each other (use plan to look first)")
    task_id = args.task
    if args.task.endswith(".md") or Path(args.task).exists():
        task_id = load_task(find_task(args.task, tasks_dir(config))).id
    with _watched(args):
        processed = run_commit(config, task_id, notify=not args.no_notify)
    _print_report(processed.report, redactor(config), as_json=args.json)
    if processed.commit:
        print(f"taskbot: committed {processed.commit[:12]} on {config.repo.branch}",
              file=sys.stderr)
    Outbox(config.repo.state_dir, config.notify).deliver_due()
    return exit_code(processed.report)


def run_commit(config: Config, task_id: str, *, notify: bool = True) -> Ran:
    """The daemon's path for one task — trust of its file's history, worktree, commit on
    taskbot/<ID>, integrate into repo.branch, note, stored report — started by hand (`run
    --commit`, an agent's `run_task`); its entry in status.json updated. TaskbotError when
    nothing was run."""
    from datetime import datetime

    from bot.commands import status as status_command
    from bot.config import NotifyConfig
    from bot.pipeline.items import Rerun
    from bot.pipeline.stage import process
    from bot.pipeline.task import run as run_task
    from bot.plugin.plugins import load_handlers

    if not notify:
        config = config._replace(notify=NotifyConfig())  # nothing to deliver to
    processed = process(config, load_handlers(), Rerun(task_id), run_task=run_task,
                        now=datetime.now().astimezone())[0]
    if processed.report is None:
        raise TaskbotError(processed.message or f"{task_id}: nothing was run")
    status_command.record_run(Path(config.repo.state_dir), processed)
    return Ran(processed.report, processed.commit)
