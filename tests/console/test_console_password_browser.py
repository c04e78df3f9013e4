"""Changing one's password from the console (a real headless Chromium): the "Password" link
beside "Sign out", the form, a refusal shown, and another screen of the same account signed out.

Before, no page or route changed a password (an operator whose password leaked had to ask for
the account to be disabled and a new one made under another name).
"""

from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from tests.console.test_console_residents_browser import OPERATOR, PASSWORD, hub, signed_in
from tests.residents.test_phone_page_browser import Hub

__all__ = ["hub"]  # a running hub with a staffed site and the operator's account

pytestmark = [pytest.mark.slow]

NEW = "a new and longer passphrase"


def test_an_operator_changes_her_password_and_her_other_screen_is_signed_out(
    hub: Hub, browser: Browser, screenshots: Path
) -> None:
    errors: list[str] = []
    other = httpx.post(
        f"{hub.url}/api/v1/auth/login", json={"username": OPERATOR, "password": PASSWORD}
    ).json()["token"]
    desk = signed_in(browser, hub, errors)
    desk.locator("#account").click()
    form = desk.locator("form#change-password")
    form.locator('[name="current_password"]').fill("not her password at all")
    form.locator('[name="new_password"]').fill(NEW)
    form.locator('[name="repeat_password"]').fill(NEW)
    form.locator("button").click()
    expect(desk.locator("#password-error")).to_have_text("the current password is wrong")

    form.locator('[name="current_password"]').fill(PASSWORD)
    form.locator('[name="new_password"]').fill(NEW)
    form.locator('[name="repeat_password"]').fill(NEW + "!")
    form.locator("button").click()
    expect(desk.locator("#password-error")).to_contain_text("differ")

    form.locator('[name="repeat_password"]').fill(NEW)
    form.locator("button").click()
    expect(desk.locator("#toast")).to_contain_text("Password changed; 1 other session signed out")
    desk.screenshot(path=screenshots / "password-changed.png", full_page=True)

    me = httpx.get(f"{hub.url}/api/v1/auth/me", headers={"authorization": f"Bearer {other}"})
    assert me.status_code == 401
    # This screen goes on, and the new password signs in.
    desk.locator('[data-nav="board"]').click()
    expect(desk.locator("#who")).to_contain_text(OPERATOR)
    signed = httpx.post(
        f"{hub.url}/api/v1/auth/login", json={"username": OPERATOR, "password": NEW}
    )
    assert signed.status_code == 200
    assert errors == []
