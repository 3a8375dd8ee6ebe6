"""bot.commands.sandbox.toml_text: what tomllib reads back is what was written."""

from __future__ import annotations

import tomllib
from pathlib import Path

from bot.commands.sandbox import toml_text


def test_round_trip_through_tomllib() -> None:
    odd = 'a "quoted" \\ path\twith\nnewline and \x7f'
    text = toml_text({
        "repo": {"path": Path("/srv/tasks.git"), "retries": 0, "ratio": 0.5, "on": True},
        "projects.demo": {"build": ["sh", "-c", "true"], "env": {"A B": odd, "C": 1},
                          "nested": [[1, 2], []]},
        "trust": {},
    }, comment="first line\nsecond line")
    assert text.startswith("# first line\n# second line\n[repo]\n")
    assert tomllib.loads(text) == {
        "repo": {"path": "/srv/tasks.git", "retries": 0, "ratio": 0.5, "on": True},
        "projects": {"demo": {"build": ["sh", "-c", "true"], "env": {"A B": odd, "C": 1},
                              "nested": [[1, 2], []]}},
        "trust": {},
    }


def test_a_table_reads_as_people_write_it() -> None:
    assert toml_text({"trust": {"anyone": True}, "limits": {"retries": 2}}) == (
        "[trust]\nanyone = true\n\n[limits]\nretries = 2\n")
