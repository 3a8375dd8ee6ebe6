"""Hostile task files: how long `taskbot.parse` (and the dependency read in it) takes.

For each shape an adversary can push (groups × dependencies, repeated annotation openers,
one long line of emphasis, brackets or backticks, many headings, deep nesting, many
criteria, many dependency lines, big or aliased frontmatter, CR/CRLF mixes, NUL bytes …)
two files are built: the worst one within taskbot's per-file limits
(`bot.taskfile.limits`), and one of 1 MiB. Each is parsed in a child process, timed
there; a child still running after `--kill` seconds is stopped and counted as that long.
Goals (issue 17): the worst file within the limits parses or is refused in ≤ 1 s, a
1 MiB file of any shape in ≤ 2 s. Exits 1 when a goal is missed.

    .venv/bin/python bench/hostile_parse.py [--smoke] [--only SHAPE] [--kill SECONDS]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from collections.abc import Callable

from bot.errors import TaskbotError
from bot.taskfile import parse

try:  # the limits as taskbot has them; the defaults let this bench time older code too
    from bot.taskfile import limits as _limits
except ImportError:  # pragma: no cover - older code
    _limits = None  # type: ignore[assignment]

MIB = 1 << 20
LIMIT_GOAL = 1.0
MIB_GOAL = 2.0
SMOKE_BYTES = 16 << 10


def _limit(name: str, default: int) -> int:
    return int(getattr(_limits, name, default))


_bounded = True  # False: the 1 MiB files, which ignore every limit but the bytes


def _n(limit: int) -> int | None:
    """`limit` for the worst file within the limits; no cap for the 1 MiB file."""
    return limit if _bounded else None


MAX_BYTES = MIB
MAX_LINES = _limit("MAX_LINES", 20_000)
MAX_HEADINGS = _limit("MAX_HEADINGS", 2_000)
MAX_GROUPS = _limit("MAX_GROUPS", 500)
MAX_CRITERIA = _limit("MAX_CRITERIA", 2_000)
MAX_DEPENDENCIES = _limit("MAX_DEPENDENCIES", 1_000)
MAX_DEPENDENCY_LINE = _limit("MAX_DEPENDENCY_LINE", 2_000)
MAX_FRONTMATTER_BYTES = _limit("MAX_FRONTMATTER_BYTES", 64 << 10)
MAX_INLINE_CHARS = _limit("MAX_INLINE_CHARS", 8_000)

AC = "# T\n\n## Acceptance Criteria\n"


def _fill(unit: Callable[[int], str], head: str, budget: int, count: int | None = None,
          tail: str = "") -> bytes:
    """`head`, then unit(0), unit(1) … while within `budget` bytes (and `count` units)."""
    parts = [head]
    size = len(head.encode()) + len(tail.encode())
    k = 0
    while count is None or k < count:
        piece = unit(k)
        n = len(piece.encode())
        if size + n > budget:
            break
        parts.append(piece)
        size += n
        k += 1
    parts.append(tail)
    return "".join(parts).encode()


def _line(prefix: str, unit: str, budget: int, suffix: str = "\n", max_len: int | None = None,
          head: str = AC) -> bytes:
    """`head`, then one line: `prefix`, `unit` repeated, `suffix`, within `budget` bytes
    (and `max_len` characters)."""
    room = budget - len(head.encode()) - len(prefix) - len(suffix) - 2
    if max_len is not None:
        room = min(room, max_len - len(prefix))
    return (head + prefix + unit * max(0, room // len(unit)) + suffix).encode()


def _pad(data: bytes, budget: int) -> bytes:
    """The worst file within the limits also uses the bytes and lines a shape leaves:
    prose lines, as long as the line limit lets them be."""
    if not _bounded:
        return data
    lines = MAX_LINES - len(re.findall(rb"\r\n|\r|\n", data)) - 2
    room = budget - len(data) - 2
    if lines <= 0 or room <= 0:
        return data
    width = max(1, min(room // lines, room) - 1)
    count = min(lines, room // (width + 1))
    return data + b"\n" + (b"w" * width + b"\n") * count


def groups_x_deps(budget: int) -> bytes:
    """MAX_GROUPS criteria groups, then MAX_DEPENDENCIES items each naming a group."""
    groups = min(MAX_GROUPS, MAX_HEADINGS - 4, MAX_CRITERIA) if _bounded else 4_000
    head = _fill(lambda k: f"### Group number {k}\n- [ ] check {k}\n", AC, budget // 3,
                 groups).decode()
    return _fill(lambda k: f"- DEP-{k} for Group number {k % groups} and its friends\n",
                 head + "\n## Dependencies\n", budget, _n(MAX_DEPENDENCIES))


def annotation_openers(budget: int) -> bytes:
    return _line("- [ ] ", "x <!--taskbot:", budget)


def annotation_openers_closed(budget: int) -> bytes:
    return _line("- [ ] ", "x <!--taskbot:", budget, suffix=" -->\n", max_len=_inline())


def emphasis_line(budget: int) -> bytes:
    return _line("- [ ] ", "*a_", budget, suffix=" <!-- taskbot: x -->\n", max_len=_inline())


def brackets_line(budget: int) -> bytes:
    return _line("- [ ] ", "[a](", budget, suffix=" <!-- taskbot: x -->\n", max_len=_inline())


def backticks_line(budget: int) -> bytes:
    return _line("- [ ] ", "`a``", budget, suffix=" <!-- taskbot: x -->\n", max_len=_inline())


def html_openers_line(budget: int) -> bytes:
    return _line("- [ ] ", "<a <!-- ", budget, suffix=" <!-- taskbot: x -->\n",
                 max_len=_inline())


def emphasis_heading(budget: int) -> bytes:
    return _line("### ", "*_[`", budget, max_len=_inline())


def image_brackets_heading(budget: int) -> bytes:
    return _line("### ", "![", budget, max_len=_inline())


def _inline() -> int | None:
    """The longest line markdown-it's inline parser reads within the limits."""
    return _n(MAX_INLINE_CHARS - 40)


def many_headings(budget: int) -> bytes:
    return _fill(lambda k: f"{'#' * (k % 6 + 1)} h{k}\n", AC, budget, _n(MAX_HEADINGS - 2))


def many_ac_sections(budget: int) -> bytes:
    """Acceptance Criteria sections, each with a group and a criterion."""
    n = min(MAX_HEADINGS // 2 - 1, MAX_CRITERIA, MAX_GROUPS) if _bounded else None
    return _fill(lambda k: f"## Acceptance Criteria\n### g{k}\n- [ ] c\n", "# T\n", budget, n)


def deep_list(budget: int) -> bytes:
    return _fill(lambda k: "  " * k + "- [ ] x\n", AC, budget, _n(MAX_LINES - 4))


def deep_quotes(budget: int) -> bytes:
    return _line("", ">", budget, suffix=" - [ ] x\n")


def deep_list_markers(budget: int) -> bytes:
    return _line("", "- ", budget, suffix="[ ] x\n")


def many_criteria(budget: int) -> bytes:
    return _fill(lambda k: f"- [ ] criterion number {k} of many\n", AC, budget, _n(MAX_CRITERIA))


def many_annotated_criteria(budget: int) -> bytes:
    n = MAX_INLINE_CHARS // 40 if _bounded else None
    return _fill(lambda k: f"- [ ] c{k} <!-- taskbot: shell cmd=x{k} -->\n", AC, budget, n)


def bullet_markers_line(budget: int) -> bytes:
    return _line("", "* ", budget, suffix="x\n")


def ordered_markers_line(budget: int) -> bytes:
    return _line("", "1. ", budget, suffix="[ ] x\n")


def reference_lines(budget: int) -> bytes:
    return _fill(lambda k: "[a\n", AC, budget, _n(MAX_LINES - 4))


def setext_paragraph(budget: int) -> bytes:
    return _fill(lambda k: "a\n", AC, budget - 8, _n(MAX_LINES - 8), tail="===\n")


def unclosed_fence(budget: int) -> bytes:
    return _fill(lambda k: "- [ ] x\n", AC + "```\n", budget, _n(MAX_LINES - 4))


def html_blocks(budget: int) -> bytes:
    return _fill(lambda k: "<div>\n\n", AC, budget, _n(MAX_LINES // 2 - 4))


def many_dependency_lines(budget: int) -> bytes:
    return _fill(lambda k: f"- Blocked by DEP-{k}\n", AC + "- [ ] c\n## Dependencies\n",
                 budget, _n(MAX_DEPENDENCIES))


def many_ids_one_line(budget: int) -> bytes:
    return _line("Blocked by: ", "A-1 ", budget, max_len=_n(MAX_DEPENDENCY_LINE),
                 head=AC + "- [ ] c\n## Dependencies\n")


def dependency_heading_hashes(budget: int) -> bytes:
    return _line("### x", " #", budget, suffix="x\n", head=AC + "- [ ] c\n## Dependencies\n")


def many_lines(budget: int) -> bytes:
    return _fill(lambda k: "a\n", AC, budget, _n(MAX_LINES - 4))


def cr_mix(budget: int) -> bytes:
    return _fill(lambda k: ("- [ ] c\r", "x\r\n", "\r", "\n")[k % 4], AC, budget,
                 _n(min(MAX_LINES - 4, 4 * MAX_CRITERIA)))


def frontmatter_keys(budget: int) -> bytes:
    fm = _fill(lambda k: f"key{k}: value {k}\n", "---\n",
               min(budget - 64, _n(MAX_FRONTMATTER_BYTES) or budget) - 8).decode()
    return (fm + "---\n" + AC + "- [ ] c\n").encode()


def frontmatter_long_keys(budget: int) -> bytes:
    fm = _fill(lambda k: f"{'k' * 1000}{k}: v\n", "---\n",
               min(budget - 64, _n(MAX_FRONTMATTER_BYTES) or budget) - 8).decode()
    return (fm + "---\n" + AC + "- [ ] c\n").encode()


def frontmatter_aliases(budget: int) -> bytes:
    fm = _fill(lambda k: f"k{k}: &a{k} [*a{k - 1}, *a{k - 1}]\n" if k else "k0: &a0 [x]\n",
               "---\n", min(budget - 64, _n(MAX_FRONTMATTER_BYTES) or budget) - 8).decode()
    return (fm + "---\n" + AC + "- [ ] c\n").encode()


def nul_bytes(budget: int) -> bytes:
    return _fill(lambda k: "- [ ] c\x00\n", AC, budget)


SHAPES: dict[str, Callable[[int], bytes]] = {f.__name__: f for f in (
    groups_x_deps, annotation_openers, annotation_openers_closed, emphasis_line, brackets_line,
    backticks_line, html_openers_line, emphasis_heading, image_brackets_heading, many_headings,
    many_ac_sections, deep_list, deep_quotes, deep_list_markers, bullet_markers_line,
    ordered_markers_line, reference_lines, setext_paragraph, unclosed_fence, html_blocks,
    many_criteria, many_annotated_criteria, many_dependency_lines,
    many_ids_one_line, dependency_heading_hashes, many_lines, cr_mix, frontmatter_keys,
    frontmatter_long_keys, frontmatter_aliases, nul_bytes)}


def time_parse(data: bytes) -> tuple[float, str]:
    """Seconds to parse (or refuse) `data`, and what came of it."""
    started = time.perf_counter()
    try:
        task = parse(data, "tasks/active/HOSTILE-1.md")
        said = f"parsed: {len(task.criteria)} criteria, {len(task.dependency_items)} dependencies"
    except TaskbotError as exc:
        said = f"refused: {str(exc).split(': ', 1)[1][:70]}"
    return time.perf_counter() - started, said


def _child(shape: str, budget: int, bounded: bool) -> None:
    global _bounded  # noqa: PLW0603 -- one child process, one setting
    _bounded = bounded
    seconds, said = time_parse(_pad(SHAPES[shape](budget), budget))
    print(f"{seconds:.4f} {said}")


def _measure(shape: str, budget: int, bounded: bool, kill: float) -> tuple[float, str]:
    try:
        done = subprocess.run([sys.executable, __file__, "--child", shape, str(budget),
                               "1" if bounded else "0"],
                              capture_output=True, text=True, timeout=kill, check=False)
    except subprocess.TimeoutExpired:
        return kill, f"still parsing after {kill:.0f} s: stopped"
    if done.returncode != 0:
        return kill, f"crashed: {done.stderr.strip().splitlines()[-1:]}"
    seconds, said = done.stdout.strip().split(" ", 1)
    return float(seconds), said


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="small files, in process (CI)")
    parser.add_argument("--only", action="append", choices=sorted(SHAPES), help="these shapes")
    parser.add_argument("--kill", type=float, default=60.0, help="stop a parse after this long")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]), args.child[2] == "1")
        return 0
    missed = []
    for shape in args.only or SHAPES:
        for size, bounded, goal in (("limit", True, LIMIT_GOAL), ("1mib", False, MIB_GOAL)):
            if args.smoke:
                seconds, said = time_parse(_pad(SHAPES[shape](SMOKE_BYTES), SMOKE_BYTES))
            else:
                seconds, said = _measure(shape, MAX_BYTES, bounded, args.kill)
            ok = seconds <= goal
            missed += [] if ok else [f"{shape}.{size}"]
            print(f"hostile_parse.{shape}.{size}: {seconds:.3f} s (goal <= {goal:.0f} s: "
                  f"{'meets target' if ok else 'MISSES target'}) {said}", flush=True)
            if args.smoke:
                break
    print(f"hostile_parse.missed: {len(missed)}{' ' + ' '.join(missed) if missed else ''}")
    return 1 if missed and not args.smoke else 0


if __name__ == "__main__":
    sys.exit(main())
