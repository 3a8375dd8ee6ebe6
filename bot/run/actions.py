"""Criterion → action: the annotation, else configured rules, else handlers' default rules.

Parameters a criterion leaves out come from the task's frontmatter, then from the
nearest earlier criterion naming the same project.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple

from bot.config import Config
from bot.errors import TaskbotError
from bot.run.context import Context, Handler
from bot.run.params import validate_common
from bot.run.runmodel import Action, project_keys
from bot.taskfile.model import Criterion, Task

__all__ = ["Action", "blocked_mark", "parse_annotation", "resolve"]

_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# "… - BLOCKED: See TASK-005", "… (blocked)", "… — Blocked": a person says it cannot run yet
_BLOCKED_RE = re.compile(
    r"(?i)(?P<mark>\(blocked\b[^)]*\)|\[blocked\b[^\]]*\]|(?<![\w-])blocked\s*:.*$)"
    r"|\s[-–—]\s*(?P<tail>blocked\b.*$)")


class _Rule(NamedTuple):
    pattern: re.Pattern[str]
    handler: str
    params: Mapping[str, str]
    source: str


def parse_annotation(text: str) -> tuple[str, dict[str, str]]:
    """`HANDLER key=value key="a value"` with shell-style quoting; nothing is ever run by a shell."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise TaskbotError(f"annotation cannot be split: {exc}") from exc
    if not words:
        raise TaskbotError("annotation names no handler")
    params: dict[str, str] = {}
    for word in words[1:]:
        key, sep, value = word.partition("=")
        if not sep or not _KEY_RE.fullmatch(key):
            raise TaskbotError(f"annotation word {word!r} is not key=value")
        params[key] = value
    return words[0], params


def blocked_mark(text: str) -> str:
    """The words that mark a criterion blocked in its own text (`BLOCKED: See TASK-005`), or ""."""
    found = _BLOCKED_RE.search(text)
    if found is None:
        return ""
    return (found["mark"] or found["tail"]).strip()


def _rules(config: Config, handlers: Mapping[str, Handler]) -> list[_Rule]:
    rules = [
        _Rule(r.match, r.handler, r.params, f"rule {i + 1}") for i, r in enumerate(config.rules)
    ]
    for name in sorted(handlers):
        for default in handlers[name].rules:
            rules.append(_Rule(re.compile(default.match), name, default.params, "default rule"))
    return rules


def _match(criterion: Criterion, rules: Sequence[_Rule]) -> tuple[str, str, dict[str, str]] | None:
    for rule in rules:
        found = rule.pattern.search(criterion.text)
        if found:
            groups = {k: v for k, v in found.groupdict().items() if v is not None}
            return rule.handler, rule.source, {**rule.params, **groups}
    return None


def _owners(params: Mapping[str, str], handler: Handler, config: Config) -> list[str]:
    """The projects whose earlier criteria a criterion inherits from, nearest claim first:
    the values of the handler's `inherits_from` parameters ("Update all `ffl` HelmReleases
    in beckerkube" takes the version of ffl's build), then `project`, else a claiming one."""
    keys = project_keys(handler)
    named = [params[k].lower() for k in keys if params.get(k)]
    # a criterion naming no project may belong to one its handler keys claim (an image of
    # the project's build: it takes that build's version)
    return named or [config.claiming(params).lower()]


class _Earlier(NamedTuple):
    group: str
    params: Mapping[str, str]


def _inherit(
    params: dict[str, str],
    handler: Handler,
    criterion: Criterion,
    task: Task,
    earlier: Sequence[_Earlier],
    config: Config,
) -> dict[str, str]:
    """A missing parameter from, in order: an earlier criterion of the same project in the
    same group (the group's own build is the most specific word: issue 20), the frontmatter,
    the nearest earlier criterion of the same project anywhere above (the SPEC's order)."""
    merged = dict(params)
    owners = [p for p in _owners(merged, handler, config) if p]
    same_group = [e for e in earlier if e.group == criterion.group]
    for name in handler.params:
        if name in merged:
            continue
        found = _from_owners(same_group, owners, name)
        if found is None:
            found = _from_frontmatter(task, name)
        if found is None:
            found = _from_owners(earlier, owners, name)
        if found is not None:
            merged[name] = found
    return merged


def _from_frontmatter(task: Task, name: str) -> str | None:
    value = task.frontmatter.get(name)
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _from_owners(earlier: Sequence[_Earlier], owners: Sequence[str], name: str) -> str | None:
    for project in owners:
        for prior in reversed(earlier):
            if prior.params.get("project", "").lower() == project and name in prior.params:
                return prior.params[name]
    return None


def resolve(task: Task, handlers: Mapping[str, Handler], ctx: Context) -> tuple[Action, ...]:
    """An action for every criterion (checked ones too: later criteria inherit from them)."""
    rules = _rules(ctx.config, handlers)
    actions: list[Action] = []
    earlier: list[_Earlier] = []
    for criterion in task.criteria:
        action = _resolve_one(criterion, task, handlers, rules, earlier, ctx)
        mark = blocked_mark(criterion.text)
        if mark:  # whatever its rule or annotation: it never runs while the text says so
            action = action._replace(settings=None, error=f"marked blocked in the task: {mark}",
                                     blocked=mark)
        actions.append(action)
        earlier.append(_Earlier(criterion.group, action.params))
    return tuple(actions)


def _resolve_one(
    criterion: Criterion,
    task: Task,
    handlers: Mapping[str, Handler],
    rules: Sequence[_Rule],
    earlier: Sequence[_Earlier],
    ctx: Context,
) -> Action:
    if criterion.annotation is not None:
        try:
            name, params = parse_annotation(criterion.annotation)
        except TaskbotError as exc:
            return Action(criterion, "?", "annotation", error=str(exc))
        source = "annotation"
    else:
        matched = _match(criterion, rules)
        if matched is None:
            return Action(criterion, None, "manual")
        name, source, params = matched
    handler = handlers.get(name)
    if handler is None:
        known = ", ".join(sorted(handlers)) or "none"
        return Action(
            criterion, name, source, MappingProxyType(params),
            error=f"handler {name!r} is not installed (installed: {known})",
        )
    params = _inherit(params, handler, criterion, task, earlier, ctx.config)
    frozen = MappingProxyType(params)
    try:
        validate_common(frozen)
        settings = handler.settings(frozen, ctx)
    except TaskbotError as exc:
        return Action(criterion, name, source, frozen, error=str(exc))
    return Action(criterion, name, source, frozen, settings=settings)
