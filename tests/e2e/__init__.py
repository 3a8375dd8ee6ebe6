"""Whole-system tests: a real daemon, its hook and real pushes, across every stage."""
