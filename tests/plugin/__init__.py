"""Tests of bot/plugin/: handlers from other packages through entry points."""
