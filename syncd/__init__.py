"""syncd: keep a professional network warm from email and calendar metadata."""

__version__ = "0.1.0"
