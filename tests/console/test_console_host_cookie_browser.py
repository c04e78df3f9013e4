"""The console over HTTPS in Chromium: its session cookie is ``__Host-linli_session``, and a
plain ``linli_session`` another page planted (cookie tossing, found by an outside review)
does not make the operator someone else.

The hub runs in-process under uvicorn with a self-signed certificate made for the test
(``openssl``); Chromium is told to take it. Over plain HTTP the console keeps
``linli_session`` (every other console browser test signs in that way).
"""

import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, expect

from hub.app import create_app
from hub.auth.routes import SECURE_SESSION_COOKIE, SESSION_COOKIE
from hub.settings import HubSettings
from linli.brokers import free_port
from tests.browser import UI_TIMEOUT_MS

pytestmark = pytest.mark.slow

ADMIN = "lnl_https-cookie-bootstrap-0123456789abcdef"
PASSWORD = "correct horse battery staple"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """Return a certificate and key for 127.0.0.1, made with openssl."""
    cert, key = folder / "hub.crt", folder / "hub.key"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.fixture
def https_hub(tmp_path: Path) -> Iterator[tuple[str, ssl.SSLContext]]:
    """Serve a hub (SQLite, no MQTT) over HTTPS with the accounts li and mallory."""
    settings = HubSettings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        start_ingest=False,
        bootstrap_token=ADMIN,
    )
    cert, key = self_signed(tmp_path)
    port = free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="https-hub-under-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the hub did not start"
        time.sleep(0.05)
    url = f"https://127.0.0.1:{port}"
    trust = ssl.create_default_context(cafile=str(cert))
    try:
        with httpx.Client(base_url=url, verify=trust, timeout=10) as api:
            for name in ("li", "mallory"):
                body = {"username": name, "password": PASSWORD, "role": "operator"}
                created = api.post(
                    "/api/v1/users", json=body, headers={"authorization": f"Bearer {ADMIN}"}
                )
                assert created.status_code == 201, created.text
        yield url, trust
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_over_https_the_console_signs_in_with_a_host_cookie_no_page_can_plant(
    https_hub: tuple[str, ssl.SSLContext], browser: Browser
) -> None:
    url, trust = https_hub
    with httpx.Client(base_url=url, verify=trust, timeout=10) as mallory:
        signed = mallory.post(
            "/api/v1/auth/login", json={"username": "mallory", "password": PASSWORD}
        )
        assert signed.status_code == 200, signed.text
        planted = signed.json()["token"]

    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{url}/console")
    form = page.locator("form#sign-in")
    form.locator('[name="username"]').fill("li")
    form.locator('[name="password"]').fill(PASSWORD)
    form.locator("button").click()
    expect(page.locator("#who")).to_contain_text("li · operator")

    cookies = {c["name"]: c for c in context.cookies(url)}
    assert set(cookies) == {SECURE_SESSION_COOKIE}
    own = cookies[SECURE_SESSION_COOKIE]
    assert own["secure"]
    assert own["httpOnly"]
    assert own["path"] == "/"
    assert own["sameSite"] == "Strict"

    # Another page of the same site sets the plain name (a sibling subdomain would give it
    # Domain=<parent>; here the host itself, which a plain-HTTP page of it can do). Chromium
    # sends both; the hub reads only its own.
    context.add_cookies(
        [{"name": SESSION_COOKIE, "value": planted, "domain": "127.0.0.1", "path": "/"}]
    )
    me = page.evaluate("fetch('/api/v1/auth/me').then((r) => r.json())")
    assert me["name"] == "li"
    page.reload()
    expect(page.locator("#who")).to_contain_text("li · operator")
    assert errors == []
