"""Tests of bot/taskfile/: the task-file grammar, edits, dependencies, merges, limits."""
