"""``syncd audit`` on a real mailbox (Enron allen-p): its counts agree with
``syncd people --json``."""

from __future__ import annotations

import pytest

from tests.support.audit_check import assert_agrees, audit_and_people
from tests.support.helpers import run_cli, shared_data

NOW = "2002-02-01"
ME = ("phillip.allen@enron.com", "k..allen@enron.com")


@pytest.fixture(scope="module")
def allen(tmp_path_factory):
    mailbox_dir = shared_data("enron", "allen-p")
    home = tmp_path_factory.mktemp("allen-audit") / "home"
    me = [arg for a in ME for arg in ("--me", a)]
    run_cli("import", "mbox", str(mailbox_dir), *me, home=home)
    return home


def test_audit_agrees_with_people_json_on_enron(allen):
    audit, people = audit_and_people(allen, NOW)
    assert_agrees(audit, people, NOW)
    assert audit["humans"] > 50
    assert audit["organisations"][0][0] == "enron.com"
