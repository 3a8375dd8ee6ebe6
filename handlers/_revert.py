"""The bytes of a HelmRelease file with a bump's scalars put back, and only those.

A rollback never resets or force-pushes: it is a new commit that sets back exactly the
scalars the bump changed, each found as the bump found it (the same HelmRelease, the same
`{repository, tag}` or chart version) and still holding the bump's value. When a person
changed one of them since, nothing is reverted: their edit wins, and the run says so.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import yaml

from bot import api
from handlers._bump import repository_matches

__all__ = ["Changed", "revert"]


class Changed(api.TaskbotError):
    """A scalar the bump set no longer holds the bump's value: a person edited it."""


def _targets(doc: api.YamlFile, images: Sequence[str]) -> Iterator[tuple[yaml.ScalarNode, str]]:
    """Every scalar a bump may set, labelled as `handlers._bump.bump` labels its changes."""
    for root in doc.documents:
        kind = api.yaml_scalar(root, "kind")
        if kind is None or kind.value != "HelmRelease":
            continue
        name = api.yaml_scalar(root, "metadata", "name")
        release = name.value if name is not None else "?"
        values = api.yaml_get(root, "spec", "values")
        for mapping in api.yaml_walk(values) if values is not None else []:
            repo, tag = api.yaml_scalar(mapping, "repository"), api.yaml_scalar(mapping, "tag")
            if repo is not None and tag is not None and repository_matches(repo.value, images):
                yield tag, f"HelmRelease {release}: image tag of {repo.value}"
        fallback = api.yaml_scalar(values, "image", "tag") if values is not None else None
        if fallback is not None:
            yield fallback, f"HelmRelease {release}: spec.values.image.tag"
        chart = api.yaml_scalar(root, "spec", "chart", "spec", "version")
        if chart is not None:
            yield chart, f"HelmRelease {release}: spec.chart.spec.version"


def revert(text: str, name: str, images: Sequence[str],
           changes: Sequence[api.ScalarChange]) -> tuple[str, tuple[api.ScalarChange, ...]]:
    """`text` with each change's scalar set back from `new` to `old`; raises `Changed` when
    one no longer holds `new`, `api.YamlEditError` when the file cannot be edited."""
    doc = api.YamlFile(text, name)
    targets = list(_targets(doc, images))
    taken: set[int] = set()
    edits: list[api.ScalarEdit] = []
    for change in changes:
        found = next((i for i, (node, label) in enumerate(targets) if i not in taken
                      and label == change.label and node.value == change.new), None)
        if found is None:
            now = next((node.value for node, label in targets if label == change.label), None)
            said = f"now {now}" if now is not None else "gone"
            raise Changed(f"{name}: {change.label} was changed since the bump set it to "
                          f"{change.new} ({said}): a person's edit is kept, nothing reverted")
        taken.add(found)
        edits.append(api.ScalarEdit(targets[found][0], change.old, change.label))
    new_text, done = api.edit_scalars(doc, edits)
    return new_text, tuple(done)
