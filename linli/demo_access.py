"""Door access of the sample community for ``linli demo``, set up through the hub's API.

Without it the demo's readers and door contacts decide nothing: a forced gate raises no
alert until someone learns the access API. This enrols what ``docs/access.md`` describes, the
way an operator would: the site, one door per reader and contact at the same place
(``simulators.doors.site_doors``), residents (all doors, any hour) carrying the simulators'
cards (``simulators.doors.RESIDENT_CARDS``), and cleaners on a weekday schedule. A demo
restarted on the same data finds the site there and leaves it as it is.
"""

import logging
from typing import Any

import httpx

from devices.site import SiteFile
from simulators.doors import RESIDENT_CARDS, site_doors

logger = logging.getLogger(__name__)

ACCESS = "/api/v1/access"
DEMO_TIMEZONE = "Asia/Shanghai"
DEMO_RESIDENTS = 24
DEMO_CLEANERS = 2
CLEANING_HOURS = {"days": [1, 2, 3, 4, 5, 6], "start": "07:00", "end": "19:00"}


class DemoAccessError(Exception):
    """The hub refused part of the sample community's door access."""


async def enrol_sample_access(client: httpx.AsyncClient, site: SiteFile) -> bool:
    """Set up the sample site's doors, schedule, groups and cards; False if already there.

    ``client`` talks to the hub (base URL and an operator's token set). Raise
    ``DemoAccessError`` if the hub refuses a step.
    """
    edge_id = site.site.edge_id
    sites = await _call(client, "GET", f"{ACCESS}/sites")
    if any(item["edge_id"] == edge_id for item in sites["items"]):
        return False
    doors = site_doors(site)
    await _call(
        client,
        "POST",
        f"{ACCESS}/sites",
        {"edge_id": edge_id, "name": site.site.name, "timezone": DEMO_TIMEZONE},
    )
    for door in doors:
        await _call(client, "PUT", f"{ACCESS}/sites/{edge_id}/doors/{door.id}", door.model_dump())
    door_ids = [door.id for door in doors]
    cleaning = {"name": "Cleaning hours", "windows": [CLEANING_HOURS]}
    schedule = await _call(client, "POST", f"{ACCESS}/schedules", cleaning)
    residents = await _call(
        client,
        "POST",
        f"{ACCESS}/groups",
        {"edge_id": edge_id, "name": "Residents", "door_ids": door_ids},
    )
    cleaners = await _call(
        client,
        "POST",
        f"{ACCESS}/groups",
        {
            "edge_id": edge_id,
            "name": "Cleaners",
            "door_ids": door_ids,
            "schedule_id": schedule["id"],
        },
    )
    people = [
        _person(f"Resident {n + 1}", residents["id"], RESIDENT_CARDS[n])
        for n in range(DEMO_RESIDENTS)
    ] + [
        _person(f"Cleaner {n + 1}", cleaners["id"], RESIDENT_CARDS[DEMO_RESIDENTS + n])
        for n in range(DEMO_CLEANERS)
    ]
    await _call(client, "POST", f"{ACCESS}/import", {"edge_id": edge_id, "people": people})
    logger.info(
        "door access of %s: %d doors, %d residents, %d cleaners (weekdays 07-19)",
        site.site.name,
        len(doors),
        DEMO_RESIDENTS,
        DEMO_CLEANERS,
    )
    return True


def _person(name: str, group_id: int, card: str) -> dict[str, Any]:
    return {
        "name": name,
        "group_ids": [group_id],
        "credentials": [{"kind": "card", "value": card}],
    }


async def _call(
    client: httpx.AsyncClient, method: str, path: str, body: object = None
) -> dict[str, Any]:
    response = await client.request(method, path, json=body)
    if response.status_code >= 400:
        raise DemoAccessError(f"{method} {path}: {response.status_code} {response.text[:300]}")
    data: dict[str, Any] = response.json()
    return data
