"""A case page left a moment behind the hub, in a real headless Chromium: its actions carry the
version of the case it shows (``If-Match``), so one made on a case another operator changed
meanwhile is refused, and the page shows the case as it is, the note typed still there.

The hub runs in-process under uvicorn on SQLite (``operator_hub``, as in
``test_console_night_review_browser.py``); this screen hears nothing live.
"""

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.console.test_console_night_review_browser import page_behind_the_hub
from tests.residents.test_phone_page_browser import Hub

pytestmark = [pytest.mark.slow]

NOTE = "已联系住户, 下午三点上门"
"""The comment the operator types on the page that is behind."""


def staff(hub: Hub) -> None:
    """Put the site ``lanyuan`` with building 3's grid and two plumbers, Wang and Li."""
    hub.call("PUT", "/api/v1/sites/lanyuan", json={"id": "lanyuan", "name": "兰苑"})
    grid = {"id": "g-b3", "site_id": "lanyuan", "name": "B3", "places": ["Building 3"]}
    hub.call("PUT", "/api/v1/grids/g-b3", json=grid)
    for rid, name in (("wang", "Wang"), ("li", "Li")):
        plumber = {"id": rid, "site_id": "lanyuan", "name": name, "role": "maintenance"}
        hub.call("PUT", f"/api/v1/responders/{rid}", json=plumber)


def test_a_comment_from_a_page_behind_the_hub_is_refused_and_the_note_kept(
    operator_hub: Hub, browser: Browser, screenshots: Path
) -> None:
    staff(operator_hub)
    case_id = operator_hub.log_request("Building 3", "厨房水管漏水")  # sent to a plumber at once
    url = f"/api/v1/cases/{case_id}"
    [first] = [m["responder"] for m in operator_hub.call("GET", url)["team"]]
    other = "li" if first == "wang" else "wang"

    page = page_behind_the_hub(browser, operator_hub, case_id)
    expect(page.locator("#case-team")).to_contain_text(first)

    # Another operator sends the case to the other plumber instead, meanwhile.
    operator_hub.call("POST", f"{url}/dispatch", json={"assignee": other})
    comment = page.locator('form[data-action="comment"]')
    comment.locator('[name="note"]').fill(NOTE)
    comment.locator("button").click()

    expect(page.locator("#toast")).to_contain_text("changed meanwhile")
    expect(page.locator("#case-changed")).to_contain_text("it is now dispatched")
    # The case as it is now: the other plumber on it, the first taken off.
    expect(page.locator("#case-team")).to_contain_text(other)
    expect(page.locator("#case-team")).not_to_contain_text(first)
    # The note is still there, to be sent again once the operator has looked.
    expect(comment.locator('[name="note"]')).to_have_value(NOTE)
    page.screenshot(path=screenshots / "1-changed-meanwhile.png")
    events = operator_hub.call("GET", url)["events"]
    assert [e["note"] for e in events if e["action"] == "commented"] == []

    # Sent again, from the page that now shows the case as it is: done.
    comment.locator("button").click()
    expect(page.locator("#toast")).to_contain_text("comment: done")
    expect(page.locator("#case-changed")).to_have_count(0)
    events = operator_hub.call("GET", url)["events"]
    assert [e["note"] for e in events if e["action"] == "commented"] == [NOTE]


def test_a_note_for_a_case_resolved_meanwhile_is_kept_beside_it(
    operator_hub: Hub, browser: Browser, screenshots: Path
) -> None:
    staff(operator_hub)
    case_id = operator_hub.log_request("Building 3", "厨房水管漏水")
    url = f"/api/v1/cases/{case_id}"
    page = page_behind_the_hub(browser, operator_hub, case_id)
    expect(page.locator("#case-status")).to_have_text("dispatched")

    resolved = {"note": "住户自己修好了", "resolution": "real"}
    operator_hub.call("POST", f"{url}/resolve", json=resolved)
    comment = page.locator('form[data-action="comment"]')
    comment.locator('[name="note"]').fill(NOTE)
    comment.locator("button").click()

    expect(page.locator("#case-status")).to_have_text("resolved")
    expect(page.locator("#case-changed")).to_contain_text("it is now resolved")
    # A finished case offers no comment form: the note is kept beside the actions.
    expect(page.locator("#unsent .unsent-note")).to_have_value(NOTE)
    page.screenshot(path=screenshots / "2-resolved-meanwhile.png")
    events = operator_hub.call("GET", url)["events"]
    assert [e for e in events if e["action"] == "commented"] == []
