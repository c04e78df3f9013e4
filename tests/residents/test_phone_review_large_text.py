"""Found by an outside review of the phone page on a small phone (360×640) with large text.

- The page set its text in pixels, so a resident's large default font (Android's "font size",
  200 %) changed nothing: the words stayed small.
- Several things to tap were smaller than 44 px (the language switch, the cancel and send
  buttons, the category chips, the "not fixed" box); the request's progress steps were 12 px
  grey on grey, the empty rating stars light grey on white, the "received" banner's English
  line under 4.5:1.

Each view (home, report form, a finished request with its rating form) is checked at the
default font and at twice its size (in Chinese, and in English at twice): nothing wider than
the screen, the SOS text inside its circle, every control at least 44×44 px, every text at
least WCAG AA contrast.
"""

from typing import Any

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from tests.browser import UI_TIMEOUT_MS
from tests.residents.test_phone_page_browser import Hub, hub

__all__ = ["hub"]

WIDTH = 360

CHECK = """(W) => {
  const shown = el =>
    el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const rgb = c => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const backdrop = el => {
    for (let n = el; n; n = n.parentElement) {
      const c = rgb(getComputedStyle(n).backgroundColor);
      if (c.length === 3 || c[3] > 0.5) { return c; }
    }
    return [255, 255, 255];
  };
  const name = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.className ? "." + String(el.className).split(" ").join(".") : "") +
    " '" + (el.textContent || "").trim().slice(0, 12) + "'";
  const problems = [];
  if (document.documentElement.scrollWidth > W) {
    problems.push("page wider than the screen: " + document.documentElement.scrollWidth);
  }
  for (const el of document.querySelectorAll("body *")) {
    if (!shown(el) || el.tagName === "SCRIPT") { continue; }
    const box = el.getBoundingClientRect();
    if (box.right > W + 1 && box.width > 0) { problems.push("cut off at the right: " + name(el)); }
    const text = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (text) {
      const style = getComputedStyle(el);
      const size = parseFloat(style.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
      const a = lum(rgb(style.color)), b = lum(backdrop(el));
      const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
      if (ratio < (large ? 3 : 4.5)) {
        problems.push("contrast " + ratio.toFixed(2) + ": " + name(el));
      }
    }
  }
  const targets = "button, a, select, textarea, input[type=file], label.chip span, .stars label, " +
    "label.check, .card, .notice";
  for (const el of document.querySelectorAll(targets)) {
    if (!shown(el)) { continue; }
    const box = el.getBoundingClientRect();
    if (box.width < 44 || box.height < 44) {
      const size = Math.round(box.width) + "x" + Math.round(box.height);
      problems.push("small target " + size + ": " + name(el));
    }
  }
  const sos = document.getElementById("sos");
  const spills = sos.scrollWidth > sos.clientWidth + 1 || sos.scrollHeight > sos.clientHeight + 1;
  if (shown(sos) && spills) {
    problems.push("SOS text spills out of its button");
  }
  return problems;
}"""


def finished_request(hub: Hub) -> dict[str, Any]:
    """Return a household whose leak was reported, fixed and resolved (ready to rate)."""
    household: dict[str, Any] = hub.call(
        "POST",
        "/api/v1/households",
        json={"name": "王家 Wang family", "location": "Building 3/Floor 12/Unit 1201"},
    )
    body = {"household_id": household["id"], "category": "repair", "text": "卫生间天花板漏水"}
    case_id = hub.call("POST", "/api/v1/requests", json=body)["case_id"]
    for step in ("accept", "start"):
        hub.call("POST", f"/api/v1/cases/{case_id}/{step}", json={})
    resolution = {"resolution": "real", "note": "漏水已修好"}
    hub.call("POST", f"/api/v1/cases/{case_id}/resolve", json=resolution)
    return household


def small_phone(browser: Browser, font_px: int, url: str, lang: str = "zh") -> Page:
    """Open ``url`` on a 360×640 phone whose default text size is ``font_px``, the page
    switched to ``lang``."""
    context = browser.new_context(
        viewport=ViewportSize(width=WIDTH, height=640),
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    context.add_init_script(f"localStorage.setItem('linli-lang', '{lang}')")
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    cdp = context.new_cdp_session(page)
    cdp.send("Page.enable")
    cdp.send("Page.setFontSizes", {"fontSizes": {"standard": font_px, "fixed": font_px}})
    page.goto(url)
    return page


def problems(page: Page) -> list[str]:
    """Return what the CHECK finds wrong with the page as it is shown now."""
    # The screen's width, not ``innerWidth``: a mobile browser zooms out to show a page wider
    # than the screen, and then ``innerWidth`` is that wider page.
    found: list[str] = page.evaluate(CHECK, WIDTH)
    return found


@pytest.mark.parametrize(("font_px", "lang"), [(16, "zh"), (32, "zh"), (32, "en")])
def test_every_view_fits_a_small_phone_with_large_text(
    hub: Hub, browser: Browser, font_px: int, lang: str
) -> None:
    household = finished_request(hub)
    page = small_phone(browser, font_px, hub.url + household["link"], lang)
    expect(page.locator("#list .card")).to_have_count(1)
    expect(page.locator("html")).to_have_attribute("lang", lang)
    body_px = page.evaluate("parseFloat(getComputedStyle(document.body).fontSize)")
    assert body_px >= font_px, "the resident's text size is ignored"
    found = {"home": problems(page)}

    page.locator("#new").tap()
    expect(page.locator("#form-view")).to_be_visible()
    found["form"] = problems(page)
    page.locator("#cancel").tap()

    page.locator("#list .card").tap()
    expect(page.locator("#rating")).to_be_visible()
    found["detail"] = problems(page)
    assert found == {"home": [], "form": [], "detail": []}
