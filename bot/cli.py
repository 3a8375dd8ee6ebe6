"""The command line: one small function per command; errors become one line and an exit code.

Each command imports what it needs inside its function: `taskbot --help` and `taskbot plan`
should answer about as fast as Python starts, and pygit2, the handlers, the notifiers and the
daemon cost several hundred milliseconds when all are loaded (bench/cli_speed.py measures it).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import terminal
from bot.errors import ConfigError, TaskbotError, UsageError

if TYPE_CHECKING:
    from datetime import datetime

    import pygit2

    from bot import taskfile
    from bot.actions import Action
    from bot.config import Config
    from bot.context import Context, Handler
    from bot.lookup import DependencyState
    from bot.proc import Redactor
    from bot.report import Report

EXIT_INTERNAL = 70
EXIT_NOT_RUNNING = 3  # `status`, as `systemctl status` says it


DESCRIPTION = """\
taskbot runs infrastructure tasks written as Markdown checklists in a git repository:
each unchecked acceptance criterion maps to a handler (build, push, bump a HelmRelease,
shell...), and taskbot ticks the box, logs the progress and reports the result."""

EPILOG = """\
--config FILE may stand before or after the command (default: $TASKBOT_CONFIG,
./taskbot.toml, /etc/taskbot/taskbot.toml).

exit codes:
  0  done, or nothing to do
  1  a criterion failed, was blocked or refused, or the task waits (on a person or a
     dependency)
  2  usage or configuration error
  3  the task file is unusable; for `status`: the daemon is not running
 70  internal error (set TASKBOT_DEBUG=1 for a traceback)

`taskbot COMMAND --help` describes one command."""

CONFIG_HELP = ("configuration file (default: $TASKBOT_CONFIG, ./taskbot.toml, "
               "/etc/taskbot/taskbot.toml)")
TASK_HELP = "task id (looked up under repo.tasks_dir) or path to a task file"


class _Version(argparse.Action):
    """`--version`: the installed distribution's version, read only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print taskbot's version and exit")

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        from importlib.metadata import PackageNotFoundError, version
        try:
            found = version("taskbot")
        except PackageNotFoundError:
            found = "(not installed)"
        print(f"taskbot {found}")  # stdout, as `--version` of other tools
        parser.exit(0)


class _Formatter(argparse.HelpFormatter):
    """argparse's formatter, told the width so that it does not import shutil to ask."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=terminal.columns() - 2)  # argparse's own margin


class _RawFormatter(_Formatter, argparse.RawDescriptionHelpFormatter):
    """The top-level help keeps its description's and epilog's line breaks."""


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)


_Adder = Callable[[Any], None]  # adds one command to argparse's subparsers


def _add_plan(sub: Any) -> None:
    plan = sub.add_parser("plan", help="show what a task would run; runs nothing",
                          description="Show what each unchecked criterion of a task would run. "
                          "Runs nothing. In hook mode a task id is read from repo.branch of "
                          "the bare repository, from any directory.")
    plan.add_argument("task", metavar="TASK", help=TASK_HELP)
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")


def _add_run(sub: Any) -> None:
    run = sub.add_parser("run", help="execute a task's unchecked criteria now",
                         description="Execute a task's unchecked criteria now. A task file "
                         "is edited in place; with --commit (and, in hook mode, for a task "
                         "id) taskbot runs in its own worktree and commits like the daemon.")
    run.add_argument("task", metavar="TASK", help=TASK_HELP)
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    run.add_argument("--no-notify", action="store_true", help="do not send the report")
    run.add_argument("--dry-run", action="store_true", help="resolve everything, run nothing")
    run.add_argument("--commit", action="store_true",
                     help="run in taskbot's own worktree and commit like the daemon does, "
                          "instead of editing the file in place")


def _add_report(sub: Any) -> None:
    report = sub.add_parser("report", help="print the last report of a task")
    report.add_argument("task", metavar="TASK", help=TASK_HELP)
    report.add_argument("--json", action="store_true", help="print the report as JSON")


def _add_demo(sub: Any) -> None:
    demo = sub.add_parser("demo", help="the whole flow in a throw-away sandbox")
    demo.add_argument("--keep", action="store_true",
                      help="keep the sandbox afterwards and print how to look around in it")


def _add_init(sub: Any) -> None:
    init = sub.add_parser("init", help="create the state dir and a starter config; install the hook")
    init.add_argument("--clone", metavar="DIR", help="instead: install the task-file merge "
                      "driver and the notes refspec in a person's clone")
    init.add_argument("--adopt-history", action="store_true",
                      help="after a lost state dir: record the commits on repo.branch made with "
                      "taskbot's [identity] as taskbot's own (you vouch for them)")


def _add_serve(sub: Any) -> None:
    sub.add_parser("serve", help="the daemon: run what pushes trigger, one at a time")


def _add_hook(sub: Any) -> None:
    hook = sub.add_parser("hook", help="queue the push read on stdin (what the git hook does)")
    hook.add_argument("hook_name", choices=["post-receive"], metavar="post-receive",
                      help="the git hook calling")


def _add_status(sub: Any) -> None:
    status = sub.add_parser("status", help="the queue, the run in flight, last result per task "
                            "(exit 3: the daemon is not running)")
    status.add_argument("--json", action="store_true", help="print the status as JSON")


def _add_doctor(sub: Any) -> None:
    doctor = sub.add_parser("doctor", help="check config, repos, tools, registry, cluster, "
                            "notify URLs (exit 1: something to fix; 2: no config file)")
    doctor.add_argument("--send-test", action="store_true",
                        help="send a test notification to every target and report each one")


def _add_merge_file(sub: Any) -> None:
    merge = sub.add_parser("merge-file", help="git's merge driver for task files "
                           "(%%O %%A %%B %%P); writes the result into OURS")
    for name, said in (("base", "the common ancestor (%%O)"), ("ours", "our side (%%A)"),
                       ("theirs", "their side (%%B)"), ("path", "the file's path (%%P)")):
        merge.add_argument(name, metavar=name.upper(), help=said)


_ADDERS: dict[str, _Adder] = {
    "plan": _add_plan, "run": _add_run, "report": _add_report, "demo": _add_demo,
    "init": _add_init, "serve": _add_serve, "hook": _add_hook, "status": _add_status,
    "doctor": _add_doctor, "merge-file": _add_merge_file,
}


def _named_command(argv: Sequence[str]) -> str | None:
    """The command `argv` names, when nothing before it asks for the top-level help."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--config":
            skip = True
        elif arg.startswith("--config="):
            continue
        elif arg.startswith("-"):
            return None  # --help, --version, or a mistake argparse should explain
        else:
            return arg if arg in _ADDERS else None
    return None


def _parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser; for a command named in `argv`, with only that command's subparser.

    argparse looks up its message translations for every parser it makes: building all ten
    costs `plan` ~10 ms, and a command needs only its own (`taskbot --help`, a mistyped
    command and `--version` get them all)."""
    parser = argparse.ArgumentParser(prog="taskbot", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=_RawFormatter)
    parser.add_argument("--version", action=_Version)
    parser.add_argument("--config", metavar="FILE", help=CONFIG_HELP)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)
    named = _named_command(argv)
    for name, add in _ADDERS.items():
        if named is None or name == named:
            add(sub)
    for command in sub.choices.values():  # `taskbot run TASK --config FILE` as well
        command.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                             help=CONFIG_HELP)
    return parser


def _load_config(explicit: str | None, *, required: bool) -> Config:
    from bot import config as configmod

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


def _context(config: Config, task_id: str, now: datetime, *, lazy_secrets: bool = False
             ) -> Context:
    from bot.context import Context
    from bot.notify import redactor
    from bot.runmodel import new_run_id

    return Context(config, task_id, new_run_id(now), redactor(config, lazy=lazy_secrets))


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


def _plan_source(arg: str, config: Config
                 ) -> tuple[taskfile.Task, str, tuple[DependencyState, ...]]:
    """The task, where it was read, its incomplete dependencies: from a file, else (hook
    mode, any directory) from repo.branch of the configured repository."""
    from bot import taskfile
    from bot.lookup import find_task, waiting_dependencies

    try:
        path = find_task(arg, _tasks_dir(config))
    except UsageError:
        found = None if Path(arg).suffix == ".md" else _plan_from_branch(arg, config)
        if found is None:
            raise
        return found
    task = taskfile.load(path)
    return task, str(path), waiting_dependencies(task, path)


def _on_branch(task_id: str, config: Config) -> tuple[pygit2.Repository, str, bytes] | None:
    """The task's file on repo.branch, read without a checkout: (repository, path, bytes)."""
    from bot.git.read import GitError, open_repo
    from bot.lookup import find_in_tree

    try:
        repo = open_repo(config.repo.path)
    except GitError as exc:
        if "not a git repository" in str(exc):
            return None
        raise  # a repository taskbot may not read: say why, not "no such task"
    found = find_in_tree(repo, config.repo.branch, config.repo.tasks_dir, task_id)
    return None if found is None else (repo, *found)


def _plan_from_branch(task_id: str, config: Config
                      ) -> tuple[taskfile.Task, str, tuple[DependencyState, ...]] | None:
    """Read-only, no checkout: the task and its dependencies as they are on repo.branch."""
    from pathlib import PurePosixPath

    from bot import taskfile
    from bot.lookup import tree_dependency_state, waiting_dependencies

    found = _on_branch(task_id, config)
    if found is None:
        return None
    repo, rel, data = found
    branch, tasks_dir = config.repo.branch, config.repo.tasks_dir
    task = taskfile.parse(data, rel)
    root = str(PurePosixPath(tasks_dir).parent)
    waiting = waiting_dependencies(task, Path(rel), state=lambda dep, waiter:
                                   tree_dependency_state(repo, branch, root, dep))
    return task, f"{config.repo.path} {branch}:{rel}", waiting


def cmd_plan(args: argparse.Namespace) -> int:
    from datetime import datetime

    from bot.actions import resolve
    from bot.lookup import held_criteria
    from bot.plugins import load_handlers

    config = _load_config(args.config, required=False)
    task, shown, waiting = _plan_source(args.task, config)
    now = datetime.now().astimezone()
    ctx = _context(config, task.id, now, lazy_secrets=True)  # plan shows no secret
    handlers = load_handlers()
    actions = resolve(task, handlers, ctx)
    held = held_criteria(task, waiting)
    criteria = [_plan_entry(a, handlers, ctx) for a in actions]
    for entry in criteria:
        if entry["index"] in held and not entry["checked"]:
            entry["waits_on"] = held[entry["index"]]
    doc = {
        "task": {"id": task.id, "title": task.title, "path": shown},
        "dependencies": _plan_dependencies(task, waiting),
        "criteria": criteria,
        "other_sections": [s.title for s in task.sections if s.level > 1 and s.title.lower()
                           not in ("acceptance criteria", "dependencies", "progress log")],
    }
    if args.json:
        import json

        print(json.dumps(doc, indent=2))
    else:
        print(_plan_text(doc))
    refused = any(a.error and not a.criterion.checked for a in actions)
    return 1 if refused else 0


def _run_path(arg: str, config: Config) -> Path:
    """The task file `run` edits in place; a task only on the bare repository's branch (hook
    mode) is run with --commit, in taskbot's own clone, never by editing a copy here."""
    from bot.lookup import find_task

    try:
        return find_task(arg, _tasks_dir(config))
    except UsageError:
        if Path(arg).suffix != ".md" and _on_branch(arg, config) is not None:
            raise UsageError(f"{arg} is on {config.repo.branch} of {config.repo.path}, not in a "
                             f"file here: `taskbot run --commit {arg}` runs it in taskbot's own "
                             "clone and commits like the daemon") from None
        raise


def cmd_run(args: argparse.Namespace) -> int:
    from datetime import datetime

    from bot.notify import progress
    from bot.notify import targets as notify
    from bot.notify.publish import publish
    from bot.plugins import load_handlers
    from bot.taskrun import RunOptions, run_task

    config = _load_config(args.config, required=True)
    _require_trust(config)
    if args.commit:
        return _run_commit(args, config)
    path = _run_path(args.task, config)
    now = datetime.now().astimezone()
    ctx = _context(config, path.stem, now)
    handlers = load_handlers()
    notifying = not (args.no_notify or args.dry_run) and notify.configured(config.notify)
    sender = progress.outbox_sender(config, ctx.run_id) if notifying else None
    watch = progress.watch(path, handlers, ctx, sender)  # inert without a sender
    options = RunOptions(now=now, dry_run=args.dry_run,
                         repo_label=Path(config.repo.path).resolve().name.removesuffix(".git"),
                         on_start=watch.on_start)
    with watch, _live(args):
        result = run_task(path, watch.wrap(handlers), ctx, options)
    report = result.report
    _print_report(report, ctx.redactor, as_json=args.json)
    if not args.dry_run and any(r.attempted for r in report.results):
        published = publish(config, report, ctx.redactor, send=notifying)
        if published.problem:
            print(f"taskbot: {published.problem}", file=sys.stderr)
    return result.exit_code


@contextlib.contextmanager
def _live(args: argparse.Namespace) -> Iterator[None]:
    """The status line of the criterion in flight, on a terminal only."""
    from bot import observe
    from bot.commands import live

    if not live.wanted(sys.stdout, as_json=args.json):
        yield
        return
    line = live.LiveLine(sys.stdout)
    with line, observe.watching(line.observer()):
        yield


def _print_report(report: Report, redact: Redactor, *, as_json: bool) -> None:
    import json

    from bot.report import to_json, to_markdown

    if as_json:
        print(json.dumps(to_json(report, redact), indent=2, ensure_ascii=False))
    else:
        print(to_markdown(report, redact), end="")


def _run_commit(args: argparse.Namespace, config: Config) -> int:
    """`run --commit`: the daemon's path for one task — worktree, commit on taskbot/<ID>,
    integrate into repo.branch, note, stored report — started by hand."""
    from datetime import datetime

    from bot import pipeline, taskfile
    from bot.commands import status as status_command
    from bot.config import NotifyConfig
    from bot.lookup import find_task
    from bot.notify import redactor
    from bot.notify.outbox import Outbox
    from bot.plugins import load_handlers
    from bot.taskrun import exit_code

    if args.dry_run:
        raise UsageError("--commit and --dry-run exclude each other (use plan to look first)")
    task_id = args.task
    if args.task.endswith(".md") or Path(args.task).exists():
        task_id = taskfile.load(find_task(args.task, _tasks_dir(config))).id
    if args.no_notify:
        config = config._replace(notify=NotifyConfig())  # nothing to deliver to
    with _live(args):
        processed = pipeline.process(config, load_handlers(), pipeline.Rerun(task_id),
                                     now=datetime.now().astimezone())[0]
    if processed.report is None:
        raise TaskbotError(processed.message or f"{task_id}: nothing was run")
    status_command.record_run(Path(config.repo.state_dir), processed)
    _print_report(processed.report, redactor(config), as_json=args.json)
    if processed.commit:
        print(f"taskbot: committed {processed.commit[:12]} on {config.repo.branch}",
              file=sys.stderr)
    Outbox(config.repo.state_dir, config.notify).deliver_due()
    return exit_code(processed.report)


def cmd_report(args: argparse.Namespace) -> int:
    import json

    from bot import taskfile
    from bot.lookup import find_task
    from bot.notify import reportstore

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
    from bot.commands.demo import run_demo

    return run_demo(keep=args.keep)


def cmd_init(args: argparse.Namespace) -> int:
    from bot.commands import init as init_command

    if args.clone is not None:
        result = init_command.init_clone(Path(args.clone), args.config)
    elif args.adopt_history:
        result = init_command.adopt_history(args.config)
    else:
        result = init_command.run_init(args.config)
    print("\n".join(result.messages))
    return result.exit_code


def cmd_serve(args: argparse.Namespace) -> int:
    from bot.daemon import serve as daemon
    from bot.plugins import load_handlers

    config = _load_config(args.config, required=True)
    _require_trust(config)
    return daemon.serve(config, load_handlers())


def cmd_hook(args: argparse.Namespace) -> int:
    from bot.daemon import hook as hookinstall

    return hookinstall.run_hook(args.config, sys.stdin)


def cmd_status(args: argparse.Namespace) -> int:
    import json

    from bot.commands import status as status_command

    config = _load_config(args.config, required=True)
    snap = status_command.snapshot(Path(config.repo.state_dir))
    print(json.dumps(snap, indent=2, ensure_ascii=False) if args.json else status_command.render(snap))
    return 0 if snap["daemon"]["running"] else EXIT_NOT_RUNNING


def cmd_doctor(args: argparse.Namespace) -> int:
    from bot.commands.doctor import doctor as run_doctor

    code, lines = run_doctor(args.config, send_test=args.send_test)
    print("\n".join(lines))
    return code


class MergeFileError(TaskbotError):
    """`merge-file` could not merge at all: git reads any exit but 0 as "conflicts left"."""

    exit_code = 2


def cmd_merge_file(args: argparse.Namespace) -> int:
    """git's `%O %A %B %P`: exit 0 merged, 1 with conflict markers, 2 when it could not merge."""
    from bot import taskfile
    from bot.taskfile import merge as taskmerge

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
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser(argv)
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
    except BrokenPipeError:
        # The reader went away (`| head`): like other tools, stop quietly. Python would
        # report the failed flush of stdout at exit; point stdout at /dev/null first.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        if os.environ.get("TASKBOT_DEBUG"):
            import traceback

            traceback.print_exc()
        print(f"taskbot: internal error: {type(exc).__name__}: {exc} "
              "(set TASKBOT_DEBUG=1 for a traceback)", file=sys.stderr)
        return EXIT_INTERNAL


# Commands that answer and exit. The cyclic garbage collector would run some 30 times while
# they import (6-9 ms of `plan`) to free next to nothing before the process ends anyway;
# `None` is --help, --version and a usage error.
_BRIEF = frozenset({None, "plan", "report", "status", "hook", "merge-file"})


def main_entry() -> None:
    if _named_command(sys.argv[1:]) in _BRIEF:
        gc.disable()
    sys.exit(main())


if __name__ == "__main__":  # `python -m bot.cli`: the merge driver when no script is installed
    main_entry()
