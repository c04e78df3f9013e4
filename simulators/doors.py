"""Simulated doors: card readers and door contacts, residents coming and going, and incidents.

A door is a reader and a contact at the same place (``site_doors`` pairs them from a site
file). Everything here is pure: functions of a simulated time ``at`` and an injected
``random.Random`` that return ``Step`` messages, as the other simulators do.

Residents present the demo cards ``RESIDENT_CARDS``; a site enrolls them at the hub (see
``docs/access.md``) for the simulated traffic to be granted. The incidents of PRODUCT.md
scenarios 5 and 6 are here too: a gate forced open, a door propped open for ten minutes, a
card tried eight times in a minute.
"""

import json
import math
import random
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from devices.access import (
    SITE_KEY,
    AccessItem,
    AccessListUpdate,
    AccessRule,
    AllowEntry,
    CredentialKind,
    DoorConfig,
    SiteAccess,
    credential_hash,
    credential_key,
    door_key,
)
from devices.kinds import DeviceKind
from devices.registry import Device
from devices.site import SiteFile
from devices.topics import credential_topic
from simulators.errors import NoSuitableDeviceError
from simulators.sensors import DoorContact, DoorReader, Step, rfc3339, simulate

RESIDENT_CARDS: tuple[str, ...] = tuple(f"{0x04A10000 + 17 * i:08X}" for i in range(40))
"""Cards the simulated residents carry (enrol them to have their passages granted)."""

DAY_S = 86_400.0
CHECK_IN_EVERY_S = 900.0
PROPPED_FOR_S = 600.0
FORCED_OPEN_FOR_S = 45.0
BRUTE_FORCE_TRIES = 8
BRUTE_FORCE_WITHIN_S = 60.0


@dataclass(frozen=True)
class SimulatedDoor:
    """A door's reader and contact, simulated."""

    config: DoorConfig
    reader: DoorReader
    contact: DoorContact

    @property
    def devices(self) -> tuple[Device, Device]:
        """Return the reader and the contact."""
        return (self.reader.device, self.contact.device)

    def present(self, at: float, card: str) -> Step:
        """Return the frame the reader sends when ``card`` is held to it."""
        body = {"card": card, "ts": rfc3339(self.reader.moment(at))}
        return Step(at, credential_topic(self.reader.device.id), json.dumps(body).encode())

    def contact_report(self, at: float, *, closed: bool) -> Step:
        """Return the contact's message saying the door is open or closed."""
        return self.contact.report(at, self.contact.reading(at, closed=closed))


def door_id_of(reader: Device, contact: Device) -> str:
    """Return a door id from its devices' ids: their common prefix (``gate-reader`` → ``gate``)."""
    prefix = ""
    for a, b in zip(reader.id, contact.id, strict=False):
        if a != b:
            break
        prefix += a
    prefix = prefix.rstrip("-_.")
    return prefix or f"{reader.id}-door"


def site_doors(site: SiteFile) -> list[DoorConfig]:
    """Pair each reader with the contact at the same location: the site's doors."""
    contacts = {d.location: d for d in site.devices if d.kind is DeviceKind.DOOR_CONTACT}
    doors = []
    for reader in site.devices:
        contact = contacts.get(reader.location)
        if reader.kind is DeviceKind.DOOR_READER and contact is not None:
            doors.append(
                DoorConfig(
                    id=door_id_of(reader, contact),
                    name=reader.location,
                    reader_id=reader.id,
                    contact_id=contact.id,
                )
            )
    return doors


def enrolment(
    edge_id: str,
    key: bytes,
    cards: Iterable[str],
    doors: Sequence[DoorConfig],
    *,
    timezone: str = "UTC",
    version: int = 1,
) -> AccessListUpdate:
    """Return the snapshot a hub would send ``edge_id``: each card let in at every door.

    Card ``i`` is credential ``i`` of person ``i``; the site and the doors stand at version 1,
    the cards at ``version``, the snapshot's.
    """
    everywhere = AccessRule(doors=frozenset(door.id for door in doors))
    site = SiteAccess(timezone=timezone, hash_key=key.hex())
    items = [AccessItem(key=SITE_KEY, version=1, body=site)]
    items += [AccessItem(key=door_key(door.id), version=1, body=door) for door in doors]
    items += [
        AccessItem(
            key=credential_key(i),
            version=version,
            body=AllowEntry(
                credential_id=i,
                person_id=i,
                kind=CredentialKind.CARD,
                hash=credential_hash(key, CredentialKind.CARD, card),
                rules=(everywhere,),
            ),
        )
        for i, card in enumerate(cards)
    ]
    return AccessListUpdate(
        edge_id=edge_id, from_version=0, to_version=version, full=True, items=items
    )


def simulated_doors(
    site: SiteFile, rng: random.Random, epoch: datetime, *, where: str = ""
) -> list[SimulatedDoor]:
    """Return the site's doors (those whose location contains ``where``) as simulators."""
    by_id = {d.id: d for d in site.devices}
    doors = []
    for config in site_doors(site):
        if where.lower() not in config.name.lower():
            continue
        assert config.contact_id is not None
        reader = simulate(by_id[config.reader_id], random.Random(rng.getrandbits(64)), epoch=epoch)
        contact = simulate(
            by_id[config.contact_id], random.Random(rng.getrandbits(64)), epoch=epoch
        )
        assert isinstance(reader, DoorReader)
        assert isinstance(contact, DoorContact)
        doors.append(SimulatedDoor(config, reader, contact))
    if not doors:
        raise NoSuitableDeviceError(f"site {site.site.name!r} has no door {where!r}")
    return doors


def door_cast(where: str) -> Callable[[SiteFile], tuple[Device, ...]]:
    """Return the cast function of a scenario played at the first door matching ``where``."""

    def cast(site: SiteFile) -> tuple[Device, ...]:
        door = next((d for d in site_doors(site) if where.lower() in d.name.lower()), None)
        if door is None:
            raise NoSuitableDeviceError(f"site {site.site.name!r} has no door {where!r}")
        by_id = {d.id: d for d in site.devices}
        assert door.contact_id is not None
        return (by_id[door.reader_id], by_id[door.contact_id])

    return cast


# --- what happens at a door --------------------------------------------------------------------


def passage(door: SimulatedDoor, at: float, card: str, rng: random.Random) -> list[Step]:
    """A resident presents a card, opens the door a moment later and lets it close."""
    opened = at + rng.uniform(0.8, 2.0)
    closed = opened + rng.uniform(3.0, 8.0)
    return [
        door.present(at, card),
        door.contact_report(opened, closed=False),
        door.contact_report(closed, closed=True),
    ]


def forced(door: SimulatedDoor, at: float, open_for: float = FORCED_OPEN_FOR_S) -> list[Step]:
    """The door opens with no card presented and stays open ``open_for`` seconds."""
    return [door.contact_report(at, closed=False), door.contact_report(at + open_for, closed=True)]


def propped(
    door: SimulatedDoor, at: float, card: str, open_for: float = PROPPED_FOR_S
) -> list[Step]:
    """A resident opens the door with a card and props it open for ``open_for`` seconds."""
    return [
        door.present(at, card),
        door.contact_report(at + 1.5, closed=False),
        door.contact_report(at + 1.5 + open_for, closed=True),
    ]


def brute_force(
    door: SimulatedDoor,
    at: float,
    rng: random.Random,
    tries: int = BRUTE_FORCE_TRIES,
    within: float = BRUTE_FORCE_WITHIN_S,
) -> list[Step]:
    """Someone tries ``tries`` cards nobody enrolled within ``within`` seconds."""
    times = sorted(at + rng.uniform(0.0, within * 0.95) for _ in range(tries - 1))
    return [door.present(t, f"{rng.getrandbits(32):08X}") for t in [at, *times]]


def traffic_rate_per_hour(hour: float) -> float:
    """Return how many passages a door sees per hour at a local hour: peaks at 8:00 and 18:00."""
    morning = math.exp(-(((hour - 8.0) / 1.2) ** 2))
    evening = math.exp(-(((hour - 18.0) / 1.8) ** 2))
    daytime = 1.0 if 7.0 <= hour <= 22.0 else 0.15
    return 2.0 + 14.0 * morning + 12.0 * evening + 3.0 * daytime


def resident_day(
    door: SimulatedDoor, rng: random.Random, *, start: float = 0.0, length: float = DAY_S
) -> list[Step]:
    """Residents coming and going through one door for ``length`` seconds, plus check-ins.

    Arrivals are a Poisson process whose rate follows the hour of ``t`` (simulated time 0 is
    midnight); passages never overlap, as one door lets one person at a time. The contact
    checks in (closed) every ``CHECK_IN_EVERY_S`` when nobody is passing.
    """
    steps: list[Step] = []
    busy: list[tuple[float, float]] = []
    t = start
    while True:
        rate_per_s = traffic_rate_per_hour((t % DAY_S) / 3600.0) / 3600.0
        t += rng.expovariate(rate_per_s)
        if t >= start + length:
            break
        if busy and t < busy[-1][1] + 1.0:
            continue
        walk = passage(door, t, rng.choice(RESIDENT_CARDS), rng)
        steps.extend(walk)
        busy.append((walk[0].at, walk[-1].at))
    check = start
    while check < start + length:
        if not any(a - 10.0 <= check <= b + 10.0 for a, b in busy):
            steps.append(door.contact_report(check, closed=True))
        check += CHECK_IN_EVERY_S
    return sorted(steps, key=lambda s: s.at)


# --- scenario plans -----------------------------------------------------------------------------

LEAD_IN_S = 60.0


def _lead_in(door: SimulatedDoor) -> list[Step]:
    steps = [s for s in (door.reader.availability(0.0, online=True),) if s is not None]
    steps.extend(door.contact_report(t, closed=True) for t in (0.0, 30.0))
    return steps


def forced_gate_plan(site: SiteFile, rng: random.Random, epoch: datetime) -> Iterator[Step]:
    """A gate forced open with no card (as at 02:00), open for 45 s, then shut."""
    door = simulated_doors(site, rng, epoch, where="gate")[0]
    yield from sorted([*_lead_in(door), *forced(door, LEAD_IN_S)], key=lambda s: s.at)


def propped_door_plan(site: SiteFile, rng: random.Random, epoch: datetime) -> Iterator[Step]:
    """A resident opens a building door with a card and props it open for ten minutes."""
    door = simulated_doors(site, rng, epoch, where="building")[0]
    steps = [*_lead_in(door), *propped(door, LEAD_IN_S, rng.choice(RESIDENT_CARDS))]
    yield from sorted(steps, key=lambda s: s.at)


def card_brute_force_plan(site: SiteFile, rng: random.Random, epoch: datetime) -> Iterator[Step]:
    """Eight unknown cards tried at the main gate within a minute."""
    door = simulated_doors(site, rng, epoch, where="gate")[0]
    yield from sorted([*_lead_in(door), *brute_force(door, LEAD_IN_S, rng)], key=lambda s: s.at)


def door_day_plan(site: SiteFile, rng: random.Random, epoch: datetime) -> Iterator[Step]:
    """Residents coming and going through every door of the site for a day."""
    steps = [s for door in simulated_doors(site, rng, epoch) for s in resident_day(door, rng)]
    yield from sorted(steps, key=lambda s: s.at)


def all_doors(site: SiteFile) -> tuple[Device, ...]:
    """Return the readers and contacts of every door of a site."""
    by_id = {d.id: d for d in site.devices}
    return tuple(
        by_id[device_id]
        for door in site_doors(site)
        for device_id in (door.reader_id, door.contact_id)
        if device_id is not None
    )
