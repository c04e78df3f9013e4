"""The household's phone page in a real headless Chromium at phone size (390×844).

A hub runs in-process under uvicorn on SQLite (no MQTT). The Wang family reports water
dripping through the ceiling with two photos from the phone's camera input and a preferred
visit time; the plumber (through the API) accepts, plans the visit, adds an after-photo and
the operator resolves; the family sees each stage, rates the work 4/5, and reads it all again
in English. Screenshots go to ``$LINLI_TEST_ARTEFACTS/<test>/`` (default:
``test-artifacts/<test>/`` in the checkout, which git ignores).
"""

import io
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from PIL import Image
from playwright.sync_api import Browser, Page, ViewportSize, expect
from pydantic import SecretStr

from hub.app import create_app
from hub.settings import HubSettings
from linli.brokers import free_port
from tests.browser import UI_TIMEOUT_MS
from tests.hub.conftest import FakeClock

pytestmark = [pytest.mark.slow]

ADMIN = "bootstrap-admin-token-for-the-phone-test"
ROOT = Path(__file__).resolve().parents[2]


class Hub:
    """A hub app served by uvicorn in a thread, with an admin API client."""

    def __init__(self, tmp_path: Path, *, clock: FakeClock | None = None, **more: Any) -> None:
        settings = HubSettings(
            data_dir=tmp_path,
            database_url=f"sqlite:///{tmp_path / 'hub.sqlite3'}",
            start_ingest=False,
            bootstrap_token=SecretStr(ADMIN),
            **more,
        )
        self.port = free_port()
        self.clock = clock
        """The hub's clock when the test moves it; None: the wall clock."""
        self.app = create_app(settings) if clock is None else create_app(settings, clock=clock)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="phone-test-hub")
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = httpx.Client(
            base_url=self.url, headers={"authorization": f"Bearer {ADMIN}"}, timeout=10
        )

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the hub did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self.api.close()
        self.server.should_exit = True
        self.thread.join(timeout=20)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.api.request(method, path, **kwargs)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def staff_site(self, grid_id: str, grid_name: str, places: list[str]) -> None:
        """Put the site ``lanyuan``, a grid over ``places`` and a plumber on call."""
        self.call("PUT", "/api/v1/sites/lanyuan", json={"id": "lanyuan", "name": "Lanyuan"})
        grid = {"id": grid_id, "site_id": "lanyuan", "name": grid_name, "places": places}
        self.call("PUT", f"/api/v1/grids/{grid_id}", json=grid)
        plumber = {"id": "plumber-1", "site_id": "lanyuan", "name": "Zhang Wei"}
        self.call("PUT", "/api/v1/responders/plumber-1", json={**plumber, "role": "maintenance"})

    def put_community(self, site_id: str, street: str, place: str) -> None:
        """Put a community of the district Dongcheng on ``street``: its site, a grid over
        ``place`` and a plumber, ``plumber-<site_id>``."""
        site = {"id": site_id, "name": place, "street": street, "district": "Dongcheng"}
        self.call("PUT", f"/api/v1/sites/{site_id}", json=site)
        grid = {"id": f"g-{site_id}", "site_id": site_id, "name": place, "places": [place]}
        self.call("PUT", f"/api/v1/grids/g-{site_id}", json=grid)
        plumber = {"id": f"plumber-{site_id}", "site_id": site_id, "name": "Zhang"}
        self.call(
            "PUT", f"/api/v1/responders/plumber-{site_id}", json={**plumber, "role": "maintenance"}
        )

    def log_request(self, place: str, text: str) -> int:
        """Log a repair for a new household at ``place``; return its case's id."""
        home = self.call(
            "POST", "/api/v1/households", json={"name": text, "location": f"{place}/Building 1/101"}
        )
        body = {"household_id": home["id"], "category": "repair", "text": text}
        case_id: int = self.call("POST", "/api/v1/requests", json=body)["case_id"]
        return case_id


def staffed_hub(tmp_path: Path, clock: FakeClock | None = None) -> Iterator[Hub]:
    """Run a hub (on ``clock``, else the wall clock) with a staffed site, B3 in Asia/Shanghai,
    until the generator is closed."""
    running = Hub(tmp_path, clock=clock)
    running.start()
    try:
        running.staff_site("g-b3", "B3", ["Building 3"])
        yield running
    finally:
        running.stop()


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    """A running hub with a staffed site and the Wang family's household."""
    yield from staffed_hub(tmp_path)


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Path:
    """Return this test's screenshot folder."""
    root = Path(os.environ.get("LINLI_TEST_ARTEFACTS", ROOT / "test-artifacts"))
    folder: Path = root / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def photo(path: Path, colour: tuple[int, int, int]) -> Path:
    """Write a phone-like JPEG (EXIF with a serial number) and return its path."""
    image = Image.new("RGB", (1200, 900), colour)
    for x in range(0, 1200, 60):
        image.paste((240, 240, 240), (x, 400, x + 30, 430))
    exif = Image.Exif()
    exif[0xA431] = "SERIAL-123"
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    path.write_bytes(buffer.getvalue())
    return path


def phone(
    browser: Browser,
    url: str,
    *,
    viewport: ViewportSize | None = None,
    scale: float = 2,
    fake_clock: bool = False,
) -> tuple[Page, list[str]]:
    """Open ``url`` on a phone (a 390×844 one by default; its timers on a clock the test moves,
    with ``fake_clock``); return the page and its script errors."""
    context = browser.new_context(
        viewport=viewport or ViewportSize(width=390, height=844),
        device_scale_factor=scale,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
    )
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    if fake_clock:
        page.clock.install()
    page.goto(url)
    return page, errors


def test_a_leak_reported_followed_and_rated_on_a_phone(
    hub: Hub, browser: Browser, screenshots: Path, tmp_path: Path
) -> None:
    household = hub.call(
        "POST",
        "/api/v1/households",
        json={"name": "王家 Wang family", "location": "Building 3/Floor 12/Unit 1201"},
    )
    hub.call(
        "POST",
        "/api/v1/notices",
        json={
            "scope": "households",
            "household_ids": [household["id"]],
            "category": "water_shutoff",
            "title": "明天上午停水",
            "body": "明天 9:00–12:00 3号楼检修水管。",
        },
    )
    page, errors = phone(browser, hub.url + household["link"])
    expect(page.locator("#sos")).to_be_visible()
    expect(page.locator("#notices .notice.unread")).to_have_count(1)
    expect(page.locator("#new")).to_have_text("报事报修")
    expect(page.locator("#empty")).to_be_visible()
    page.screenshot(path=str(screenshots / "1-home-zh.png"))
    page.locator("#notices .notice").click()
    expect(page.locator("#notices .notice.unread")).to_have_count(0)
    expect(page.locator("#notices .notice-body")).to_be_visible()

    # Report: category, text, two photos from the camera input, tomorrow morning.
    page.locator("#new").click()
    expect(page.locator("#home")).to_be_hidden()
    page.locator("label.chip", has_text="维修").click()
    page.locator("textarea[name=text]").fill("卫生间天花板漏水，一直在滴")
    # A file that is not a photo is refused with a message the resident can read.
    not_a_photo = tmp_path / "scan.jpg"
    not_a_photo.write_bytes(b"%PDF-1.4 a scanned letter")
    page.locator("input[name=photos]").set_input_files([not_a_photo])
    page.locator("#send").click()
    expect(page.locator("#form-error")).to_contain_text("照片无法使用")
    expect(page.locator("#form-error")).to_contain_text("photo 1: this file is not a photo")
    page.screenshot(path=str(screenshots / "2a-photo-refused.png"))
    page.locator("input[name=photos]").set_input_files(
        [photo(tmp_path / "a.jpg", (90, 120, 160)), photo(tmp_path / "b.jpg", (150, 110, 80))]
    )
    page.locator("select[name=window]").select_option("tomorrow_am")
    expect(page.locator("#previews img")).to_have_count(2)
    page.screenshot(path=str(screenshots / "2-report-form.png"), full_page=True)
    page.locator("#send").click()

    # The request opens at once, already with the plumber (by first name and role only).
    expect(page.locator("#detail .progress li.now")).to_have_text("已派单")
    expect(page.locator("#detail dd").first).to_have_text("Zhang · 维修师傅")
    expect(page.locator("#detail .photos img")).to_have_count(2)
    page.screenshot(path=str(screenshots / "3-request-assigned.png"), full_page=True)

    [request] = hub.call("GET", "/api/v1/requests")["items"]
    assert request["preferred_from"] is not None
    case_url = f"/api/v1/cases/{request['case_id']}"
    hub.call("POST", f"{case_url}/accept", json={})
    visit = request["preferred_from"]
    updates = f"/api/v1/requests/{request['id']}/updates"
    hub.call("POST", updates, data={"note": "明早带新水管来", "visit_at": visit})
    page.reload()
    page.locator("#list .card").first.click()
    expect(page.locator("#detail .progress li.now")).to_have_text("已约上门")

    hub.call("POST", f"{case_url}/start", json={})
    after = photo(tmp_path / "after.jpg", (60, 160, 90)).read_bytes()
    hub.call(
        "POST",
        updates,
        data={"note": "水管已更换"},
        files=[("photos", ("after.jpg", after, "image/jpeg"))],
    )
    hub.call("POST", f"{case_url}/resolve", json={"resolution": "real", "note": "漏水已修好"})
    page.reload()
    page.locator("#list .card").first.click()
    expect(page.locator("#detail .progress li.now")).to_have_text("已办结")
    expect(page.locator("#detail .photos img")).to_have_count(3)
    page.locator("label[for=star4]").click()
    page.locator("#rating textarea").fill("师傅很准时")
    page.screenshot(path=str(screenshots / "4-done-rating.png"), full_page=True)
    page.locator("#rating button[type=submit]").click()
    expect(page.locator("#detail .rated")).to_contain_text("★★★★")
    page.screenshot(path=str(screenshots / "5-rated-zh.png"), full_page=True)

    # The same, in English.
    page.locator("#lang").click()
    expect(page.locator("#detail .progress li.now")).to_have_text("Done")
    expect(page.locator("#detail .rated")).to_contain_text("Thank you")
    expect(page.locator("#detail dd").first).to_have_text("Zhang · maintenance")
    page.screenshot(path=str(screenshots / "6-rated-en.png"), full_page=True)
    page.locator("#back").click()
    expect(page.locator("#list .card .stage")).to_have_text("Done")
    page.screenshot(path=str(screenshots / "7-home-en.png"))

    [notice] = hub.call("GET", "/api/v1/notices")["items"]
    assert notice["read"] == 1
    rated = hub.call("GET", f"/api/v1/requests/{request['id']}")
    assert [r["score"] for r in rated["ratings"]] == [4]
    assert errors == []
