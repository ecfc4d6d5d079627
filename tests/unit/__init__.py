"""Unit tests: one module at a time, in process, on a fresh SQLite store where needed."""
