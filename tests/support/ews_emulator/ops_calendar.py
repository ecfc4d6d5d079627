"""Calendar operations (filled in with the calendar reader and writer)."""

from __future__ import annotations

from xml.etree import ElementTree as ET

from tests.support.ews_emulator.mailbox import Mailbox
from tests.support.ews_emulator.soap import SoapFault


def _missing(name: str) -> SoapFault:
    return SoapFault("ErrorInvalidRequest", f"The emulator does not implement {name} yet.")


def find_item(box: Mailbox, op: ET.Element, log: dict) -> ET.Element:
    raise _missing("FindItem")


def create_item(box: Mailbox, op: ET.Element, log: dict) -> ET.Element:
    raise _missing("CreateItem")


def delete_item(box: Mailbox, op: ET.Element, log: dict) -> ET.Element:
    raise _missing("DeleteItem")


def update_item(box: Mailbox, op: ET.Element, log: dict) -> ET.Element:
    raise _missing("UpdateItem")


def get_user_availability(box: Mailbox, op: ET.Element, log: dict) -> ET.Element:
    raise _missing("GetUserAvailability")


def resolve_names(box: Mailbox, op: ET.Element, log: dict) -> ET.Element:
    raise _missing("ResolveNames")
