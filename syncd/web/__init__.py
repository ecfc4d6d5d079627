"""The local dashboard (``syncd serve``): pages and actions over the same functions as the CLI."""
