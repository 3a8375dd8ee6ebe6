"""Tests of bot/pipeline/: a push through detection, trust, the run and the commit."""
