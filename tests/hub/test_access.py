"""Compiling an edge's allow-list from people, groups, schedules and credentials (pure)."""

from datetime import UTC, datetime, time

import pytest

from devices.access import (
    SITE_KEY,
    AccessBody,
    AccessRule,
    AllowEntry,
    CredentialKind,
    DoorConfig,
    EntryStatus,
    SiteAccess,
    TimeWindow,
    credential_hash,
)
from devices.timezone import check_timezone
from hub.access.rules import (
    SCOPED_RESYNC_PEOPLE,
    CredentialImport,
    CredentialSpec,
    GroupSpec,
    PersonImport,
    PersonSpec,
    changed_items,
    check_import,
    compile_allow_list,
    import_scope,
    needs_snapshot,
    reader_taken,
    valid_credential,
)

SITE = SiteAccess(timezone="Asia/Shanghai", hash_key="22" * 32)
GATE = DoorConfig(id="gate", reader_id="gate-reader")
LOBBY = DoorConfig(id="lobby", reader_id="lobby-reader")
WEEKDAYS = TimeWindow(days=frozenset({1, 2, 3, 4, 5}), start=time(7), end=time(19))
JAN = datetime(2027, 1, 1, tzinfo=UTC)
JUN = datetime(2027, 6, 1, tzinfo=UTC)


def compiled(
    people: list[PersonSpec], credentials: list[CredentialSpec], groups: list[GroupSpec]
) -> dict[str, AccessBody]:
    return dict(compile_allow_list(SITE, [GATE, LOBBY], groups, people, credentials))


def test_a_credential_gets_its_persons_groups_as_rules_on_their_schedules() -> None:
    groups = [
        GroupSpec(1, frozenset({"gate", "lobby"})),
        GroupSpec(2, frozenset({"gate", "other-site-door"}), (WEEKDAYS,)),
    ]
    items = compiled(
        [PersonSpec(7, frozenset({1, 2}))],
        [CredentialSpec(70, 7, CredentialKind.CARD, "ab" * 32)],
        groups,
    )
    assert items[SITE_KEY] == SITE
    assert items["door:gate"] == GATE
    entry = items["cred:70"]
    assert isinstance(entry, AllowEntry)
    assert entry.rules == (
        AccessRule(doors=frozenset({"gate", "lobby"})),
        AccessRule(doors=frozenset({"gate"}), windows=(WEEKDAYS,)),  # not another site's door
    )
    assert entry.status is EntryStatus.ACTIVE


def test_validity_is_the_intersection_of_person_and_credential() -> None:
    items = compiled(
        [PersonSpec(7, frozenset(), valid_from=JAN, valid_until=None)],
        [
            CredentialSpec(70, 7, CredentialKind.CARD, "ab" * 32, valid_until=JUN),
            CredentialSpec(71, 7, CredentialKind.PIN, "cd" * 32, valid_from=JUN),
        ],
        [],
    )
    first, second = items["cred:70"], items["cred:71"]
    assert isinstance(first, AllowEntry)
    assert isinstance(second, AllowEntry)
    assert (first.valid_from, first.valid_until) == (JAN, JUN)
    assert (second.valid_from, second.valid_until) == (JUN, None)


def test_a_revoked_credential_stays_listed_as_revoked_and_strangers_are_left_out() -> None:
    items = compiled(
        [PersonSpec(7, frozenset())],
        [
            CredentialSpec(70, 7, CredentialKind.CARD, "ab" * 32, revoked=True),
            CredentialSpec(80, 8, CredentialKind.CARD, "ef" * 32),  # person 8 is elsewhere
        ],
        [],
    )
    entry = items["cred:70"]
    assert isinstance(entry, AllowEntry)
    assert entry.status is EntryStatus.REVOKED
    assert "cred:80" not in items


def test_only_real_changes_are_versioned_and_deletions_become_tombstones() -> None:
    before = compiled(
        [PersonSpec(7, frozenset({1}))],
        [CredentialSpec(70, 7, CredentialKind.CARD, "ab" * 32)],
        [GroupSpec(1, frozenset({"lobby", "gate"}))],
    )
    same = compile_allow_list(
        SITE,
        [GATE, LOBBY],
        [GroupSpec(1, frozenset({"gate", "lobby"}))],  # the same set, built the other way
        [PersonSpec(7, frozenset({1}))],
        [CredentialSpec(70, 7, CredentialKind.CARD, "ab" * 32)],
    )
    sent: dict[str, AccessBody | None] = {
        **before,
        "cred:99": None,
    }  # an old tombstone stays a tombstone
    assert changed_items(sent, same) == {}
    after = compile_allow_list(SITE, [GATE], [], [PersonSpec(7, frozenset())], [])
    assert changed_items(sent, after) == {"door:lobby": None, "cred:70": None}


def test_time_zones_are_checked() -> None:
    assert check_timezone("Europe/Berlin") == "Europe/Berlin"
    with pytest.raises(ValueError, match="unknown time zone"):
        check_timezone("Mars/Olympus")


KEY = bytes(range(32))
CARD, PIN = CredentialKind.CARD, CredentialKind.PIN


def test_an_import_plan_hashes_every_credential_in_row_order() -> None:
    rows = [
        PersonImport("A", group_ids=frozenset({1}), credentials=(CredentialImport(CARD, "0a1b"),)),
        PersonImport(
            "B", credentials=(CredentialImport(PIN, " 1234 "), CredentialImport(CARD, "FF"))
        ),
        PersonImport("C"),
    ]
    plan = check_import(rows, key=KEY, group_ids={1}, household_ids=set(), enrolled=set())
    assert plan.problems == ()
    assert plan.hashes == (
        (credential_hash(KEY, CARD, "0A1B"),),
        (credential_hash(KEY, PIN, "1234"), credential_hash(KEY, CARD, "ff")),
        (),
    )


def test_an_import_plan_lists_every_problem_by_row_and_never_the_secret() -> None:
    taken = credential_hash(KEY, PIN, "999999")
    later = datetime(2026, 12, 1, tzinfo=UTC)
    earlier = datetime(2026, 11, 1, tzinfo=UTC)
    rows = [
        PersonImport("ok", credentials=(CredentialImport(CARD, "AB12"),)),
        PersonImport("groups", group_ids=frozenset({1, 7, 8})),
        PersonImport("household", household_id=5),
        PersonImport("window", valid_from=later, valid_until=earlier),
        PersonImport(
            "credentials",
            credentials=(
                CredentialImport(CARD, "ab12"),  # row 0's card, other case
                CredentialImport(PIN, "12"),
                CredentialImport(PIN, "999999"),
                CredentialImport(CARD, "CD34", valid_from=later, valid_until=later),
            ),
        ),
    ]
    plan = check_import(rows, key=KEY, group_ids={1}, household_ids={4}, enrolled={taken})
    assert [(p.row, p.field) for p in plan.problems] == [
        (1, "group_ids"),
        (2, "household_id"),
        (3, "valid_until"),
        (4, "credentials[0]"),
        (4, "credentials[1]"),
        (4, "credentials[2]"),
        (4, "credentials[3].valid_until"),
    ]
    errors = [p.error for p in plan.problems]
    assert errors[0] == "no groups [7, 8] at the site"
    assert errors[3] == "the same card as row 0 credentials[0]"
    assert errors[5] == "this pin is already enrolled"
    assert not any(secret in e for e in errors for secret in ("ab12", "AB12", "999999", "12 "))
    assert "12" not in repr(rows[4].credentials[1])


def test_a_reader_opens_one_door_only() -> None:
    garage = DoorConfig(id="garage", reader_id="garage-reader", exit_reader_id="gate-reader")
    assert reader_taken(garage, [GATE, LOBBY]) == "gate"
    assert reader_taken(DoorConfig(id="side", reader_id="side-reader"), [GATE, LOBBY]) is None
    # A door replaced keeps its own readers.
    assert reader_taken(GATE, [GATE, LOBBY]) is None


def test_an_edge_gets_a_snapshot_when_it_holds_nothing_or_a_version_never_issued() -> None:
    assert needs_snapshot(0, 5)
    assert needs_snapshot(6, 5)
    assert not needs_snapshot(5, 5)
    assert not needs_snapshot(3, 5)


def test_a_large_import_compares_the_whole_list() -> None:
    assert import_scope([1, 2, 3]) == {1, 2, 3}
    assert import_scope(list(range(SCOPED_RESYNC_PEOPLE))) == set(range(SCOPED_RESYNC_PEOPLE))
    assert import_scope(list(range(SCOPED_RESYNC_PEOPLE + 1))) is None


def test_a_credential_value_has_the_form_of_its_kind() -> None:
    assert valid_credential(CredentialKind.PIN, "482916")
    assert not valid_credential(CredentialKind.PIN, "48x916")
    assert not valid_credential(CredentialKind.CARD, "")
