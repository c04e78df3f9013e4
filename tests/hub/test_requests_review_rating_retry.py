"""Found by an outside review (a street office's grid-management centre): a rating sent again
after its answer was lost on a weak phone line was refused, and the page told the resident
her rating had not been sent.

The page posts the rating; the hub takes it, but the answer never reaches the phone (a lift,
a weak signal, 90 s). The page says 评价没有发出，请检查网络后再点一次“提交评价” and the resident
taps again. Before, the same rating again was a 409 — "this request has been rated already",
shown as "rating not sent" — and the same "not fixed" again was a 409 "the request is not
done yet", though her first tap had reopened the case: she was told twice that she had not
been heard. Now the same rating again (score, comment and "fixed" as the one taken) is
answered 200 with the request as it stands, and nothing is written a second time: one
rating, one reopening, one line on the case. Another rating of the same resolution is still
a 409. Real SQLite and PostgreSQL through the app, an injected clock.
"""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from hub.cases.rules import CaseStatus
from hub.errors import IllegalTransitionError
from hub.requests.rules import Feedback, FeedbackOutcome, RatingFacts, decide_feedback
from tests.hub.conftest import FakeClock
from tests.hub.http import api_client
from tests.hub.residents import household
from tests.hub.test_requests_api import LOCATION, report, staff

pytestmark = pytest.mark.fake_clock

DONE = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def test_the_rating_taken_sent_again_is_that_rating() -> None:
    taken = Feedback(score=2, comment="still drips", fixed=False)
    # Its "not fixed" reopened the case, which is being worked on again: a repeat.
    working = RatingFacts(CaseStatus.ACCEPTED, None, False, last=taken, last_resolved_at=DONE)
    outcome = decide_feedback(working, taken, DONE)
    assert (outcome.reopen, outcome.repeat) == (False, True)
    # Rated "fixed" and resolved now: the same again is a repeat, another rating is not.
    fine = Feedback(score=5, comment=None)
    rated = RatingFacts(CaseStatus.RESOLVED, DONE, True, last=fine, last_resolved_at=DONE)
    assert decide_feedback(rated, fine, DONE).repeat
    with pytest.raises(IllegalTransitionError, match="rated already"):
        decide_feedback(rated, Feedback(score=1, comment=None), DONE)
    # Done again since: the same words rate the new resolution, and are taken.
    later = DONE + timedelta(days=1)
    again = RatingFacts(CaseStatus.RESOLVED, later, False, last=fine, last_resolved_at=DONE)
    assert decide_feedback(again, fine, later) == FeedbackOutcome(reopen=False)
    # An operator reopened a case rated "fixed": nothing stands, it is not done.
    reopened = RatingFacts(CaseStatus.DISPATCHED, None, False, last=fine, last_resolved_at=DONE)
    with pytest.raises(IllegalTransitionError, match="not done yet"):
        decide_feedback(reopened, fine, later)


async def resolved_request(client: httpx.AsyncClient, token: str) -> tuple[str, int]:
    """Report a leak for the household of ``token`` and resolve it; return its page URL and
    its case's id."""
    created = (await report(client, token, [])).json()
    case_id = (await client.get(f"/api/v1/requests/{created['id']}")).json()["case_id"]
    resolved = await client.post(
        f"/api/v1/cases/{case_id}/resolve", json={"resolution": "real", "note": "new washer"}
    )
    assert resolved.status_code == 200, resolved.text
    return f"/r/{token}/requests/{created['id']}", case_id


async def test_a_rating_sent_again_after_its_answer_was_lost_is_taken_once(
    app: FastAPI, clock: FakeClock
) -> None:
    async with api_client(app) as client:
        await staff(client)
        wang = await household(client, "Wang family", LOCATION)
        url, case_id = await resolved_request(client, wang["token"])
        body = {"score": 4, "comment": " 师傅很准时 "}
        first = await client.post(f"{url}/rating", json=body)
        assert first.status_code == 200, first.text
        clock.advance(95)  # the answer was lost; the page says "not sent"; she taps again
        again = await client.post(f"{url}/rating", json=body)
        assert again.status_code == 200, again.text
        assert again.json()["rating"] == first.json()["rating"]
        assert again.json()["can_rate"] is False
        request = (await client.get(f"/api/v1/requests/{url.rsplit('/', 1)[1]}")).json()
        assert [r["score"] for r in request["ratings"]] == [4]
        case = (await client.get(f"/api/v1/cases/{case_id}")).json()
        assert len([e for e in case["events"] if (e["note"] or "").startswith("rated")]) == 1
        scores = (await client.get("/api/v1/ratings/responders")).json()["items"]
        assert [s["ratings"] for s in scores] == [1]
        # Another rating of the same resolution is not a repeat: refused as before.
        other = await client.post(f"{url}/rating", json={"score": 1})
        assert other.status_code == 409
        assert "rated already" in other.json()["detail"]


async def test_not_fixed_sent_again_reopens_the_case_once(app: FastAPI, clock: FakeClock) -> None:
    async with api_client(app) as client:
        await staff(client)
        wang = await household(client, "Wang family", LOCATION)
        url, case_id = await resolved_request(client, wang["token"])
        clock.advance(3600)
        body = {"score": 2, "comment": "还在漏水", "fixed": False}
        first = await client.post(f"{url}/rating", json=body)
        assert first.status_code == 200, first.text
        assert first.json()["stage"] != "done"
        clock.advance(95)
        again = await client.post(f"{url}/rating", json=body)
        assert again.status_code == 200, again.text
        assert again.json()["stage"] == first.json()["stage"]
        case = (await client.get(f"/api/v1/cases/{case_id}")).json()
        assert len([e for e in case["events"] if e["action"] == "reopened"]) == 1
        request = (await client.get(f"/api/v1/requests/{url.rsplit('/', 1)[1]}")).json()
        assert [(r["score"], r["fixed"]) for r in request["ratings"]] == [(2, False)]
        # A different rating while it is being worked on again is refused as before.
        other = await client.post(f"{url}/rating", json={"score": 1, "fixed": False})
        assert other.status_code == 409
        # Done again, the second attempt is rated on its own.
        resolved = await client.post(
            f"/api/v1/cases/{case_id}/resolve", json={"resolution": "real", "note": "new pipe"}
        )
        assert resolved.status_code == 200, resolved.text
        second = await client.post(f"{url}/rating", json=body | {"fixed": True, "score": 5})
        assert second.status_code == 200, second.text
        request = (await client.get(f"/api/v1/requests/{url.rsplit('/', 1)[1]}")).json()
        assert [r["score"] for r in request["ratings"]] == [2, 5]
