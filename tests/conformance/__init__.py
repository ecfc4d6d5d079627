"""The reader and writer conformance suites, subclassed once per connector."""
