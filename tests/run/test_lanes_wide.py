"""Which groups run side by side (`bot.run.lanes`), with the real handlers: a criterion
whose handler works across every project (it takes no project and has none's keys) makes
its group wait for everything above it and run alone."""

from __future__ import annotations

from pathlib import Path

from bot import taskfile
from bot.plugin.plugins import load_handlers
from bot.run import lanes
from bot.run.actions import resolve
from tests.kit.context import operator_ctx

MOVED = b"""# T
## Acceptance Criteria
### FFL
- [ ] Move the registry address to 192.168.7.30
- [ ] Build all FFL containers with version 0.1.18
### Triager
- [ ] Build all triager containers with version 2.0.0
- [ ] Verify images in registry: `curl http://192.168.7.21:5000/v2/triager/app/tags/list`
"""


def test_a_registry_move_in_a_project_group_is_not_run_beside_the_other_builds(
        tmp_path: Path) -> None:
    """Moving the registry edits every project's build files: Triager's build below it
    must not run before (or while) it does."""
    ctx = operator_ctx(tmp_path)
    handlers = load_handlers()
    actions = resolve(taskfile.parse(MOVED, "T.md"), handlers, ctx)
    assert [(a.handler, a.error) for a in actions] == [
        ("registry-ip", ""), ("build", ""), ("build", ""), ("verify", "")]
    groups = lanes.split(actions, lambda a: True,
                         lambda a: lanes.project_of(a, handlers, ctx.config))
    assert [(g.name, g.project) for g in groups] == [("FFL", ""), ("Triager", "triager")]
    assert lanes.stages(groups, 4) == [((groups[0],),), ((groups[1],),)]
