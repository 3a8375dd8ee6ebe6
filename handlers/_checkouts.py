"""The repositories `registry-ip` commits to: each GitOps project and the tasks repo,
checked out in taskbot's worktree, scanned, validated, committed and fast-forwarded."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from bot import api
from bot.api import Context, FileChange, Project, TaskbotError
from handlers._address import RegistryIpSettings, Scan, doc_edits, gitops_edits
from handlers._kustomize import linked_dir, validate
from handlers._project import GitOpsKeys


def gitops_projects(ctx: Context) -> list[Project]:
    """The projects with a GitOps tree: those setting `helmrelease` or `kustomize`."""
    return [p for p in ctx.config.projects.values()
            if p.settings(GitOpsKeys).helmrelease or p.settings(GitOpsKeys).kustomize]


class Checkout(NamedTuple):
    """A repository edited in taskbot's worktree: where, what it found, how it is checked."""

    label: str
    work: Path
    branch: str  # taskbot's work branch
    base: str  # the branch its commit fast-forwards
    kustomize: tuple[str, ...]
    sec_lint: tuple[str, ...]
    scan: Scan


def _repos(ctx: Context) -> list[tuple[str, Path, str, tuple[str, ...]]]:
    """(label, clone, kind, kustomize dirs): each GitOps project, then the tasks repo."""
    repos = [(p.name, Path(p.path), "gitops", p.settings(GitOpsKeys).kustomize)
             for p in gitops_projects(ctx)]
    repos.append(("tasks", Path(ctx.config.repo.path), "docs", ()))
    return repos


def checkouts_of(ctx: Context, s: RegistryIpSettings) -> tuple[list[Checkout], list[str], list[str]]:
    """Each repository checked out in taskbot's worktree and scanned, nothing written yet;
    with the problems (a repository that could not be checked out) and notes (skipped)."""
    checkouts: list[Checkout] = []
    problems: list[str] = []
    notes: list[str] = []
    for label, clone, kind, dirs in _repos(ctx):
        if not (clone / ".git").exists() and not (clone / "HEAD").is_file():
            notes.append(f"{label}: {clone} is not a git repository: skipped")
            continue
        project = next((p for p in ctx.config.projects.values() if p.name == label), None)
        base = project.branch if project is not None else ctx.config.repo.branch
        branch = f"taskbot/{ctx.task_id}-registry-ip"
        try:
            work = api.prepare_worktree(clone, Path(ctx.config.repo.state_dir), branch, base,
                                        ctx.memory)
            scan = gitops_edits(work, label, s) if kind == "gitops" else doc_edits(work, label, s)
        except TaskbotError as exc:
            problems.append(f"{label}: {exc}")
            continue
        linked = linked_dir(work, dirs)
        if linked:
            scan = scan._replace(refused=(*scan.refused, f"{label}: {linked}"))
        checkouts.append(Checkout(label, work, branch, base, tuple(dirs),
                                  project.settings(GitOpsKeys).sec_lint if project is not None else (), scan))
    return checkouts, problems, notes


def commit_checkout(ctx: Context, s: RegistryIpSettings, c: Checkout
                 ) -> tuple[list[api.CommandRecord], list[FileChange], list[str], list[str]]:
    """Write a checkout's edits, validate, commit and integrate them."""
    if not c.scan.edits:
        return [], [], [f"{c.label}: nothing names {s.old_host}"], []
    for edit in c.scan.edits:
        api.write_inside(c.work, edit.path, edit.after)
    evidence = [line for e in c.scan.edits for line in e.lines()]
    records, failure = validate(ctx, str(c.work), c.kustomize, c.sec_lint)
    if failure:
        for edit in c.scan.edits:
            api.write_inside(c.work, edit.path, edit.before)
        return list(records), [], evidence, [f"{c.label}: validation failed, nothing committed: "
                                             f"{failure}"]
    message = api.gitops_commit_message(f"taskbot({ctx.task_id}): registry {s.old} → {s.new}",
                                    [f"- {line}" for line in evidence],
                                    {"Task-Id": ctx.task_id, "Taskbot-Run": ctx.run_id})
    paths = [e.path for e in c.scan.edits]
    sha = api.commit_worktree(c.work, message, ctx.config.identity, paths, ctx.memory)
    if sha is None:  # the edits did not reach git: nothing changed there, whatever was written
        return list(records), [], evidence, [f"{c.label}: edited {', '.join(paths)}, but git "
                                             "found nothing to commit"]
    result = api.push_ff(c.work, c.branch, c.base)
    changes = [FileChange(c.label, e.path, f"registry {s.old} → {s.new}") for e in c.scan.edits]
    return list(records), changes, [*evidence, f"{c.label}: commit {sha}: {result}"], []
