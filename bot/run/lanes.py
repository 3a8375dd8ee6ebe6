"""Which groups of a task run side by side, and which wait for everything above them.

A group is a run of consecutive criteria under one sub-heading of the Acceptance Criteria.
A group whose work (its criteria that will run a handler) touches exactly one distinct
configured project is a *project group*: consecutive project groups form one stage, and
their projects' lanes run at the same time (groups of one project, one after the other in
their lane). A group touching several projects or none (a "Post-Build Verification" that
checks every image) is a *barrier*: a stage of its own, started once everything above it
has finished. A group with nothing to run (all checked, held for a dependency, manual)
never holds anybody up: it joins the stage it falls in. `parallel = 1` keeps today's
order: one group after the other.

A criterion's project is the one its handler works for: the values of its `inherits_from`
parameters first ("Update ffl HelmRelease in beckerkube" is ffl's), then `project`, else a
project whose keys claim it (an image of that project's build) — as `bot.run.actions`
inherits parameters. A handler that takes no `project` and reads no project's keys works
across them all (moving the registry edits every project's build files): its criterion
makes its group a barrier. Pure: it runs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.config import Config
from bot.run.runmodel import Action, project_keys

__all__ = ["EVERY", "Group", "Stage", "project_of", "split", "stages"]

EVERY = "*"  # the project of a criterion whose handler works across every project


@dataclass(frozen=True)
class Group:
    name: str  # its sub-heading ("" for criteria under none)
    actions: tuple[Action, ...]
    project: str  # the one project its work touches; "" when several or none
    work: bool  # some criterion of it will run a handler


Stage = tuple[tuple[Group, ...], ...]  # lanes run side by side; a lane's groups in order


def project_of(action: Action, handlers: Mapping[str, object], config: Config) -> str:
    """The configured project (lower case) a criterion works for, "", or `EVERY`."""
    names = {n.lower() for n in config.projects}
    handler = handlers.get(action.handler or "")
    if handler is not None and "project" not in getattr(handler, "params", ()) and not (
            getattr(handler, "project_settings", None)):
        return EVERY
    keys = project_keys(handler)
    for key in keys:
        value = action.params.get(key, "").lower()
        if value in names:
            return value
    return config.claiming(action.params).lower()


def split(actions: Sequence[Action], runs: Callable[[Action], bool],
          project: Callable[[Action], str]) -> list[Group]:
    """The groups in file order; `runs` says which criteria will run a handler."""
    found: list[list[Action]] = []
    for action in actions:
        if found and found[-1][0].criterion.group == action.criterion.group:
            found[-1].append(action)
        else:
            found.append([action])
    groups: list[Group] = []
    for members in found:
        work = [a for a in members if runs(a)]
        touched = {project(a) for a in work} - {""}
        one = touched.pop() if len(touched) == 1 else ""
        groups.append(Group(members[0].criterion.group, tuple(members),
                            "" if one == EVERY else one, bool(work)))
    return groups


def stages(groups: Sequence[Group], parallel: int) -> list[Stage]:
    """The stages in order: each a set of lanes that run side by side."""
    if parallel <= 1:
        return [((g,),) for g in groups]
    out: list[Stage] = []
    lanes: dict[str, list[Group]] = {}  # the open stage: project (or a free group's key) → lane
    for n, group in enumerate(groups):
        if group.work and not group.project:  # a barrier: alone, after all above
            if lanes:
                out.append(_stage(lanes))
                lanes = {}
            out.append(((group,),))
            continue
        key = group.project if group.work else f"\0free {n}"
        lanes.setdefault(key, []).append(group)
    if lanes:
        out.append(_stage(lanes))
    return out


def _stage(lanes: Mapping[str, list[Group]]) -> Stage:
    return tuple(tuple(lane) for lane in lanes.values())
