"""One boolean parser for every handler parameter: bot.api.parse_bool, used by build (push)
and verify (insecure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.api import ParamError, parse_bool
from handlers.build import HANDLER as BUILD
from handlers.verify import HANDLER as VERIFY
from tests.kit.context import make_ctx


@pytest.mark.parametrize("word", ["true", "yes", "on", "1", "TRUE", "Yes", "On"])
def test_true_words(word: str) -> None:
    assert parse_bool(word, "push") is True


@pytest.mark.parametrize("word", ["false", "no", "off", "0", "FALSE", "No", "OFF"])
def test_false_words(word: str) -> None:
    assert parse_bool(word, "push") is False


@pytest.mark.parametrize("word", ["", "maybe", "2", "y", "enabled", " true"])
def test_anything_else_names_the_parameter(word: str) -> None:
    with pytest.raises(ParamError, match=r"^insecure must be true or false, not "):
        parse_bool(word, "insecure")


def test_verify_reads_insecure_like_build_reads_push(tmp_path: Path) -> None:
    ctx = make_ctx({"registry": {"url": "192.168.7.21:5000"},
                    "projects": {"p": {"path": str(tmp_path), "build": ["./b.sh"]}}}, tmp_path)
    url = "https://example.invalid/"
    assert VERIFY.settings({"url": url, "insecure": "on"}, ctx).insecure is True
    assert VERIFY.settings({"url": url, "insecure": "Off"}, ctx).insecure is False
    assert VERIFY.settings({"url": url}, ctx).insecure is False
    with pytest.raises(ParamError, match="insecure must be true or false, not 'maybe'"):
        VERIFY.settings({"url": url, "insecure": "maybe"}, ctx)
    assert BUILD.settings({"project": "p", "version": "1", "push": "on"}, ctx).push is True
    assert BUILD.settings({"project": "p", "version": "1", "push": "off"}, ctx).push is False
