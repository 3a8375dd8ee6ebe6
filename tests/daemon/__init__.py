"""Tests of bot/daemon/: the spool, the hook, serve, stalls, restarts, wake-ups."""
