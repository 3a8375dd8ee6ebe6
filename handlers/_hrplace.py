"""Where a HelmRelease lives, read from the GitOps repository (issue 20).

"`ffl-backend` HelmRelease deploys successfully" names a release, not its namespace: the
namespace is the one its file in the GitOps clone declares (the project's `helmrelease`
pattern with `{app}` set to the name), never a guess from the name's first word.
"""

from __future__ import annotations

from bot import api
from bot.api import Config
from handlers._project import GitOpsKeys


def release_namespace(config: Config, name: str) -> str:
    """`metadata.namespace` of the HelmRelease `name` in a project's file, or "" when no
    project's file declares one (unreadable files count as not declaring: `plan` reads this)."""
    for project in config.projects.values():
        pattern = project.settings(GitOpsKeys).helmrelease
        if not pattern:
            continue
        found = _namespace_in(project.path, pattern.replace("{app}", name.lower()), name)
        if found:
            return found
    return ""


def _namespace_in(root: str, rel: str, name: str) -> str:
    try:
        doc = api.YamlFile.from_bytes(api.read_inside(root, rel), rel)
    except (api.TaskbotError, OSError):
        return ""
    for node in doc.documents:
        kind = api.yaml_scalar(node, "kind")
        if kind is None or kind.value != "HelmRelease":
            continue
        named = api.yaml_scalar(node, "metadata", "name")
        namespace = api.yaml_scalar(node, "metadata", "namespace")
        if named is not None and named.value == name and namespace is not None:
            return str(namespace.value)
    return ""
