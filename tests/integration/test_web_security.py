"""The dashboard refuses what it must: a real ``syncd serve`` (uvicorn on a free port) asked
over raw HTTP, so every header, cookie and Host is exactly what a browser or an attacker
could send."""

from __future__ import annotations

import http.client
import os
import re
import stat
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest

from tests.support.dashboard import serve
from tests.support.helpers import message, run_cli

NOW = "2026-03-01"
ME = "me@example.com"
EVIL = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A home with one person whose display name is a script tag, served."""
    root = tmp_path_factory.mktemp("websec")
    mail = root / "mail"
    mail.mkdir()
    msgs = [
        message(
            sender=f'"{EVIL}" <evil@x.example>',
            to=ME,
            date=datetime(2026, 1, day, 9, 0, tzinfo=UTC),
            subject=f"hello {day}",
        )
        for day in (5, 6)
    ] + [
        message(
            sender=ME,
            to="evil@x.example",
            date=datetime(2026, 1, 7, 9, 0, tzinfo=UTC),
            subject="Re: hello",
        )
    ]
    (mail / "INBOX").write_bytes(b"".join(b"From x Thu Jan  1 00:00:00 2026\n" + m for m in msgs))
    home = root / "home"
    run_cli("--now", NOW, "import", "mbox", str(mail), "--me", ME, home=home)
    with serve(home, NOW) as s:
        yield s, home


def request(port, method, path, *, host=None, cookie=None, body=None, headers=None):
    """One raw HTTP request; the response with its body read."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    h = {"Host": host or f"127.0.0.1:{port}"}
    if cookie:
        h["Cookie"] = cookie
    if body is not None:
        h.setdefault("Content-Type", "application/x-www-form-urlencoded")
    h.update(headers or {})
    conn.request(method, path, body=body, headers=h)
    response = conn.getresponse()
    response.text = response.read().decode("utf-8", "replace")
    conn.close()
    return response


def sign_in(server):
    s, _ = server
    path = s.url.split(str(s.port), 1)[1]
    r = request(s.port, "GET", path)
    assert r.status == 303
    return r, r.getheader("Set-Cookie").split(";", 1)[0]


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


def test_the_token_is_exchanged_for_a_strict_httponly_cookie_and_leaves_the_url(server):
    r, cookie = sign_in(server)
    assert r.getheader("Location") == "/"
    set_cookie = r.getheader("Set-Cookie")
    assert "HttpOnly" in set_cookie
    assert "SameSite=Strict" in set_cookie
    assert "token" not in r.getheader("Location")
    s, _ = server
    assert request(s.port, "GET", "/", cookie=cookie).status == 200


def test_without_the_token_everything_is_refused(server):
    s, _ = server
    for path in ("/", "/people", "/network", "/digest/email", "/static/htmx.min.js"):
        r = request(s.port, "GET", path)
        assert r.status == 403, path
        assert "syncd serve printed" in r.text
    assert request(s.port, "GET", "/?token=not-the-token").status == 403
    assert request(s.port, "GET", "/", cookie="syncd_session=forged").status == 403


def test_a_foreign_host_is_refused_even_with_the_token_or_a_session(server):
    s, _ = server
    _, cookie = sign_in(server)
    path = s.url.split(str(s.port), 1)[1]
    for host in (f"evil.example:{s.port}", "127.0.0.1", f"127.0.0.1:{s.port + 1}", "localhost"):
        assert request(s.port, "GET", path, host=host).status == 421, host
        assert request(s.port, "GET", "/", host=host, cookie=cookie).status == 421, host
    assert request(s.port, "GET", "/", host=f"localhost:{s.port}", cookie=cookie).status == 200


def test_a_post_needs_the_sessions_csrf_token(server):
    s, home = server
    _, cookie = sign_in(server)
    people = request(s.port, "GET", "/people", cookie=cookie).text
    pid = re.search(r'href="/people/(\d+)"', people).group(1)
    token = csrf_of(request(s.port, "GET", f"/people/{pid}", cookie=cookie).text)
    form = {"kind": "call", "next": f"/people/{pid}"}
    no_csrf = request(s.port, "POST", f"/people/{pid}/log", cookie=cookie, body=urlencode(form))
    assert no_csrf.status == 403
    wrong = urlencode({**form, "csrf": token[:-2] + "xx"})
    assert request(s.port, "POST", f"/people/{pid}/log", cookie=cookie, body=wrong).status == 403
    # another session's token is not this session's
    _, other_cookie = sign_in(server)
    ok_body = urlencode({**form, "csrf": token})
    assert (
        request(s.port, "POST", f"/people/{pid}/log", cookie=other_cookie, body=ok_body).status
        == 403
    )
    foreign = request(
        s.port,
        "POST",
        f"/people/{pid}/log",
        cookie=cookie,
        body=ok_body,
        headers={"Origin": "http://evil.example"},
    )
    assert foreign.status == 403
    as_json = request(
        s.port,
        "POST",
        f"/people/{pid}/log",
        cookie=cookie,
        body="{}",
        headers={"Content-Type": "application/json"},
    )
    assert as_json.status == 415
    # nothing was logged by the refused requests
    why = run_cli("--now", NOW, "why", pid, home=home).stdout
    assert "logged" not in why
    done = request(s.port, "POST", f"/people/{pid}/log", cookie=cookie, body=ok_body)
    assert done.status == 303
    assert done.getheader("Location") == f"/people/{pid}"
    why = run_cli("--now", NOW, "why", pid, home=home).stdout
    assert "call" in why and "(logged, id 1)" in why
    assert request(s.port, "GET", f"/people/{pid}/log", cookie=cookie).status == 405


def test_headers_forbid_framing_scripts_from_elsewhere_and_cors(server):
    s, _ = server
    _, cookie = sign_in(server)
    r = request(s.port, "GET", "/", cookie=cookie, headers={"Origin": "http://evil.example"})
    assert r.status == 200
    csp = r.getheader("Content-Security-Policy")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert r.getheader("X-Frame-Options") == "DENY"
    assert r.getheader("Referrer-Policy") == "no-referrer"
    assert not [h for h, _ in r.getheaders() if h.lower().startswith("access-control-")]
    options = request(s.port, "OPTIONS", "/", cookie=cookie, headers={"Origin": "http://x"})
    assert options.status == 405
    assert not [h for h, _ in options.getheaders() if h.lower().startswith("access-control-")]
    # no remote asset and no inline script in any page
    for path in ("/", "/people", "/network", "/digest"):
        page = request(s.port, "GET", path, cookie=cookie).text
        assert not re.search(r'(src|href)="(https?:)?//', page), path
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), path


def test_a_name_holding_a_script_tag_is_shown_escaped(server):
    s, _ = server
    _, cookie = sign_in(server)
    people = request(s.port, "GET", "/people", cookie=cookie).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in people
    assert EVIL not in people
    pid = re.search(r'href="/people/(\d+)"', people).group(1)
    person = request(s.port, "GET", f"/people/{pid}", cookie=cookie).text
    assert "&lt;script&gt;" in person and EVIL not in person


def test_the_start_url_is_kept_private(server):
    s, home = server
    url_file = home / "serve-url"
    assert url_file.read_text().strip() == s.url
    assert stat.S_IMODE(os.stat(url_file).st_mode) == 0o600
