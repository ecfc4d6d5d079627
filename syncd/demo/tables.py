"""The example network's fixed material: the persona, organisations, names, topics,
automated senders and the mailing list (small ``|``-separated tables)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

PERSONA = "Dana Whitfield"
WORK = "dana@whitfield-consulting.example"
PERSONAL = "dana.whitfield@gmail.com"
PERSONA_ADDRESSES = (WORK, PERSONAL)
# Other spellings of the persona's gmail address: they are her too.
PERSONA_VARIANTS = ("Dana.Whitfield@gmail.com", "dana.whitfield+clients@gmail.com")
ME_FORMS = frozenset(a.lower() for a in PERSONA_ADDRESSES + PERSONA_VARIANTS)
SEED = 1730
DAY = 86400
MAIL_FOLDERS = ("Archive", "Drafts", "INBOX", "Sent", "Spam", "Trash")
SKIPPED_FOLDERS = frozenset({"Drafts", "Spam"})
BROADCAST_THRESHOLD = 20
LONDON = ZoneInfo("Europe/London")

Addr = tuple[str, str]  # (display name, address as written)


def rows(text: str) -> list[list[str]]:
    """A small table: one row per line, cells separated by ``|``."""
    return [[c.strip() for c in line.split("|")] for line in text.strip().splitlines()]


# Organisations: domain | local-part style | time zone. The first ten are clients.
ORGS = {
    d: (style, ZoneInfo(tz))
    for d, style, tz in rows("""
    northwind-logistics.example | first.last | Europe/London
    harbourline.example | flast | Europe/London
    kestrel-health.example | first.last | Europe/London
    orchard-retail.example | first | Europe/London
    lumen-analytics.example | first | America/New_York
    meridian-capital.example | first.last | America/New_York
    greyhaven-insurance.example | first.last | Europe/London
    tallis-pharma.example | flast | Europe/Berlin
    bluefin-energy.example | first.last | Europe/Berlin
    copperleaf.example | first | Europe/London
    city-university.example | first.last | Europe/London
    brightwater-partners.example | first | Europe/London
    fenwick-law.example | flast | Europe/London
    ashby-accounts.example | first.last | Europe/London
    foundry-ventures.example | first | America/New_York
    atlas-recruiting.example | first.last | Europe/London
    civic-transport.example | first_last | Europe/London
    redwood-foods.example | first.last | Europe/Berlin
    silverline-media.example | first | Europe/London
    quarry-design.example | first | Europe/London
    bramble-labs.example | first.last | America/New_York
    gmail.com | first.last | Europe/London
""")
}
CLIENTS = list(ORGS)[:10]
FIRST, LAST = (
    row[0].split()
    for row in rows("""
    Tom Aisha Marcus Elena Kenji Oliver Sofia Daniel Grace Hugo Amara Lucas Mei Rafael Hannah \
    Samuel Chloe Ibrahim Nadia Patrick Ines Victor Leah Omar Clara Ethan Yuki Gabriel Freya Arjun \
    Isabel Felix Maya Jonas Ruth Kwame Alice Mateo Eva Henry Lina Callum Rosa Dmitri Julia Aaron \
    Niamh Theo Anika Marco Laura Ben Sana Erik Helen Diego Imogen Raj Beatrice Leon Farah Simon \
    Tessa Adam Olga Kofi Lucy Nikhil Megan Paul Hana Stefan Zara Owen Ana
    Becker Okafor Lindqvist Moreau Tanaka Brennan Rossi Novak Adeyemi Fischer Chen Costa Walsh \
    Mensah Schmidt Duarte Kaur Hughes Nakamura Petrova O'Neill Varga Ibrahim Dubois Singh Murphy \
    Jensen Ferreira Kim Baker Sato Ahmed Larsen Romano Clarke Gupta Holm Nunez Price Weber Yilmaz \
    Campbell Mendes Fraser Ito Bauer Reid Lopez Hall Quinn Soto Palmer Vos Ward Eriksen Bianchi \
    Obi Doyle Khan Pereira Grant Silva Hart Moretti Osei Lam Berg Stone
""")
)
# Names that are not plain ASCII: display name | local part.
SPECIAL_NAMES = rows("""
    Zoë Brandt | zoe.brandt
    José Álvarez | jose.alvarez
    Łukasz Nowak | lukasz.nowak
    Siobhán Ní Bhriain | siobhan.nibhriain
    Søren Lund | soren.lund
""")
TOPICS = rows("""
    Q{q} operations review | warehouse KPIs | supplier scorecard | budget for {y} | the board pack
    onboarding plan | process map v{n} | pricing model | the RFP | workshop agenda | interim report
    headcount plan | vendor shortlist | data migration | risk register | quarterly numbers
    the pilot | SLA draft | invoice {n} | contract renewal | travel next week | the case study
""")
TOPICS = [t for row in TOPICS for t in row]
OPENERS = rows("""
    {t} | Re-cap: {t} | Quick question on {t} | Draft: {t} | Notes from today: {t}
    {t} — next steps | Following up on {t} | Thoughts on {t}? | Update: {t}
""")
OPENERS = [t for row in OPENERS for t in row]
SOCIAL = ("Coffee next week?", "Lunch?", "Catching up", "Drinks on Thursday?", "Long time!")
# Bulk and automated senders: name | address | every N days | headers (name=value; ...).
AUTOMATED = rows("""
    The Operations Brief | newsletter@opsbrief.example | 7 | List-Id=<weekly.opsbrief.example>; \
List-Unsubscribe=<https://opsbrief.example/u/8812>
    Harbour Review | digest@harbourreview.example | 30 | Precedence=bulk; \
List-Unsubscribe=<mailto:leave@harbourreview.example>
    City Events | events@cityevents.example | 14 | List-Unsubscribe=<https://cityevents.example/u?31>
    Supply Chain Weekly | news@supplychainweekly.example | 7 | Precedence=bulk
    Lumen Monitoring | alerts@status.lumen-analytics.example | 21 | Auto-Submitted=auto-generated
    Northwind Portal | noreply@portal.northwind-logistics.example | 10 |
    CloudSuite | no-reply@cloudsuite.example | 30 |
    TravelDesk | do-not-reply@traveldesk.example | 45 |
    Invoicely | donotreply@invoicely.example | 40 |
    Lumen Analytics | noreply+alerts@lumen-analytics.example | 60 |
    Kestrel HR | no_reply@kestrel-health.example | 35 |
""")
DAEMONS = rows("""
    Mail Delivery System | MAILER-DAEMON@mx.whitfield-consulting.example
    Mail Delivery Subsystem | mailer-daemon@googlemail.com
    Postmaster | postmaster@harbourline.example
""")
LIST = ("Ops Society", "discuss@lists.ops-society.example")
LIST_HEADERS = [
    ("List-Id", "Ops Society <discuss.lists.ops-society.example>"),
    ("Precedence", "list"),
]
