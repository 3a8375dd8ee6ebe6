"""Issue 17, findings 1, 5 and 8, against `taskbot serve` with its hook and a real `git push`.

A name that is not UTF-8 or a title with a lone surrogate never stops processing; names,
ids, titles and criteria from a push reach the notification, DASHBOARD.md, `taskbot
status` and the daemon's log only as text; the dashboard never lists the branch of the
commit it is part of as "not merged".
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from bot.notify import reportstore
from tests.kit.daemon import TASKBOT, idle_and_empty, processed, running_daemon, status_doc, until
from tests.kit.exactly import installed, task_text
from tests.kit.git import Sandbox, git
from tests.kit.receivers import HttpReceiver, SmtpReceiver

pytestmark = pytest.mark.integration

EVIL = "--author=Mallory <mallory@example.com>"  # not in [trust] authors
DASHBOARD = "tasks/DASHBOARD.md"


def _box(tmp_path: Path, *urls: str) -> Sandbox:
    box = installed(tmp_path)
    text = box.config.read_text().replace("[repo]\n", f'[repo]\ndashboard = "{DASHBOARD}"\n', 1)
    if urls:
        text += "\n[notify]\nurls = [" + ", ".join(f'"{u}"' for u in urls) + "]\n"
    box.config.write_text(text)
    return box


def _settled(box: Sandbox, task_id: str | None = None) -> bool:
    state = box.root / "state"
    tasks = status_doc(state).get("tasks")
    ran = task_id is None or (isinstance(tasks, dict) and task_id in tasks)
    return ran and idle_and_empty(state)()


def _failed(box: Sandbox) -> list[str]:
    folder = box.root / "state" / "queue" / "failed"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def _push_trusted_task(box: Sandbox, task_id: str) -> None:
    git(box.clone, "pull", "-q", "--rebase", "origin", "main")
    box.write(f"tasks/active/{task_id}.md", task_text(task_id, [("Say ok", "true")]))
    box.commit_push(f"add {task_id}")


def test_a_name_that_is_not_utf8_is_refused_alone_and_later_pushes_run(tmp_path: Path) -> None:
    box = _box(tmp_path)
    bad = box.clone / os.fsdecode(b"tasks/active/bad-\xff.md")
    bad.parent.mkdir(parents=True)
    bad.write_text(task_text("BAD", [("Touch", "touch BAD")]))
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        _, sha = box.commit_push("a name that is not UTF-8", EVIL)
        until(daemon.notify, lambda: processed(box.root / "state", sha))
        _push_trusted_task(box, "TASK-1")
        until(daemon.notify, lambda: _settled(box, "TASK-1"))
        log = daemon.stderr()
    assert _failed(box) == []
    assert "- [x] Say ok" in box.main_file("tasks/active/TASK-1.md")
    assert not (tmp_path / "demo" / "BAD").exists()
    text = reportstore.last(box.root / "state", ".refused").markdown_path.read_text()
    assert "tasks/active/bad-\\\\xff.md: the file name is not UTF-8" in text  # `\` escaped
    assert "tasks/active/bad-\\xff.md: the file name is not UTF-8" in log
    dash = box.main_file(DASHBOARD)
    assert "| [TASK-1](active/TASK-1.md) | TASK-1 title | 1/1 |" in dash
    assert "\n- tasks/active/bad-\\xff.md: refused: commit " in dash


def test_a_lone_surrogate_in_an_untrusted_title_stops_no_commit(tmp_path: Path) -> None:
    box = _box(tmp_path)
    box.write("tasks/active/SUR-1.md", '---\nid: SUR-1\ntitle: "hi \\uD800 there"\n---\n'
              "# SUR-1\n## Acceptance Criteria\n- [ ] Wait for a person\n")
    count = tmp_path / "count"
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        box.commit_push("a lone surrogate", EVIL)
        until(daemon.notify, lambda: _settled(box))
        git(box.clone, "pull", "-q", "--rebase", "origin", "main")
        box.write("tasks/active/TASK-2.md",
                  task_text("TASK-2", [("Count", f"sh -c 'echo x >> {count}'")]))
        box.commit_push("add TASK-2")
        until(daemon.notify, lambda: _settled(box, "TASK-2"))
        _push_trusted_task(box, "TASK-3")  # the next push does not run TASK-2 again
        until(daemon.notify, lambda: _settled(box, "TASK-3"))
    assert _failed(box) == []
    assert count.read_text() == "x\n"
    assert "- [x] Count" in box.main_file("tasks/active/TASK-2.md")
    dash = box.main_file(DASHBOARD)
    assert "hi " not in dash and "SUR-1 " not in dash  # nothing of an untrusted file's text
    assert re.search(r"^- tasks/active/SUR-1\.md: refused: commit [0-9a-f]{12} by "
                     r"mallory@example\.com", dash, re.M)


HOSTILE_TITLE = ("<img src='http://127.0.0.1:9/pixel.png'> <details> a | b\\n"
                 "# ✅ Backup verified\\n[restore](http://evil.example/)")
HOSTILE_CRITERION = "Check <img src=x> [x](http://evil.example/) | \x1b]0;pwned\x07 done"


def _hostile_task() -> str:
    return ("---\nid: T-1<details>\n"
            f'title: "{HOSTILE_TITLE}\\e[2J"\n---\n# T\n## Acceptance Criteria\n'
            f'- [ ] {HOSTILE_CRITERION} <!-- taskbot: shell project=demo cmd="true" -->\n')


def _no_markup(text: str, *, html: bool = False) -> None:
    """No image, no HTML block, no heading of its own, no link, no terminal escape."""
    for found in ("<img", "<details", "\n# ✅", "\x1b"):
        assert found not in text, f"{found!r} in {text!r}"
    if html:  # rendered: the link's text is shown as it was written, never an <a>
        assert "<a " not in text and "<h1>✅" not in text and "<h1># ✅" not in text, text
    else:
        assert not re.search(r"(?<!\\)\]\(http", text), text  # `[x](http…` unescaped


def test_hostile_names_and_titles_render_as_text_everywhere(tmp_path: Path) -> None:
    with HttpReceiver() as http, SmtpReceiver() as smtp:
        box = _box(tmp_path, http.url(), smtp.url())
        name = "tasks/active/x\n# ✅ Backup verified\n[x](http:evil)<img src=y>\x1b[1m.md"
        box.write(name, task_text("X", [("Touch", "touch X")]))
        with running_daemon(box.config, tmp_path / "serve.log") as daemon:
            _, sha = box.commit_push("a hostile name", EVIL)
            until(daemon.notify, lambda: processed(box.root / "state", sha))
            git(box.clone, "pull", "-q", "--rebase", "origin", "main")
            box.write("tasks/active/T-1.md", _hostile_task())
            box.commit_push("a hostile title, trusted")
            until(daemon.notify, lambda: _settled(box, "T-1<details>"))
            posts, mails = http.wait_for(2), smtp.wait_for(2)
            status = subprocess.run([str(TASKBOT), "--config", str(box.config), "status"],
                                    capture_output=True, check=False)
            log = Path(daemon.log).read_bytes()
    assert "- [x] Check" in box.main_file("tasks/active/T-1.md")
    for post in posts:
        _no_markup(post.title + post.message)
    for mail in mails:
        html = mail.get_body(preferencelist=("html",))
        assert html is not None
        body = str(html.get_content())
        _no_markup(body, html=True)
    assert b"\x1b" not in log and b"\x07" not in log
    assert status.returncode == 0, status.stderr
    assert b"\x1b" not in status.stdout and b"\\x1b[2J" in status.stdout
    dash = box.main_file(DASHBOARD).encode()
    _no_markup(dash.decode())
    table = [line for line in dash.split(b"\n") if line.startswith(b"|")]
    assert len(table) == 3  # head, rule, T-1: one row per line
    assert all(len(re.findall(rb"(?<!\\)\|", line)) == 6 for line in table)
    assert b"| &lt;img src='http://127.0.0.1:9/pixel.png'&gt; &lt;details&gt; a \\| b # " in dash
    assert re.search(rb"^- tasks/active/x\\n# .*\.md: refused: commit ", dash, re.M)


def test_the_commits_own_branch_is_not_listed_as_not_merged(tmp_path: Path) -> None:
    box = _box(tmp_path)
    with running_daemon(box.config, tmp_path / "serve.log") as daemon:
        _push_trusted_task(box, "TASK-1")
        until(daemon.notify, lambda: _settled(box, "TASK-1"))
        _push_trusted_task(box, "TASK-2")
        until(daemon.notify, lambda: _settled(box, "TASK-2"))
    dash = box.main_file(DASHBOARD)
    assert "| [TASK-2](active/TASK-2.md) | TASK-2 title | 1/1 |" in dash
    assert dash.endswith("## Branches that need a person\n\nNone."), dash
