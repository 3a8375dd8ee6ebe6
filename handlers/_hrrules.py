"""`helmrelease`'s default rules: the operator's phrasings of a bump.

"Update all `ffl` HelmReleases in beckerkube" names no version: the handler inherits it
from the app's project (`inherits_from = ("app",)`): ffl's build criterion above, else
the frontmatter's `version`; with neither it is refused, saying so (`NO_VERSION`).
"""

from __future__ import annotations

from bot.api import DefaultRule

RULES = (
    DefaultRule(r"(?i)^update (?P<app>[\w.-]+) helm ?release in (?P<project>[\w-]+) to "
                r"(?:version )?(?P<version>[A-Za-z0-9._+-]+?)\.?$"),
    DefaultRule(r"(?i)^update all `?(?P<app>[\w.-]+?)`? helm ?releases in `?(?P<project>[\w-]+)`?"
                r"\.?$"),
)

NO_VERSION = ("helmrelease: no version for {app}: name one (version=…), build {app} with a "
              "version in a criterion above, or set `version` in the frontmatter")
