"""Accounts in the console, for admins (a real headless Chromium): the "Accounts" page lists who
signs in; an admin changes an operator's role and sites, adds an account, sets a password and
disables one, and what the hub refuses is shown.

Before, the console had no such page: an admin used curl or the hub's host (and no route
changed a role or sites at all).
"""

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console.test_console_residents_browser import OPERATOR, PASSWORD, hub, signed_in
from tests.residents.test_phone_page_browser import Hub

__all__ = ["hub"]  # a running hub with a staffed site and the operator's account

pytestmark = [pytest.mark.slow]

ADMIN = "admin.zhao"
NEW = "a new and longer passphrase"


def accounts_page(browser: Browser, hub: Hub, errors: list[str]) -> Page:
    hub.call(
        "POST", "/api/v1/users", json={"username": ADMIN, "password": PASSWORD, "role": "admin"}
    )
    page = signed_in(browser, hub, errors, ADMIN, "admin")
    page.locator("#accounts-nav").click()
    expect(page.locator("#accounts tbody tr")).to_have_count(2)
    return page


def users(hub: Hub) -> dict[str, dict[str, object]]:
    return {user["username"]: user for user in hub.call("GET", "/api/v1/users")["items"]}


def test_an_admin_changes_an_operators_role_and_sites(
    hub: Hub, browser: Browser, screenshots: Path
) -> None:
    errors: list[str] = []
    page = accounts_page(browser, hub, errors)
    operator = httpx.post(
        f"{hub.url}/api/v1/auth/login", json={"username": OPERATOR, "password": PASSWORD}
    ).json()["token"]
    row = page.locator(f'#accounts tr[data-user="{OPERATOR}"]')
    row.locator('[name="role"]').select_option("responder")
    row.locator('[name="sites"]').fill("lanyuan，meiyuan")
    row.locator("button.save").click()
    expect(page.locator("#toast")).to_have_text(f"{OPERATOR} is responder for lanyuan, meiyuan")
    assert (users(hub)[OPERATOR]["role"], users(hub)[OPERATOR]["sites"]) == (
        "responder",
        ["lanyuan", "meiyuan"],
    )
    # Her session is a responder's of those sites from now on.
    me = httpx.get(f"{hub.url}/api/v1/auth/me", headers={"authorization": f"Bearer {operator}"})
    assert me.json()["role"] == "responder"

    # Every site again: the field left empty.
    row = page.locator(f'#accounts tr[data-user="{OPERATOR}"]')
    row.locator('[name="sites"]').fill("")
    row.locator("button.save").click()
    expect(page.locator("#toast")).to_have_text(f"{OPERATOR} is responder for every site")
    assert users(hub)[OPERATOR]["sites"] is None

    # Her own role and sites are another admin's: not offered.
    own = page.locator(f'#accounts tr[data-user="{ADMIN}"]')
    expect(own).to_contain_text("(you)")
    expect(own.locator('[name="role"]')).to_be_disabled()
    expect(own.locator('[name="sites"]')).to_be_disabled()
    expect(own.locator("button.toggle")).to_be_disabled()
    # What the hub refuses is shown, and changes nothing.
    row = page.locator(f'#accounts tr[data-user="{OPERATOR}"]')
    row.locator('[name="display_name"]').fill("   ")
    row.locator("button.save").click()
    expect(page.locator("#accounts-error")).to_have_text(
        "display_name: String should have at least 1 character"
    )
    assert users(hub)[OPERATOR]["display_name"] == OPERATOR
    page.screenshot(path=screenshots / "accounts.png", full_page=True)
    assert errors == []


def test_an_admin_adds_an_account_sets_a_password_and_disables_one(
    hub: Hub, browser: Browser, screenshots: Path
) -> None:
    errors: list[str] = []
    page = accounts_page(browser, hub, errors)
    form = page.locator("form#add-account")
    form.locator('[name="username"]').fill("patrol.chen")
    form.locator('[name="display_name"]').fill("陈师傅")
    form.locator('[name="role"]').select_option("responder")
    form.locator('[name="sites"]').fill("lanyuan")
    form.locator('[name="password"]').fill(NEW)
    form.locator('[name="repeat_password"]').fill(NEW)
    form.locator("button").click()
    expect(page.locator("#toast")).to_have_text("patrol.chen added: responder for lanyuan")
    expect(page.locator("#accounts tbody tr")).to_have_count(3)
    assert users(hub)["patrol.chen"]["display_name"] == "陈师傅"
    # The same username again: the hub's refusal, and the form can be sent again.
    form.locator('[name="username"]').fill("patrol.chen")
    form.locator('[name="password"]').fill(NEW)
    form.locator('[name="repeat_password"]').fill(NEW)
    form.locator("button").click()
    expect(page.locator("#accounts-error")).to_contain_text("taken")
    expect(form.locator("button")).to_be_enabled()

    row = page.locator(f'#accounts tr[data-user="{OPERATOR}"]')
    row.locator('[name="new_password"]').fill(NEW)
    row.locator("button.password").click()
    expect(page.locator("#toast")).to_have_text(
        f"New password for {OPERATOR}; their sessions ended"
    )
    signed = httpx.post(
        f"{hub.url}/api/v1/auth/login", json={"username": OPERATOR, "password": NEW}
    )
    assert signed.status_code == 200, signed.text
    token = signed.json()["token"]

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f'#accounts tr[data-user="{OPERATOR}"] button.toggle').click()
    expect(page.locator("#toast")).to_have_text(f"{OPERATOR} disabled")
    expect(page.locator(f'#accounts tr[data-user="{OPERATOR}"] td.state')).to_contain_text(
        "disabled"
    )
    expect(page.locator(f'#accounts tr[data-user="{OPERATOR}"] button.toggle')).to_have_text(
        "Enable"
    )
    me = httpx.get(f"{hub.url}/api/v1/auth/me", headers={"authorization": f"Bearer {token}"})
    assert me.status_code == 401
    page.screenshot(path=screenshots / "accounts-added.png", full_page=True)
    assert errors == []


def test_an_operator_is_not_offered_the_accounts_page(hub: Hub, browser: Browser) -> None:
    errors: list[str] = []
    page = signed_in(browser, hub, errors)
    expect(page.locator("#account")).to_be_visible()
    expect(page.locator("#accounts-nav")).to_be_hidden()
    # Typed in by hand, the page shows the hub's refusal, not an empty list.
    page.goto(f"{hub.url}/console/#/accounts")
    expect(page.locator("#view .error")).to_contain_text("may not administer")
    assert errors == []
