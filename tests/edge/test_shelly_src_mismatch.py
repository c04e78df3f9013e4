"""A Shelly Gen2+ that names another device in ``src``, through a real Mosquitto and a real
``EdgeAgent``: refused, counted as ``rejected.src_mismatch`` and logged with its topic and
``src``; the device its prefix names is not believed to be the other one either."""

import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from devices.kinds import AlertKind
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings
from linli.brokers import MosquittoProcess
from tests.edge.conftest import EDGE_ID, Devices, eventually, running_agent, running_hub

pytestmark = pytest.mark.mosquitto

SettingsFactory = Callable[..., EdgeSettings]

SMOKE = "shellyplussmoke-a1b2c3"
PLUG = "shellyplusplugs-d4e5f6"

SITE_TOML = f"""
[site]
name = "Shelly Courtyard"
edge_id = "{EDGE_ID}"

[[devices]]
id = "kitchen-smoke"
kind = "smoke"
location = "Building 1/Floor 2/Unit 201"
shelly_id = "{SMOKE}"

[[devices]]
id = "hall-plug"
kind = "heat"
location = "Building 1/Floor 1/Hall"
shelly_id = "{PLUG}"
"""


def _notify(src: str, status: Mapping[str, object]) -> str:
    """A NotifyStatus as Gen2+ firmware sends it (``dst`` is its own prefix's events)."""
    params = {"ts": 1764669600.12, **status}
    return json.dumps(
        {"src": src, "dst": f"{src}/events", "method": "NotifyStatus", "params": params}
    )


@pytest.fixture
def shelly_settings(site_file: Path, make_settings: SettingsFactory) -> SettingsFactory:
    site_file.write_text(SITE_TOML)
    return make_settings


async def test_a_plug_cannot_raise_the_smoke_detectors_fire(
    mosquitto: MosquittoProcess,
    shelly_settings: SettingsFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    agent = EdgeAgent(shelly_settings())
    devices = Devices(mosquitto)
    fire = {"smoke:0": {"id": 0, "alarm": True, "mute": False}}
    with caplog.at_level(logging.WARNING, logger="edge.ingest"):
        async with running_hub(mosquitto) as hub, running_agent(agent):
            # The plug's identity may publish under its own prefix only; it names the detector.
            await devices.publish_cli(f"{PLUG}/events/rpc", _notify(SMOKE, fire))
            await devices.publish_cli(f"shellies/{PLUG}/events/rpc", _notify(SMOKE, fire))
            await eventually(
                lambda: agent.counters.get("rejected.src_mismatch", 0) == 2, "both refused"
            )
            # The detector's own fire, on its own prefix, is one.
            await devices.publish_cli(f"{SMOKE}/events/rpc", _notify(SMOKE, fire))
            await eventually(lambda: len(hub.alerts) == 1, "the real fire")
    assert [(a.device_id, a.kind) for a in hub.alerts] == [("kitchen-smoke", AlertKind.SMOKE)]
    refusals = [r.getMessage() for r in caplog.records if "src_mismatch" in r.getMessage()]
    assert len(refusals) == 2
    assert all(PLUG in line and SMOKE in line for line in refusals), refusals
