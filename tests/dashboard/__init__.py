"""Tests of bot/dashboard/: DASHBOARD.md in taskbot's commit."""
