"""Tests of bot/cli.py and bot/commands/: each command through main() or the script."""
