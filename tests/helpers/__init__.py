"""Helpers shared by the test modules: git (git.py) and taskbot.toml (config.py)."""
