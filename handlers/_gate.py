"""The release gate's rollback: a failed release's bump put back by a new commit.

`[release] on_failure = "revert"` (the default): the scalars the bump changed are set back
(`handlers._revert`) in taskbot's worktree of the GitOps clone, from the branch as it is
now, committed with `Task-Id`, `Taskbot-Run` and `Taskbot-Revert-Of: <bump>`, and pushed
fast-forward — never a reset, never a force-push. A person's edit of those lines since the
bump wins: nothing is reverted, and the run says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from bot import api
from handlers._bump import bump
from handlers._history import REVERT_TRAILER, file_at
from handlers._path import which
from handlers._revert import Changed, revert

__all__ = ["Rolled", "Target", "bump_changes", "charted", "gate_plan", "old_version", "roll_back"]


class Target(NamedTuple):
    """Where the release lives: the GitOps clone, its branch, the file and the app."""

    clone: str
    branch: str
    file: str
    app: str
    images: tuple[str, ...]
    version: str
    chart: str


class Rolled(NamedTuple):
    commit: str  # the rollback commit ('' when none was made)
    pushed: bool
    said: str  # why not, or what the push said


def gate_plan(ctx: api.Context, version: str) -> tuple[str, ...]:
    """What `plan` says the gate does after the push: the reconcile, the wait, the rollback."""
    cluster = ctx.config.cluster
    if cluster is None:
        return ("no [cluster]: no reconcile, no rollout wait, no rollback",)
    reconcile = ("flux reconcile helmrelease --with-source" if which("flux") else
                 "kubectl annotate --overwrite HelmRelease reconcile.fluxcd.io/requestedAt=<now>")
    timeout = f"{int(cluster.rollout_timeout)}s"
    policy = ("a new commit puts back exactly the scalars the bump changed (never a reset or a "
              "force-push; a person's edit of them since is kept), then the old version is "
              "awaited Ready" if ctx.config.release.on_failure == "revert" else
              "the bump is kept ([release] on_failure = \"keep\")")
    return (f"ask Flux to reconcile: {reconcile}",
            f"wait up to {timeout}: the HelmRelease Ready for its generation, its Deployments "
            f"and StatefulSets rolled out (updated = ready = available = desired), its pods "
            f"Ready on {version}",
            "failed when the HelmRelease turns Ready=False, a pod of the new version waits in "
            "CrashLoopBackOff, ImagePullBackOff, ErrImagePull or CreateContainerConfigError, "
            "or the time runs out",
            f"on failure: {policy}; the criterion fails, saying \"rolled back to <old> (<commit>)\"")


def bump_changes(work: Path, t: Target, bump_sha: str) -> tuple[api.ScalarChange, ...]:
    """The scalars a landed bump changed, as it changed them (its parent's file bumped again)."""
    before = file_at(work, f"{bump_sha}^", t.file)
    if before is None:
        return ()
    try:
        return bump(before, t.file, t.images, t.version, t.chart).changes
    except api.YamlEditError:
        return ()


def charted(changes: Sequence[api.ScalarChange]) -> bool:
    """Whether the change sets a chart version (its source is then reconciled first)."""
    return any(c.label.endswith("spec.chart.spec.version") for c in changes)


def old_version(changes: Sequence[api.ScalarChange]) -> str:
    """The version the app ran before the bump (its first image tag's, digest left off)."""
    tags = [c.old for c in changes if not c.label.endswith("spec.chart.spec.version")]
    return tags[0].split("@")[0] if tags else ""


def roll_back(ctx: api.Context, t: Target, bump_sha: str,
              changes: Sequence[api.ScalarChange], reason: str) -> Rolled:
    """Commit and push the rollback; never raises for what git or the remote say."""
    try:
        work = api.prepare_worktree(Path(t.clone), Path(ctx.config.repo.state_dir),
                                    f"taskbot/{ctx.task_id}", t.branch, ctx.memory)
        text = api.read_inside(work, t.file).decode("utf-8")
        new_text, done = revert(text, t.file, t.images, changes)
        api.write_inside(work, t.file, new_text.encode("utf-8"))
        sha = api.commit_worktree(work, _message(ctx, t, bump_sha, done, reason),
                                  ctx.config.identity, [t.file], ctx.memory)
        if sha is None:
            return Rolled("", False, "the rollback changed nothing git would commit")
        pushed = api.push_ff(work, f"taskbot/{ctx.task_id}", t.branch)
    except Changed as exc:
        return Rolled("", False, str(exc))
    except (api.TaskbotError, api.YamlEditError, OSError, UnicodeDecodeError) as exc:
        return Rolled("", False, f"rollback failed: {exc}")
    return Rolled(sha, pushed.startswith("pushed"), pushed)


def _message(ctx: api.Context, t: Target, bump_sha: str,
             changes: Sequence[api.ScalarChange], reason: str) -> str:
    back_to = old_version([api.ScalarChange(c.line, c.label, c.new, c.old) for c in changes])
    return api.gitops_commit_message(
        f"taskbot({ctx.task_id}): roll back {t.app} to {back_to or 'the version before'}",
        [f"- {t.file}:{c.line}: {c.label}: {c.old} → {c.new}" for c in changes]
        + [f"release failed: {reason}"],
        {"Task-Id": ctx.task_id, "Taskbot-Run": ctx.run_id, REVERT_TRAILER: bump_sha})
