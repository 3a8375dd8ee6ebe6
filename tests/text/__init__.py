"""Tests of bot/text/: one escaper per sink."""
