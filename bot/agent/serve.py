"""`taskbot mcp [--read-only]`: taskbot as a Model Context Protocol server on stdio, so that
an orchestrating agent plans, runs and reads tasks without a shell on the build host.

Each tool answers with the document the matching command's `--json` prints, made by that
command's own function (`plan_doc`, `snapshot`, `stored`, `run_commit`); nothing is
printed: stdout carries the protocol. The configuration is read once, when the server
starts, and the modules stay loaded, so a call costs what its work costs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.agent import dryrun, gate
from bot.agent.approve import approve
from bot.agent.queued import Waited, enqueue
from bot.agent.specs import READ_ONLY, Answer, specs
from bot.agent.tasks import listing
from bot.commands.common import load_config
from bot.commands.plan import plan_doc
from bot.commands.report import stored
from bot.commands.run import run_commit
from bot.commands.status import snapshot
from bot.config import Config
from bot.daemon import spool
from bot.daemon.statusfile import daemon_running
from bot.errors import ConfigError
from bot.notify import redactor
from bot.notify.outbox import Outbox
from bot.run.report import to_json, to_markdown

if TYPE_CHECKING:
    import argparse

__all__ = ["call", "command"]

INSTRUCTIONS = """\
taskbot executes infrastructure tasks written as Markdown checklists in a git repository.
list_tasks and task_status show what there is; plan_task shows what a task would run;
run_task runs it (committed on the tasks branch, judged by the same trust rules as a push);
get_report returns its report, whose next_action says what to do next."""

Tool = Callable[[Config, Mapping[str, Any]], Answer]


def _list_tasks(config: Config, args: Mapping[str, Any]) -> Answer:
    status = snapshot(Path(config.repo.state_dir))["tasks"]
    return Answer({"tasks": listing(config, str(args.get("folder") or ""), status)})


def _plan_task(config: Config, args: Mapping[str, Any]) -> Answer:
    return Answer(plan_doc(config, gate.task_id(args["task"]))[0])


def _task_status(config: Config, args: Mapping[str, Any]) -> Answer:
    return Answer(snapshot(Path(config.repo.state_dir)))


def _get_report(config: Config, args: Mapping[str, Any]) -> Answer:
    found = stored(config, gate.task_id(args["task"]), str(args.get("run_id") or ""))
    markdown = found.markdown()
    return Answer({"report": found.json(), "markdown": markdown}, markdown)


def _run_task(config: Config, args: Mapping[str, Any]) -> Answer:
    """Judged first (allowed, an id, trusted); then a dry run here, the daemon's queue
    when it runs (never a second run beside it), else `run --commit`'s path here."""
    gate.allowed(config, "run_task")
    task = gate.task_id(args["task"])
    gate.trusted(config, task)
    if args.get("dry_run"):
        report, redact = dryrun.run(config, task)
        return _ran("here", to_json(report, redact), to_markdown(report, redact), None)
    state_dir = Path(config.repo.state_dir)
    with contextlib.ExitStack() as held:
        if daemon_running(state_dir) is None and _daemon_lock(held, state_dir):
            return _run_here(config, task)
    gate.known(config, task)
    queued = enqueue(state_dir, task)
    return Answer({}, later=lambda: _waited(queued.wait(float(args.get("wait_seconds", 60)))))


def _daemon_lock(held: contextlib.ExitStack, state_dir: Path) -> bool:
    """Take the daemon's lock for a run here (False: a daemon has it, perhaps still starting):
    a daemon started during the run waits for its end, so the task never runs twice at once
    (`taskbot serve` exits busy; its unit starts it again)."""
    if not state_dir.is_dir():  # no daemon can run without it; run_commit says what is wrong
        return True
    try:
        held.enter_context(spool.lock(state_dir))
    except spool.QueueBusy:
        return False
    return True


def _run_here(config: Config, task: str) -> Answer:
    ran = run_commit(config, task)
    Outbox(config.repo.state_dir, config.notify).deliver_due()
    redact = redactor(config)
    return _ran("here", to_json(ran.report, redact), to_markdown(ran.report, redact),
                ran.commit)


def _ran(where: str, report: dict[str, Any] | None, markdown: str | None, commit: str | None,
         queued: dict[str, str] | None = None) -> Answer:
    return Answer({"ran": where, "report": report, "markdown": markdown, "commit": commit,
                   "queued": queued}, markdown or "")


def _waited(waited: Waited) -> Answer:
    if waited.report is None:
        return _ran("daemon", None, None, None, {"entry": waited.entry, "state": waited.state})
    return _ran("daemon", waited.report.json(), waited.report.markdown(), waited.commit)


def _approve_task(config: Config, args: Mapping[str, Any]) -> Answer:
    gate.allowed(config, "approve_task")
    return Answer(approve(config, gate.task_id(args["task"]), str(args["digest"])))


_TOOLS: dict[str, Tool] = {
    "list_tasks": _list_tasks,
    "plan_task": _plan_task,
    "run_task": _run_task,
    "task_status": _task_status,
    "get_report": _get_report,
    "approve_task": _approve_task,
}


def call(config: Config, name: str, arguments: Mapping[str, Any]) -> Answer:
    """One tool call, its arguments already checked against its input schema."""
    return _TOOLS[name](config, arguments)


def _refusals(config: Config, read_only: bool) -> dict[str, str]:
    """The tools this server does not offer, and what a call of one is told."""
    return {tool: (f"taskbot mcp --read-only: {tool} is not offered (only "
                   f"{', '.join(READ_ONLY)})" if read_only else gate.refusal(config, tool))
            for tool in gate.SWITCHED if read_only or gate.refusal(config, tool)}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415 -- once

    try:
        return version("taskbot")
    except PackageNotFoundError:
        return "0"


def command(args: argparse.Namespace) -> int:
    try:  # the SDK is the optional extra `mcp`: only this command needs it
        from bot.agent.protocol import serve  # noqa: PLC0415
    except ImportError as exc:
        raise ConfigError(f"taskbot mcp needs the MCP SDK: pip install 'taskbot[mcp]' "
                          f"({exc})") from exc
    config = load_config(args.config, required=True)
    refused = _refusals(config, args.read_only)
    offered = tuple(s for s in specs(read_only=args.read_only) if s.name not in refused)
    serve(offered, partial(call, config), refused, version=_version(),
          instructions=INSTRUCTIONS, redact=redactor(config, lazy=True))
    return 0
