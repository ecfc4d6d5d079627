"""msal plumbing of outlook accounts, without a network: a fake login.microsoftonline.com
answers msal's own HTTP calls (discovery, device code, token, refresh) and, through a
fake browser, its authorize page (the interactive flow: PKCE, nonce, form_post back to
msal's listener on localhost).

The device code flow stores the grant in the persisted token cache (a 0600 file with
``SYNCD_KEYRING=0``); a new process reads it and gets the access token silently, a 401
refreshes it through the refresh token, a forgotten grant is AuthRequired; the scopes
follow the planner and digest routes; ``syncd auth`` refuses a token-file account.
"""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import threading
import time
import urllib.parse
import urllib.request
import webbrowser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import tomlkit
from click.testing import CliRunner

from connectors import graph_auth, outlook
from connectors.google_pacing import forget_pacers
from syncd.cli import cli
from syncd.config.schema import AccountConfig, save_account
from syncd.core.errors import AuthRequired, UserError
from syncd.core.home import Home
from tests.support.graph_emulator import GraphEmulator
from tests.support.graph_emulator.testing import fill_mailbox
from tests.support.helpers import run_cli

CLIENT = "11111111-2222-3333-4444-555555555555"
TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
LOGIN = "https://login.microsoftonline.com"
OPENID = f"{LOGIN}/common/v2.0/.well-known/openid-configuration"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


class Answer:
    """What msal expects of a response."""

    def __init__(self, body: dict, status: int = 200):
        self.status_code = status
        self.text = json.dumps(body)
        self.headers: dict[str, str] = {}

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(self.status_code)


class FakeLogin:
    """A Microsoft identity platform for one user, served to msal as its ``http_client``."""

    def __init__(self) -> None:
        self.issued = 0
        self.posts: list[tuple[str, dict]] = []
        self.codes: dict[str, dict[str, str]] = {}
        self.consented: dict[str, set[str]] = {}  # refresh token -> the scopes consented

    def authorize(self, url: str) -> tuple[str, dict[str, str]]:
        """The user signs in and consents at ``url`` (the authorize endpoint): where the
        browser posts the answer (``response_mode=form_post``) and the form's fields."""
        parts = urlsplit(url)
        q = dict(parse_qsl(parts.query))
        assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
            f"{LOGIN}/common/oauth2/v2.0/authorize"
        ), url
        assert q["client_id"] == CLIENT and q["response_type"] == "code"
        assert q["response_mode"] == "form_post" and q["code_challenge_method"] == "S256"
        assert urlsplit(q["redirect_uri"]).hostname == "localhost", q["redirect_uri"]
        code = f"CODE{len(self.codes) + 1}"
        self.codes[code] = q
        return q["redirect_uri"], {"code": code, "state": q["state"]}

    def _redeem(self, data: dict[str, Any]) -> dict[str, Any]:
        """``grant_type=authorization_code``: a code once, for its redirect URI and verifier."""
        asked = self.codes.pop(data["code"])  # a code is redeemed once
        assert data["redirect_uri"] == asked["redirect_uri"] and data["client_id"] == CLIENT
        digest = hashlib.sha256(data["code_verifier"].encode()).digest()
        assert base64.urlsafe_b64encode(digest).decode().rstrip("=") == asked["code_challenge"]
        return self._tokens(asked["scope"], nonce=asked.get("nonce"))

    def _tokens(self, scope: str, nonce: str | None = None) -> dict[str, Any]:
        self.issued += 1
        now = int(time.time())
        claims = {
            "iss": f"{LOGIN}/{TENANT}/v2.0",
            "aud": CLIENT,
            "sub": "sub-1",
            "oid": "oid-1",
            "tid": TENANT,
            "iat": now,
            "exp": now + 3600,
            "preferred_username": "me@example.com",
        }
        if nonce:
            claims["nonce"] = nonce
        self.consented[f"RT{self.issued}"] = set(scope.split())
        return {
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": 3600,
            "access_token": f"AT{self.issued}",
            "refresh_token": f"RT{self.issued}",
            "id_token": f"{_b64({'alg': 'none'})}.{_b64(claims)}.",
            "client_info": _b64({"uid": "oid-1", "utid": TENANT}),
        }

    def get(self, url: str, params: Any = None, headers: Any = None, **kw: Any) -> Answer:
        if "openid-configuration" in url:
            base = f"{LOGIN}/common"
            return Answer(
                {
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                    "issuer": f"{LOGIN}/{{tenantid}}/v2.0",
                }
            )
        if "discovery/instance" in url:
            return Answer(
                {
                    "tenant_discovery_endpoint": OPENID,
                    "metadata": [
                        {
                            "preferred_network": "login.microsoftonline.com",
                            "preferred_cache": "login.windows.net",
                            "aliases": ["login.microsoftonline.com", "login.windows.net"],
                        }
                    ],
                }
            )
        raise AssertionError(f"unexpected GET {url}")

    def post(
        self, url: str, params: Any = None, data: Any = None, headers: Any = None, **kw: Any
    ) -> Answer:
        self.posts.append((url, dict(data or {})))
        if url.endswith("/devicecode"):
            self.device_scope = (data or {}).get("scope", "")
            return Answer(
                {
                    "device_code": "DC",
                    "user_code": "ABCD-EFGH",
                    "verification_uri": "https://microsoft.com/devicelogin",
                    "expires_in": 900,
                    "interval": 0,
                    "message": "To sign in, enter ABCD-EFGH at https://microsoft.com/devicelogin",
                }
            )
        if url.endswith("/token"):
            grant = (data or {}).get("grant_type", "")
            if grant == "authorization_code":
                return Answer(self._redeem(dict(data or {})))
            assert grant in ("urn:ietf:params:oauth:grant-type:device_code", "refresh_token"), grant
            scope = (data or {}).get("scope") or getattr(self, "device_scope", "")
            known = self.consented.get((data or {}).get("refresh_token", ""))
            if grant == "refresh_token" and known is not None and set(scope.split()) - known:
                return Answer(
                    {
                        "error": "invalid_grant",
                        "error_description": "AADSTS65001: The user or administrator has "
                        "not consented to use the application.",
                    },
                    400,
                )
            return Answer(self._tokens(scope if isinstance(scope, str) else " ".join(scope)))
        raise AssertionError(f"unexpected POST {url}")

    def close(self) -> None:
        pass


def outlook_account(**options: Any) -> AccountConfig:
    return AccountConfig(
        name="o", kind="outlook", address="me@example.com", options={"client_id": CLIENT, **options}
    )


def test_device_code_grant_persists_and_refreshes_silently(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("SYNCD_KEYRING", "0")
    home = Home(tmp_path / "home")
    login = FakeLogin()
    said: list[str] = []
    user = graph_auth.authorize(
        outlook_account(), home, ["Mail.ReadBasic", "Calendars.Read"], device_code=True,
        echo=said.append, http_client=login,
    )  # fmt: skip
    assert user == "me@example.com"
    assert "ABCD-EFGH" in said[0]
    cache = graph_auth.cache_path(home, "o")
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    assert "RT1" in cache.read_text()

    # Another process: the token comes from the cache, no request at all.
    fresh = FakeLogin()
    token = graph_auth.token_source(outlook_account(), home, ["Mail.ReadBasic"], http_client=fresh)
    assert token(False) == "AT1"
    assert not [p for p in fresh.posts if p[0].endswith("/token")]
    # After a 401: refreshed through the refresh token, and saved.
    assert token(True) == "AT1"  # the fresh fake's first token, through the refresh token
    refreshed = [p for p in fresh.posts if p[1].get("grant_type") == "refresh_token"]
    assert refreshed and refreshed[0][1]["refresh_token"] == "RT1"

    graph_auth.forget(outlook_account(), home)
    with pytest.raises(AuthRequired, match="syncd auth o"):  # told without any request
        graph_auth.token_source(outlook_account(), home, ["Mail.ReadBasic"], http_client=object())


def test_scopes_are_least_privilege():
    class Cfg:
        def __init__(self, **tables: dict):
            self.tables = tables

        def section(self, name: str) -> dict:
            return self.tables.get(name, {})

    acc = outlook_account()
    assert graph_auth.scopes_for(acc) == ["Mail.ReadBasic", "Calendars.Read"]
    assert graph_auth.scopes_for(outlook_account(read_calendar=False)) == ["Mail.ReadBasic"]
    routed = Cfg(planner={"calendar": "account:o"}, digest={"via": "account:o"})
    assert graph_auth.scopes_for(acc, routed) == [
        "Mail.ReadBasic",
        "Calendars.ReadWrite",
        "Mail.Send",
    ]


def test_missing_client_id_and_bad_tenant_say_what_to_do(tmp_path: Path):
    with pytest.raises(UserError, match="App registrations"):
        graph_auth.client_id_of(AccountConfig(name="o", kind="outlook"))
    with pytest.raises(UserError, match="tenant"):
        graph_auth.authority_for(outlook_account(tenant="a/b"))
    assert graph_auth.authority_for(outlook_account(tenant="consumers")).endswith("/consumers")


def test_auth_refuses_a_token_file_account(tmp_path: Path):
    token = tmp_path / "t.json"
    token.write_text('{"token": "x"}')
    home = tmp_path / "home"
    run_cli("account", "add", "outlook", "o", "--address", "me@example.com",
            "--token-file", str(token), "--client-id", CLIENT, home=home)  # fmt: skip
    proc = run_cli("auth", "o", "--device-code", home=home, check=False)
    assert proc.returncode == 1 and "token file" in proc.stderr
    assert run_cli("auth", "o", "--revoke", home=home).stdout.startswith("forgot the grant of o")


def fake_browser(monkeypatch, login: FakeLogin) -> list[tuple[str, str]]:
    """``webbrowser`` opens the page in a thread: the user signs in at ``login``, and the
    browser posts the answer to msal's listener on localhost. Returns ``(url, page)``
    of every sign-in (page: what msal's listener showed, or the failure)."""
    seen: list[tuple[str, str]] = []

    def visit(url: str) -> None:
        try:
            target, form = login.authorize(url)
        except Exception as exc:  # msal must stop waiting: the user "cancels"
            target = dict(parse_qsl(urlsplit(url).query)).get("redirect_uri", "")
            form = {"error": "access_denied", "error_description": repr(exc)}
        body = urllib.parse.urlencode(form).encode()
        try:
            with urllib.request.urlopen(target, data=body, timeout=10) as page:
                seen.append((url, page.read().decode()))
        except Exception as exc:
            seen.append((url, f"failed: {exc!r}"))

    class Browser(webbrowser.BaseBrowser):
        def open(self, url: str, new: int = 0, autoraise: bool = True) -> bool:
            threading.Thread(target=visit, args=(url,), daemon=True).start()
            return True

    monkeypatch.setenv("BROWSER", "syncd-test-browser")  # not Edge: msal prefers none then
    monkeypatch.setattr(webbrowser, "get", lambda using=None: Browser())
    monkeypatch.setattr(webbrowser, "open", lambda url, new=0, autoraise=True: Browser().open(url))
    return seen


def test_browser_sign_in_through_syncd_auth_is_cached_then_silent(tmp_path: Path, monkeypatch):
    """``syncd auth o`` (no --device-code): msal's browser flow against the fake login,
    the grant cached; a second ``syncd auth o`` and a sync use it without any sign-in."""
    monkeypatch.setenv("SYNCD_KEYRING", "0")
    forget_pacers()
    login = FakeLogin()
    real = graph_auth.application

    def application(account, home, http_client=None, cache=None):
        return real(account, home, login, cache)

    monkeypatch.setattr(graph_auth, "application", application)
    pages = fake_browser(monkeypatch, login)
    home = Home(tmp_path / "home")
    home.ensure()
    with GraphEmulator() as emu:
        acc = outlook_account(api_endpoint=emu.url, backoff_base=0.01, read_calendar=False)
        save_account(home.config_path, acc)

        def syncd_auth() -> str:
            result = CliRunner().invoke(cli, ["--home", str(home.root), "auth", "o"])
            assert result.exit_code == 0, (result.output, result.exception, pages)
            return result.output

        said = syncd_auth()
        assert said.startswith("authorized o as me@example.com (Mail.ReadBasic)"), said
        assert len(pages) == 1 and pages[0][1].startswith("Authentication complete"), pages
        asked = dict(parse_qsl(urlsplit(pages[0][0]).query))
        assert asked["login_hint"] == "me@example.com" and asked["prompt"] == "select_account"
        assert set(asked["scope"].split()) == {"Mail.ReadBasic", "offline_access", "openid",
                                               "profile"}  # fmt: skip
        redeemed = [d for u, d in login.posts if d.get("grant_type") == "authorization_code"]
        assert len(redeemed) == 1 and not login.codes, "the code was redeemed once"
        cache = graph_auth.cache_path(home, "o")
        assert stat.S_IMODE(cache.stat().st_mode) == 0o600 and "RT1" in cache.read_text()

        # Again: the cached grant covers the scopes, no browser and no token request.
        posts = len(login.posts)
        said = syncd_auth()
        assert said.startswith("o is already authorized as me@example.com"), said
        assert len(pages) == 1 and len(login.posts) == posts

        # A sync: the access token from the cache, silently.
        emu.tokens["AT1"] = frozenset(emu.scopes)
        fill_mailbox(emu, 8)
        reader = outlook.open_reader(acc, home)
        mail = [m for batch in reader.fetch({}) for m in batch.mail]
        assert mail and emu.calls() and len(login.posts) == posts and len(pages) == 1
        assert {r.headers.get("authorization") for r in emu.calls()} == {"Bearer AT1"}

        # Follow-ups now go to this calendar: Calendars.ReadWrite was never consented, so
        # the refresh token cannot get it and the browser asks for it.
        doc = tomlkit.parse(home.config_path.read_text())
        doc["planner"] = {"calendar": "account:o"}
        home.config_path.write_text(tomlkit.dumps(doc))
        said = syncd_auth()
        assert said.startswith("authorized o as me@example.com (Mail.ReadBasic, "
                               "Calendars.ReadWrite)"), said  # fmt: skip
        assert len(pages) == 2 and "Calendars.ReadWrite" in pages[1][0]
        assert any(d.get("grant_type") == "refresh_token" for _, d in login.posts[posts:])
    forget_pacers()
