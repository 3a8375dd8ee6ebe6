"""The bytes of a HelmRelease file with an app's image tags (and chart version) set.

In every HelmRelease document it sets the `tag` of each `{repository, tag}` mapping under
`spec.values` whose repository ends with one of the app's images (else
`spec.values.image.tag`), and `spec.chart.spec.version` when a chart version is given —
through the position-based YAML editor, so only those scalars' bytes change. A file it
cannot edit so raises `YamlEditError`; nothing is read or written here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import yaml

from bot import api


class Release(NamedTuple):
    name: str
    namespace: str
    release_name: str  # what Helm calls it: pods carry app.kubernetes.io/instance=<this>
    pods_namespace: str
    source: tuple[str, str, str] = ("", "", "")  # the chart's sourceRef: kind, name, namespace


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
    ref = ("spec", "chart", "spec", "sourceRef")
    source = tuple((api.yaml_scalar(doc, *ref, key) or yaml.ScalarNode("", "")).value
                   for key in ("kind", "name", "namespace"))
    kind, source_name, source_ns = source
    return Release(name, namespace, release, target or namespace,
                   (kind, source_name, source_ns or namespace))


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


def bump_message(ctx: api.Context, app: str, file: str, what: str,
                 changes: Sequence[api.ScalarChange]) -> str:
    """The bump commit's message: what changed, line by line, and the run's trailers."""
    return api.gitops_commit_message(
        f"taskbot({ctx.task_id}): {app} {what}",
        [f"- {file}:{c.line}: {c.label}: {c.old} → {c.new}" for c in changes],
        {"Task-Id": ctx.task_id, "Taskbot-Run": ctx.run_id})
