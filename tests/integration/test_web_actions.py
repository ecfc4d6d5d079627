"""The dashboard's person actions over HTTP against a real ``syncd serve``: tag, pin a tier,
merge, split, ignore; after each, the CLI says the same."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from tests.integration.test_web_security import request
from tests.support.dashboard import serve
from tests.support.helpers import message, run_cli

NOW = "2026-03-01"
ME = "me@example.com"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Ana (two addresses, two people) and Ben, served; a signed-in session."""
    root = tmp_path_factory.mktemp("webact")
    mail = root / "mail"
    mail.mkdir()
    msgs = []
    for day, sender in enumerate(("ana@x.example", "ana@home.example", "ben@y.example"), 3):
        msgs.append(
            message(
                sender=f"Someone <{sender}>",
                to=ME,
                subject=f"hi {day}",
                date=datetime(2026, 1, day, 9, tzinfo=UTC),
            )
        )
        msgs.append(
            message(
                sender=ME,
                to=sender,
                subject=f"Re: hi {day}",
                date=datetime(2026, 1, day, 10, tzinfo=UTC),
            )
        )
    (mail / "INBOX").write_bytes(b"".join(b"From x Thu Jan  1 00:00:00 2026\n" + m for m in msgs))
    home = root / "home"
    run_cli("--now", NOW, "import", "mbox", str(mail), "--me", ME, home=home)
    with serve(home, NOW) as s:
        path = s.url.split(str(s.port), 1)[1]
        cookie = request(s.port, "GET", path).getheader("Set-Cookie").split(";", 1)[0]
        yield s, home, cookie


def cli(home, *args):
    return json.loads(run_cli("--now", NOW, *args, "--json", home=home).stdout)


def pid_of(home, address):
    return next(p["id"] for p in cli(home, "people") if address in p["emails"])


def post(site, path, **form):
    s, _, cookie = site
    page = request(s.port, "GET", path.rsplit("/", 1)[0], cookie=cookie).text
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    r = request(s.port, "POST", path, cookie=cookie, body=urlencode({**form, "csrf": token}))
    assert r.status == 303, r.text
    note = request(s.port, "GET", r.getheader("Location"), cookie=cookie).text
    return r.getheader("Location"), note


def test_tags_and_a_pinned_tier_are_the_clis(site):
    _, home, _ = site
    ana = pid_of(home, "ana@x.example")
    _, page = post(site, f"/people/{ana}/tag", tags="Client, berlin")
    assert "tags now berlin, client" in page
    assert cli(home, "why", str(ana))["tags"] == ["berlin", "client"]
    post(site, f"/people/{ana}/untag", tag="berlin")
    assert cli(home, "why", str(ana))["tags"] == ["client"]
    post(site, f"/people/{ana}/tier", tier="core")
    people = {p["id"]: p for p in cli(home, "people")}
    assert people[ana]["tier"] == "core"
    assert cli(home, "why", str(ana))["pinned"] is True


def test_merge_then_split_are_the_clis(site):
    _, home, _ = site
    ana, other = pid_of(home, "ana@x.example"), pid_of(home, "ana@home.example")
    _, page = post(site, f"/people/{ana}/merge", other="ana@home.example")
    assert f"merged person {other} into {ana}" in page
    merged = {p["id"]: p for p in cli(home, "people")}
    assert other not in merged
    assert set(merged[ana]["emails"]) == {"ana@x.example", "ana@home.example"}
    assert merged[ana]["touches_in"] == 2 and merged[ana]["touches_out"] == 2
    location, page = post(site, f"/people/{ana}/split", address="ana@home.example")
    made = int(location.rsplit("/", 1)[1])
    assert f"into person {made}" in page
    after = {p["id"]: p for p in cli(home, "people")}
    assert after[made]["emails"] == ["ana@home.example"]
    assert after[ana]["emails"] == ["ana@x.example"]
    assert after[ana]["touches_in"] == 1


def test_ignore_is_syncd_ignore(site):
    _, home, _ = site
    ben = pid_of(home, "ben@y.example")
    _, page = post(site, f"/people/{ben}/ignore")
    assert "ignoring ben@y.example" in page
    assert "ben@y.example" in run_cli("--now", NOW, "ignore", "--list", home=home).stdout


def test_an_invalid_config_is_said_in_plain_words_on_the_page(site):
    s, home, cookie = site
    config = home / "config.toml"
    config.write_text('[tiers]\ncore = "many"\n', encoding="utf-8")
    try:
        page = request(s.port, "GET", "/", cookie=cookie)
        assert page.status == 409
        assert "tiers.core" in page.text and "syncd doctor" in page.text
    finally:
        config.unlink()
    assert request(s.port, "GET", "/", cookie=cookie).status == 200


def test_the_digest_preview_is_the_emails_html(site, tmp_path):
    s, home, cookie = site
    page = request(s.port, "GET", "/digest/email", cookie=cookie)
    assert page.status == 200
    assert "default-src 'none'" in page.getheader("Content-Security-Policy")
    run_cli("--now", NOW, "digest", "--preview", str(tmp_path / "d.html"), home=home)
    assert page.text == (tmp_path / "d.html").read_text(encoding="utf-8")
