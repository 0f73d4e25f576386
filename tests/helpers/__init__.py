"""Helpers the tests share (and stand-in trials that Ray workers import by name, with `tests/` on their path)."""
