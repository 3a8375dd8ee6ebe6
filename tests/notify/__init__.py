"""Tests of bot/notify/: the outbox, real receivers, stored reports, redaction."""
