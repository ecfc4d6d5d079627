"""The foundation every layer may use: errors, the home directory, time, keys, test hooks."""
