"""Helpers shared by the tests: CLI runner, message builders, emulators, conformance suites."""
