"""An outside review of the console's map as a control room uses it (a 1920×1080 monitor, a
1366×768 laptop), in a real headless Chromium against a hub served in-process on SQLite: a dense
community (tests/console/map_review_community.py). Screenshots: $LINLI_TEST_ARTEFACTS/<test>/."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from devices.kinds import AlertKind, Severity
from tests.browser import UI_TIMEOUT_MS
from tests.console.map_review_community import Community, running_community
from tests.console.test_console_residents_browser import OPERATOR, PASSWORD

pytestmark = [pytest.mark.slow]

LAPTOP = ViewportSize(width=1366, height=768)
MONITOR = ViewportSize(width=1920, height=1080)


@pytest.fixture
def lanyuan(tmp_path: Path) -> Iterator[Community]:
    yield from running_community(tmp_path)


def console_on(
    browser: Browser, community: Community, viewport: ViewportSize
) -> tuple[Page, list[str]]:
    """Return the console on a screen of ``viewport``, signed in as the operator."""
    page = browser.new_context(viewport=viewport).new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{community.hub.url}/console")
    form = page.locator("form#sign-in")
    form.locator('[name="username"]').fill(OPERATOR)
    form.locator('[name="password"]').fill(PASSWORD)
    form.locator("button").click()
    expect(page.locator("#who")).to_contain_text(OPERATOR)
    return page, errors


def map_on(
    browser: Browser, community: Community, viewport: ViewportSize
) -> tuple[Page, list[str]]:
    """Return the map on a screen of ``viewport``, signed in as the operator."""
    page, errors = console_on(browser, community, viewport)
    page.locator('[data-nav="map"]').click()
    expect(page.locator("svg.map")).to_be_visible()
    return page, errors


BOXES = """(selector) => [...document.querySelectorAll(selector)].map((e) => {
  const b = e.getBoundingClientRect();
  return { text: e.textContent, left: b.left, top: b.top, right: b.right, bottom: b.bottom };
})"""


def overlapping(boxes: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Return the pairs of ``boxes`` that overlap, by their text."""
    return [
        (a["text"], b["text"])
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if a["left"] < b["right"] - 1
        and b["left"] < a["right"] - 1
        and a["top"] < b["bottom"] - 1
        and b["top"] < a["bottom"] - 1
    ]


@pytest.mark.parametrize("viewport", [LAPTOP, MONITOR], ids=["1366x768", "1920x1080"])
def test_the_whole_community_is_on_the_first_screen_and_every_label_reads(
    lanyuan: Community, browser: Browser, screenshots: Path, viewport: ViewportSize
) -> None:
    """Every place of the estate is in the window as the map opens, and no label lies over
    another. On the laptop the map had been 900 px tall: the bottom row, Building 8 with its
    SOS among them, below the fold; and patrol-zhou's name was written over 2号楼's."""
    page, errors = map_on(browser, lanyuan, viewport)
    expect(page.locator("svg.map g.place")).to_have_count(11)
    page.screenshot(path=screenshots / f"1-community-{viewport['width']}.png")
    markers = page.evaluate(BOXES, "svg.map g.place > :is(rect, circle, polygon)")
    below = [m for m in markers if m["bottom"] > viewport["height"] or m["top"] < 0]
    assert below == [], "places out of the first screen"
    labels = page.evaluate(BOXES, "svg.map text")
    assert len(labels) == 11 + 4
    assert overlapping(labels) == []
    svg = page.locator("svg.map").bounding_box()
    assert svg is not None
    for label in labels:  # none cut off at the map's edge
        assert svg["x"] - 1 <= label["left"], label
        assert label["right"] <= svg["x"] + svg["width"] + 1, label
    assert errors == []


def test_an_sos_stands_out_from_the_leaks_and_leads_to_its_case(
    lanyuan: Community, browser: Browser, screenshots: Path
) -> None:
    """Seven buildings have water leaks open, which the hub paints "alarm" as it does an SOS:
    Building 8's SOS and 2号楼's fire were two red squares among nine, and a place led to the
    whole site plan, never to a case. Now a place with a life-safety case is ringed and says
    what it is, and every open case is listed beside the map, each a link to it, the
    life-safety ones first."""
    page, errors = map_on(browser, lanyuan, MONITOR)
    sos = page.locator('svg.map g.place[data-place="Building 8"]')
    leaks = page.locator('svg.map g.place[data-place="Building 7"]')
    expect(sos.locator("text")).to_contain_text("SOS")
    expect(sos.locator(".hazard")).to_have_count(1)
    expect(page.locator('svg.map g.place[data-place="2号楼"] text')).to_contain_text("smoke")
    expect(leaks.locator(".hazard")).to_have_count(0)
    assert "⚠" not in (leaks.locator("text").text_content() or "")
    links = page.locator("#map-cases a")
    expect(links).to_have_count(len(lanyuan.cases))
    first_two = {links.nth(n).get_attribute("href") for n in (0, 1)}
    assert first_two == {f"#/case/{lanyuan.cases[d]}" for d in ("b8-sos", "b2-smoke")}
    expect(page.locator(f'#map-cases a[href="#/case/{lanyuan.cases["b8-sos"]}"]')).to_contain_text(
        "SOS — Building 8/Floor 6/601"
    )
    page.screenshot(path=screenshots / "2-sos-stands-out.png")
    page.locator(f'#map-cases a[href="#/case/{lanyuan.cases["b8-sos"]}"]').click()
    expect(page).to_have_url(re.compile(f"#/case/{lanyuan.cases['b8-sos']}$"))
    assert errors == []


def test_a_place_is_reached_from_the_keyboard(lanyuan: Community, browser: Browser) -> None:
    """A place took a mouse only: Tab passed it by, and Enter on it did nothing; and the
    keyboard's place is kept through the map's redrawing every 15 s."""
    page, errors = map_on(browser, lanyuan, LAPTOP)
    fire = page.locator('svg.map g.place[data-place="2号楼"]')
    expect(fire).to_have_attribute("tabindex", "0")
    expect(fire).to_have_attribute("aria-label", re.compile("2号楼.*smoke"))
    page.clock.install(time=datetime.now(UTC))
    page.reload()  # its timers, the map's refresh among them, on the clock the test moves
    fire.focus()
    # The map is drawn anew every 15 s: the keyboard stays where it was.
    page.clock.run_for(20_000)
    page.wait_for_load_state("networkidle")
    expect(fire).to_be_focused()
    page.keyboard.press("Enter")
    # Its most urgent unfinished case (its only one, the fire).
    expect(page).to_have_url(re.compile(f"#/case/{lanyuan.cases['b2-smoke']}$"))
    assert errors == []


def test_an_sos_pressed_while_watched_appears_and_leaves_when_resolved(
    lanyuan: Community, browser: Browser
) -> None:
    """Live: an SOS pressed in Building 9 while the operator watches is ringed and listed
    first on the next drawing, without a reload; resolved, it leaves."""
    page, errors = map_on(browser, lanyuan, MONITOR)
    page.clock.install(time=datetime.now(UTC))
    page.reload()
    expect(page.locator("svg.map")).to_be_visible()
    b9 = page.locator('svg.map g.place[data-place="Building 9"]')
    expect(b9.locator(".hazard")).to_have_count(0)
    case_id = lanyuan.raise_alert("b9-batt", AlertKind.SOS, Severity.CRITICAL, datetime.now(UTC))
    assert case_id is not None
    page.clock.run_for(20_000)
    expect(b9.locator(".hazard")).to_have_count(1)
    expect(page.locator("#map-cases a").first).to_have_attribute("href", f"#/case/{case_id}")
    lanyuan.hub.call(
        "POST", f"/api/v1/cases/{case_id}/resolve", json={"resolution": "real", "note": "ok"}
    )
    page.clock.run_for(20_000)
    expect(b9.locator(".hazard")).to_have_count(0)
    expect(page.locator(f'#map-cases a[href="#/case/{case_id}"]')).to_have_count(0)
    assert errors == []


def test_the_open_cases_stay_where_the_operator_scrolled_them(
    lanyuan: Community, browser: Browser
) -> None:
    """On the laptop the 22 open cases beside the map scroll on their own; the map's drawing
    every 15 s must not throw the operator, reading the leaks at its foot, back to its top."""
    page, errors = map_on(browser, lanyuan, LAPTOP)
    page.clock.install(time=datetime.now(UTC))
    page.reload()  # the map's refresh on the clock the test moves
    listed = page.locator("#map-cases")
    expect(listed.locator("a")).to_have_count(len(lanyuan.cases))
    scrolled = listed.evaluate("(e) => { e.scrollTop = e.scrollHeight; return e.scrollTop; }")
    assert scrolled > 100  # it does scroll on its own
    page.clock.run_for(20_000)
    page.wait_for_load_state("networkidle")
    expect(listed).to_have_js_property("scrollTop", scrolled)
    assert errors == []


def test_a_stale_position_says_its_age_on_the_map(lanyuan: Community, browser: Browser) -> None:
    """plumber-1's last fix is 25 min old: on the map he was a hollow dot, named like the
    others (the age only in the table below, out of sight on a laptop)."""
    page, errors = map_on(browser, lanyuan, LAPTOP)
    label = page.locator('svg.map g.responder[data-responder="plumber-1"] text')
    expect(label).to_contain_text("25 min ago")
    expect(page.locator('svg.map g.responder[data-responder="patrol-li"] text')).to_have_text(
        "patrol-li"
    )
    assert errors == []


@pytest.fixture
def quiet(tmp_path: Path) -> Iterator[Community]:
    yield from running_community(tmp_path, cases=False, positions=False)


def test_no_case_and_no_position_at_all(
    quiet: Community, browser: Browser, screenshots: Path
) -> None:
    """The estate on a calm night before any phone reported: its places, no case listed."""
    page, errors = map_on(browser, quiet, LAPTOP)
    expect(page.locator("svg.map g.place")).to_have_count(11)
    expect(page.locator("svg.map g.responder")).to_have_count(0)
    expect(page.locator("#map-cases")).to_contain_text("No open case")
    expect(page.get_by_text("No responder's phone has reported yet")).to_be_visible()
    page.screenshot(path=screenshots / "3-quiet.png")
    assert errors == []
