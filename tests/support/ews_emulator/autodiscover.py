"""The emulator's SOAP Autodiscover service: ``POST /autodiscover/autodiscover.svc``.

Follows Microsoft's GetUserSettings operation (SOAP Autodiscover, Exchange
2010 and later): a ``GetUserSettingsRequestMessage`` names users and the
settings wanted; the answer is one ``GetUserSettingsResponseMessage`` whose
``Response`` carries an ``ErrorCode`` and one ``UserResponse`` per user. A
known user gets ``NoError`` and her ``UserSettings`` (``ExternalEwsUrl`` is the
emulator's EWS endpoint, ``EwsSupportedSchemas`` its API versions); a setting
the emulator does not know is listed under ``UserSettingErrors`` as
``SettingIsNotAvailable``, as Exchange does; an unknown address gets
``InvalidUser``.
"""

from __future__ import annotations

from xml.etree import ElementTree as ET

from tests.support.ews_emulator.soap import API_VERSIONS, BUILD, SOAP

PATH = "/autodiscover/autodiscover.svc"
A = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
WSA = "http://www.w3.org/2005/08/addressing"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
ACTION = "http://schemas.microsoft.com/exchange/2010/Autodiscover/Autodiscover/"
ET.register_namespace("a", A)
ET.register_namespace("wsa", WSA)
ET.register_namespace("i", XSI)


def _a(tag: str) -> str:
    return f"{{{A}}}{tag}"


def requested(body: bytes) -> tuple[list[str], list[str]]:
    """``(users, settings)`` of a GetUserSettings request (ValueError when it is not one)."""
    root = ET.fromstring(body)
    op = root.find(f"{{{SOAP}}}Body/{_a('GetUserSettingsRequestMessage')}")
    if op is None:
        raise ValueError("not a GetUserSettingsRequestMessage")
    users = [(m.text or "").strip() for m in op.iter(_a("Mailbox"))]
    settings = [(s.text or "").strip() for s in op.iter(_a("Setting"))]
    return users, settings


def user_settings(address: str, display_name: str, ews_url: str) -> dict[str, str]:
    """The settings the emulated server knows for its one user."""
    return {
        "UserDisplayName": display_name,
        "AutoDiscoverSMTPAddress": address,
        "ExternalEwsUrl": ews_url,
        "InternalEwsUrl": ews_url,
        "EwsSupportedSchemas": ", ".join(reversed(API_VERSIONS)),
        "CasVersion": "{MajorVersion}.{MinorVersion}.{MajorBuildNumber}.{MinorBuildNumber}".format(
            **BUILD
        ),
    }


def _add(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    el = ET.SubElement(parent, _a(tag))
    if text is not None:
        el.text = text
    return el


def _user_response(
    parent: ET.Element, user: str, wanted: list[str], known: dict[str, dict[str, str]]
) -> None:
    ur = _add(parent, "UserResponse")
    settings = known.get(user.lower())
    if settings is None:
        _add(ur, "ErrorCode", "InvalidUser")
        _add(ur, "ErrorMessage", f"Invalid user: '{user}'")
        ET.SubElement(ur, _a("RedirectTarget"), {f"{{{XSI}}}nil": "true"})
        _add(ur, "UserSettingErrors")
        _add(ur, "UserSettings")
        return
    _add(ur, "ErrorCode", "NoError")
    _add(ur, "ErrorMessage", "No error.")
    ET.SubElement(ur, _a("RedirectTarget"), {f"{{{XSI}}}nil": "true"})
    errors = _add(ur, "UserSettingErrors")
    out = _add(ur, "UserSettings")
    for name in wanted:
        if name in settings:
            us = ET.SubElement(out, _a("UserSetting"), {f"{{{XSI}}}type": "StringSetting"})
            _add(us, "Name", name)
            _add(us, "Value", settings[name])
        else:
            err = _add(errors, "UserSettingError")
            _add(err, "ErrorCode", "SettingIsNotAvailable")
            _add(err, "ErrorMessage", f"User setting '{name}' is not available. ")
            _add(err, "SettingName", name)


def get_user_settings(body: bytes, known: dict[str, dict[str, str]]) -> bytes:
    """The GetUserSettings answer to ``body`` (``known``: lower-cased address → settings)."""
    users, wanted = requested(body)
    env = ET.Element(f"{{{SOAP}}}Envelope")
    header = ET.SubElement(env, f"{{{SOAP}}}Header")
    action = ET.SubElement(header, f"{{{WSA}}}Action", {f"{{{SOAP}}}mustUnderstand": "1"})
    action.text = ACTION + "GetUserSettingsResponse"
    info = ET.SubElement(header, _a("ServerVersionInfo"))
    for tag in ("MajorVersion", "MinorVersion", "MajorBuildNumber", "MinorBuildNumber"):
        _add(info, tag, BUILD[tag])
    _add(info, "Version", API_VERSIONS[0])
    body_el = ET.SubElement(env, f"{{{SOAP}}}Body")
    message = _add(body_el, "GetUserSettingsResponseMessage")
    response = _add(message, "Response")
    _add(response, "ErrorCode", "NoError")
    _add(response, "ErrorMessage")
    responses = _add(response, "UserResponses")
    for user in users:
        _user_response(responses, user, wanted, known)
    return b'<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(env, encoding="unicode").encode()
