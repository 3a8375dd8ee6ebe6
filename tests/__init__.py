"""taskbot's tests: one folder per package of bot/ (and handlers/), the kit in tests/kit/."""
