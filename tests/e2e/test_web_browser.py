"""The dashboard in a real browser: Debian's Chromium driven by Playwright against a real
``syncd serve`` on the demo network. Every action is then checked through the CLI."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.support.dashboard import DEMO_NOW, demo_home, launch, serve
from tests.support.helpers import run_cli

DAY = 86400


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    """The demo home, its server and one browser page signed in with the token."""
    home = demo_home(tmp_path_factory.mktemp("webdemo"))
    with serve(home) as server, sync_playwright() as pw:
        browser = launch(pw)
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server.url)
        yield page, server, home, errors
        browser.close()


def cli_json(home, *args):
    return json.loads(run_cli("--now", DEMO_NOW, *args, "--json", home=home).stdout)


def flag_ids(row) -> str:
    return row.locator('input[name="flag"]').first.input_value()


def test_the_token_opens_today_and_leaves_the_address_bar(dashboard):
    page, server, home, errors = dashboard
    assert page.url == server.base + "/"
    expect(page.locator("h1")).to_contain_text("Today")
    shown = page.locator("ol.flags > li")
    open_flags = cli_json(home, "flags")
    assert shown.count() == min(20, len(open_flags))
    # value order, as syncd flags --json lists them
    assert [flag_ids(shown.nth(i)) for i in range(3)] == [f["id"] for f in open_flags[:3]]
    assert errors == []


def test_done_in_the_browser_is_done_for_the_cli_and_nothing_moves(dashboard):
    page, _, home, errors = dashboard
    rows = page.locator("ol.flags > li")
    first = page.locator(f"#{rows.nth(0).get_attribute('id')}")
    second = rows.nth(1)
    flag = flag_ids(first)
    below = second.bounding_box()["y"]
    first.get_by_role("button", name=re.compile(r"^Done")).focus()
    page.keyboard.press("Enter")  # keyboard usable
    expect(first).to_contain_text(f"done: {flag}")
    assert page.locator("ol.flags > li").nth(1).bounding_box()["y"] == below  # no layout shift
    assert page.evaluate("document.activeElement.id") == first.get_attribute("id")
    assert flag not in {f["id"] for f in cli_json(home, "flags")}
    person = flag.split(":")[1]
    stored = {f["id"]: f for f in cli_json(home, "flags", "--all", "--person", person)}
    assert stored[flag]["state"] == "done"
    assert stored[flag]["resolution"] == "user"
    assert errors == []


def test_snooze_for_two_weeks_is_the_clis_snooze(dashboard):
    page, _, home, _ = dashboard
    row = page.locator("ol.flags > li:not(.settled)").first
    flag, dom_id = flag_ids(row), row.get_attribute("id")
    row = page.locator(f"#{dom_id}")  # the same row, also once it has settled
    row.locator('select[name="days"]').select_option(label="2 weeks")
    row.get_by_role("button", name=re.compile(r"^Snooze")).click()
    expect(row).to_contain_text(f"snoozed {flag} until")
    assert flag not in {f["id"] for f in cli_json(home, "flags")}
    person = flag.split(":")[1]
    stored = {f["id"]: f for f in cli_json(home, "flags", "--all", "--person", person)}
    assert stored[flag]["state"] == "snoozed"
    assert stored[flag]["snoozed_until"] == "2026-12-15T00:00:00+00:00"


def test_a_coffee_logged_on_a_person_page_shows_in_syncd_why(dashboard):
    page, server, home, errors = dashboard
    person = cli_json(home, "people")[0]
    page.goto(f"{server.base}/people/{person['id']}")
    expect(page.locator("h1")).to_contain_text(person["name"])
    page.get_by_label("Kind", exact=True).select_option("coffee")
    page.get_by_label("Note").fill("Coffee at Luz")
    page.get_by_role("button", name="Log it").click()
    expect(page.locator(".note.ok")).to_contain_text("logged: ")
    expect(page.locator(".timeline")).to_contain_text("Coffee at Luz")
    why = cli_json(home, "why", str(person["id"]))
    latest = why["last_touches"][0]
    assert latest["kind"] == "coffee" and latest["subject"] == "Coffee at Luz"
    assert latest["at"] == "2026-12-01T00:00:00+00:00"
    assert errors == []


def test_correcting_a_kind_in_the_browser_is_the_clis_correction(dashboard):
    page, server, home, _ = dashboard
    people = cli_json(home, "people")
    person = next(p for p in people if p["kind"] == "human" and p["tier"] == "network")
    page.goto(f"{server.base}/people/{person['id']}")
    page.get_by_label("Correct the kind").select_option("automated")
    page.get_by_role("button", name="Set kind").click()
    expect(page.locator(".note.ok")).to_contain_text(f"person {person['id']} is automated")
    expect(page.locator("#kind-h")).to_contain_text("automated")
    why = cli_json(home, "why", str(person["id"]))
    assert (why["kind"], why["kind_source"]) == ("automated", "user")
    after = {p["id"]: p for p in cli_json(home, "people")}
    assert after[person["id"]]["kind"] == "automated"
    assert after[person["id"]]["tier"] == "acquaintance"
    assert "ignore --list" not in run_cli("--now", DEMO_NOW, "ignore", "--list", home=home).stdout
    assert (
        f"(person {person['id']}): automated"
        in run_cli("--now", DEMO_NOW, "ignore", "--list", home=home).stdout
    )


def test_the_other_pages_render_what_the_cli_reports(dashboard):
    page, server, home, errors = dashboard
    people = cli_json(home, "people")
    page.goto(f"{server.base}/people?tier=core")
    core = [p for p in people if p["tier"] == "core"]
    expect(page.locator("table.people tbody tr")).to_have_count(len(core))
    page.goto(f"{server.base}/network")
    expect(page.locator("svg.map circle")).to_have_count(
        sum(p["tier"] in ("core", "active") and p["kind"] == "human" for p in people)
    )
    page.goto(f"{server.base}/digest")
    frame = page.frame_locator("iframe.digest")
    expect(frame.locator("body")).to_contain_text("Your network this week")
    assert errors == []


def test_pinning_a_tier_from_the_people_list_is_syncd_people_tier(dashboard):
    page, server, home, errors = dashboard
    person = next(p for p in cli_json(home, "people") if p["tier"] == "network")
    page.goto(f"{server.base}/people?q={person['emails'][0]}")
    page.get_by_label(f"Pin the tier of {person['name']}").select_option("core")
    page.get_by_role("button", name=f"Pin {person['name']}").click()
    expect(page.locator(".note.ok")).to_contain_text(f"person {person['id']}: tier pinned to core")
    after = {p["id"]: p for p in cli_json(home, "people")}
    assert after[person["id"]]["tier"] == "core"
    assert cli_json(home, "why", str(person["id"]))["pinned"] is True
    assert errors == []
