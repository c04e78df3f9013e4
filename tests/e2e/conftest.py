"""Fixtures for end-to-end tests: a whole stack of real processes per test."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from devices.kinds import DeviceKind
from devices.registry import Device
from linli.brokers import MosquittoProcess
from tests.conftest import missing
from tests.e2e.stack import Stack

GAS = Device(id="boiler-gas", kind=DeviceKind.GAS, location="Basement/Boiler room")
CO = Device(id="b3-1201-co", kind=DeviceKind.CO, location="Building 3/Floor 12/Unit 1201")
LEAK = Device(id="basement-leak", kind=DeviceKind.WATER_LEAK, location="Basement/Bike room")
SOS = Device(id="b3-1201-sos", kind=DeviceKind.SOS_BUTTON, location="Building 3/Floor 12/Unit 1201")
Z2M_SMOKE = Device(
    id="b1-201-smoke",
    kind=DeviceKind.SMOKE,
    location="Building 1/Floor 2/Unit 201",
    zigbee_name="b1 201 smoke",
)
Z2M_SOS = Device(
    id="b2-501-sos",
    kind=DeviceKind.SOS_BUTTON,
    location="Building 2/Floor 5/Unit 501",
    zigbee_name="b2 501 sos",
)
DEVICES = [CO, GAS, LEAK, SOS, Z2M_SMOKE, Z2M_SOS]


def _require_mosquitto() -> None:
    if MosquittoProcess.executable() is None:
        missing("mosquitto")


@pytest.fixture
def stack(tmp_path: Path, database_url: str) -> Iterator[Stack]:
    """A running stack (one broker, hub, edge) on SQLite and on PostgreSQL."""
    _require_mosquitto()
    with Stack(tmp_path, DEVICES, database_url).started() as running:
        yield running


@pytest.fixture(params=["site-config", "mosquitto-defaults"])
def split_stack(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Stack]:
    """A running stack whose hub broker is separate from the devices' broker (SQLite).

    Its hub broker runs either the shipped settings or Mosquitto's defaults, whose
    max_queued_messages 1000 drops QoS 1 messages: the edge's in-flight window and
    re-sends must keep the hub whole even there.
    """
    _require_mosquitto()
    running = Stack(
        tmp_path,
        DEVICES,
        f"sqlite:///{tmp_path / 'hub.sqlite3'}",
        separate_hub_broker=True,
        hub_broker_defaults=request.param == "mosquitto-defaults",
    )
    with running.started():
        yield running
