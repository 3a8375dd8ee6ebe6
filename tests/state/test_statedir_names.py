"""Only bot/state/statedir.py names what the state dir holds: no other module under bot/ spells
a state file or folder (docstrings and comments may mention one; code may not)."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from bot.state import statedir

BOT = Path(statedir.__file__).parent


def _names() -> tuple[set[str], set[str]]:
    """(file names: distinctive anywhere in a string; folder names: only joined to a path)."""
    values = {v for k, v in vars(statedir).items()
              if k.isupper() and isinstance(v, str) and not k.endswith("_MODE")}
    values |= set(statedir.SPOOL_SUBDIRS)
    files = {v for v in values if "." in v.strip(".") or "-" in v}
    return files, values - files


def _docstrings(tree: ast.AST) -> set[int]:
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)}


def _spelled(path: Path, where: Path, files: set[str], folders: set[str]) -> Iterator[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _docstrings(tree)
    named = re.compile(r"(?<![\w.-])((" + "|".join(map(re.escape, sorted(files)))
                       + r")(?![\w-])|journal\.)")  # journal.<why>-<stamp>.json too
    for node in ast.walk(tree):
        text = node.value if isinstance(node, ast.Constant) and id(node) not in skip else None
        if isinstance(text, str) and (found := named.search(text)):
            yield f"{where}:{node.lineno}: {found.group(0)!r}"
        if (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
                and isinstance(node.right, ast.Constant) and node.right.value in folders):
            yield f"{where}:{node.lineno}: / {node.right.value!r}"


def spelled(root: Path) -> list[str]:
    """Every place under `root` (but statedir.py) that spells a state-dir name."""
    files, folders = _names()
    return [hit for path in sorted(root.rglob("*.py")) if path.name != "statedir.py"
            for hit in _spelled(path, path.relative_to(root.parent), files, folders)]


def test_registry_names_the_state_files() -> None:
    files, folders = _names()
    assert {"journal.json", "waiting.json", "status.json", "daemon.pid", "watch.json",
            "tip.json", "unlanded.json", "own-commits", "verified-signatures",
            "stalled.json", "dashboard-rows.bin", "dashboard-rows.log", "daemon.lock",
            "webhook-deliveries"} <= files
    assert {"reports", "outbox", "queue", "tmp", "failed", "clones", "worktrees"} <= folders


def test_no_module_but_statedir_spells_a_state_dir_name() -> None:
    assert spelled(BOT) == []
