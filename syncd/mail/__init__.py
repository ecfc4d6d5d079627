"""Pure mail logic: addresses, header scanning, logical-message keys, touchpoint rules.

No database and no I/O: these functions are the touchpoint contract (design.md §2)."""
