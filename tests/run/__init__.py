"""Tests of bot/run/: resolving criteria, running them, journals, reports, progress."""
