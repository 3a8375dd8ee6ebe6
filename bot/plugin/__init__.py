"""Handlers installed as plugins: their entry points, read without importing bot, and loaded."""
