"""The project itself: docs, the import graph, benchmarks, the systemd unit, install."""
