"""The access decision: validity, revocation, doors, schedules in the site's zone, anti-passback."""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from devices.access import (
    AccessRule,
    AllowEntry,
    CredentialKind,
    DoorConfig,
    EntryStatus,
    TimeWindow,
)
from edge.access.decision import Direction, Verdict, decide

SHANGHAI = ZoneInfo("Asia/Shanghai")  # no daylight saving time
BERLIN = ZoneInfo("Europe/Berlin")  # CET/CEST
GATE = DoorConfig(id="gate", reader_id="gate-reader", exit_reader_id="gate-exit")
LOBBY = DoorConfig(
    id="b3-lobby", reader_id="b3-reader", exit_reader_id="b3-exit", anti_passback=True
)
CLEANERS = TimeWindow(days=frozenset({1, 2, 3, 4, 5}), start=time(7), end=time(19))


def entry(**changes: object) -> AllowEntry:
    base = AllowEntry(
        credential_id=11,
        person_id=5,
        kind=CredentialKind.CARD,
        hash="0" * 64,
        rules=(AccessRule(doors=frozenset({"gate", "b3-lobby"})),),
    )
    return base.model_copy(update=changes)


def at(zone: ZoneInfo, *fields: int) -> datetime:
    year, month, day, hour, minute, second = (*fields, 0, 0, 0)[:6]
    return datetime(year, month, day, hour, minute, second, tzinfo=zone)


NOW = at(SHANGHAI, 2026, 11, 20, 12, 0)


def test_a_known_active_card_opens_its_door() -> None:
    decision = decide(entry(), GATE, Direction.ENTRY, NOW, SHANGHAI)
    assert decision.granted
    assert (decision.verdict, decision.credential_id, decision.person_id) == (
        Verdict.GRANTED,
        11,
        5,
    )


def test_an_unknown_card_is_denied_and_names_nobody() -> None:
    decision = decide(None, GATE, Direction.ENTRY, NOW, SHANGHAI)
    assert (decision.verdict, decision.credential_id, decision.person_id) == (
        Verdict.UNKNOWN_CREDENTIAL,
        None,
        None,
    )


def test_a_revoked_card_is_denied_as_revoked() -> None:
    decision = decide(entry(status=EntryStatus.REVOKED), GATE, Direction.ENTRY, NOW, SHANGHAI)
    assert decision.verdict is Verdict.REVOKED
    assert decision.person_id == 5


@pytest.mark.parametrize(
    ("bound", "offset", "verdict"),
    [
        ("valid_from", timedelta(microseconds=-1), Verdict.NOT_YET_VALID),
        ("valid_from", timedelta(0), Verdict.GRANTED),  # valid_from is inclusive
        ("valid_until", timedelta(microseconds=-1), Verdict.GRANTED),
        ("valid_until", timedelta(0), Verdict.EXPIRED),  # valid_until is exclusive
    ],
)
def test_validity_bounds_hold_to_the_microsecond(
    bound: str, offset: timedelta, verdict: Verdict
) -> None:
    card = entry(**{bound: NOW})
    assert decide(card, GATE, Direction.ENTRY, NOW + offset, SHANGHAI).verdict is verdict


def test_validity_is_compared_as_instants_whatever_the_zone() -> None:
    card = entry(valid_until=datetime(2026, 11, 20, 4, 0, tzinfo=UTC))  # 12:00 in Shanghai
    assert decide(card, GATE, Direction.ENTRY, NOW, SHANGHAI).verdict is Verdict.EXPIRED
    earlier = NOW - timedelta(seconds=1)
    assert decide(card, GATE, Direction.ENTRY, earlier, SHANGHAI).granted


def test_a_door_not_in_any_rule_is_denied() -> None:
    card = entry(rules=(AccessRule(doors=frozenset({"b3-lobby"})),))
    assert decide(card, GATE, Direction.ENTRY, NOW, SHANGHAI).verdict is Verdict.NO_ACCESS_TO_DOOR
    assert decide(entry(rules=()), GATE, Direction.ENTRY, NOW, SHANGHAI).verdict is (
        Verdict.NO_ACCESS_TO_DOOR
    )


CLEANER = entry(rules=(AccessRule(doors=frozenset({"gate"}), windows=(CLEANERS,)),))


@pytest.mark.parametrize(
    ("local", "granted"),
    [
        ((2026, 11, 20, 6, 59, 59), False),
        ((2026, 11, 20, 7, 0, 0), True),
        ((2026, 11, 20, 18, 59, 59), True),
        ((2026, 11, 20, 19, 0, 0), False),
        ((2026, 11, 21, 10, 0, 0), False),  # Saturday
        ((2026, 11, 22, 23, 59, 59), False),  # Sunday, a second before Monday
        ((2026, 11, 23, 0, 0, 0), False),  # Monday midnight: before 07:00
    ],
)
def test_cleaners_open_the_gate_on_weekdays_from_7_to_19_site_time(
    local: tuple[int, ...], granted: bool
) -> None:
    now = at(SHANGHAI, *local)
    decision = decide(CLEANER, GATE, Direction.ENTRY, now, SHANGHAI)
    assert decision.granted is granted
    if not granted:
        assert decision.verdict is Verdict.OUTSIDE_SCHEDULE


def test_the_schedule_is_read_in_the_sites_zone_not_utc() -> None:
    # 23:30 UTC on Thursday is 07:30 on Friday in Shanghai.
    now = datetime(2026, 11, 19, 23, 30, tzinfo=UTC)
    assert decide(CLEANER, GATE, Direction.ENTRY, now, SHANGHAI).granted
    assert not decide(CLEANER, GATE, Direction.ENTRY, now, ZoneInfo("UTC")).granted


@pytest.mark.parametrize(
    ("utc", "granted"),
    [
        # Winter (CET, UTC+1): 06:30 UTC is 07:30 local; 05:30 UTC is 06:30 local.
        (datetime(2026, 1, 14, 6, 30, tzinfo=UTC), True),
        (datetime(2026, 1, 14, 5, 30, tzinfo=UTC), False),
        # Summer (CEST, UTC+2): 05:30 UTC is 07:30 local; 17:30 UTC is 19:30 local.
        (datetime(2026, 7, 15, 5, 30, tzinfo=UTC), True),
        (datetime(2026, 7, 15, 17, 30, tzinfo=UTC), False),
        # The Monday after the spring change (29 March 2026): 05:00 UTC is 07:00 CEST.
        (datetime(2026, 3, 30, 4, 59, 59, tzinfo=UTC), False),
        (datetime(2026, 3, 30, 5, 0, tzinfo=UTC), True),
        # The Monday after the autumn change (25 October 2026): 06:00 UTC is 07:00 CET.
        (datetime(2026, 10, 26, 5, 59, 59, tzinfo=UTC), False),
        (datetime(2026, 10, 26, 6, 0, tzinfo=UTC), True),
    ],
)
def test_the_schedule_follows_daylight_saving_time(utc: datetime, granted: bool) -> None:
    assert decide(CLEANER, GATE, Direction.ENTRY, utc, BERLIN).granted is granted


def test_any_matching_rule_grants() -> None:
    card = entry(
        rules=(
            AccessRule(doors=frozenset({"gate"}), windows=(CLEANERS,)),
            AccessRule(doors=frozenset({"gate"})),
        )
    )
    saturday = at(SHANGHAI, 2026, 11, 21, 3, 0)
    assert decide(card, GATE, Direction.ENTRY, saturday, SHANGHAI).granted


def test_anti_passback_refuses_a_second_entry_but_not_an_exit() -> None:
    card = entry()
    assert decide(card, LOBBY, Direction.ENTRY, NOW, SHANGHAI, frozenset({5})).verdict is (
        Verdict.ANTI_PASSBACK
    )
    assert decide(card, LOBBY, Direction.EXIT, NOW, SHANGHAI, frozenset({5})).granted
    assert decide(card, LOBBY, Direction.ENTRY, NOW, SHANGHAI, frozenset({6})).granted
    # Without anti-passback on the door, being inside does not matter.
    assert decide(card, GATE, Direction.ENTRY, NOW, SHANGHAI, frozenset({5})).granted


def test_revocation_wins_over_everything_else() -> None:
    card = entry(status=EntryStatus.REVOKED, valid_until=NOW - timedelta(days=1))
    assert decide(card, GATE, Direction.ENTRY, NOW, SHANGHAI).verdict is Verdict.REVOKED
