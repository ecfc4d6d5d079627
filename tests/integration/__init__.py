"""Integration tests: connectors against emulators and real servers, real third-party data."""
