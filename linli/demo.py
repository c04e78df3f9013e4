"""``linli demo``: the whole stack in one process on embedded defaults.

An in-process amqtt broker (any free port when 1883 is taken), the hub on SQLite under the
data folder, one edge agent for the sample community (its door access set up through the
hub's API: ``linli.demo_access``), and simulators that keep its devices reporting and raise
an incident within seconds, then every few minutes, and walk its two patrols' phones round the
courtyard (``simulators.patrols``); the sample residents (households, a care
household, requests, a notice) are seeded once through the API and their phone pages' links
written to ``<data_dir>/resident-links.txt``; the care household's family is reached at a
local receiver that logs what they are sent (``simulators.family_phones``). Everything
durable lives under ``data_dir``, so stopping and starting again loses nothing: the edge's
outbox re-sends what the hub had not acknowledged, and the hub ignores what it already has.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from devices.site import SiteFile
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings
from hub.auth.rules import Role
from hub.roster.file import load_roster
from hub.roster.rules import ResponderRole
from hub.service import serve
from hub.settings import HubSettings
from linli.accounts import auth_store
from linli.brokers import EmbeddedBroker, free_port, port_is_free
from linli.demo_access import DemoAccessError, enrol_sample_access
from simulators.clips import write_corridor_clip
from simulators.family_phones import FamilyPhones
from simulators.patrols import Phone, rounds_of, run_patrols
from simulators.residents import ResidentsFile, seed_residents
from simulators.runner import run_scenario
from simulators.sites import sample_residents_path, sample_roster_path, sample_site_path

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoOptions:
    """What ``linli demo`` was asked to run."""

    data_dir: Path
    http_port: int | None = None
    mqtt_port: int | None = None
    simulators: bool = True
    site_file: Path | None = None
    speed: float = 1.0
    host: str = "127.0.0.1"
    operator_token: str | None = None
    """Stored by the hub as an operator API token and the ``operator`` account's password."""
    calm: bool = False
    """The old pace: first incident after 2-5 min, then every 10-30 min (``demo_calm``)."""

    @property
    def data_folders(self) -> tuple[Path, Path, Path]:
        """Return the folders the demo writes: its own, its hub's and its edge's."""
        return self.data_dir, self.data_dir / "hub", self.data_dir / "edge"


@dataclass(frozen=True)
class DemoEndpoints:
    """Where the running demo can be reached."""

    hub_url: str
    mqtt_host: str
    mqtt_port: int
    edge_id: str
    site_file: Path


RESIDENT_LINKS = "resident-links.txt"
"""Where the demo writes the sample households' page links (shown once, when created)."""


async def _seed_residents(hub_url: str, token: str, data_dir: Path, family_phones: str) -> None:
    """Seed the sample community's residents through the API, their families' contacts at the
    demo's receiver (``simulators.family_phones``); never stop the demo for it."""
    headers = {"authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(base_url=hub_url, headers=headers, timeout=30) as client:
            links = await seed_residents(
                client,
                ResidentsFile.load(sample_residents_path()),
                family_phones=family_phones,
            )
    except Exception:
        logger.exception("seeding the sample residents failed; the demo runs without them")
        return
    if links:
        lines = [f"{key}: {hub_url}{link}" for key, link in links.items()]
        (data_dir / RESIDENT_LINKS).write_text("\n".join(lines) + "\n", encoding="utf-8")
        logger.info("sample households' phone pages: %s", ", ".join(lines))


async def _patrol_phones(hub_url: str, options: DemoOptions, hub: HubSettings) -> None:
    """The sample roster's security staff's phones walking rounds of the community's map,
    reporting through OwnTracks' HTTP mode (``simulators.patrols``); each phone's token is
    derived from the operator token, so a restart reuses it. Never stops the demo."""
    assert options.operator_token is not None
    try:
        roster = load_roster(sample_roster_path())
        # Not a place without coordinates yet (0, 0: MapPlace.located), in the Gulf of Guinea.
        points = [
            (place.lat, place.lon) for site in roster.sites for place in site.map if place.located
        ]
        patrols = [r for r in roster.responders if r.role is ResponderRole.SECURITY]
        store = await asyncio.to_thread(auth_store, hub.data_dir, hub.database_url)
        phones = []
        for responder, round_ in zip(patrols, rounds_of(points, len(patrols)), strict=True):
            token = f"{options.operator_token}.phone.{responder.id}"
            await asyncio.to_thread(store.ensure_api_token, token, responder.id, Role.RESPONDER)
            phones.append(Phone(responder.id, token, round_))
    except Exception:
        logger.exception("the patrol phones could not be set up; the demo runs without them")
        return
    try:
        await run_patrols(hub_url, phones, speed=options.speed)
    except Exception:
        logger.exception("the patrol phones stopped; the demo runs on without them")


async def run_demo(
    options: DemoOptions, *, on_ready: Callable[[DemoEndpoints], None] | None = None
) -> None:
    """Run the demo stack until cancelled, then stop every part cleanly."""
    _, hub_dir, edge_dir = options.data_folders
    site_file = options.site_file or sample_site_with_camera(options.data_dir)
    site = SiteFile.load(site_file)
    http_port = options.http_port
    if http_port is None:
        http_port = 8080 if port_is_free(8080, options.host) else free_port(options.host)
    broker = EmbeddedBroker(options.host, options.mqtt_port)
    families = FamilyPhones()
    await broker.start()
    try:
        hub_settings = HubSettings(
            data_dir=hub_dir,
            mqtt_host=options.host,
            mqtt_port=broker.port,
            http_host=options.host,
            http_port=http_port,
            seed_operator_token=options.operator_token,
            # The sample community's responders; a site file of one's own starts without.
            roster_file=sample_roster_path() if options.site_file is None else None,
        )
        edge_settings = EdgeSettings(
            site_file=site_file,
            data_dir=edge_dir,
            local_mqtt_host=options.host,
            local_mqtt_port=broker.port,
            hub_mqtt_host=options.host,
            hub_mqtt_port=broker.port,
        )
        if options.simulators and options.speed != 1.0:
            # Simulated devices faster than real time stamp readings in a time of their own;
            # otherwise LINLI_EDGE_TRUST_DEVICE_TIME decides (an outside `linli simulate`).
            edge_settings = edge_settings.model_copy(update={"trust_device_time": True})
        hub_started = asyncio.Event()
        async with asyncio.TaskGroup() as group:
            group.create_task(serve(hub_settings, started=hub_started), name="hub")
            await hub_started.wait()
            group.create_task(EdgeAgent(edge_settings).run(), name="edge")
            if options.site_file is None and options.operator_token is not None:
                group.create_task(
                    _sample_access(f"http://{options.host}:{http_port}", options, site),
                    name="demo-access",
                )
            if options.simulators:
                group.create_task(
                    run_scenario(
                        "demo_calm" if options.calm else "demo",
                        site,
                        host=options.host,
                        port=broker.port,
                        speed=options.speed,
                    ),
                    name="simulators",
                )
            hub_url = f"http://{options.host}:{http_port}"
            if options.simulators and options.site_file is None and options.operator_token:
                family_phones = await families.start(options.host)
                group.create_task(
                    _seed_residents(
                        hub_url, options.operator_token, options.data_dir, family_phones
                    ),
                    name="residents",
                )
                group.create_task(
                    _patrol_phones(hub_url, options, hub_settings), name="patrol-phones"
                )
            if on_ready is not None:
                on_ready(
                    DemoEndpoints(
                        hub_url=f"http://{options.host}:{http_port}",
                        mqtt_host=options.host,
                        mqtt_port=broker.port,
                        edge_id=site.site.edge_id,
                        site_file=site_file,
                    )
                )
    finally:
        await families.stop()
        await broker.stop()


DEMO_CAMERA = "b3-f12-corridor-cam"


def sample_site_with_camera(data_dir: Path) -> Path:
    """Write the sample site file with its corridor camera replaying a synthetic clip."""
    clip = write_corridor_clip(data_dir / "clips" / "corridor.avi")
    site_file = data_dir / "sample-site.toml"
    camera = (
        f"\n[[cameras]]\ndevice = {DEMO_CAMERA!r}\nsource = {str(clip)!r}\n"
        "loop = true\npace = true\nsmoke = false\n"
    )
    site_file.parent.mkdir(parents=True, exist_ok=True)
    site_file.write_text(sample_site_path().read_text() + camera)
    return site_file


async def _sample_access(hub_url: str, options: DemoOptions, site: SiteFile) -> None:
    """Set up the sample community's door access; a refusal is logged, the demo goes on."""
    headers = {"authorization": f"Bearer {options.operator_token}"}
    async with httpx.AsyncClient(base_url=hub_url, headers=headers, timeout=30) as client:
        try:
            await enrol_sample_access(client, site)
        except (DemoAccessError, httpx.HTTPError) as exc:
            logger.warning("the sample door access was not set up: %s", exc)
