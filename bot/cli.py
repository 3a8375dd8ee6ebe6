"""The command line: one small function per command; errors become one line and an exit code."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from bot import config as configmod
from bot import pipeline, taskfile
from bot.actions import Action, resolve
from bot.api import Context, Handler
from bot.commands import init as init_command
from bot.commands import status as status_command
from bot.commands.demo import run_demo
from bot.commands.doctor import doctor as run_doctor
from bot.config import Config, NotifyConfig
from bot.daemon import hook as hookinstall
from bot.daemon import serve as daemon
from bot.errors import ConfigError, TaskbotError, UsageError
from bot.lookup import DependencyState, find_task
from bot.notify import progress, reportstore
from bot.notify import targets as notify
from bot.notify.outbox import Outbox
from bot.notify.publish import publish, redactor
from bot.plugins import load_handlers
from bot.proc import Redactor
from bot.report import Report, to_json, to_markdown
from bot.taskfile import merge as taskmerge
from bot.taskrun import RunOptions, exit_code, held_criteria, run_task, waiting_dependencies

EXIT_INTERNAL = 70


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="taskbot", description=__doc__)
    parser.add_argument("--config", help="configuration file (default: $TASKBOT_CONFIG, "
                        "./taskbot.toml, /etc/taskbot/taskbot.toml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    plan = sub.add_parser("plan", help="show what a task would run; runs nothing")
    plan.add_argument("task", metavar="TASK", help="task id or path to a task file")
    plan.add_argument("--json", action="store_true")
    run = sub.add_parser("run", help="execute a task's unchecked criteria now")
    run.add_argument("task", metavar="TASK", help="task id or path to a task file")
    run.add_argument("--json", action="store_true")
    run.add_argument("--no-notify", action="store_true", help="do not send the report")
    run.add_argument("--dry-run", action="store_true", help="resolve everything, run nothing")
    run.add_argument("--commit", action="store_true",
                     help="run in taskbot's own worktree and commit like the daemon does, "
                          "instead of editing the file in place")
    report = sub.add_parser("report", help="print the last report of a task")
    report.add_argument("task", metavar="TASK", help="task id or path to a task file")
    report.add_argument("--json", action="store_true")
    sub.add_parser("demo", help="the whole flow in a throw-away sandbox")
    init = sub.add_parser("init", help="create the state dir and a starter config; install the hook")
    init.add_argument("--clone", metavar="DIR", help="instead: install the task-file merge "
                      "driver and the notes refspec in a person's clone")
    serve = sub.add_parser("serve", help="the daemon: run what pushes trigger, one at a time")
    hook = sub.add_parser("hook", help="queue the push read on stdin (what the git hook does)")
    hook.add_argument("hook_name", choices=["post-receive"], metavar="post-receive")
    status = sub.add_parser("status", help="the queue, the run in flight, last result per task")
    status.add_argument("--json", action="store_true")
    doctor = sub.add_parser("doctor", help="check config, repos, tools, registry, cluster, notify URLs")
    merge = sub.add_parser("merge-file", help="git's merge driver for task files "
                           "(%%O %%A %%B %%P); writes the result into OURS")
    for name in ("base", "ours", "theirs", "path"):
        merge.add_argument(name, metavar=name.upper())
    for daemon_cmd in (init, serve, hook, status, doctor):  # `taskbot init --config FILE` as well
        daemon_cmd.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def _load_config(explicit: str | None, *, required: bool) -> Config:
    path = configmod.find_config_path(explicit)
    if path is None:
        if required:
            raise ConfigError("no configuration found: pass --config FILE, set $TASKBOT_CONFIG, "
                              "or create ./taskbot.toml")
        return configmod.default()
    return configmod.load(path)


def _require_trust(config: Config) -> None:
    if config.trust is None:
        raise ConfigError(f"{config.source}: no [trust] section: taskbot runs nothing until it "
                          "lists trusted authors (or sets anyone = true)")


def _tasks_dir(config: Config) -> Path:
    under_repo = Path(config.repo.path) / config.repo.tasks_dir
    return under_repo if under_repo.is_dir() else Path(config.repo.tasks_dir)


def _context(config: Config, task_id: str, now: datetime) -> Context:
    run_id = f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    return Context(config, task_id, run_id, redactor(config))


def _plan_entry(action: Action, handlers: Mapping[str, Handler], ctx: Context) -> dict[str, Any]:
    c = action.criterion
    entry: dict[str, Any] = {"index": c.index, "line": c.line + 1, "text": c.text,
                             "checked": c.checked, "group": c.group, "action": None}
    if action.manual:
        entry["action"] = {"handler": None, "source": "manual", "describe": action.describe()}
        return entry
    step = None
    if not action.error and action.handler is not None:
        step = handlers[action.handler].plan(action.settings, ctx)
    entry["action"] = {
        "handler": action.handler, "source": action.source, "params": dict(action.params),
        "error": action.error or None,
        "commands": [list(a) for a in step.commands] if step else [],
        "cwd": step.cwd if step else "",
        "files": list(step.files) if step else [],
        "preconditions": list(step.preconditions) if step else [],
    }
    return entry


def _plan_dependencies(task: taskfile.Task, waiting: tuple[DependencyState, ...]
                       ) -> list[dict[str, Any]]:
    """Every id of the Dependencies section: whether it is one, for which groups, its state."""
    open_ = {w.task_id: w for w in waiting}
    out: list[dict[str, Any]] = []
    for item in task.dependency_items:
        state = open_.get(item.task_id)
        out.append({"task": item.task_id, "depends": item.depends, "why": item.why,
                    "groups": list(item.groups), "line": item.line + 1,
                    "complete": item.depends and state is None,
                    "waiting": state.where if item.depends and state is not None else None})
    return out


def _plan_dependency_line(dep: Mapping[str, Any]) -> str:
    said = f" ({dep['why']})" if dep["why"] else ""
    if not dep["depends"]:
        return f"not a dependency: {dep['task']}{said}"
    scope = f" for group {', '.join(dep['groups'])}" if dep["groups"] else ""
    state = "complete" if dep["complete"] else f"WAITING: {dep['waiting']}"
    return f"depends on {dep['task']}{scope}{said}: {state}"


def _plan_text(doc: dict[str, Any]) -> str:
    t = doc["task"]
    lines = [f"{t['id']}: {t['title']}  ({t['path']})"]
    lines.extend(_plan_dependency_line(dep) for dep in doc["dependencies"])
    lines.append("Acceptance Criteria:")
    for c in doc["criteria"]:
        box = "x" if c["checked"] else " "
        lines.append(f"  {c['index'] + 1}. [{box}] {c['text']}  (line {c['line']})")
        a = c["action"]
        if c["checked"]:
            continue
        if c.get("waits_on"):
            lines.append(f"       {c['waits_on']}")
        if a["handler"] is None:
            lines.append("       manual: waiting for a person")
            continue
        params = " ".join(f"{k}={v}" for k, v in a["params"].items())
        lines.append(f"       {a['handler']} {params}  [{a['source']}]")
        if a["error"]:
            lines.append(f"       REFUSED: {a['error']}")
        lines.extend(f"       run: {' '.join(cmd)}  (in {a['cwd']})" for cmd in a["commands"])
        lines.extend(f"       file: {f}" for f in a["files"])
        lines.extend(f"       needs: {p}" for p in a["preconditions"])
    if doc["other_sections"]:
        lines.append("Not executed: " + ", ".join(doc["other_sections"]))
    return "\n".join(lines)


def cmd_plan(args: argparse.Namespace) -> int:
    config = _load_config(args.config, required=False)
    path = find_task(args.task, _tasks_dir(config))
    task = taskfile.load(path)
    now = datetime.now().astimezone()
    ctx = _context(config, task.id, now)
    handlers = load_handlers()
    actions = resolve(task, handlers, ctx)
    waiting = waiting_dependencies(task, path)
    held = held_criteria(task, waiting)
    criteria = [_plan_entry(a, handlers, ctx) for a in actions]
    for entry in criteria:
        if entry["index"] in held and not entry["checked"]:
            entry["waits_on"] = held[entry["index"]]
    doc = {
        "task": {"id": task.id, "title": task.title, "path": str(path)},
        "dependencies": _plan_dependencies(task, waiting),
        "criteria": criteria,
        "other_sections": [s.title for s in task.sections if s.level > 1 and s.title.lower()
                           not in ("acceptance criteria", "dependencies", "progress log")],
    }
    print(json.dumps(doc, indent=2) if args.json else _plan_text(doc))
    refused = any(a.error and not a.criterion.checked for a in actions)
    return 1 if refused else 0


def cmd_run(args: argparse.Namespace) -> int:
    config = _load_config(args.config, required=True)
    _require_trust(config)
    if args.commit:
        return _run_commit(args, config)
    path = find_task(args.task, _tasks_dir(config))
    now = datetime.now().astimezone()
    ctx = _context(config, path.stem, now)
    handlers = load_handlers()
    notifying = not (args.no_notify or args.dry_run) and notify.configured(config.notify)
    sender = progress.outbox_sender(config, ctx.run_id) if notifying else None
    watch = progress.watch(path, handlers, ctx, sender)  # inert without a sender
    options = RunOptions(now=now, dry_run=args.dry_run,
                         repo_label=Path(config.repo.path).resolve().name.removesuffix(".git"),
                         on_start=watch.on_start)
    with watch:
        result = run_task(path, watch.wrap(handlers), ctx, options)
    report = result.report
    _print_report(report, ctx.redactor, as_json=args.json)
    if not args.dry_run and any(r.attempted for r in report.results):
        published = publish(config, report, ctx.redactor, send=notifying)
        if published.problem:
            print(f"taskbot: {published.problem}", file=sys.stderr)
    return result.exit_code


def _print_report(report: Report, redact: Redactor, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(to_json(report, redact), indent=2, ensure_ascii=False))
    else:
        print(to_markdown(report, redact), end="")


def _run_commit(args: argparse.Namespace, config: Config) -> int:
    """`run --commit`: the daemon's path for one task — worktree, commit on taskbot/<ID>,
    integrate into repo.branch, note, stored report — started by hand."""
    if args.dry_run:
        raise UsageError("--commit and --dry-run exclude each other (use plan to look first)")
    task_id = args.task
    if args.task.endswith(".md") or Path(args.task).exists():
        task_id = taskfile.load(find_task(args.task, _tasks_dir(config))).id
    if args.no_notify:
        config = replace(config, notify=NotifyConfig())  # nothing to deliver to
    processed = pipeline.process(config, load_handlers(), pipeline.Rerun(task_id),
                                 now=datetime.now().astimezone())[0]
    if processed.report is None:
        raise TaskbotError(processed.message or f"{task_id}: nothing was run")
    _print_report(processed.report, redactor(config), as_json=args.json)
    if processed.commit:
        print(f"taskbot: committed {processed.commit[:12]} on {config.repo.branch}",
              file=sys.stderr)
    Outbox(config.repo.state_dir, config.notify).deliver_due()
    return exit_code(processed.report)


def cmd_report(args: argparse.Namespace) -> int:
    config = _load_config(args.config, required=False)
    task_id = args.task
    if args.task.endswith(".md") or Path(args.task).exists():
        task_id = taskfile.load(find_task(args.task, _tasks_dir(config))).id
    stored = reportstore.last(config.repo.state_dir, task_id)
    if args.json:
        print(json.dumps(stored.json(), indent=2, ensure_ascii=False))
    else:
        print(stored.markdown(), end="")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    return run_demo()


def cmd_init(args: argparse.Namespace) -> int:
    if args.clone is not None:
        result = init_command.init_clone(Path(args.clone), args.config)
    else:
        result = init_command.run_init(args.config)
    print("\n".join(result.messages))
    return result.exit_code


def cmd_serve(args: argparse.Namespace) -> int:
    config = _load_config(args.config, required=True)
    _require_trust(config)
    return daemon.serve(config, load_handlers())


def cmd_hook(args: argparse.Namespace) -> int:
    return hookinstall.run_hook(args.config, sys.stdin)


def cmd_status(args: argparse.Namespace) -> int:
    config = _load_config(args.config, required=True)
    snap = status_command.snapshot(Path(config.repo.state_dir))
    print(json.dumps(snap, indent=2, ensure_ascii=False) if args.json else status_command.render(snap))
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    code, lines = run_doctor(args.config)
    print("\n".join(lines))
    return code


class MergeFileError(TaskbotError):
    """`merge-file` could not merge at all: git reads any exit but 0 as "conflicts left"."""

    exit_code = 2


def cmd_merge_file(args: argparse.Namespace) -> int:
    """git's `%O %A %B %P`: exit 0 merged, 1 with conflict markers, 2 when it could not merge."""
    sides = []
    for name in (args.base, args.ours, args.theirs):
        try:
            sides.append(Path(name).read_bytes())
        except OSError as exc:
            raise MergeFileError(f"{name}: cannot read: {exc.strerror or exc}") from None
    try:
        merged = taskmerge.merge(sides[0], sides[1], sides[2], args.path)
        taskfile.write(args.ours, merged.data)
    except TaskbotError as exc:
        raise MergeFileError(str(exc)) from None
    return 1 if merged.conflicts else 0


COMMANDS = {"plan": cmd_plan, "run": cmd_run, "report": cmd_report, "demo": cmd_demo,
            "init": cmd_init, "serve": cmd_serve, "hook": cmd_hook, "status": cmd_status,
            "doctor": cmd_doctor, "merge-file": cmd_merge_file}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    try:
        return COMMANDS[args.command](args)
    except TaskbotError as exc:
        print(f"taskbot: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("TASKBOT_DEBUG"):
            traceback.print_exc()
        print(f"taskbot: internal error: {type(exc).__name__}: {exc} "
              "(set TASKBOT_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_INTERNAL


def main_entry() -> None:
    sys.exit(main())


if __name__ == "__main__":  # `python -m bot.cli`: the merge driver when no script is installed
    main_entry()
