"""The resident's SOS, the pure parts: stages, the press throttle, tokens, the alert, the page."""

import re
from datetime import timedelta

import pytest

from devices.kinds import AlertKind, AlertState, Severity
from devices.messages import FeedbackStage
from devices.registry import check_identifier
from hub.cases.feedback import FeedbackDelivery, feedback_deliveries
from hub.cases.rules import CaseStatus, feedback_stage
from hub.requests.phone import render_phone_page
from hub.residents.page import STAGE_TEXT
from hub.residents.rules import (
    SOS_MIN_INTERVAL,
    WEB_SOURCE,
    ResidentStage,
    SosThrottle,
    issue_token,
    may_raise_sos,
    resident_link,
    resident_stage,
    token_hash,
    web_device_id,
    web_sos_alert,
)
from tests.hub.factories import T0
from tests.hub.test_events import case_view


@pytest.mark.parametrize(
    ("status", "acknowledged", "stage"),
    [
        (CaseStatus.OPEN, False, FeedbackStage.CASE_OPENED),
        # Dispatched by the hub, nobody has taken it on yet: not "someone is coming".
        (CaseStatus.DISPATCHED, False, FeedbackStage.CASE_OPENED),
        (CaseStatus.ACKNOWLEDGED, True, FeedbackStage.ACKNOWLEDGED),
        (CaseStatus.DISPATCHED, True, FeedbackStage.ACKNOWLEDGED),
        (CaseStatus.ACCEPTED, True, FeedbackStage.ACKNOWLEDGED),
        (CaseStatus.IN_PROGRESS, True, FeedbackStage.ACKNOWLEDGED),
        # Declined after an operator had seen it: still someone on it.
        (CaseStatus.OPEN, True, FeedbackStage.ACKNOWLEDGED),
        (CaseStatus.RESOLVED, True, FeedbackStage.RESOLVED),
        (CaseStatus.RESOLVED, False, FeedbackStage.RESOLVED),
        (CaseStatus.CLOSED, False, FeedbackStage.RESOLVED),
    ],
)
def test_each_case_status_has_a_feedback_stage(
    status: CaseStatus, acknowledged: bool, stage: FeedbackStage
) -> None:
    assert feedback_stage(status, acknowledged) is stage
    assert resident_stage(status, acknowledged).value == stage.value


def test_no_case_is_stage_none() -> None:
    assert resident_stage(None) is ResidentStage.NONE


def test_resident_stages_extend_the_feedback_stages() -> None:
    # "cancelled" is a button pattern only: a cancel gesture leaves the case open until an
    # operator closes it, so the page keeps showing the case's stage. "withdrawn" is the
    # page's own: its take-back told the staff, the case still open. "not_delivered" is the
    # edge's own word to a button whose press has not reached the hub (the page talks to the
    # hub itself, and says so when it cannot: "Help was NOT called").
    button_only = {FeedbackStage.CANCELLED.value, FeedbackStage.NOT_DELIVERED.value}
    page_only = {"none", "withdrawn"}
    assert {s.value for s in ResidentStage} == (
        {s.value for s in FeedbackStage} - button_only
    ) | page_only
    assert set(STAGE_TEXT) == set(ResidentStage)


def test_the_first_press_raises() -> None:
    assert may_raise_sos(None, T0)


@pytest.mark.parametrize(
    ("after", "allowed"),
    [
        (timedelta(0), False),
        (timedelta(seconds=1.999), False),
        (SOS_MIN_INTERVAL, True),
        (timedelta(seconds=30), True),
        (timedelta(seconds=-5), True),  # the clock went back: do not lock the household out
    ],
)
def test_presses_closer_than_the_interval_are_throttled(after: timedelta, allowed: bool) -> None:
    assert may_raise_sos(T0, T0 + after) is allowed


def test_the_throttle_is_per_household_and_remembers_only_accepted_presses() -> None:
    throttle = SosThrottle()
    assert throttle.admit(1, T0)
    assert not throttle.admit(1, T0 + timedelta(seconds=1))
    assert throttle.admit(2, T0 + timedelta(seconds=1))
    # The refused press at +1 s did not restart the interval.
    assert throttle.admit(1, T0 + timedelta(seconds=2))
    assert not throttle.admit(1, T0 + timedelta(seconds=3.5))


def test_tokens_are_random_and_only_their_hash_is_kept() -> None:
    token, hashed = issue_token()
    other, _ = issue_token()
    assert token != other
    assert len(token) >= 43
    assert hashed == token_hash(token)
    assert re.fullmatch(r"[0-9a-f]{64}", hashed)
    assert token not in hashed
    assert resident_link(token) == f"/r/{token}"


def test_the_web_alert_is_a_critical_raised_sos() -> None:
    device_id = web_device_id(7)
    assert check_identifier(device_id) == "household-7-web"
    alert = web_sos_alert("a" * 32, device_id, "Building 3/Floor 12/Unit 1201", T0)
    assert (alert.kind, alert.state, alert.severity) == (
        AlertKind.SOS,
        AlertState.RAISED,
        Severity.CRITICAL,
    )
    assert (alert.edge_id, alert.device_id, alert.ts, alert.detected_at) == (
        WEB_SOURCE,
        device_id,
        T0,
        T0,
    )
    assert alert.location == "Building 3/Floor 12/Unit 1201"


def test_feedback_goes_to_each_device_edge_for_sos_cases_only() -> None:
    sos = case_view(4, kind=AlertKind.SOS, status=CaseStatus.ACKNOWLEDGED, device_id="b1")
    kinds = frozenset({AlertKind.SOS})
    [delivery] = feedback_deliveries(sos, {"b1": "e9"}, kinds)
    assert isinstance(delivery, FeedbackDelivery)
    assert delivery.topic == "linli/edge/e9/feedback"
    assert (delivery.feedback.device_id, delivery.feedback.case_id) == ("b1", 4)
    assert delivery.feedback.stage is FeedbackStage.ACKNOWLEDGED
    assert feedback_deliveries(sos, {}, kinds) == []  # a device without an edge
    assert feedback_deliveries(case_view(5), {"d1": "e1"}, kinds) == []  # smoke: not asked for
    assert feedback_deliveries(case_view(5), {"d1": "e1"}, kinds | {AlertKind.SMOKE})


def test_the_page_is_self_contained_and_escapes_the_name() -> None:
    stage = ResidentStage.ACKNOWLEDGED
    page = render_phone_page("<Wang & Li>", stage.value, STAGE_TEXT[stage])
    assert "&lt;Wang &amp; Li&gt;" in page
    assert "<Wang" not in page
    assert 'id="sos"' in page
    assert "有人正在赶来" in page
    assert "Someone is coming" in page
    assert "http:" not in page
    assert "https:" not in page
    assert "src=" not in page
    assert "<link" not in page
