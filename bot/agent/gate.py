"""What an agent may ask of taskbot, judged before anything is queued or run: the tool must
be allowed by `[mcp]`, the id must be a task id (never a path), and the task file's whole
history must be trusted by the `[trust]` rules a push meets (`bot.git.trust.check_file`,
the check the pipeline makes again before it runs a task queued again). MCP cannot make a
task run that a push could not."""

from __future__ import annotations

from bot.commands.common import on_branch, require_trust
from bot.config import Config
from bot.daemon.spool import task_id_problem
from bot.errors import UsageError
from bot.git import owncommits
from bot.git.trust import check_file

__all__ = ["SWITCHED", "allowed", "known", "refusal", "task_id", "trusted"]


# the tools that change something, and the `[mcp]` key that allows each
SWITCHED = {"run_task": "allow_run", "approve_task": "allow_approve"}


def refusal(config: Config, tool: str) -> str:
    """Why `[mcp]` does not allow the tool, or "" when it does."""
    key = SWITCHED.get(tool)
    if key is None or getattr(config.mcp, key):
        return ""
    return f"{tool} is off: set [mcp] {key} = true in {config.source}"


def allowed(config: Config, tool: str) -> None:
    """UsageError unless `[mcp]` allows the tool (`run_task`, `approve_task`)."""
    why = refusal(config, tool)
    if why:
        raise UsageError(why)


def task_id(value: str) -> str:
    """A task id as an agent sent it; UsageError for a path or a file name."""
    problem = task_id_problem(value)
    if problem or value.endswith(".md"):
        raise UsageError(problem or f"not a task id (a file name): {value!r}")
    return value


def trusted(config: Config, task: str) -> None:
    """TaskbotError unless the task's file on repo.branch comes wholly from trusted people
    (nothing is said of a task not found there: the pipeline says it, as for a push)."""
    require_trust(config)
    found = on_branch(task, config)
    if found is None:
        return
    repo, rel, _ = found
    tip = str(repo.revparse_single(config.repo.branch).id)
    verdict = check_file(repo, tip, rel, config, owncommits.load(config.repo.state_dir))
    if not verdict.trusted:
        raise UsageError(f"{task} not run: {verdict.reason}")


def known(config: Config, task: str) -> None:
    """UsageError for a task repo.branch does not have: the daemon would take the entry and
    end it without a run, and the agent would read that as done."""
    if on_branch(task, config) is None:
        raise UsageError(f"{task}: no such task under {config.repo.tasks_dir}/ on "
                         f"{config.repo.branch} of {config.repo.path}")
