"""`approve_task`: an agent approves a plan waiting for approval (`[mcp] allow_approve`).

The approval is what a person's `taskbot approve` makes — an empty commit whose
`Taskbot-Approve:` trailer names the task and the plan's digest (`messages.approval`) — made
here as taskbot's `[identity]` directly on repo.branch of the configured repository (no
checkout: the tip's tree, a compare-and-swap of the branch; signed with `[identity]
signing_key` when one is set, so it counts under `allowed_signers`) and queued for the daemon as
the push it is. It is judged as every approval is (`bot.pipeline.approvals`): it counts
only when that identity is trusted by `[trust]`, and it is never recorded as taskbot's own
commit, which never approves. Only a digest that a plan of the task waits for is taken.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.commands.plan import plan_doc
from bot.config import Config
from bot.daemon import spool
from bot.errors import TaskbotError, UsageError
from bot.git import read
from bot.git.messages import approval
from bot.git.write import commit_tree, update_ref

__all__ = ["approve"]


def _waiting(config: Config, task_id: str) -> list[str]:
    """The digests of the task's plans waiting for approval, as `plan` shows them."""
    doc, _ = plan_doc(config, task_id)
    return [c["approval"]["digest"] for c in doc["criteria"]
            if not c["checked"] and c.get("approval", {}).get("digest")]


def approve(config: Config, task_id: str, digest: str) -> dict[str, Any]:
    """The approval commit on repo.branch, queued for the daemon: task, digests, commit."""
    waiting = _waiting(config, task_id)
    if digest.lower() not in waiting:
        raise UsageError(f"{task_id}: no plan waits for approval with digest {digest} "
                         f"(waiting: {', '.join(waiting) or 'none'})")
    repo, branch = Path(config.repo.path), config.repo.branch
    tip = read.resolve(repo, f"refs/heads/{branch}")
    if tip is None:
        raise TaskbotError(f"{repo}: no branch {branch} to approve on")
    sha = commit_tree(repo, tip, approval(task_id, [digest.lower()]), config.identity)
    if not update_ref(repo, branch, sha, tip):
        raise TaskbotError(f"{repo}: {branch} moved while approving; ask again")
    spool.enqueue(config.repo.state_dir, [f"{tip} {sha} refs/heads/{branch}"])
    return {"task": task_id, "digests": [digest.lower()], "commit": sha, "branch": branch}
