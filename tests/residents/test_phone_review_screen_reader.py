"""Found by an outside review of the phone page with a screen reader's eyes (the accessibility
tree Chromium gives TalkBack) and a keyboard.

- A request's card and a notice were plain list items: announced as text, not as something to
  open, and Enter on a focused card did nothing (switch access and keyboards could not open it).
- The English line under the SOS status had no ``lang``: read with the Chinese voice.
- The rating stars were announced as "★" or "5/5": nothing said what a score means.
"""

from playwright.sync_api import Browser, expect

from tests.residents.test_phone_page_browser import Hub, hub, phone
from tests.residents.test_phone_review_large_text import finished_request

__all__ = ["hub"]


def test_cards_status_and_stars_speak_to_a_screen_reader(hub: Hub, browser: Browser) -> None:
    household = finished_request(hub)
    page, errors = phone(browser, hub.url + household["link"])
    expect(page.locator("html")).to_have_attribute("lang", "zh")
    expect(page.locator("#status")).to_have_attribute("aria-live", "assertive")
    expect(page.locator("#status #en")).to_have_attribute("lang", "en")

    card = page.get_by_role("button", name="卫生间天花板漏水")
    expect(card).to_have_count(1)
    card.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#detail-view")).to_be_visible()

    expect(page.get_by_role("radiogroup", name="评价一下")).to_be_visible()
    expect(page.get_by_role("radio", name="1★ 很不满意")).to_have_count(1)
    expect(page.get_by_role("radio", name="5★ 很满意")).to_have_count(1)
    assert errors == []
