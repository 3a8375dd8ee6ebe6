"""Tests of handlers/: each built-in handler and the shared helpers, with real tools."""
