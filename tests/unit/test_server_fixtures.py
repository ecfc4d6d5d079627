"""A missing test server is a failure that names the install command, never a skip."""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

import pytest

from tests.support import dovecot, radicale_server


def test_a_missing_dovecot_fails_naming_the_install_command(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(pytest.fail.Exception, match="apt-get install dovecot-imapd"):
        dovecot.dovecot_binary()


def test_a_missing_radicale_fails_naming_the_install_command(monkeypatch, tmp_path: Path):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="pip install radicale"):
        radicale_server.Radicale(tmp_path).start()
