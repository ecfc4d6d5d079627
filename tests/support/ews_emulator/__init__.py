"""An Exchange Web Services emulator: a SOAP server built from Microsoft's documented
requests and responses, answering what exchangelib sends (see :mod:`.server`)."""

from tests.support.ews_emulator.server import EwsEmulator

__all__ = ["EwsEmulator"]
