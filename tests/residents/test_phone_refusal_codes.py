"""The phone page chooses a refusal's sentence by the hub's ``code``, not by its English.

The page used to recognise the hub's refusals by matching their English ("rated already",
"window is already over", ...): a hub whose wording changed, or was translated, left the
resident with the generic "not sent, change it and send again". Now every refusal of the
requests' own rules carries a ``code`` (docs/contract.md), and the page reads that; a form
the hub could not take is read by its field and FastAPI's error ``type``.
Real hub, real Chromium at phone size; the hub's answer is reworded on its way to the page.
"""

import json
from datetime import UTC, datetime, timedelta

import httpx
from playwright.sync_api import Browser, Route, expect

from tests.residents.test_phone_page_browser import Hub, hub
from tests.residents.test_phone_review_refusals import done_request, open_rating, sentence

__all__ = ["hub"]

REWORDED = "该诉求已有评价（本地化的中心措辞）"
"""The hub's words as another hub might put them: no English the page could match."""


def reworded(route: Route) -> None:
    """Pass an answer on with its ``detail`` in other words, its status and code as they are."""
    answer = route.fetch()
    body = answer.json()
    if isinstance(body.get("detail"), str):
        body["detail"] = REWORDED
    route.fulfill(response=answer, body=json.dumps(body))


def test_the_hub_names_its_refusals_of_a_resident_with_a_code(hub: Hub) -> None:
    home, request_id = done_request(hub)
    rating = f"{hub.url}{home['link']}/requests/{request_id}/rating"
    first = httpx.post(rating, json={"score": 5}, timeout=10)
    assert first.status_code == 200, first.text
    again = httpx.post(rating, json={"score": 4}, timeout=10)
    assert again.status_code == 409
    assert again.json() == {
        "detail": "this request has been rated already",
        "code": "rated_already",
    }

    form = {"category": "repair", "text": "灯坏了"}
    over = datetime.now(UTC) - timedelta(hours=2)
    window = {
        "preferred_from": (over - timedelta(hours=1)).isoformat(),
        "preferred_until": over.isoformat(),
    }
    late = httpx.post(f"{hub.url}{home['link']}/requests", data=form | window, timeout=10)
    assert late.status_code == 422
    assert late.json()["code"] == "window_over"
    blank = httpx.post(
        f"{hub.url}{home['link']}/requests", data=form | {"text": "\u200b "}, timeout=10
    )
    assert blank.status_code == 422
    assert blank.json()["code"] == "need_text"
    # A refusal with no code of its own has none in its answer (the field is additive).
    gone = httpx.get(f"{hub.url}{home['link']}/requests/999999", timeout=10)
    assert gone.status_code == 404
    assert "code" not in gone.json()


def test_a_reworded_refusal_still_reads_as_what_it_is(hub: Hub, browser: Browser) -> None:
    home, request_id = done_request(hub)
    page, errors = open_rating(hub, browser, home)
    other = httpx.post(
        f"{hub.url}{home['link']}/requests/{request_id}/rating", json={"score": 5}, timeout=10
    )
    assert other.status_code == 200, other.text
    page.route("**/rating", reworded)
    page.locator("label[for=star2]").click()
    page.locator("#rating button[type=submit]").click()
    problem = page.locator("#rating .error")
    expect(problem).to_contain_text("已经评价过了")
    assert "请修改后再提交" not in sentence(problem)
    expect(problem.locator(".reason")).to_have_text(f"详情：{REWORDED}")
    assert errors == []
