"""A Microsoft Graph emulator (mail, calendar, sendMail, $batch, throttling, faults) for tests."""

from .server import GraphEmulator

__all__ = ["GraphEmulator"]
