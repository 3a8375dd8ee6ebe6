"""Tests of the modules at bot/'s top level: config, proc, safepath, yamledit, registry."""
