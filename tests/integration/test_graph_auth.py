"""msal plumbing of outlook accounts, without a network: a fake login.microsoftonline.com
answers msal's own HTTP calls (discovery, device code, token, refresh).

The device code flow stores the grant in the persisted token cache (a 0600 file with
``SYNCD_KEYRING=0``); a new process reads it and gets the access token silently, a 401
refreshes it through the refresh token, a forgotten grant is AuthRequired; the scopes
follow the planner and digest routes; ``syncd auth`` refuses a token-file account.
"""

from __future__ import annotations

import base64
import json
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from connectors import graph_auth
from syncd.config.schema import AccountConfig
from syncd.core.errors import AuthRequired, UserError
from syncd.core.home import Home
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

    def _tokens(self, scope: str) -> dict[str, Any]:
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
            assert grant in ("urn:ietf:params:oauth:grant-type:device_code", "refresh_token"), grant
            scope = (data or {}).get("scope") or getattr(self, "device_scope", "")
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
