"""How the corpus's Dependencies sections read: items taken as dependencies, and not.

    .venv/bin/python bench/deps_corpus.py [CORPUS_DIR] [--list]

Reads every task file under CORPUS_DIR (default: $TASKBOT_CORPUS, else
../shared/corpus) in place and prints the counts, by what decided (a label, a lead-in,
"independent", or no label at all); `--list` prints every item with its verdict, to
look at the odd ones. No target: this is a report.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.errors import TaskbotError
from bot.taskfile import Task, load
from bot.taskfile.deps import task_ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get("TASKBOT_CORPUS") or str(
        Path(__file__).resolve().parents[2] / "shared" / "corpus")
    parser.add_argument("corpus", nargs="?", default=default)
    parser.add_argument("--list", action="store_true", help="print every item and its verdict")
    args = parser.parse_args(argv)
    files = sorted(Path(args.corpus).rglob("*.md"))
    verdicts: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    tasks_with = 0
    without_id = 0
    for path in files:
        try:
            task = load(path)
        except TaskbotError:
            continue
        if task.dependency_items:
            tasks_with += 1
        without_id += _lines_naming_no_task(path.read_text(errors="replace"), task)
        for item in task.dependency_items:
            verdict = "dependency" if item.depends else "not a dependency"
            verdicts[verdict] += 1
            reasons[f"{verdict}: {item.why.lower() or '(no label)'}"] += 1
            if args.list:
                scope = f" [groups: {', '.join(item.groups)}]" if item.groups else ""
                print(f"{verdict:16} {item.task_id:12} {path.name}:{item.line + 1}: "
                      f"{item.text[:80]}{scope}")
    print(f"{len(files)} files, {tasks_with} with dependency items")
    print(f"read as dependencies: {verdicts['dependency']}; "
          f"not: {verdicts['not a dependency']}; "
          f"lines in Dependencies sections naming no task id: {without_id}")
    for reason, count in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {count:5}  {reason}")
    return 0


def _lines_naming_no_task(text: str, task: Task) -> int:
    lines = text.splitlines()
    count = 0
    for section in task.sections:
        if section.title.strip().rstrip(":").lower() != "dependencies":
            continue
        for line in lines[section.start + 1: section.end]:
            if line.strip() and not line.lstrip().startswith("#") and not task_ids(line):
                count += 1
    return count


if __name__ == "__main__":
    raise SystemExit(main())
