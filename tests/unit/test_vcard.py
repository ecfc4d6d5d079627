"""The contact readers: vCard exports of Google, Apple and Outlook, vCard 4.0, LinkedIn's
Connections.csv (synthetic people, written by the tests in each vendor's form)."""

from __future__ import annotations

import pytest

from connectors.cards import normalise_date
from connectors.linkedin import read_connections
from connectors.vcard import read_vcards
from syncd.core.errors import UserError

GOOGLE = """BEGIN:VCARD
VERSION:3.0
FN:Ana Ruiz
N:Ruiz;Ana;;;
EMAIL;TYPE=INTERNET;TYPE=HOME:ana.ruiz@mail.example
item1.EMAIL;TYPE=INTERNET:ana@luz.example
item1.X-ABLabel:Work
TEL;TYPE=CELL:+34 600 000 000
ADR;TYPE=WORK:;;Calle Mayor 1;Madrid;;28013;Spain
ORG:Luz Labs
TITLE:Head of Research
BDAY:1985-04-12
NOTE:Met at the Lisbon conference\\, 2019. A long note that Google folds at seve
 nty-five characters like this.
CATEGORIES:myContacts,Conference
END:VCARD
"""

APPLE = """BEGIN:VCARD\r
VERSION:3.0\r
PRODID:-//Apple Inc.//iPhone OS 17.1//EN\r
N:Núñez;José;;;\r
FN:José Núñez\r
ORG:Quinta SA;Ventas;\r
TITLE:Director\r
item1.EMAIL;type=INTERNET;type=pref:jose@quinta.example\r
item2.EMAIL;type=INTERNET:jose.n@home.example\r
item2.X-ABLabel:_$!<Other>!$_\r
BDAY;X-APPLE-OMIT-YEAR=1604:1604-07-09\r
item3.X-ABDATE;type=pref:2015-06-01\r
item3.X-ABLabel:_$!<Anniversary>!$_\r
PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDA\r
 sLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/2wBDAQkJCQwLDBg==\r
END:VCARD\r
"""

OUTLOOK = """BEGIN:VCARD
VERSION:2.1
N;LANGUAGE=de;CHARSET=Windows-1252;ENCODING=QUOTED-PRINTABLE:M=FCller;J=FCrgen
FN;CHARSET=Windows-1252;ENCODING=QUOTED-PRINTABLE:J=FCrgen M=FCller
ORG:Acme GmbH;Forschung
TITLE:Leiter Forschung
EMAIL;PREF;INTERNET:JM@Acme.Example
EMAIL;INTERNET:juergen@home.example
BDAY:19700131
X-MS-ANNIVERSARY:20100115
NOTE;CHARSET=Windows-1252;ENCODING=QUOTED-PRINTABLE:Erste Zeile=0D=0AZweite Zeile, sehr la=
ng und weich umbrochen=
, wie Outlook es schreibt
X-MS-OL-DEFAULT-POSTAL-ADDRESS:2
REV:20240301T101010Z
END:VCARD
"""

VCARD4 = """BEGIN:VCARD
VERSION:4.0
FN:Bo Li
EMAIL;TYPE=work:mailto:bo@li.example
BDAY:--0229
ANNIVERSARY:20100105
UID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1
END:VCARD
"""


def write(tmp_path, name: str, text: str, encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def only(found):
    assert not found.quarantined, found.quarantined
    assert len(found.cards) == 1
    return found.cards[0]


def test_google_export_folded_lines_item_groups_and_address(tmp_path):
    card = only(read_vcards(write(tmp_path, "contacts.vcf", GOOGLE)))
    assert card.full_name == "Ana Ruiz"
    assert card.emails == ("ana.ruiz@mail.example", "ana@luz.example")
    assert (card.organization, card.title) == ("Luz Labs", "Head of Research")
    assert card.birthday == "1985-04-12" and card.anniversary is None
    assert card.location == "Madrid, Spain"
    assert card.source == "vcard" and card.uid.startswith("sha1:")


def test_apple_export_omitted_year_labelled_anniversary_and_photo(tmp_path):
    card = only(read_vcards(write(tmp_path, "José Núñez.vcf", APPLE)))
    assert card.full_name == "José Núñez"
    assert card.emails == ("jose@quinta.example", "jose.n@home.example")
    assert card.organization == "Quinta SA"  # ORG's first unit; the department is not kept
    assert card.birthday == "--07-09"  # 1604 is Apple's "no year"
    assert card.anniversary == "2015-06-01"


def test_outlook_21_quoted_printable_windows_1252_and_soft_breaks(tmp_path):
    card = only(read_vcards(write(tmp_path, "mueller.vcf", OUTLOOK, "cp1252")))
    assert card.full_name == "Jürgen Müller"
    assert card.emails == ("jm@acme.example", "juergen@home.example")
    assert card.organization == "Acme GmbH"
    assert card.birthday == "1970-01-31"
    assert card.anniversary == "2010-01-15"


def test_vcard_4_mailto_leap_day_and_uid(tmp_path):
    card = only(read_vcards(write(tmp_path, "bo.vcf", VCARD4)))
    assert card.emails == ("bo@li.example",)
    assert card.birthday == "--02-29" and card.anniversary == "2010-01-05"
    assert card.uid == "urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1"


def test_one_file_of_many_cards_quarantines_only_the_bad_ones(tmp_path):
    bad = "BEGIN:VCARD\nVERSION:3.0\nFN:Broken\nthis line is no property\nEND:VCARD\n"
    empty = "BEGIN:VCARD\nVERSION:3.0\nTEL:+1 555 0100\nEND:VCARD\n"
    cut = "BEGIN:VCARD\nVERSION:3.0\nFN:Cut Short\n"
    text = GOOGLE + bad + VCARD4 + empty + cut
    found = read_vcards(write(tmp_path, "all.vcf", text))
    assert [c.full_name for c in found.cards] == ["Ana Ruiz", "Bo Li"]
    reasons = [q.reason for q in found.quarantined]
    assert len(reasons) == 3
    assert "not a readable vCard" in reasons[0]
    assert "neither a name nor an email" in reasons[1]
    assert "no END:VCARD" in reasons[2]
    assert all(q.scope == f"vcard:{tmp_path / 'all.vcf'}" for q in found.quarantined)
    assert found.quarantined[0].excerpt.startswith(b"BEGIN:VCARD")


def test_utf16_export_with_bom(tmp_path):
    card = only(read_vcards(write(tmp_path, "u16.vcf", VCARD4, "utf-16")))
    assert card.full_name == "Bo Li"


@pytest.mark.parametrize(
    "content",
    ["First Name,Last Name\nAna,Ruiz\n", "just some notes\n", "", "\x00\x01\x02binary"],
)
def test_a_file_that_is_no_vcard_at_all_is_an_error(tmp_path, content):
    path = write(tmp_path, "x.vcf", content)
    with pytest.raises(UserError, match="is not a vCard file"):
        read_vcards(path)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("19850412", "1985-04-12"),
        ("1985-04-12", "1985-04-12"),
        ("--0412", "--04-12"),
        ("--04-12", "--04-12"),
        ("1985-04-12T00:00:00Z", "1985-04-12"),
        ("1604-04-12", "--04-12"),
        ("2023-02-29", None),
        ("--1340", None),
        ("circa 1800", None),
        ("", None),
    ],
)
def test_date_forms(raw, expected):
    assert normalise_date(raw) == expected


NOTE = (
    '"When exporting your connection data, you may notice that some of the email addresses'
    " are missing. You will only see email addresses for connections who have allowed their"
    " connections to see or download their email address using this setting"
    " https://www.linkedin.com/psettings/privacy/email. You can learn more here"
    ' https://www.linkedin.com/help/linkedin/answer/261"'
)
LINKEDIN = (
    f"Notes:\n{NOTE}\n\n"
    "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
    'Ana,Ruiz,https://www.linkedin.com/in/ana-ruiz-0a1b2c,,"Luz Labs, S.L.",Head of Research,'
    "05 Dec 2026\n"
    "Jürgen,Müller,https://www.linkedin.com/in/jmueller,JM@acme.example,Acme GmbH,"
    "Leiter Forschung,12 Jan 2020\n"
    ",,https://www.linkedin.com/in/ghost,,Nowhere,,01 Jan 2021\n"
)


def test_linkedin_connections_with_notes_preamble(tmp_path):
    found = read_connections(write(tmp_path, "Connections.csv", LINKEDIN))
    ana, jm = found.cards
    assert (ana.full_name, ana.emails, ana.organization, ana.title) == (
        "Ana Ruiz",
        (),
        "Luz Labs, S.L.",
        "Head of Research",
    )
    assert ana.uid == "https://www.linkedin.com/in/ana-ruiz-0a1b2c"
    assert jm.emails == ("jm@acme.example",) and jm.source == "linkedin"
    assert ana.anniversary is None and ana.started_at is None  # Connected On is neither
    assert [q.reason for q in found.quarantined] == ["a connection without a name"]


def test_a_csv_without_the_linkedin_header_is_an_error(tmp_path):
    path = write(tmp_path, "Connections.csv", "Name,Email\nAna,ana@x.example\n")
    with pytest.raises(UserError, match=r"not LinkedIn's Connections\.csv"):
        read_connections(path)
