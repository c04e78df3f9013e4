"""A household's data is never left in a cache: every JSON answer and every photo of a request
says ``Cache-Control: no-store``, on the resident's page and in the console alike.

The resident page's answers (its status, its requests, a request's progress, a rating) and the
operators' JSON carried no ``Cache-Control``: a shared phone's browser or a proxy could keep
them and show them to the next person. A photo was ``private, max-age=86400``: kept a day on a
shared console PC's disk. A hub served by uvicorn over real HTTP answers here.
"""

import io
from typing import Any

import httpx
from PIL import Image

from tests.residents.test_phone_page_browser import Hub, hub

__all__ = ["hub"]


def jpeg() -> bytes:
    """Return a small camera-like JPEG."""
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (120, 80, 40)).save(out, "JPEG")
    return out.getvalue()


def resident_story(hub: Hub) -> dict[str, Any]:
    """Report a leak with a photo for a new household and resolve it; return what the test
    fetches: the household's token, the request, and its case's id."""
    home = hub.call("POST", "/api/v1/households", json={"name": "Wang", "location": "Building 3/1"})
    token = home["token"]
    files = [("photos", ("leak.jpg", jpeg(), "image/jpeg"))]
    data = {"category": "repair", "text": "Water drips through the ceiling"}
    mine = httpx.post(f"{hub.url}/r/{token}/requests", data=data, files=files, timeout=10)
    assert mine.status_code == 201, mine.text
    request = mine.json()
    case_id = hub.call("GET", f"/api/v1/requests/{request['id']}")["case_id"]
    resolved = {"resolution": "real", "note": "Pipe changed"}
    hub.call("POST", f"/api/v1/cases/{case_id}/resolve", json=resolved)
    return {"token": token, "request": request, "case_id": case_id}


def test_a_households_answers_are_never_stored(hub: Hub) -> None:
    story = resident_story(hub)
    token, request = story["token"], story["request"]
    own = f"{hub.url}/r/{token}/requests/{request['id']}"
    with httpx.Client(timeout=10) as phone:
        answers = {
            "status": phone.get(f"{hub.url}/r/{token}/status"),
            "sos": phone.post(f"{hub.url}/r/{token}/sos"),
            "requests": phone.get(f"{hub.url}/r/{token}/requests"),
            "request": phone.get(own),
            "rating": phone.post(f"{own}/rating", json={"score": 4, "comment": "Quick"}),
            "photo": phone.get(f"{own}/{request['photos'][0]['path']}"),
            "thumbnail": phone.get(f"{own}/{request['photos'][0]['thumbnail_path']}"),
            "unknown token": phone.get(f"{hub.url}/r/not-a-token/status"),
        }
    for name, response in answers.items():
        assert response.status_code in (200, 404), (name, response.text)
        assert response.headers.get("cache-control") == "no-store", name


def test_the_consoles_answers_are_never_stored(hub: Hub) -> None:
    story = resident_story(hub)
    request_id, photo = story["request"]["id"], story["request"]["photos"][0]
    photo_url = f"/api/v1/requests/{request_id}/photos/{photo['id']}"
    answers = {
        "households": hub.api.get("/api/v1/households"),
        "requests": hub.api.get("/api/v1/requests"),
        "request": hub.api.get(f"/api/v1/requests/{request_id}"),
        "case": hub.api.get(f"/api/v1/cases/{story['case_id']}"),
        "ratings": hub.api.get("/api/v1/ratings/responders"),
        "refused": hub.api.post("/api/v1/requests", json={}),
        "photo": hub.api.get(photo_url),
        "thumbnail": hub.api.get(photo_url, params={"thumbnail": 1}),
    }
    for name, response in answers.items():
        assert response.status_code in (200, 422), (name, response.text)
        assert response.headers.get("cache-control") == "no-store", name


def test_a_route_that_says_how_to_cache_is_not_overridden(hub: Hub) -> None:
    page = hub.api.get("/console/")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-cache"
