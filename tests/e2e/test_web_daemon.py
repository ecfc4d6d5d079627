"""``[serve] enabled = true``: ``syncd run`` serves the dashboard from a thread of the daemon,
logs its address without the token and keeps the start URL in a 0600 file."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import stat

from tests.e2e.test_daemon import Daemon, add_daemon_table, mbox_home, wait_for
from tests.e2e.test_status import set_state, synced_home
from tests.support.dashboard import serve
from tests.support.helpers import run_cli


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str, cookie: str | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Cookie": cookie} if cookie else {}
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.body = response.read().decode()
    conn.close()
    return response


def test_the_daemon_serves_the_dashboard_and_keeps_the_token_out_of_its_log(tmp_path):
    home, _ = mbox_home(tmp_path)
    port = free_port()
    add_daemon_table(home, f"\n[serve]\nenabled = true\nport = {port}\n")
    daemon = Daemon(home)
    try:
        daemon.wait_running()
        url_file = home / "serve-url"
        url = wait_for(lambda: url_file.exists() and url_file.read_text().strip(), what="URL")
        assert url.startswith(f"http://127.0.0.1:{port}/?token=")
        assert stat.S_IMODE(os.stat(url_file).st_mode) == 0o600
        token = url.split("token=", 1)[1]
        wait_for(lambda: f"dashboard at http://127.0.0.1:{port}/" in daemon.stderr(), what="log")
        assert token not in daemon.stderr()
        assert get(port, "/").status == 403
        signed = get(port, "/?token=" + token)
        assert signed.status == 303
        cookie = signed.getheader("Set-Cookie").split(";", 1)[0]
        today = get(port, "/", cookie)
        assert today.status == 200 and "Who needs attention" in today.body
        status = json.loads(run_cli("status", "--json", home=home).stdout)
        assert status["dashboard"] == f"http://127.0.0.1:{port}/"
        code, _ = daemon.stop(signal.SIGTERM)
        assert code == 0
        assert not url_file.exists()
        assert json.loads(run_cli("status", "--json", home=home).stdout)["dashboard"] is None
    finally:
        daemon.kill()


def test_a_bad_serve_table_is_a_config_problem(tmp_path):
    home = tmp_path / "home"
    run_cli("init", "--me", "me@example.com", home=home)
    add_daemon_table(home, '\n[serve]\nenabled = "yes"\nport = 80\nhost = "0.0.0.0"\n')
    proc = run_cli("doctor", "--no-service", home=home, check=False)
    assert proc.returncode == 2
    assert "serve.enabled: must be true or false" in proc.stdout
    assert "serve.port: must be from 1024 to 65535 (got 80)" in proc.stdout
    assert "serve.host: unknown setting" in proc.stdout


def test_syncd_serve_refuses_a_bad_or_busy_port_in_one_line(tmp_path):
    home = tmp_path / "home"
    low = run_cli("serve", "--port", "80", home=home, check=False)
    assert low.returncode == 1
    assert "--port 80: must be from 1024 to 65535" in low.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        taken = run_cli("serve", "--port", str(port), home=home, check=False)
    assert taken.returncode == 1
    assert f"port {port} on 127.0.0.1 is in use" in taken.stderr


def test_today_names_the_accounts_needing_auth_and_each_sync_error(tmp_path):
    home = synced_home(tmp_path)
    run_cli("account", "add", "mbox", "second", "--path", str(tmp_path / "inbox.mbox"), home=home)
    run_cli("sync", home=home)
    set_state(home, "inbox", last_result="needs-auth", needs_auth=1, last_error="grant revoked")
    set_state(home, "second", last_result="error", last_error="server said no", failures=2)
    with serve(home, "2026-03-01") as server:
        path = server.url.split(str(server.port), 1)[1]
        cookie = get(server.port, path).getheader("Set-Cookie").split(";", 1)[0]
        today = get(server.port, "/", cookie).body
    assert "Accounts needing <code>syncd auth</code>" in today
    assert "run <code>syncd auth inbox</code>" in today
    assert "error (2 in a row): server said no" in today
    status = json.loads(run_cli("status", "--json", home=home).stdout)
    assert {a["name"]: a["needs_auth"] for a in status["accounts"]} == {
        "inbox": True,
        "second": False,
    }
