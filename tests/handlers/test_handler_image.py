"""image: HEAD manifests with the digest as evidence; another registry named is blocked."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.api import Status
from bot.errors import ParamError
from handlers._registry import split_image
from handlers.image import HANDLER as IMAGE
from tests.kit.context import actions, make_ctx, registry_section
from tests.kit.registry import RegistryServer, push_image

pytest_plugins = ["tests.kit.plugin"]


@pytest.mark.integration
def test_image_check_through_the_default_rule(tmp_path: Path, registry: RegistryServer) -> None:
    push_image(registry, tmp_path, "img/api", "3.1.0")
    data = {"registry": registry_section(registry),
            "projects": {"img": {"path": str(tmp_path), "images": ["img/api", "img/web"]}}}
    ctx = make_ctx(data, tmp_path)
    _, push, elsewhere = actions(
        ctx, "Build all IMG containers with version 3.1.0",
        f"Push all IMG images to registry {registry.host}",
        "Push all IMG images to registry 192.168.7.21:5000")
    assert push.handler == "image" and push.params["version"] == "3.1.0"  # from the build criterion
    outcome = IMAGE.run(push.settings, ctx)
    assert outcome.status is Status.FAILED
    assert outcome.reason == f"not in registry {registry.host}: img/web:3.1.0"
    assert outcome.evidence[0].startswith(
        f"HEAD https://{registry.host}/v2/img/api/manifests/3.1.0 → 200 img/api:3.1.0 sha256:")
    assert "→ 404" in outcome.evidence[1]
    assert elsewhere.error == ("image: the criterion names registry 192.168.7.21:5000, but the "
                               f"configured registry is {registry.host}")
    one = IMAGE.settings({"image": f"{registry.host}/img/api:3.1.0"}, ctx)
    assert IMAGE.run(one, ctx).status is Status.DONE

    wrong = make_ctx({**data, "registry": registry_section(registry, password_file=str(
        tmp_path / "pw"))}, tmp_path)
    (tmp_path / "pw").write_text("wrong\n")
    outcome = IMAGE.run(IMAGE.settings({"image": "img/api:3.1.0"}, wrong), wrong)
    assert outcome.status is Status.BLOCKED and "credentials refused" in outcome.reason
    assert "wrong" not in outcome.reason


def test_image_parameters(tmp_path: Path) -> None:
    ctx = make_ctx({"registry": {"url": "reg.lan:5000"}}, tmp_path)
    assert split_image("reg.lan:5000/ffl/backend:1.2") == ("reg.lan:5000", "ffl/backend", "1.2")
    assert split_image("ffl/backend") == ("", "ffl/backend", "")
    for params, why in [({"image": "Bad/Name"}, "not an image name"),
                        ({"image": "other:5000/a/b:1"}, "configured registry is reg.lan:5000"),
                        ({"image": "a/b:1", "version": "2"}, "disagree"),
                        ({"image": "a/b"}, "needs version"),
                        ({}, "needs project=NAME or image=")]:
        with pytest.raises(ParamError, match=why):
            IMAGE.settings(params, ctx)
    none = make_ctx({}, tmp_path)
    with pytest.raises(ParamError, match="no \\[registry\\] url"):
        IMAGE.settings({"image": "a/b:1"}, none)
