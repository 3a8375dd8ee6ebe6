"""`helmrelease`: bump an app's image tag (and chart version) in the GitOps repo, validated.

In every HelmRelease document of the project's `helmrelease` file it sets the `tag` of
each `{repository, tag}` mapping under `spec.values` whose repository ends with one of
the app's images (else `spec.values.image.tag`), and `spec.chart.spec.version` when
`chart` is given — through `bot.yamledit`, so only those scalars' bytes change.

The images must be in the registry first. The edit happens in taskbot's own worktree of
the operator's clone, on `taskbot/<TASK-ID>` based on the remote branch; every
`kustomize` dir and `sec_lint` must pass before anything is committed; the commit is
fast-forward pushed to the clone's `origin`. With `[cluster]`, Flux is asked to
reconcile (when `flux` is on PATH) and the rollout is awaited.

The file is read and written through `bot.safepath`: a symlink as the file or along its
path, or a kustomize dir under one, blocks the criterion and nothing is written. An edit
git finds nothing to commit for has failed (nothing reached origin, so no rollout is
awaited); a file that already had the version is done without a commit, and the
rollout is still awaited.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import yaml

from bot import api
from bot.api import (
    Context,
    DefaultRule,
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
from handlers._kube import check_context, check_helmrelease, check_pods
from handlers._kustomize import linked_dir, relative_dir, validate, validation_commands
from handlers._path import which
from handlers._project import GitOpsKeys, ImageKeys
from handlers._registry import check_images, registry_diagnosis

_APP_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
POLL_INTERVAL = 2.0


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


class Release(NamedTuple):
    name: str
    namespace: str
    release_name: str  # what Helm calls it: pods carry app.kubernetes.io/instance=<this>
    pods_namespace: str


class Bump(NamedTuple):
    text: str
    changes: tuple[api.ScalarChange, ...]
    releases: tuple[Release, ...]


def repository_matches(repository: str, images: Sequence[str]) -> bool:
    repo = repository.strip().lower()
    return any(repo == i.lower() or repo.endswith("/" + i.lower()) for i in images)


def new_tag(old: str, version: str, digest: str = "") -> str:
    """`version`, pinned to `digest` when the old tag was digest-pinned and a digest is known."""
    if "@sha256:" in old and digest.startswith("sha256:"):
        return f"{version}@{digest}"
    return version


def _release(doc: yaml.Node) -> Release:
    name = (api.yaml_scalar(doc, "metadata", "name") or yaml.ScalarNode("", "?")).value
    namespace = (api.yaml_scalar(doc, "metadata", "namespace") or yaml.ScalarNode("", "")).value
    target = (api.yaml_scalar(doc, "spec", "targetNamespace") or yaml.ScalarNode("", "")).value
    explicit = (api.yaml_scalar(doc, "spec", "releaseName") or yaml.ScalarNode("", "")).value
    release = explicit or (f"{target}-{name}" if target else name)
    return Release(name, namespace, release, target or namespace)


def _tag_edits(values: yaml.Node | None, images: Sequence[str], version: str,
               digests: Mapping[str, str], release: str) -> list[api.ScalarEdit]:
    """Each matching `{repository, tag}` under spec.values, else spec.values.image.tag."""
    edits: list[api.ScalarEdit] = []
    for mapping in api.yaml_walk(values) if values is not None else []:
        repo, tag = api.yaml_scalar(mapping, "repository"), api.yaml_scalar(mapping, "tag")
        if repo is None or tag is None or not repository_matches(repo.value, images):
            continue
        digest = next((d for i, d in digests.items() if repository_matches(repo.value, [i])), "")
        edits.append(api.ScalarEdit(tag, new_tag(tag.value, version, digest),
                                f"HelmRelease {release}: image tag of {repo.value}"))
    fallback = api.yaml_scalar(values, "image", "tag")
    if not edits and fallback is not None and (
            not images or api.yaml_get(values, "image", "repository") is None):
        digest = next(iter(digests.values())) if len(digests) == 1 else ""
        edits.append(api.ScalarEdit(fallback, new_tag(fallback.value, version, digest),
                                f"HelmRelease {release}: spec.values.image.tag"))
    return edits


def bump(text: str, name: str, images: Sequence[str], version: str | None, chart: str = "",
         digests: Mapping[str, str] | None = None) -> Bump:
    """The file's text with the app's image tags (and chart version) set; raises api.YamlEditError.

    `version=None` leaves image tags alone (a chart-only bump).
    """
    doc = api.YamlFile(text, name)
    digests = digests or {}
    edits: list[api.ScalarEdit] = []
    releases: list[Release] = []
    charts_found = tags_found = 0
    for root in doc.documents:
        kind = api.yaml_scalar(root, "kind")
        if kind is None or kind.value != "HelmRelease":
            continue
        releases.append(_release(root))
        release = releases[-1].name
        if version is not None:
            tags = _tag_edits(api.yaml_get(root, "spec", "values"), images, version, digests, release)
            tags_found += len(tags)
            edits.extend(tags)
        if chart:
            node = api.yaml_scalar(root, "spec", "chart", "spec", "version")
            if node is not None:
                charts_found += 1
                edits.append(api.ScalarEdit(node, chart,
                                        f"HelmRelease {release}: spec.chart.spec.version"))
    if not releases:
        raise api.YamlEditError(f"{name}: no HelmRelease document in this file")
    if version is not None and not tags_found:
        wanted = ", ".join(images) or "(no images configured)"
        raise api.YamlEditError(f"{name}: no image tag to set: no {{repository, tag}} under spec.values "
                            f"whose repository ends with {wanted}, and no spec.values.image.tag")
    if chart and not charts_found:
        raise api.YamlEditError(f"{name}: chart={chart} given, but no spec.chart.spec.version found")
    new_text, changes = api.edit_scalars(doc, edits)
    return Bump(new_text, changes, tuple(releases))


def describe(changes: Sequence[api.ScalarChange]) -> str:
    """`image tag 0.1.17 → 0.1.18, chart 1.2.0 → 1.3.0` (each distinct change once)."""
    parts: list[str] = []
    for c in changes:
        what = "chart" if c.label.endswith("spec.chart.spec.version") else "image tag"
        text = f"{what} {c.old} → {c.new}"
        if text not in parts:
            parts.append(text)
    return ", ".join(parts)


class HelmReleaseHandler:
    name = "helmrelease"
    project_settings = GitOpsKeys
    params = ("app", "version", "chart", "project")
    rules = (
        DefaultRule(r"(?i)^update (?P<app>[\w.-]+) helm ?release in (?P<project>[\w-]+) to "
                    r"(?:version )?(?P<version>[A-Za-z0-9._+-]+?)\.?$"),
    )

    def settings(self, params: Mapping[str, str], ctx: Context) -> HelmReleaseSettings:
        reject_unknown(self.name, params, self.params)
        if "app" not in params or "version" not in params:
            raise ParamError("helmrelease: needs app=NAME and version=VERSION")
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
                    preconditions=tuple(pre))

    def run(self, s: HelmReleaseSettings, ctx: Context) -> Outcome:
        try:
            return _Run(s, ctx).go()
        except _Stop as stop:
            return stop.outcome


class _Stop(Exception):
    """Ends an attempt early with its outcome."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


class _Run:
    """One attempt: each step either returns or raises _Stop with the outcome so far."""

    def __init__(self, s: HelmReleaseSettings, ctx: Context) -> None:
        self.s = s
        self.ctx = ctx
        self.commands: list[api.CommandRecord] = []
        self.evidence: list[str] = []
        self.changes: tuple[FileChange, ...] = ()
        self.digests: dict[str, str] = {}
        self.summary = ""

    def outcome(self, status: Status, reason: str = "", diagnosis: tuple[str, ...] = ()) -> Outcome:
        return Outcome(status, reason, commands=tuple(self.commands), changes=self.changes,
                       evidence=tuple(self.evidence), diagnosis=diagnosis, summary=self.summary)

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
        if not result.changes:
            # a person (or an earlier run) already did it: done, nothing to commit
            self.evidence.append(f"{s.file} already sets {s.version}: nothing to commit")
            self.summary = f"{s.app} already at {s.version} in {s.file}: nothing to commit"
            return self.rollout(result.releases)
        self.write(work, result.text.encode("utf-8"))
        records, failure = validate(ctx, str(work), s.kustomize, s.sec_lint)
        self.commands.extend(records)
        if failure:
            self.write(work, original)
            raise self.stop(Status.FAILED, f"validation failed, nothing committed: {failure}")
        checks = [f"kustomize {d} ok" for d in s.kustomize] + (["sec_lint ok"] if s.sec_lint else [])
        self.summary = "; ".join([f"{s.app} {describe(result.changes)} in {s.file}", *checks])
        pushed = self.commit(work, result.changes)
        if not pushed.startswith("pushed"):
            return self.outcome(Status.DONE, f"{pushed}; the cluster is not updated until it "
                                "is merged")
        return self.rollout(result.releases)

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
                                            f"taskbot/{self.ctx.task_id}", self.s.branch)
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

    def commit(self, work: Path, changes: Sequence[api.ScalarChange]) -> str:
        s, ctx = self.s, self.ctx
        what = describe(changes)
        branch = f"taskbot/{ctx.task_id}"
        try:
            sha = api.commit_worktree(work, _message(s, ctx, what, changes), ctx.config.identity,
                                 [s.file])
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
        return pushed

    def rollout(self, releases: Sequence[Release]) -> Outcome:
        if self.ctx.config.cluster is None:
            return self.outcome(Status.DONE)
        problems, records, seen = wait_rollout(self.ctx, releases, self.s.images, self.s.version)
        self.commands.extend(records)
        self.evidence.extend(seen)
        if problems:
            return self.outcome(Status.FAILED, "committed, but the rollout did not finish: "
                                + "; ".join(problems))
        return self.outcome(Status.DONE)


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


def _message(s: HelmReleaseSettings, ctx: Context, what: str,
             changes: Sequence[api.ScalarChange]) -> str:
    return api.gitops_commit_message(
        f"taskbot({ctx.task_id}): {s.app} {what}",
        [f"- {s.file}:{c.line}: {c.label}: {c.old} → {c.new}" for c in changes],
        {"Task-Id": ctx.task_id, "Taskbot-Run": ctx.run_id})


def wait_rollout(ctx: Context, releases: Sequence[Release], images: Sequence[str], version: str,
                 interval: float = POLL_INTERVAL) -> tuple[list[str], list[api.CommandRecord], list[str]]:
    """Reconcile with flux (when on PATH), then wait for Ready releases and pods on `version`."""
    cluster = ctx.config.cluster
    assert cluster is not None
    records: list[api.CommandRecord] = []
    if which("flux"):
        for r in releases:
            argv = ["flux", "reconcile", "helmrelease", r.name, "--with-source",
                    "--timeout", f"{int(cluster.rollout_timeout)}s"]
            argv += ["-n", r.namespace or cluster.namespace]
            argv += ["--kubeconfig", cluster.kubeconfig] if cluster.kubeconfig else []
            argv += ["--context", cluster.context] if cluster.context else []
            records.append(ctx.run(argv, ".", timeout=cluster.rollout_timeout + 30))
    deadline = time.monotonic() + cluster.rollout_timeout
    while True:
        problems, polled, seen = _rollout_state(ctx, releases, images, version)
        if not problems or time.monotonic() + interval > deadline:
            return problems, records + polled, seen
        time.sleep(interval)


def _rollout_state(ctx: Context, releases: Sequence[Release], images: Sequence[str],
                   version: str) -> tuple[list[str], list[api.CommandRecord], list[str]]:
    cluster = ctx.config.cluster
    assert cluster is not None
    problems: list[str] = []
    records: list[api.CommandRecord] = []
    seen: list[str] = []
    for r in releases:
        namespace = r.namespace or cluster.namespace
        record, ready, text = check_helmrelease(ctx, r.name, namespace)
        records.append(record)
        seen.append(text)
        if not ready:
            problems.append(text)
        pods_ns = r.pods_namespace or namespace
        record, pod_problems, pod_seen, pods = check_pods(
            ctx, pods_ns, f"app.kubernetes.io/instance={r.release_name}")
        if not pods and any(p.startswith("no pods") for p in pod_problems):
            # the chart does not label its pods with the release: look at the whole namespace
            record, pod_problems, pod_seen, pods = check_pods(ctx, pods_ns)
        records.append(record)
        seen.extend(pod_seen)
        problems.extend(pod_problems)
        for pod in pods:
            for image in pod.images:
                repo, _, tag = image.split("@")[0].rpartition(":")
                if "/" in tag or not repo:
                    continue
                if repository_matches(repo, images) and tag != version:
                    problems.append(f"pod {pod.name} still runs {image}")
    return problems, records, seen


HANDLER: Handler[HelmReleaseSettings] = HelmReleaseHandler()
