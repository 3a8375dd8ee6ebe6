"""Tests of bot/git/: reads, writes, worktrees, commit messages, detection, trust."""
