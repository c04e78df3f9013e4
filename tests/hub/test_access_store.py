"""The door access repository on SQLite and PostgreSQL: versions, catch-up, the access log."""

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from devices.access import (
    AccessEventKind,
    AccessRecord,
    AllowEntry,
    CredentialKind,
    DoorConfig,
    EntryStatus,
    SiteAccess,
    TimeWindow,
    credential_hash,
)
from hub.access.repository import AccessStore
from hub.errors import InvalidInputError, NotFoundError
from hub.persistence.access import AccessCredentialRow, AccessSiteRow
from tests.hub.conftest import FakeClock

EDGE = "edge-a"
GATE = DoorConfig(id="gate", reader_id="gate-reader", contact_id="gate-door")


@pytest.fixture
def access(engine: Engine, clock: FakeClock) -> AccessStore:
    return AccessStore(engine, clock=clock)


def site_with_gate(access: AccessStore) -> int:
    access.sites.create_site(EDGE, "Courtyard", "Asia/Shanghai")
    access.sites.put_door(EDGE, GATE)
    return access.groups.create_group(EDGE, "residents", ["gate"], None).id


def test_each_real_change_gets_the_next_version_and_an_edge_catches_up_from_any(
    access: AccessStore,
) -> None:
    group = site_with_gate(access)
    assert access.sites.list_sites()[0].version == 2  # the site item, then the door
    alice = access.people.create_person(EDGE, "Alice", group_ids=[group])
    assert access.sites.list_sites()[0].version == 2  # no credential yet: nothing for the edge
    card = access.people.add_credential(alice.id, CredentialKind.CARD, "a1b2c3d4")
    pin = access.people.add_credential(alice.id, CredentialKind.PIN, "482913")
    assert access.sites.list_sites()[0].version == 4
    access.people.revoke_credential(card.id)
    access.people.revoke_credential(card.id)  # again: no change, no version
    access.people.delete_person(alice.id)
    assert access.sites.list_sites()[0].version == 6

    snapshot = access.allow_lists.updates_since(EDGE, 0)
    assert snapshot is not None
    assert snapshot.full
    assert snapshot.to_version == 6
    assert {i.key for i in snapshot.items} == {"site", "door:gate"}  # no tombstones

    catch_up = access.allow_lists.updates_since(EDGE, 4)
    assert catch_up is not None
    assert not catch_up.full
    assert (catch_up.from_version, catch_up.to_version) == (4, 6)
    assert {(i.key, i.version, i.body is None) for i in catch_up.items} == {
        (f"cred:{card.id}", 6, True),
        (f"cred:{pin.id}", 6, True),
    }
    mid = access.allow_lists.updates_since(EDGE, 3)
    assert mid is not None
    revoked = [i for i in mid.items if i.key == f"cred:{card.id}"]
    assert len(revoked) == 1  # its latest state only (deleted at 6, after the revocation at 5)

    current = access.allow_lists.updates_since(EDGE, 6)
    assert current is not None
    assert current.items == []
    assert not current.full
    future = access.allow_lists.updates_since(EDGE, 99)  # a version this hub never issued
    assert future is not None
    assert future.full
    assert future.from_version == 99  # names the version it replaces (the edge checks it)
    assert access.allow_lists.updates_since("edge-unknown", 0) is None


def test_a_credential_is_stored_only_as_its_keyed_hash(access: AccessStore, engine: Engine) -> None:
    group = site_with_gate(access)
    bob = access.people.create_person(EDGE, "Bob", group_ids=[group])
    access.people.add_credential(bob.id, CredentialKind.CARD, "DEADBEEF01")
    with Session(engine) as session:
        key = session.scalars(select(AccessSiteRow.hash_key)).one()
        stored = session.scalars(select(AccessCredentialRow.hash)).one()
        dump = " ".join(
            str(row)
            for table in ("access_credentials", "access_sync_items", "access_people")
            for row in session.execute(text(f"SELECT * FROM {table}"))
        )
    assert stored == credential_hash(bytes.fromhex(key), CredentialKind.CARD, "deadbeef01")
    assert "DEADBEEF01" not in dump.upper().replace(stored.upper(), "")
    update = access.allow_lists.updates_since(EDGE, 0)
    assert update is not None
    entries = [i.body for i in update.items if isinstance(i.body, AllowEntry)]
    assert [e.hash for e in entries] == [stored]
    site = next(i.body for i in update.items if isinstance(i.body, SiteAccess))
    assert site.hash_key == key
    assert site.timezone == "Asia/Shanghai"
    with pytest.raises(InvalidInputError, match="already enrolled"):
        access.people.add_credential(bob.id, CredentialKind.CARD, "deadbeef01")


def test_schedules_and_validity_reach_the_entry(access: AccessStore, clock: FakeClock) -> None:
    access.sites.create_site(EDGE, "Courtyard", "Asia/Shanghai")
    access.sites.put_door(EDGE, GATE)
    weekdays = TimeWindow(days=frozenset({1, 2, 3, 4, 5}), start=time(7), end=time(19))
    schedule = access.groups.create_schedule("cleaners", [weekdays])
    group = access.groups.create_group(EDGE, "cleaners", ["gate"], schedule.id)
    until = clock.now + timedelta(days=30)
    person = access.people.create_person(EDGE, "Cleaner", group_ids=[group.id], valid_until=until)
    credential = access.people.add_credential(person.id, CredentialKind.CARD, "C1EA9E45")
    update = access.allow_lists.updates_since(EDGE, 0)
    assert update is not None
    (entry,) = [i.body for i in update.items if isinstance(i.body, AllowEntry)]
    assert entry.credential_id == credential.id
    assert entry.status is EntryStatus.ACTIVE
    assert entry.valid_until == until
    assert [(sorted(r.doors), r.windows) for r in entry.rules] == [(["gate"], (weekdays,))]
    access.people.update_person(person.id, group_ids=[], valid_from=None, valid_until=None)
    (entry,) = [
        i.body
        for i in (access.allow_lists.updates_since(EDGE, 0) or update).items
        if isinstance(i.body, AllowEntry)
    ]
    assert entry.rules == ()
    assert entry.valid_until is None


def test_bad_references_are_refused(access: AccessStore) -> None:
    group = site_with_gate(access)
    access.sites.create_site("edge-b", "Other", "UTC")
    other = access.groups.create_group("edge-b", "others", [], None)
    with pytest.raises(NotFoundError):
        access.people.create_person(EDGE, "X", group_ids=[other.id])
    with pytest.raises(NotFoundError):
        access.people.create_person("edge-none", "X", group_ids=[group])
    with pytest.raises(NotFoundError):
        access.people.create_person(EDGE, "X", household_id=12345)
    with pytest.raises(InvalidInputError, match="time zone"):
        access.sites.create_site("edge-c", "Bad", "Mars/Olympus")
    with pytest.raises(InvalidInputError, match="belongs to"):
        access.sites.put_door(EDGE, DoorConfig(id="side", reader_id="gate-reader"))
    with pytest.raises(NotFoundError):
        access.people.revoke_credential(999)


def test_concurrent_changes_never_share_a_version(access: AccessStore) -> None:
    group = site_with_gate(access)
    people = [access.people.create_person(EDGE, f"P{i}", group_ids=[group]).id for i in range(8)]
    start = access.sites.list_sites()[0].version
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(
            pool.map(
                lambda p: access.people.add_credential(p, CredentialKind.CARD, f"CAFE{p:04d}"),
                people,
            )
        )
    assert access.sites.list_sites()[0].version == start + 8
    update = access.allow_lists.updates_since(EDGE, start)
    assert update is not None
    versions = sorted(i.version for i in update.items)
    assert versions == list(range(start + 1, start + 9))


def record(n: int, **changes: object) -> AccessRecord:
    base = AccessRecord(
        id=f"rec-{n:06d}",
        edge_id=EDGE,
        door_id="gate",
        kind=AccessEventKind.GRANTED,
        ts=datetime(2026, 11, 20, 8, 0, tzinfo=UTC) + timedelta(minutes=n),
        reader_id="gate-reader",
        credential_id=1,
        person_id=1,
        reason="granted",
    )
    return base.model_copy(update=changes)


def test_the_access_log_stores_each_record_once_and_answers_by_door_person_and_time(
    access: AccessStore, clock: FakeClock
) -> None:
    records = [
        record(0),
        record(1, person_id=2, credential_id=2),
        record(2, door_id="lobby"),
        record(
            3,
            kind=AccessEventKind.DENIED,
            person_id=None,
            credential_id=None,
            reason="unknown_credential",
            fingerprint="0123456789ab",
        ),
    ]
    assert access.log.ingest_log(records, clock.now).new == 4
    assert access.log.ingest_log([records[0], records[0], record(4)], clock.now).new == 1
    assert [r.id for r in access.log.query_log(door_id="gate")] == [
        "rec-000004",
        "rec-000003",
        "rec-000001",
        "rec-000000",
    ]
    assert [r.id for r in access.log.query_log(person_id=2)] == ["rec-000001"]
    window = access.log.query_log(since=records[1].ts, until=records[3].ts)
    assert [r.id for r in window] == ["rec-000002", "rec-000001"]  # since inclusive, until not
    assert access.log.query_log(limit=2)[0].id == "rec-000004"
    assert access.log.query_log(door_id="gate", person_id=None)[1].fingerprint == "0123456789ab"


def test_a_change_to_one_person_versions_only_their_items_and_agrees_with_a_full_compile(
    access: AccessStore,
) -> None:
    group = site_with_gate(access)
    people = [access.people.create_person(EDGE, f"P{i}", group_ids=[group]) for i in range(3)]
    cards = [
        access.people.add_credential(p.id, CredentialKind.CARD, f"AB{i:04d}")
        for i, p in enumerate(people)
    ]
    before = access.sites.list_sites()[0].version
    access.people.update_person(people[1].id, group_ids=[], valid_from=None, valid_until=None)
    access.people.delete_person(people[2].id)
    delta = access.allow_lists.updates_since(EDGE, before)
    assert delta is not None
    assert {(i.key, i.body is None) for i in delta.items} == {
        (f"cred:{cards[1].id}", False),
        (f"cred:{cards[2].id}", True),
    }
    # A full compilation (any site change runs one) finds nothing the scoped ones missed.
    version = access.sites.list_sites()[0].version
    access.sites.update_site(EDGE, "Courtyard", "Asia/Shanghai")
    assert access.sites.list_sites()[0].version == version


def test_changing_a_schedule_or_a_group_reaches_its_members_entries(access: AccessStore) -> None:
    access.sites.create_site(EDGE, "Courtyard", "Asia/Shanghai")
    access.sites.put_door(EDGE, GATE)
    access.sites.put_door(EDGE, DoorConfig(id="lobby", reader_id="lobby-reader"))
    days = TimeWindow(days=frozenset({1, 2, 3, 4, 5}), start=time(7), end=time(19))
    schedule = access.groups.create_schedule("cleaners", [days])
    group = access.groups.create_group(EDGE, "cleaners", ["gate"], schedule.id)
    person = access.people.create_person(EDGE, "Cleaner", group_ids=[group.id])
    access.people.add_credential(person.id, CredentialKind.PIN, "135790")

    def entry() -> AllowEntry:
        update = access.allow_lists.updates_since(EDGE, 0)
        assert update is not None
        (found,) = [i.body for i in update.items if isinstance(i.body, AllowEntry)]
        return found

    longer = TimeWindow(days=frozenset({1, 2, 3, 4, 5, 6}), start=time(6), end=time(20))
    _, edges = access.groups.update_schedule(schedule.id, "cleaners", [longer])
    assert edges == [EDGE]
    assert entry().rules[0].windows == (longer,)
    access.groups.update_group(group.id, "cleaners", ["gate", "lobby"], None)
    assert entry().rules[0].doors == frozenset({"gate", "lobby"})
    assert entry().rules[0].windows == ()
    assert access.groups.delete_group(group.id) == EDGE
    assert entry().rules == ()
    assert access.people.get_person(person.id).group_ids == []
    with pytest.raises(NotFoundError):
        access.groups.update_group(group.id, "x", [], None)


def test_an_edge_cannot_write_records_about_another_sites_door_or_person(
    access: AccessStore, clock: FakeClock
) -> None:
    site_with_gate(access)
    access.sites.create_site("edge-b", "Next door", "Asia/Shanghai")
    access.sites.put_door("edge-b", DoorConfig(id="gate-b", reader_id="gate-b-reader"))
    neighbour = access.people.create_person("edge-b", "Neighbour", group_ids=[])
    mine = access.people.create_person(EDGE, "Resident", group_ids=[])
    records = [
        record(0, person_id=mine.id),
        record(1, door_id="gate-b", person_id=None),  # the neighbour's door
        record(2, person_id=neighbour.id),  # the neighbour's resident at our gate
        record(3, door_id="gone", person_id=None),  # a door deleted since: the edge's word
    ]
    taken = access.log.ingest_log(records, clock.now)
    assert taken == (2, ("rec-000001", "rec-000002"))
    assert {r.id for r in access.log.query_log()} == {"rec-000000", "rec-000003"}
    assert access.log.query_log(door_id="gate-b") == []
    assert access.log.query_log(person_id=neighbour.id) == []
    # Only refused records: nothing stored, the refusal still told.
    assert access.log.ingest_log([record(4, door_id="gate-b")], clock.now) == (0, ("rec-000004",))
