"""`helmrelease`: bump an app's image tag (and chart version) in the GitOps repo, validated.

In every HelmRelease document of the project's `helmrelease` file it sets the `tag` of
each `{repository, tag}` mapping under `spec.values` whose repository ends with one of
the app's images (else `spec.values.image.tag`), and `spec.chart.spec.version` when
`chart` is given — through `bot.yamledit`, so only those scalars' bytes change
(`handlers/_bump.py`).

The images must be in the registry first. The edit happens in taskbot's own worktree of
the operator's clone, on `taskbot/<TASK-ID>` based on the remote branch; every
`kustomize` dir and `sec_lint` must pass before anything is committed; the commit is
fast-forward pushed to the clone's `origin`. With `[cluster]`, Flux is asked to
reconcile and the rollout is awaited (`handlers/_rollout.py`); a failed release is rolled
back (`handlers/_gate.py`). It opens a gate (`bot.run.gate`): the `verify` criteria after
it in its group are its last step, and when one fails `undo` rolls the release back.

The file is read and written through `bot.safepath`: a symlink as the file or along its
path, or a kustomize dir under one, blocks the criterion and nothing is written. An edit
git finds nothing to commit for has failed (nothing reached origin, so no rollout is
awaited); a file that already had the version is done without a commit, and the
rollout is still awaited.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

from bot import api
from bot.api import (
    Context,
    FileChange,
    Handler,
    Outcome,
    ParamError,
    Status,
    Step,
    TaskbotError,
    registry_client,
    reject_unknown,
    require_project,
    validate_version,
)
from handlers._bump import Bump, Release, bump, bump_message, describe, repository_matches
from handlers._gate import Target, bump_changes, charted, gate_plan, old_version, roll_back
from handlers._history import Past, past
from handlers._hrrules import NO_VERSION, RULES
from handlers._kube import check_context
from handlers._kustomize import linked_dir, relative_dir, validate, validation_commands
from handlers._project import GitOpsKeys, ImageKeys
from handlers._registry import check_images, registry_diagnosis
from handlers._rollout import wait_rollout

# `bump` and `repository_matches` are the handler's tested face (tests/handlers/test_handler_helmrelease.py)
__all__ = ["HANDLER", "bump", "repository_matches"]

_APP_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


class HelmReleaseSettings(NamedTuple):
    app: str
    version: str
    chart: str
    project: str
    clone: str
    file: str
    branch: str
    images: tuple[str, ...]
    kustomize: tuple[str, ...]
    sec_lint: tuple[str, ...]


class HelmReleaseHandler:
    name = "helmrelease"
    project_settings = GitOpsKeys
    params = ("app", "version", "chart", "project")
    gate_followers = ("verify",)  # the checks after the bump in its group: the gate's last step
    inherits_from = ("app",)  # the version of the app's build above
    rules = RULES

    def settings(self, params: Mapping[str, str], ctx: Context) -> HelmReleaseSettings:
        reject_unknown(self.name, params, self.params)
        if "app" not in params:
            raise ParamError("helmrelease: needs app=NAME and version=VERSION")
        if "version" not in params:
            raise ParamError(NO_VERSION.format(app=params["app"]))
        app = params["app"]
        if not _APP_RE.fullmatch(app):
            raise ParamError(f"helmrelease: app {app!r} is not a valid name")
        if "project" in params:
            project = require_project(ctx.config, params["project"])
        else:
            candidates = [p for p in ctx.config.projects.values()
                          if p.settings(GitOpsKeys).helmrelease]
            if len(candidates) != 1:
                raise ParamError("helmrelease: name the GitOps project with project=NAME "
                                 f"({len(candidates)} projects set helmrelease)")
            project = candidates[0]
        keys = project.settings(GitOpsKeys)
        if not keys.helmrelease:
            raise ParamError(f"helmrelease: project {project.name!r} has no helmrelease file "
                             'pattern (set projects.NAME.helmrelease = "apps/{app}/helmrelease.yaml")')
        file = relative_dir(keys.helmrelease.replace("{app}", app.lower()), "helmrelease file")
        try:
            images = require_project(ctx.config, app).settings(ImageKeys).images
        except ParamError:
            images = ()
        chart = validate_version(params["chart"], "chart") if params.get("chart") else ""
        return HelmReleaseSettings(
            app=app, version=validate_version(params["version"]), chart=chart,
            project=project.name, clone=project.path, file=file, branch=project.branch,
            images=images, kustomize=tuple(relative_dir(d, "kustomize dir") for d in keys.kustomize),
            sec_lint=keys.sec_lint)

    def plan(self, s: HelmReleaseSettings, ctx: Context) -> Step:
        where = f"{ctx.config.repo.state_dir}/worktrees (branch taskbot/{ctx.task_id})"
        pre = [f"registry has {i}:{s.version}" for i in s.images]
        pre.append(f"GitOps clone {s.clone} is a git repository with branch {s.branch}")
        if ctx.config.cluster is not None and ctx.config.cluster.context:
            pre.append(f"kubectl context is {ctx.config.cluster.context}")
        pre.append(f"then commit on taskbot/{ctx.task_id} and fast-forward origin {s.branch}")
        return Step(commands=validation_commands(s.kustomize, s.sec_lint), cwd=where,
                    files=(f"{s.project}: {s.file} (image tag → {s.version}"
                           + (f", chart → {s.chart}" if s.chart else "") + ")",),
                    preconditions=tuple(pre), then=gate_plan(ctx, s.version),
                    inputs=(f"{s.project}:{s.file}@{_blob(s)}",))

    def run(self, s: HelmReleaseSettings, ctx: Context) -> Outcome:
        try:
            return _Run(s, ctx).go()
        except _Stop as stop:
            return stop.outcome

    def undo(self, s: HelmReleaseSettings, ctx: Context, outcome: Outcome,
             reason: str) -> Outcome:
        """A gated verify failed after the rollout: this run's bump rolled back, as a failed
        rollout's is; idempotent (a rollback on the branch is waited for, not made again)."""
        if ctx.config.cluster is None:
            return outcome  # nothing was rolled out: no gate to undo
        try:
            return _Run(s, ctx, outcome).undo(reason)
        except _Stop as stop:
            return replace(stop.outcome, status=Status.FAILED, final=True,
                           reason=f"{reason}; not rolled back: {stop.outcome.reason}")


def _blob(s: HelmReleaseSettings) -> str:
    """The GitOps file's blob on origin's branch (else the local one): approvals name it."""
    for rev in (f"refs/remotes/origin/{s.branch}", f"refs/heads/{s.branch}"):
        with contextlib.suppress(Exception):  # no repository, branch or file: pygit2's errors
            return str(api.open_repo(s.clone).revparse_single(f"{rev}:{s.file}").id)
    return "missing"


class _Stop(Exception):
    """Ends an attempt early with its outcome."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


class _Run:
    """One attempt: each step either returns or raises _Stop with the outcome so far."""

    def __init__(self, s: HelmReleaseSettings, ctx: Context, before: Outcome | None = None
                 ) -> None:
        self.s = s
        self.ctx = ctx
        self.before = before or Outcome(Status.DONE)
        # an undo goes on from the gate's outcome: its commands and evidence are kept
        self.commands: list[api.CommandRecord] = list(before.commands if before else ())
        self.evidence: list[str] = list(before.evidence if before else ())
        self.changes: tuple[FileChange, ...] = before.changes if before else ()
        self.digests: dict[str, str] = {}
        self.summary = before.summary if before else ""
        self.past = Past()

    def outcome(self, status: Status, reason: str = "", diagnosis: tuple[str, ...] = (),
                final: bool = False) -> Outcome:
        return Outcome(status, reason, commands=tuple(self.commands), changes=self.changes,
                       evidence=tuple(self.evidence), diagnosis=diagnosis, summary=self.summary,
                       final=final)

    def stop(self, status: Status, reason: str, diagnosis: tuple[str, ...] = ()) -> _Stop:
        return _Stop(self.outcome(status, reason, diagnosis))

    def go(self) -> Outcome:
        s, ctx = self.s, self.ctx
        self.preconditions()
        work = self.worktree()
        linked = linked_dir(work, s.kustomize)
        if linked:
            raise self.stop(Status.BLOCKED, f"{s.project}: {linked}")
        original, result = self.edit(work)
        self.past = past(work, s.branch, ctx)
        if self.past.revert:  # rolled back before a restart: never bumped again
            return self.rolled_back(result.releases, self.past.revert,
                                    bump_changes(work, self.target(), self.past.bump),
                                    self.past.reason)
        if not result.changes:
            # a person (or an earlier run) already did it: done, nothing to commit
            self.evidence.append(f"{s.file} already sets {s.version}: nothing to commit")
            self.summary = f"{s.app} already at {s.version} in {s.file}: nothing to commit"
            landed = self.past.bump  # this run's, before a restart: still the gate's to judge
            return self.rollout(result.releases, landed,
                                bump_changes(work, self.target(), landed) if landed else ())
        self.write(work, result.text.encode("utf-8"))
        records, failure = validate(ctx, str(work), s.kustomize, s.sec_lint)
        self.commands.extend(records)
        if failure:
            self.write(work, original)
            raise self.stop(Status.FAILED, f"validation failed, nothing committed: {failure}")
        checks = [f"kustomize {d} ok" for d in s.kustomize] + (["sec_lint ok"] if s.sec_lint else [])
        self.summary = "; ".join([f"{s.app} {describe(result.changes)} in {s.file}", *checks])
        sha, pushed = self.commit(work, result.changes)
        if not pushed.startswith("pushed"):
            return self.outcome(Status.DONE, f"{pushed}; the cluster is not updated until it "
                                "is merged")
        return self.rollout(result.releases, sha, result.changes)

    def target(self) -> Target:
        s = self.s
        return Target(s.clone, s.branch, s.file, s.app, s.images, s.version, s.chart)

    def preconditions(self) -> None:
        clone = Path(self.s.clone)
        if not (clone / ".git").exists() and not (clone / "HEAD").is_file():
            raise self.stop(Status.BLOCKED, f"GitOps clone {clone} is not a git repository")
        if self.ctx.config.cluster is not None:
            record, why = check_context(self.ctx)
            self.commands.extend([record] if record else [])
            if why:
                raise self.stop(Status.BLOCKED, why)
        self.digests = _images_present(self.s, self.ctx)
        self.evidence.extend(f"registry has {i}:{self.s.version} {d}"
                             for i, d in self.digests.items())

    def worktree(self) -> Path:
        try:
            return api.prepare_worktree(Path(self.s.clone), Path(self.ctx.config.repo.state_dir),
                                        f"taskbot/{self.ctx.task_id}", self.s.branch,
                                        self.ctx.memory)
        except TaskbotError as exc:
            raise self.stop(Status.BLOCKED, f"GitOps clone {self.s.clone}: {exc}") from exc

    def edit(self, work: Path) -> tuple[bytes, Bump]:
        s = self.s
        try:
            original = api.read_inside(work, s.file)
        except api.UnsafePath as exc:
            raise self.stop(Status.BLOCKED, f"{s.project}: {exc}") from exc
        except OSError as exc:
            raise self.stop(Status.BLOCKED, f"{s.file} not found in {s.project} (branch "
                            f"{s.branch}): {exc.strerror or exc}") from exc
        try:
            result = bump(original.decode("utf-8"), s.file, s.images, s.version, s.chart,
                          self.digests)
        except UnicodeDecodeError as exc:
            raise self.stop(Status.BLOCKED, f"{s.file}: not UTF-8 text") from exc
        except api.YamlEditError as exc:
            raise self.stop(Status.BLOCKED, f"refused: {exc}") from exc
        self.evidence.extend(f"{s.file}:{c.line}: {c.label}: {c.old} → {c.new}"
                             + (" (quoted: plain would change its type)" if c.quoted else "")
                             for c in result.changes)
        return original, result

    def write(self, work: Path, data: bytes) -> None:
        try:
            api.write_inside(work, self.s.file, data)
        except api.UnsafePath as exc:
            raise self.stop(Status.BLOCKED, f"{self.s.project}: {exc}") from exc
        except OSError as exc:
            raise self.stop(Status.FAILED, f"{self.s.project}: {self.s.file}: cannot write: "
                            f"{exc.strerror or exc}") from exc

    def commit(self, work: Path, changes: Sequence[api.ScalarChange]) -> tuple[str, str]:
        s, ctx = self.s, self.ctx
        what = describe(changes)
        branch = f"taskbot/{ctx.task_id}"
        try:
            sha = api.commit_worktree(work, bump_message(ctx, s.app, s.file, what, changes),
                                      ctx.config.identity, [s.file], ctx.memory)
            if sha is None:
                # the edit did not reach git (a clean filter undid it, a link…): not done
                self.summary = ""
                raise self.stop(Status.FAILED, f"{s.project}: {s.file}: edited ({what}), but "
                                "git found nothing to commit: nothing pushed")
            self.changes = (FileChange(s.project, s.file, what),)
            pushed = api.push_ff(work, branch, s.branch)
        except TaskbotError as exc:
            raise self.stop(Status.FAILED, f"git: {exc}") from exc
        self.evidence.append(f"commit {sha} on {branch} in {s.project}: {pushed}")
        return sha, pushed

    def rollout(self, releases: Sequence[Release], bump_sha: str = "",
                changes: Sequence[api.ScalarChange] = ()) -> Outcome:
        """The gate: the rollout awaited; a failed release of this run's bump rolled back."""
        if self.ctx.config.cluster is None:
            return self.outcome(Status.DONE)
        verdict = wait_rollout(self.ctx, releases, self.s.images, self.s.version,
                               chart_changed=charted(changes))
        self.commands.extend(verdict.records)
        self.evidence.extend(verdict.seen)
        if not verdict.problems:
            return self.outcome(Status.DONE)
        reason = "; ".join(verdict.problems)
        if not bump_sha or not changes or self.ctx.config.release.on_failure != "revert":
            return self.outcome(Status.FAILED, f"committed, but the rollout did not finish: {reason}")
        return self.revert(releases, bump_sha, changes, reason)

    def undo(self, reason: str) -> Outcome:
        """After a gated verify failed: the bump of this run on the branch rolled back."""
        s = self.s
        work = self.worktree()
        releases = self.releases(work)
        self.past = past(work, s.branch, self.ctx)
        if self.past.revert:  # rolled back before a restart: waited for, never made again
            return self.rolled_back(releases, self.past.revert,
                                    bump_changes(work, self.target(), self.past.bump),
                                    self.past.reason or reason)
        if not self.past.bump and self.changes:
            return self.before  # committed but not pushed: nothing was rolled out
        changes = bump_changes(work, self.target(), self.past.bump) if self.past.bump else ()
        if not changes:
            why = (f"the bump {self.past.bump[:7]} cannot be read back" if self.past.bump
                   else f"this run made no bump on {s.branch}")
            return self.outcome(Status.FAILED, f"release failed: {reason}; not rolled back: "
                                f"{why}", final=True)
        if self.ctx.config.release.on_failure != "revert":
            return self.outcome(Status.FAILED, f"committed, but {reason}", final=True)
        return self.revert(releases, self.past.bump, changes, reason)

    def releases(self, work: Path) -> tuple[Release, ...]:
        """The HelmRelease documents of the file as the branch has it now."""
        try:
            text = api.read_inside(work, self.s.file).decode("utf-8")
            return bump(text, self.s.file, self.s.images, self.s.version, self.s.chart).releases
        except (api.UnsafePath, OSError, UnicodeDecodeError, api.YamlEditError) as exc:
            raise self.stop(Status.FAILED, f"{self.s.file}: {exc}") from exc

    def revert(self, releases: Sequence[Release], bump_sha: str,
               changes: Sequence[api.ScalarChange], reason: str) -> Outcome:
        """The failed release's rollback commit made and pushed, then the old version awaited."""
        rolled = roll_back(self.ctx, self.target(), bump_sha, changes, reason)
        if not rolled.commit or not rolled.pushed:
            where = f" (commit {rolled.commit})" if rolled.commit else ""
            return self.outcome(Status.FAILED, f"release failed: {reason}; not rolled back"
                                f"{where}: {rolled.said}")
        return self.rolled_back(releases, rolled.commit, changes, reason)

    def rolled_back(self, releases: Sequence[Release], commit: str,
                    changes: Sequence[api.ScalarChange], reason: str) -> Outcome:
        """After the rollback commit: the old version awaited; the criterion has failed."""
        old = old_version(changes)
        self.evidence.append(f"rollback commit {commit} on {self.s.branch} in {self.s.project}")
        line = f"rolled back to {old or 'the version before'} ({commit[:7]}): {reason}"
        self.summary = line
        if self.ctx.config.cluster is None:
            return self.outcome(Status.FAILED, line, final=True)
        verdict = wait_rollout(self.ctx, releases, self.s.images, old,
                               chart_changed=charted(changes)) if old else None
        if verdict is not None:
            self.commands.extend(verdict.records)
            self.evidence.extend(verdict.seen)
        if verdict is None or verdict.problems:
            why = "; ".join(verdict.problems) if verdict is not None else "no version to wait for"
            return self.outcome(Status.FAILED, f"{line}; the old version is not Ready: {why}",
                                final=True)
        return self.outcome(Status.FAILED, f"{line}; {old} is Ready again", final=True)


def _images_present(s: HelmReleaseSettings, ctx: Context) -> dict[str, str]:
    """The digests of the app's images at `version`; raises _Stop when one is not there."""
    if not s.images:
        return {}
    client = registry_client(ctx.config)
    try:
        digests, missing, seen = check_images(client, s.images, s.version)
    except api.RegistryError as exc:
        wanted = ", ".join(f"{i}:{s.version}" for i in s.images)
        raise _Stop(Outcome(Status.BLOCKED, f"image {wanted} not confirmed in registry "
                            f"{client.host}: {exc}", diagnosis=(registry_diagnosis(client),))
                    ) from exc
    if missing:
        raise _Stop(Outcome(Status.BLOCKED, f"image missing from registry {client.host}: "
                            f"{', '.join(missing)}", evidence=tuple(seen)))
    return digests


HANDLER: Handler[HelmReleaseSettings] = HelmReleaseHandler()
