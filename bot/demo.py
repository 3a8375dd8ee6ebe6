"""`taskbot demo`: the main job in a throw-away sandbox, with nothing to configure."""

from __future__ import annotations

import difflib
import tempfile
from datetime import datetime
from importlib.resources import files
from pathlib import Path

from bot import config as configmod
from bot.api import Context
from bot.plugins import load_handlers
from bot.proc import Redactor
from bot.report import to_markdown
from bot.taskrun import RunOptions, run_task

DEMO_CONFIG = """\
[repo]
path = "{root}"
tasks_dir = "tasks/active"
state_dir = "{root}/state"

[trust]
anyone = true          # a sandbox: nobody else can push here

[limits]
retries = 0
command_timeout = "10s"

[projects.demo]
path = "{root}/demo-project"
allow_shell = true
"""


def run_demo() -> int:
    with tempfile.TemporaryDirectory(prefix="taskbot-demo-") as tmp:
        root = Path(tmp)
        (root / "demo-project").mkdir()
        (root / "demo-project" / "README.md").write_text("# demo project\n")
        tasks = root / "tasks" / "active"
        tasks.mkdir(parents=True)
        task_path = tasks / "TASK-001.md"
        task_path.write_bytes(files("bot.examples").joinpath("TASK-001.md").read_bytes())
        (root / "taskbot.toml").write_text(DEMO_CONFIG.format(root=root))
        config = configmod.load(root / "taskbot.toml")
        before = task_path.read_text()
        now = datetime.now().astimezone()
        ctx = Context(config, "TASK-001", f"demo-{now:%H%M%S}", Redactor())
        result = run_task(task_path, load_handlers(), ctx, RunOptions(now=now))
        print(f"== sandbox: {root}\n== taskbot run {task_path.relative_to(root)}\n")
        print(to_markdown(result.report), end="")
        diff = difflib.unified_diff(
            before.splitlines(keepends=True), task_path.read_text().splitlines(keepends=True),
            "a/tasks/active/TASK-001.md", "b/tasks/active/TASK-001.md")
        print("\n== what taskbot changed in the task file\n" + "".join(diff))
        # A failed criterion is part of the show, not a failure of the demo.
        return 0 if result.report.results else 1
