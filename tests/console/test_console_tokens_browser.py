"""API tokens in the console, for admins (a real headless Chromium): the "API tokens" page,
reached from the Accounts page, lists the tokens' records (never their secrets), issues one
whose secret is shown this once with a copy button, and revokes one after asking; a scoped
admin sees its sites' tokens only, and what the hub refuses (403, 422) is shown in its words.

Before, tokens were issued, listed and revoked only with curl or ``linli token``.
"""

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Page, expect

from tests.console.test_console_residents_browser import PASSWORD, hub, signed_in
from tests.residents.test_phone_page_browser import Hub

__all__ = ["hub"]  # a running hub with a staffed site and an operator's account

pytestmark = [pytest.mark.slow]

ADMIN = "admin.zhao"
SCOPED = "admin.lan"


def tokens_page(browser: Browser, hub: Hub, errors: list[str], username: str) -> Page:
    """Return the API tokens page of ``username``'s console (an admin), reached from Accounts."""
    page = signed_in(browser, hub, errors, username, "admin")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hub.url)
    page.locator("#accounts-nav").click()
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    expect(page.locator("#accounts-nav")).to_have_attribute("aria-current", "")
    return page


def me_with(hub: Hub, secret: str) -> httpx.Response:
    return httpx.get(f"{hub.url}/api/v1/auth/me", headers={"authorization": f"Bearer {secret}"})


def test_an_admin_issues_a_token_sees_it_once_and_revokes_it(
    hub: Hub, browser: Browser, screenshots: Path
) -> None:
    hub.call(
        "POST", "/api/v1/users", json={"username": ADMIN, "password": PASSWORD, "role": "admin"}
    )
    # One the host issued (the bootstrap token): it names no one.
    hub.call("POST", "/api/v1/tokens", json={"name": "edge-lanyuan", "role": "edge"})
    errors: list[str] = []
    page = tokens_page(browser, hub, errors, ADMIN)
    rows = page.locator("#tokens tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("edge-lanyuan")
    expect(rows.first).to_contain_text("no one")

    # Issued from the keyboard, by the fields' labels.
    page.get_by_label("Name (what uses it").fill("door-report script")
    page.get_by_label("Role").select_option("operator")
    page.get_by_label("Sites (empty: every site)").fill("lanyuan、meiyuan")
    page.get_by_label("Expires after (days").fill("30")
    page.get_by_label("Expires after (days").press("Enter")
    secret_field = page.locator("#new-token-value")
    expect(secret_field).to_be_focused()
    expect(page.locator("#new-token-warning")).to_contain_text("you will not see it again")
    secret = secret_field.input_value()
    assert len(secret) >= 32
    me = me_with(hub, secret)
    assert me.status_code == 200, me.text
    assert (me.json()["name"], me.json()["role"], me.json()["sites"]) == (
        "door-report script",
        "operator",
        ["lanyuan", "meiyuan"],
    )
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("#new-token-copied")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    row = page.locator('#tokens tr[data-name="door-report script"]')
    expect(row).to_contain_text("operator")
    expect(row).to_contain_text("lanyuan, meiyuan")
    expect(row).to_contain_text(ADMIN)  # issued by
    expect(row).to_contain_text("in use, until")
    expect(rows).to_have_count(2)
    page.screenshot(path=screenshots / "token-issued.png", full_page=True)
    # Gone once copied, and never shown again: not in the list, nor after a reload.
    page.get_by_role("button", name="I have copied it").click()
    expect(page.locator("#new-token")).to_have_count(0)
    assert secret not in page.content()
    page.reload()
    expect(rows).to_have_count(2)
    assert secret not in page.content()

    # Revoking asks first: dismissed, nothing happens.
    asked: list[str] = []

    def dismiss(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.get_by_role("button", name="Revoke the token door-report script").click()
    expect(page.locator("#tokens-error")).to_have_text("")
    assert len(asked) == 1
    assert "door-report script" in asked[0]
    assert me_with(hub, secret).status_code == 200
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revoke the token door-report script").click()
    expect(page.locator("#toast")).to_have_text('Token "door-report script" revoked')
    expect(row).to_have_attribute("data-state", "revoked")
    expect(row.get_by_role("button")).to_have_count(0)
    expect(page.locator("#tokens")).to_be_focused()  # the keyboard stays on the list
    assert me_with(hub, secret).status_code == 401
    page.screenshot(path=screenshots / "token-revoked.png", full_page=True)

    # A field check the hub refuses (a name of spaces) is shown in its words.
    page.get_by_label("Name (what uses it").fill("   ")
    page.get_by_role("button", name="Issue").click()
    expect(page.locator("#tokens-error")).to_have_text(
        "name: String should have at least 1 character"
    )
    expect(page.locator("#new-token")).to_have_count(0)
    expect(rows).to_have_count(2)
    assert errors == []


def test_a_scoped_admin_sees_and_issues_its_sites_tokens_only(hub: Hub, browser: Browser) -> None:
    hub.call(
        "POST",
        "/api/v1/users",
        json={"username": SCOPED, "password": PASSWORD, "role": "admin", "sites": ["lanyuan"]},
    )
    hub.call(
        "POST",
        "/api/v1/tokens",
        json={"name": "mei-kiosk", "role": "operator", "sites": ["meiyuan"]},
    )
    hub.call(
        "POST",
        "/api/v1/tokens",
        json={"name": "lan-kiosk", "role": "operator", "sites": ["lanyuan"]},
    )
    errors: list[str] = []
    page = tokens_page(browser, hub, errors, SCOPED)
    rows = page.locator("#tokens tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_have_attribute("data-name", "lan-kiosk")
    # Another site's: refused (403), in the hub's words, and nothing issued.
    page.get_by_label("Name (what uses it").fill("mei-script")
    page.get_by_label("Sites (empty: every site)").fill("meiyuan")
    page.get_by_role("button", name="Issue").click()
    expect(page.locator("#tokens-error")).to_contain_text("may grant only some of its own sites")
    expect(page.locator("#new-token")).to_have_count(0)
    names = {item["name"] for item in hub.call("GET", "/api/v1/tokens")["items"]}
    assert "mei-script" not in names
    assert errors == []


def test_an_operator_sees_the_hubs_refusal(hub: Hub, browser: Browser) -> None:
    errors: list[str] = []
    page = signed_in(browser, hub, errors)
    page.goto(f"{hub.url}/console/#/tokens")
    expect(page.locator("#view .error")).to_contain_text("may not administer")
    expect(page.locator("#tokens")).to_have_count(0)
    assert errors == []
