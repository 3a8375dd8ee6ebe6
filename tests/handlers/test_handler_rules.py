"""The default rules: every example in docs/handlers.md "Default rules" resolves as documented."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from bot.api import Context
from tests.kit.context import actions, make_ctx

README = Path(__file__).resolve().parents[2] / "docs" / "handlers.md"


def _examples() -> list[tuple[str, str, dict[str, str]]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Default rules\n", 1)[1].split("\n#", 1)[0]
    found = re.findall(r"^- (?P<criterion>.+)\n  → `(?P<action>[^`]+)`", section, re.MULTILINE)
    examples = []
    for criterion, action in found:
        words = shlex.split(action)
        examples.append((criterion, words[0], dict(w.split("=", 1) for w in words[1:])))
    return examples


def _ctx(tmp_path: Path, rules: list[dict[str, object]] | None = None) -> Context:
    return make_ctx({
        "registry": {"url": "192.168.7.21:5000"},
        "projects": {"ffl": {"path": str(tmp_path), "images": ["ffl/backend", "ffl/frontend"],
                             "build": ["./scripts/build.sh", "--push", "all"]},
                     "beckerkube": {"path": str(tmp_path), "helmrelease": "apps/{app}/hr.yaml"}},
        "rules": rules or [],
    }, tmp_path)


def test_readme_examples_resolve_as_documented(tmp_path: Path) -> None:
    examples = _examples()
    assert {handler for _, handler, _ in examples} == {
        "build", "image", "helmrelease", "verify", "registry-ip", "reconcile"}
    resolved = actions(_ctx(tmp_path), *(c for c, _, _ in examples))
    for (criterion, handler, params), action in zip(examples, resolved, strict=True):
        assert action.source == "default rule", criterion
        assert action.handler == handler, criterion
        assert not action.error, (criterion, action.error)
        assert {k: action.params[k] for k in params} == params, criterion
    push = resolved[1]
    assert push.params["version"] == "0.1.18"  # inherited from the build criterion (same project)


@pytest.mark.parametrize("criterion", [
    "Run `rm -rf /tmp/x` on the build host",
    "Verify images in registry somehow",
    "Build all FFL containers",  # no version: not the phrasing
])
def test_other_phrasing_is_manual(tmp_path: Path, criterion: str) -> None:
    (action,) = actions(_ctx(tmp_path), criterion)
    assert action.manual


def test_configured_rules_come_first(tmp_path: Path) -> None:
    ctx = _ctx(tmp_path, [{"match": "(?i)^build all (?P<project>\\w+) containers",
                           "handler": "kustomize"}])
    (action,) = actions(ctx, "Build all FFL containers with version 0.1.18")
    assert (action.handler, action.source) == ("kustomize", "rule 1")


def test_wrong_registry_in_the_text_is_refused_with_the_reason(tmp_path: Path) -> None:
    push, verify = actions(_ctx(tmp_path), "Push all FFL images to registry 10.1.1.1:5000",
                           "Verify all images are in registry catalog: "
                           "`curl -k https://10.1.1.1:5000/v2/_catalog`")
    for action in (push, verify):
        assert action.error.endswith("the criterion names registry 10.1.1.1:5000, but the "
                                     "configured registry is 192.168.7.21:5000")
