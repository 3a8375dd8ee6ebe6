"""The command line behaves like the tools next to it: --config anywhere, --version, help for
users with the exit codes, `status` exit 3 without a daemon, tasks found by id in hook mode
from any directory, and the cli_speed bench prints its figures. All through the installed
console script."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.kit.daemon import REPO_ROOT, TASKBOT, env_for
from tests.kit.git import Sandbox, sandbox

TASK = ("---\nid: TASK-001\ntitle: Hello\n---\n## Dependencies\n- TASK-002\n\n"
        "## Acceptance Criteria\n"
        '- [ ] Hello <!-- taskbot: shell project=demo cmd="true" -->\n')
DEP = ("---\nid: TASK-002\ntitle: First\n---\n## Acceptance Criteria\n"
       '- [ ] First <!-- taskbot: shell project=demo cmd="true" -->\n')


def taskbot(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(TASKBOT), *args], cwd=cwd, capture_output=True, text=True,
                          env=env_for(None), check=False, timeout=60)


@pytest.fixture
def pushed(tmp_path: Path) -> Sandbox:
    box = sandbox(tmp_path)
    box.write("tasks/active/TASK-001-hello.md", TASK)
    box.write("tasks/active/TASK-002.md", DEP)
    box.commit_push("add tasks")
    (tmp_path / "elsewhere").mkdir()
    return box


def test_version_and_help_are_written_for_users(tmp_path: Path) -> None:
    done = taskbot("--version", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (0, "taskbot 0.1.0\n")
    helped = taskbot("--help", cwd=tmp_path)
    assert helped.returncode == 0
    head = helped.stdout.split("\n\n")[1]  # after the usage lines
    assert head.startswith("taskbot runs infrastructure tasks written as Markdown checklists")
    assert "exit codes:" in helped.stdout and "3  the task file is unusable" in helped.stdout
    assert "the daemon is not running" in helped.stdout
    for command in ("plan", "run", "report", "status", "merge-file", "hook"):
        text = taskbot(command, "--help", cwd=tmp_path).stdout
        options = re.findall(r"^  (-[-\w, ]+?|[A-Z]+|post-receive)(?:  +(.*))?$", text, re.M)
        assert options, text
        assert all(said for _, said in options), f"{command}: an option without help:\n{text}"
        assert "--config FILE" in text


def test_help_wraps_at_the_terminal_width(tmp_path: Path) -> None:
    """Help is as wide as $COLUMNS says (argparse's rule, without its import of shutil);
    the top-level description keeps its own line breaks."""
    for columns in (50, 200):
        done = subprocess.run([str(TASKBOT), "plan", "--help"], cwd=tmp_path, capture_output=True,
                              text=True, env=env_for(None, COLUMNS=str(columns)), check=True)
        lines = done.stdout.splitlines()
        assert max(map(len, lines)) <= columns - 2
        described = [line for line in lines if line.startswith("Show what each")]
        assert (len(described[0]) > 100) == (columns == 200), lines
    top = taskbot("--help", cwd=tmp_path).stdout
    assert "Markdown checklists in a git repository:\neach unchecked acceptance" in top


def test_plan_loads_only_what_it_needs(pushed: Sandbox) -> None:
    """`plan` on a task file loads no libgit2, notifier, command runner, task editor, package
    metadata or shutil: what keeps it near Python's own start (bench/cli_speed.py)."""
    code = ("import sys\nfrom bot.cli import main\n"
            "code = main(['--config', sys.argv[1], 'plan', sys.argv[2]])\n"
            "print(code, *sorted(sys.modules))")
    task = pushed.clone / "tasks" / "active" / "TASK-002.md"
    done = subprocess.run([sys.executable, "-c", code, str(pushed.config), str(task)],
                          cwd=pushed.root, capture_output=True, text=True, env=env_for(None),
                          check=True)
    *shown, last = done.stdout.splitlines()
    assert "run: true" in "\n".join(shown) and last.split()[0] == "0"
    loaded = set(last.split()[1:])
    assert {"bot.taskfile.parse", "handlers.shell", "yaml", "markdown_it"} <= loaded
    assert not loaded & {"pygit2", "apprise", "bot.proc", "bot.git.write", "bot.registry",
                         "bot.taskfile.edit", "bot.yamledit", "importlib.metadata", "shutil"}


@pytest.mark.parametrize(("argv", "collecting"), [
    (["plan", "TASK-404"], False), (["--help"], False), (["status"], False),
    (["serve"], True), (["run", "TASK-404"], True), (["doctor"], True)])
def test_only_brief_commands_go_without_the_garbage_collector(
        tmp_path: Path, argv: list[str], collecting: bool) -> None:
    """A command that answers and exits skips the cyclic collector; the daemon and
    anything that runs handlers keep it."""
    code = ("import atexit, gc, sys\natexit.register(lambda: print('gc', gc.isenabled()))\n"
            "sys.argv = ['taskbot', '--config', 'missing.toml', *sys.argv[1:]]\n"
            "from bot.cli import main_entry\nmain_entry()")
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=tmp_path, capture_output=True,
                          text=True, env=env_for(None), check=False, timeout=60)
    assert done.stdout.splitlines()[-1] == f"gc {collecting}", done.stdout + done.stderr


def test_a_command_parses_alike_with_only_its_own_parser_built(tmp_path: Path) -> None:
    """A command builds only its own subparser: its errors, its help and a mistyped
    command read as when every command's parser is built."""
    done = taskbot("plan", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == (
        "taskbot plan: error: the following arguments are required: TASK")
    done = taskbot("--config", "x.toml", "plan", "T", "surplus", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines()[-1] == "taskbot: error: unrecognized arguments: surplus"
    done = taskbot("--config=x.toml", "plna", "T", cwd=tmp_path)
    assert done.returncode == 2 and "invalid choice: 'plna' (choose from 'plan', 'run'," in (
        done.stderr)
    helped = taskbot("--config", "x.toml", "--help", "plan", cwd=tmp_path)
    assert helped.returncode == 0 and "merge-file" in helped.stdout


def test_config_before_or_after_the_command(pushed: Sandbox) -> None:
    where = pushed.root / "elsewhere"
    for argv in (["--config", str(pushed.config), "plan", "TASK-002"],
                 ["plan", "TASK-002", "--config", str(pushed.config)],
                 ["plan", "--config", str(pushed.config), "TASK-002"]):
        done = taskbot(*argv, cwd=where)
        assert done.returncode == 0, (argv, done.stderr)
        assert done.stdout.startswith("TASK-002: First")
    done = taskbot("run", "TASK-002", "--config", str(pushed.root / "missing.toml"), cwd=where)
    assert done.returncode == 2 and "unrecognized arguments" not in done.stderr


def test_status_exits_3_without_a_daemon(pushed: Sandbox) -> None:
    done = taskbot("status", "--config", str(pushed.config), cwd=pushed.root)
    assert done.returncode == 3 and done.stdout.startswith("daemon: not running")


def test_plan_by_id_in_hook_mode_reads_the_branch_from_any_directory(pushed: Sandbox) -> None:
    done = taskbot("--config", str(pushed.config), "plan", "TASK-001", cwd=pushed.root / "elsewhere")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"TASK-001: Hello  ({pushed.bare} main:tasks/active/TASK-001-hello.md)"
    assert lines[1] == ("depends on TASK-002: WAITING: 1 criteria open in "
                        "tasks/active/TASK-002.md")
    assert "run: true" in done.stdout
    assert list(pushed.bare.glob("worktrees")) == []  # read-only: nothing checked out
    missing = taskbot("--config", str(pushed.config), "plan", "TASK-404", cwd=pushed.root)
    assert missing.returncode == 2 and "TASK-404: no task with this id" in missing.stderr


def test_plan_by_id_in_hook_mode_refuses_a_huge_task_unread(pushed: Sandbox) -> None:
    pushed.write("tasks/active/TASK-005.md", "---\nid: TASK-005\n---\n" + "x" * (2 << 20))
    pushed.commit_push("a huge task")
    done = taskbot("--config", str(pushed.config), "plan", "TASK-005", cwd=pushed.root / "elsewhere")
    assert done.returncode == 3
    assert done.stderr == "taskbot: tasks/active/TASK-005.md: larger than 1 MiB\n"


def test_plan_sees_a_completed_dependency_on_the_branch(pushed: Sandbox) -> None:
    pushed.write("tasks/active/TASK-002.md", DEP.replace("- [ ]", "- [x]"))
    pushed.commit_push("done")
    done = taskbot("--config", str(pushed.config), "plan", "TASK-001", cwd=pushed.root / "elsewhere")
    assert "depends on TASK-002: complete" in done.stdout


def test_run_by_id_in_hook_mode_points_to_run_commit(pushed: Sandbox) -> None:
    done = taskbot("--config", str(pushed.config), "run", "TASK-002", cwd=pushed.root / "elsewhere")
    assert done.returncode == 2
    assert "`taskbot run --commit TASK-002`" in done.stderr
    assert "internal error" not in done.stderr


def test_report_by_id_from_any_directory(pushed: Sandbox) -> None:
    done = taskbot("--config", str(pushed.config), "report", "TASK-002", cwd=pushed.root / "elsewhere")
    assert "no task with this id" not in done.stderr and "internal error" not in done.stderr


def test_find_task_by_name_in_a_large_folder(tmp_path: Path) -> None:
    active = tmp_path / "tasks" / "active"
    active.mkdir(parents=True)
    for n in range(2000):
        (active / f"TASK-{n:05d}.md").write_text("not a task: no frontmatter needed\n")
    (active / "TASK-00042-extra.md").write_text("x")
    from bot.taskfile.lookup import find_task
    # The exact name wins over a longer one (DEP-1.md over DEP-1-notes.md).
    assert find_task("TASK-00042", active) == active / "TASK-00042.md"
    assert find_task("task-00007", active) == active / "TASK-00007.md"


@pytest.mark.integration
def test_cli_speed_bench_prints_its_figures(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(REPO_ROOT / "bench" / "cli_speed.py"), "--smoke"],
                          capture_output=True, text=True, cwd=tmp_path, env=env_for(None),
                          check=False, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    keys = re.findall(r"^([\w.]+): -?\d", done.stdout, re.M)
    assert set(keys) >= {"cli_speed.help", "cli_speed.plan_10_tasks", "cli_speed.plan_10000_tasks",
                         "cli_speed.plan_hook_mode_bare", "cli_speed.ratio_10000_to_10",
                         "cli_speed.python_floor", "cli_speed.plan_over_floor"}
