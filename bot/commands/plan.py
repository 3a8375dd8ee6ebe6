"""`taskbot plan`: what each unchecked criterion of a task would run; runs nothing."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.commands.common import context, load_config, on_branch, tasks_dir
from bot.errors import UsageError

if TYPE_CHECKING:
    import argparse

    from bot.config import Config
    from bot.run.actions import Action
    from bot.run.context import Context, Handler
    from bot.taskfile.model import DependencyState, Task


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
        "then": list(step.then) if step else [],
    }
    if action.blocked:  # its own text says it cannot run yet: why, whatever its handler
        entry["action"]["state"] = "blocked"
        entry["action"]["blocked"] = action.blocked
    if step and step.inputs:  # what an approval of the plan depends on
        entry["action"]["inputs"] = list(step.inputs)
    return entry


def _gated_line(check: Action) -> str:
    """A check the gate runs as its last step (`bot.run.gate`), under the gate's `then:`."""
    c = check.criterion
    return (f"gated check (line {c.line + 1}): {c.text} [{check.describe()}]: runs last; "
            "a failure fails this criterion and undoes it")


def _plan_dependencies(task: Task, waiting: tuple[DependencyState, ...],
                       trusted: tuple[DependencyState, ...] = ()) -> list[dict[str, Any]]:
    """Every id of the Dependencies section: whether it is one, for which groups, its state
    (and, when complete only by this task's word, what its file says)."""
    open_ = {w.task_id: w for w in waiting}
    taken = {t.task_id: t.trusted for t in trusted}
    out: list[dict[str, Any]] = []
    for item in task.dependency_items:
        state = open_.get(item.task_id)
        entry = {"task": item.task_id, "depends": item.depends, "why": item.why,
                 "groups": list(item.groups), "line": item.line + 1,
                 "complete": item.depends and state is None,
                 "waiting": state.where if item.depends and state is not None else None}
        if item.depends and item.task_id in taken:
            entry["trusted"] = taken[item.task_id]
        out.append(entry)
    return out


def _plan_dependency_line(dep: Mapping[str, Any]) -> str:
    said = f" ({dep['why']})" if dep["why"] else ""
    if not dep["depends"]:
        return f"not a dependency: {dep['task']}{said}"
    scope = f" for group {', '.join(dep['groups'])}" if dep["groups"] else ""
    state = (dep.get("trusted") or "complete") if dep["complete"] else (
        f"WAITING: {dep['waiting']}")
    return f"depends on {dep['task']}{scope}{said}: {state}"


def _plan_text(doc: dict[str, Any]) -> str:
    t = doc["task"]
    lines = [f"{t['id']}: {t['title']}  ({t['path']})"]
    if t.get("where"):
        lines.append(f"{t['id']} is {t['where']}")
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
        if c.get("approval"):
            lines.append(f"       {c['approval']['said']}")
        if a["handler"] is None and not a.get("error"):
            lines.append("       manual: waiting for a person")
            continue
        if a["handler"] is None:
            lines.append(f"       BLOCKED: {a['error']}")
            continue
        params = " ".join(f"{k}={v}" for k, v in a["params"].items())
        lines.append(f"       {a['handler']} {params}  [{a['source']}]")
        if a["error"]:
            lines.append(f"       REFUSED: {a['error']}")
        lines.extend(f"       run: {' '.join(cmd)}  (in {a['cwd']})" for cmd in a["commands"])
        lines.extend(f"       file: {f}" for f in a["files"])
        lines.extend(f"       needs: {p}" for p in a["preconditions"])
        lines.extend(f"       then: {p}" for p in a["then"])
        lines.extend(f"       input: {p}" for p in a.get("inputs", ()))
    if doc["not_executed"]:
        lines.append("Not executed: " + ", ".join(f"{g['group']} ({g['unchecked']} unchecked)"
                                                   for g in doc["not_executed"]))
    return "\n".join(lines)


Source = tuple["Task", str, tuple["DependencyState", ...], tuple["DependencyState", ...]]


def _plan_source(arg: str, config: Config) -> Source:
    """The task, where it was read, its incomplete dependencies and those complete by its
    word: from a file, else (hook mode, any directory) from repo.branch of the configured
    repository, else a folder beside the active one (a backlog task). Both judge alike
    (`bot.taskfile.depstate`)."""
    from bot.commands.plan_where import find_elsewhere
    from bot.taskfile.lookup import find_task, trusted_dependencies, waiting_dependencies
    from bot.taskfile.parse import load as load_task

    try:
        path = find_task(arg, tasks_dir(config))
    except UsageError:
        by_id = Path(arg).suffix != ".md"
        found = _plan_from_branch(arg, config) if by_id else None
        if found is not None:
            return found
        # a backlog task: where the dependency lookup finds it
        elsewhere = find_elsewhere(arg, tasks_dir(config)) if by_id else None
        if elsewhere is None:
            raise
        path = elsewhere
    task = load_task(path)
    return (task, str(path), waiting_dependencies(task, path),
            trusted_dependencies(task, path))


def _source_text(shown: str, task_id: str, config: Config) -> str:
    """The task file's text as `plan` read it (the file, else repo.branch's blob)."""
    from bot.taskfile import source

    path = Path(shown)
    if path.is_file():
        # as `load` read it: no symlink followed, at most 1 MiB
        return source.read(path).decode("utf-8", errors="replace")
    found = on_branch(task_id, config)
    return found[2].decode("utf-8", errors="replace") if found else ""


def _plan_from_branch(task_id: str, config: Config) -> Source | None:
    """Read-only, no checkout: the task and its dependencies as they are on repo.branch."""
    from pathlib import PurePosixPath

    from bot.state.memory import Memory
    from bot.taskfile.lookup import trusted_dependencies, waiting_dependencies
    from bot.taskfile.parse import parse as parse_task
    from bot.taskfile.treeindex import tree_dependency_state

    found = on_branch(task_id, config)
    if found is None:
        return None
    repo, rel, data = found
    branch, tasks_dir = config.repo.branch, config.repo.tasks_dir
    task = parse_task(data, rel)
    root = str(PurePosixPath(tasks_dir).parent)
    memory = Memory()  # the tree listed once, for every dependency looked up

    def state(dep: str, waiter: str) -> DependencyState:
        return tree_dependency_state(repo, branch, root, dep, waiter, memory)

    return (task, f"{config.repo.path} {branch}:{rel}",
            waiting_dependencies(task, Path(rel), state=state),
            trusted_dependencies(task, Path(rel), state=state))


def command(args: argparse.Namespace) -> int:
    config = load_config(args.config, required=False)
    doc, refused = plan_doc(config, args.task)
    if args.json:
        import json

        print(json.dumps(doc, indent=2))
    else:
        print(_plan_text(doc))
    return 1 if refused else 0


def plan_doc(config: Config, arg: str) -> tuple[dict[str, Any], bool]:
    """What `plan --json` prints for the task `arg` (an id or a file), and whether a
    criterion's action is refused (the command's exit 1). Runs nothing."""
    from datetime import datetime

    from bot.commands.plan_groups import not_executed
    from bot.commands.plan_where import where_said
    from bot.plugin.plugins import load_handlers
    from bot.run.actions import resolve
    from bot.run.approval import planned
    from bot.run.gate import followers
    from bot.taskfile.lookup import held_criteria

    task, shown, waiting, trusted = _plan_source(arg, config)
    now = datetime.now().astimezone()
    ctx = context(config, task.id, now, lazy_secrets=True)  # plan shows no secret
    handlers = load_handlers()
    actions = resolve(task, handlers, ctx)
    held = held_criteria(task, waiting)
    criteria = [_plan_entry(a, handlers, ctx) for a in actions]
    for gate, checks in followers(actions, handlers).items():
        criteria[gate]["action"]["then"].extend(_gated_line(c) for c in checks)
    for entry in criteria:
        if entry["index"] in held and not entry["checked"]:
            entry["waits_on"] = held[entry["index"]]
    for pending, why in planned(task.id, actions, handlers, ctx):
        said = (f"needs approval (digest {pending.digest}): approve with `taskbot approve "
                f"{task.id}`" if pending.digest else f"needs approval: {why}")
        criteria[pending.criterion]["approval"] = {"digest": pending.digest, "said": said}
    where = where_said(Path(shown), tasks_dir(config))
    doc = {
        "task": {"id": task.id, "title": task.title, "path": shown,
                 **({"where": where} if where else {})},
        "dependencies": _plan_dependencies(task, waiting, trusted),
        "criteria": criteria,
        "not_executed": [{"group": g.title, "unchecked": g.unchecked} for g in
                         not_executed(task, _source_text(shown, task.id, config), actions)],
    }
    return doc, any(a.error and not a.criterion.checked for a in actions)
