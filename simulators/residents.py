"""The sample community's residents, seeded through the hub's public API (docs/residents.md).

``seed_residents`` reads a residents file (``simulators/sites/courtyard-residents.toml``):
households (with their SOS buttons), a care household with its consent, sensors and family
contact, everyday requests (one fixed and rated, as a household would on its page) and a
notice. It speaks only HTTP, like any script: an operator's bearer token for ``/api/v1`` and
each household's own page token for ``/r/<token>``. It seeds once: households that exist
already (by name) are left alone, and so are their requests.
"""

import asyncio
import logging
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import httpx
from pydantic import BaseModel, ConfigDict, Field

from simulators.errors import SimulatorError
from simulators.family_phones import FAMILY_PHONES

logger = logging.getLogger(__name__)


class Strict(BaseModel):
    """Base of the residents file's models: strict, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _reached(contact: dict[str, str], family_phones: str | None) -> dict[str, str]:
    target = contact.get("target", "")
    if family_phones is None or not target.startswith(FAMILY_PHONES + "/"):
        return contact
    return contact | {"target": family_phones + target.removeprefix(FAMILY_PHONES)}


class CareEntry(Strict):
    """A household under care: who consented, its sensors, its family."""

    consent_by: str
    consent_note: str | None = None
    device_ids: list[str] = Field(default_factory=list)
    quiet_hours: float = 6.0
    contacts: list[dict[str, str]] = Field(default_factory=list)


class HouseholdEntry(Strict):
    """A household of the sample community."""

    key: str
    name: str
    location: str
    device_ids: list[str] = Field(default_factory=list)
    care: CareEntry | None = None


class RatingEntry(Strict):
    """How the household rated a fixed request."""

    score: Annotated[int, Field(ge=1, le=5)]
    comment: str | None = None


class RequestEntry(Strict):
    """A request a household reported; with ``resolve_note`` it is fixed (and maybe rated)."""

    household: str
    category: str
    text: str
    preferred_in_hours: tuple[float, float] | None = None
    resolve_note: str | None = None
    rating: RatingEntry | None = None


class NoticeEntry(Strict):
    """A notice an operator sent."""

    scope: str
    building: str | None = None
    category: str = "general"
    title: str
    body: str


class ResidentsFile(Strict):
    """The residents of a sample community."""

    households: list[HouseholdEntry]
    requests: list[RequestEntry] = Field(default_factory=list)
    notices: list[NoticeEntry] = Field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> "ResidentsFile":
        """Read and check a residents file."""
        try:
            return cls.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
            raise SimulatorError(f"residents file {path}: {exc}") from exc


def _ok(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise SimulatorError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text}"
        )
    return response.json()


async def _registered(client: httpx.AsyncClient, device_ids: list[str], wait_s: float) -> list[str]:
    """Return those of ``device_ids`` the hub knows, waiting up to ``wait_s`` for the edge to
    register them."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while True:
        known = [
            d for d in device_ids if (await client.get(f"/api/v1/devices/{d}")).status_code == 200
        ]
        if len(known) == len(device_ids) or asyncio.get_running_loop().time() >= deadline:
            return known
        await asyncio.sleep(0.5)


async def seed_residents(
    client: httpx.AsyncClient,
    residents: ResidentsFile,
    *,
    now: datetime | None = None,
    wait_for_devices_s: float = 30.0,
    family_phones: str | None = None,
) -> dict[str, str]:
    """Create the file's households, care, requests and notices through the API; return each
    new household's page link by key (empty when they were seeded before). ``family_phones``:
    the base URL a contact's target naming ``simulators.family_phones.FAMILY_PHONES`` is sent
    to instead (the demo's receiver)."""
    now = now or datetime.now(UTC)
    existing = {h["name"] for h in _ok(await client.get("/api/v1/households"))["items"]}
    links: dict[str, str] = {}
    tokens: dict[str, str] = {}
    for household in residents.households:
        if household.name in existing:
            continue
        buttons = await _registered(client, household.device_ids, wait_for_devices_s)
        body = {"name": household.name, "location": household.location, "device_ids": buttons}
        created = _ok(await client.post("/api/v1/households", json=body))
        tokens[household.key], links[household.key] = created["token"], created["link"]
        if household.care is not None:
            care = household.care
            sensors = await _registered(client, care.device_ids, wait_for_devices_s)
            _ok(
                await client.put(
                    f"/api/v1/households/{created['id']}/care",
                    json={
                        "consent": {"by": care.consent_by, "note": care.consent_note},
                        "contacts": [_reached(c, family_phones) for c in care.contacts],
                        "device_ids": sensors,
                        "quiet_hours": care.quiet_hours,
                    },
                )
            )
    if not tokens:
        logger.info("residents were seeded before: nothing to add")
        return links
    for request in residents.requests:
        token = tokens.get(request.household)
        if token is None:
            continue
        form = {"category": request.category, "text": request.text}
        if request.preferred_in_hours is not None:
            start, end = (now + timedelta(hours=h) for h in request.preferred_in_hours)
            form |= {"preferred_from": start.isoformat(), "preferred_until": end.isoformat()}
        reported = _ok(await client.post(f"/r/{token}/requests", data=form))
        if request.resolve_note is None:
            continue
        seen = _ok(await client.get(f"/api/v1/requests/{reported['id']}"))
        _ok(
            await client.post(
                f"/api/v1/cases/{seen['case_id']}/resolve",
                json={"resolution": "real", "note": request.resolve_note},
            )
        )
        if request.rating is not None:
            _ok(
                await client.post(
                    f"/r/{token}/requests/{reported['id']}/rating",
                    json={"score": request.rating.score, "comment": request.rating.comment},
                )
            )
    for notice in residents.notices:
        _ok(await client.post("/api/v1/notices", json=notice.model_dump(exclude_none=True)))
    return links
