"""Tests of bot/state/: the state dir, what taskbot owns there, adopting history."""
