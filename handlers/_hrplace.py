"""Where a HelmRelease lives, read from the GitOps repository (issue 20).

"`ffl-backend` HelmRelease deploys successfully" names a release, not its namespace: the
namespace is the one its file in the GitOps clone declares (the project's `helmrelease`
pattern with `{app}` set to the name), never a guess from the name's first word.
"""

from __future__ import annotations

from bot import api
from bot.api import Config
from handlers._project import GitOpsKeys


def release_namespace(config: Config, name: str, *, pods: bool = False) -> str:
    """`metadata.namespace` of the HelmRelease `name` in a project's file — with `pods`, its
    `spec.targetNamespace` first, where its workloads run — or "" when no project's file
    declares one (unreadable files count as not declaring: `plan` reads this)."""
    for project in config.projects.values():
        pattern = project.settings(GitOpsKeys).helmrelease
        if not pattern:
            continue
        own, target = _namespace_in(project.path, pattern.replace("{app}", name.lower()), name)
        found = (target or own) if pods else own
        if found:
            return found
    return ""


def _namespace_in(root: str, rel: str, name: str) -> tuple[str, str]:
    """(metadata.namespace, spec.targetNamespace) of the HelmRelease `name` in the file."""
    try:
        doc = api.YamlFile.from_bytes(api.read_inside(root, rel), rel)
    except (api.TaskbotError, OSError):
        return "", ""
    for node in doc.documents:
        kind = api.yaml_scalar(node, "kind")
        if kind is None or kind.value != "HelmRelease":
            continue
        named = api.yaml_scalar(node, "metadata", "name")
        if named is None or named.value != name:
            continue
        namespace = api.yaml_scalar(node, "metadata", "namespace")
        target = api.yaml_scalar(node, "spec", "targetNamespace")
        return (str(namespace.value) if namespace is not None else "",
                str(target.value) if target is not None else "")
    return "", ""
