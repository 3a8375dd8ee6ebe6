"""Tests of bot/forge/: remote mode against forge stand-ins, the webhook receiver."""
