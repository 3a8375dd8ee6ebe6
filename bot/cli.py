"""The command line: argument parsing and dispatch; errors become one line and an exit code.

Each command lives in `bot/commands/` and is imported only when it runs: `taskbot --help` and
`taskbot plan` should answer about as fast as Python starts, and pygit2, the handlers, the
notifiers and the daemon cost several hundred milliseconds when all are loaded
(bench/cli_speed.py measures it).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from typing import Any, NamedTuple

from bot.errors import TaskbotError
from bot.text import terminal

EXIT_INTERNAL = 70



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


def _add_approve(sub: Any) -> None:
    approve = sub.add_parser("approve", help="approve the plans a task waits for (in your clone)",
                             description="Print the plan and digest of each criterion of the "
                             "task that waits for approval, and approve them with an empty "
                             "commit in this clone, as you (your git identity and signing).")
    approve.add_argument("task", metavar="TASK", help="task id (read at HEAD of this clone)")
    approve.add_argument("--push", action="store_true",
                         help="push the approval to the tasks branch of origin")


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


def _add_mcp(sub: Any) -> None:
    mcp = sub.add_parser("mcp", help="serve MCP on stdio: tools for an orchestrating agent",
                         description="Serve the Model Context Protocol on stdin/stdout: "
                         "list_tasks, plan_task, run_task, task_status, get_report, "
                         "approve_task, for an agent's MCP configuration (docs/mcp.md). "
                         "run_task needs [mcp] allow_run, approve_task [mcp] allow_approve.")
    mcp.add_argument("--read-only", action="store_true",
                     help="offer only list_tasks, plan_task, task_status and get_report")


class _Command(NamedTuple):
    add: _Adder  # its subparser
    module: str  # its `command(args) -> exit code`, imported only when it runs
    # Answers and exits: the cyclic garbage collector would run some 30 times while it
    # imports (6-9 ms of `plan`) to free next to nothing before the process ends anyway.
    brief: bool = False


_COMMANDS: dict[str, _Command] = {
    "plan": _Command(_add_plan, "bot.commands.plan", brief=True),
    "run": _Command(_add_run, "bot.commands.run"),
    "report": _Command(_add_report, "bot.commands.report", brief=True),
    "approve": _Command(_add_approve, "bot.commands.approve"),
    "demo": _Command(_add_demo, "bot.commands.demo"),
    "init": _Command(_add_init, "bot.commands.init"),
    "serve": _Command(_add_serve, "bot.commands.serve"),
    "hook": _Command(_add_hook, "bot.commands.hook", brief=True),
    "status": _Command(_add_status, "bot.commands.status", brief=True),
    "doctor": _Command(_add_doctor, "bot.commands.doctor"),
    "merge-file": _Command(_add_merge_file, "bot.commands.merge_file", brief=True),
    "mcp": _Command(_add_mcp, "bot.agent.serve"),
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
            return arg if arg in _COMMANDS else None
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
    for name, entry in _COMMANDS.items():
        if named is None or name == named:
            entry.add(sub)
    for command in sub.choices.values():  # `taskbot run TASK --config FILE` as well
        command.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                             help=CONFIG_HELP)
    return parser


def _run(args: argparse.Namespace) -> int:
    command: Callable[[argparse.Namespace], int] = import_module(
        _COMMANDS[args.command].module).command
    return command(args)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    try:
        return _run(args)
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


def main_entry() -> None:
    named = _named_command(sys.argv[1:])
    if named is None or _COMMANDS[named].brief:  # None: --help, --version, a usage error
        gc.disable()
    sys.exit(main())


if __name__ == "__main__":  # `python -m bot.cli`: the merge driver when no script is installed
    main_entry()
