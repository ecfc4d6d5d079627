"""SOAP plumbing of the EWS emulator: namespaces, parsing requests, building responses.

Envelopes follow Microsoft's EWS reference (the samples under
``../shared/data/api/ews``): a ``ServerVersionInfo`` header, one
``<m:OPResponse><m:ResponseMessages>`` with one ``<m:OPResponseMessage
ResponseClass=...>`` per requested object, and SOAP faults for requests the
server cannot read at all (``ErrorServerBusy`` carries ``BackOffMilliseconds``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree as ET

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"  # SOAP fault details
ET.register_namespace("s", SOAP)
ET.register_namespace("m", M)
ET.register_namespace("t", T)
ET.register_namespace("e", E)

# Exchange Server 2016 CU23 (on-premises), as its ServerVersionInfo says it.
BUILD = {
    "MajorVersion": "15",
    "MinorVersion": "1",
    "MajorBuildNumber": "2507",
    "MinorBuildNumber": "6",
}
API_VERSIONS = (  # what Exchange 2016 accepts in RequestServerVersion (newest first)
    "Exchange2016",
    "Exchange2015",
    "Exchange2013_SP1",
    "Exchange2013",
    "Exchange2010_SP2",
    "Exchange2010_SP1",
    "Exchange2010",
    "Exchange2007_SP1",
    "Exchange2007",
)


def m(tag: str) -> str:
    """The qualified name of a messages-namespace element."""
    return f"{{{M}}}{tag}"


def t(tag: str) -> str:
    """The qualified name of a types-namespace element."""
    return f"{{{T}}}{tag}"


class SoapFault(Exception):
    """A request answered with a SOAP fault (HTTP 500)."""

    def __init__(self, code: str, text: str, back_off_ms: int | None = None):
        super().__init__(text)
        self.code = code
        self.text = text
        self.back_off_ms = back_off_ms


class OperationError(Exception):
    """One object of a request failed: an error response message (HTTP 200)."""

    def __init__(self, code: str, text: str):
        super().__init__(text)
        self.code = code
        self.text = text


def folder_not_found() -> OperationError:
    """Exchange's answer for a folder id it does not know."""
    return OperationError(
        "ErrorFolderNotFound", "The specified folder could not be found in the store."
    )


def item_not_found() -> OperationError:
    """Exchange's answer for an item id it does not know (or a deleted item)."""
    return OperationError("ErrorItemNotFound", "The specified object was not found in the store.")


def invalid_sync_state() -> OperationError:
    """Exchange's answer for a sync state it cannot use."""
    return OperationError(
        "ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid."
    )


def parse_request(body: bytes) -> tuple[str, str, ET.Element]:
    """``(operation, requested version, operation element)`` of a SOAP request."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise SoapFault("ErrorSchemaValidation", f"The request is not XML: {exc}") from None
    if root.tag != f"{{{SOAP}}}Envelope":
        raise SoapFault("ErrorSchemaValidation", f"Not a SOAP 1.1 envelope: {root.tag}")
    version = ""
    header = root.find(f"{{{SOAP}}}Header")
    if header is not None:
        rsv = header.find(t("RequestServerVersion"))
        if rsv is not None:
            version = rsv.get("Version", "").strip()
    body_el = root.find(f"{{{SOAP}}}Body")
    if body_el is None or len(body_el) == 0:
        raise SoapFault("ErrorSchemaValidation", "The SOAP body is empty")
    op = body_el[0]
    if not op.tag.startswith(f"{{{M}}}"):
        raise SoapFault("ErrorSchemaValidation", f"Unknown operation element {op.tag}")
    return op.tag[len(M) + 2 :], version, op


def envelope(payload: ET.Element | None, version: str) -> bytes:
    """A response envelope with the server's version header around ``payload``."""
    env = ET.Element(f"{{{SOAP}}}Envelope")
    header = ET.SubElement(env, f"{{{SOAP}}}Header")
    ET.SubElement(header, t("ServerVersionInfo"), {**BUILD, "Version": version})
    body = ET.SubElement(env, f"{{{SOAP}}}Body")
    if payload is not None:
        body.append(payload)
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(env, encoding="unicode").encode()


def fault(f: SoapFault, version: str) -> bytes:
    """A SOAP fault envelope, as Exchange sends for ErrorServerBusy / schema errors."""
    env = ET.Element(f"{{{SOAP}}}Envelope")
    body = ET.SubElement(env, f"{{{SOAP}}}Body")
    fl = ET.SubElement(body, f"{{{SOAP}}}Fault")
    ET.SubElement(fl, "faultcode").text = "a:" + f.code
    ET.SubElement(fl, "faultstring").text = f.text
    detail = ET.SubElement(fl, "detail")
    ET.SubElement(detail, f"{{{E}}}ResponseCode").text = f.code
    ET.SubElement(detail, f"{{{E}}}Message").text = f.text
    if f.back_off_ms is not None:
        values = ET.SubElement(detail, t("MessageXml"))
        ET.SubElement(values, t("Value"), {"Name": "BackOffMilliseconds"}).text = str(f.back_off_ms)
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(env, encoding="unicode").encode()


def response_messages(op: str) -> tuple[ET.Element, ET.Element]:
    """``(<m:OPResponse>, its <m:ResponseMessages>)``."""
    resp = ET.Element(m(f"{op}Response"))
    return resp, ET.SubElement(resp, m("ResponseMessages"))


def success(parent: ET.Element, op: str) -> ET.Element:
    """A ``Success`` response message appended to ``parent``."""
    msg = ET.SubElement(parent, m(f"{op}ResponseMessage"), {"ResponseClass": "Success"})
    ET.SubElement(msg, m("ResponseCode")).text = "NoError"
    return msg


def error(parent: ET.Element, op: str, err: OperationError) -> ET.Element:
    """An ``Error`` response message appended to ``parent``."""
    msg = ET.SubElement(parent, m(f"{op}ResponseMessage"), {"ResponseClass": "Error"})
    ET.SubElement(msg, m("MessageText")).text = err.text
    ET.SubElement(msg, m("ResponseCode")).text = err.code
    ET.SubElement(msg, m("DescriptiveLinkKey")).text = "0"
    return msg


def add(parent: ET.Element, tag: str, text: object | None = None, **attrs: str) -> ET.Element:
    """A types-namespace child with optional text."""
    el = ET.SubElement(parent, t(tag), attrs)
    if text is not None:
        el.text = clean(str(text))
    return el


def clean(text: str) -> str:
    """Text XML 1.0 can carry (control characters other than tab/newline dropped)."""
    if text.isprintable():
        return text
    return "".join(c for c in text if c in "\t\n\r" or c >= " ")


def ews_time(epoch: int) -> str:
    """EWS's UTC dateTime, ``2024-05-01T12:00:00Z``."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> int:
    """Epoch seconds of an EWS dateTime (``Z`` or an offset)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return int(value.timestamp())


def field_uris(shape: ET.Element | None) -> tuple[str, list[str]]:
    """``(BaseShape, [FieldURI / ExtendedFieldURI descriptions])`` of an item or folder shape."""
    if shape is None:
        return "IdOnly", []
    base = (shape.findtext(t("BaseShape")) or "IdOnly").strip()
    fields: list[str] = []
    extra = shape.find(t("AdditionalProperties"))
    for el in extra if extra is not None else []:
        if el.tag == t("FieldURI"):
            fields.append(el.get("FieldURI", ""))
        elif el.tag == t("IndexedFieldURI"):
            fields.append(f"{el.get('FieldURI')}:{el.get('FieldIndex')}")
        elif el.tag == t("ExtendedFieldURI"):
            fields.append("extended:" + extended_name(el))
    return base, fields


def extended_name(el: ET.Element) -> str:
    """A stable description of an ExtendedFieldURI (set GUID + name or id, and type)."""
    parts = [
        el.get("DistinguishedPropertySetId") or el.get("PropertySetId") or "",
        el.get("PropertyName") or el.get("PropertyId") or el.get("PropertyTag") or "",
        el.get("PropertyType") or "",
    ]
    return "/".join(parts)
