"""``syncd audit`` on the demo network: its counts agree with ``syncd people --json``;
``--html`` writes a page with inline SVG charts; the demo shows an introduction."""

from __future__ import annotations

import json

import pytest

from tests.support.audit_check import assert_agrees, audit_and_people
from tests.support.helpers import run_cli

NOW = "2026-12-01"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit-demo")
    home = root / "home"
    run_cli("--now", NOW, "demo", "--out", str(root / "out"), home=home)
    return home


def test_audit_agrees_with_people_json_on_the_demo(demo):
    audit, people = audit_and_people(demo, NOW)
    assert_agrees(audit, people, NOW)
    assert audit["reactivate"], "the demo has dormant strong ties"
    assert audit["time_zones_known"] > 0


def test_text_and_html(demo, tmp_path):
    page = tmp_path / "audit.html"
    out = run_cli("--now", NOW, "audit", "--html", str(page), home=demo).stdout
    assert "dormant strong ties worth reactivating" in out
    assert f"wrote {page}" in out
    html = page.read_text()
    assert html.count("<svg") >= 4 and "<script" not in html


def test_the_demo_shows_an_introduction(demo):
    audit = json.loads(run_cli("--now", NOW, "audit", "--json", home=demo).stdout)
    assert audit["give_take"]["introductions"] >= 1
