"""syncd's test suite (support code in tests.support)."""
