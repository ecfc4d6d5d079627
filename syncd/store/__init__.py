"""The SQLite store: ``open_db``, the versioned migrations and small query helpers.

The bottom of the layers above ``syncd.core``: it imports nothing else of syncd."""
