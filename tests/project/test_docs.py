"""The manual stays true: every relative link in README.md and docs/ resolves, and the
configuration reference names exactly the keys the configuration reader takes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot import config as configmod
from bot.plugin import plugins
from tests.kit.daemon import REPO_ROOT

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
_LINK_RE = re.compile(r"\]\(([^)\s]+)\)")
_CODE_RE = re.compile(r"```.*?```", re.S)
_KEY_RE = re.compile(r"^\| `([a-z_]+(?:\.NAME)?\.[a-z_]+)` \|", re.M)
_ANCHOR_RE = re.compile(r"^#{1,6} (.+)$", re.M)
SECTIONS = {"repo": configmod.RepoConfig, "identity": configmod.Identity,
            "trust": configmod.Trust, "notify": configmod.NotifyConfig,
            "limits": configmod.Limits, "registry": configmod.Registry,
            "cluster": configmod.Cluster, "webhook": configmod.WebhookConfig,
            "release": configmod.Release, "approval": configmod.Approval,
            "mcp": configmod.Mcp, "executor": configmod.Executor}


def _anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, blanks as dashes."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path) -> None:
    text = _CODE_RE.sub("", page.read_text())
    broken = []
    for target in _LINK_RE.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto: — not ours to check here
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.is_file():
            anchors = {_anchor(h) for h in _ANCHOR_RE.findall(_CODE_RE.sub("", dest.read_text()))}
            if anchor not in anchors:
                broken.append(target)
    assert not broken, f"{page.name}: {broken}"


def _code_keys() -> set[str]:
    keys = {f"{name}.{field}" for name, cls in SECTIONS.items() for field in cls._fields}
    keys |= {f"projects.NAME.{k}" for k in configmod._PROJECT_KEYS}  # the core's own
    for record in plugins.project_settings().values():  # and each handler's declaration
        keys |= {f"projects.NAME.{k}" for k in configmod._declared_fields(record)}
    keys |= {f"rules.{k}" for k in configmod._RULE_KEYS}
    return keys


def test_the_configuration_reference_and_the_code_name_the_same_keys() -> None:
    documented = set(_KEY_RE.findall((REPO_ROOT / "docs" / "configuration.md").read_text()))
    code = _code_keys()
    assert sorted(code - documented) == [], "keys the reader takes that the reference lacks"
    assert sorted(documented - code) == [], "keys the reference names that the reader refuses"
    tables = {k.split(".", 1)[0] for k in code}
    assert tables == set(configmod._TOP_KEYS)  # every table of the file has its keys here


def test_the_readme_stays_short() -> None:
    assert len((REPO_ROOT / "README.md").read_text().splitlines()) <= 250
