"""A local Gmail v1 + Calendar v3 emulator for tests, driven through the real client library.

See :class:`GoogleEmulator`. Routes, parameters and enums are checked against
the discovery documents shipped with google-api-python-client; quota is
counted in Gmail's real units per user; faults can be injected.
"""

from .server import DEFAULT_SCOPES, GoogleEmulator, Record

__all__ = ["DEFAULT_SCOPES", "GoogleEmulator", "Record"]
