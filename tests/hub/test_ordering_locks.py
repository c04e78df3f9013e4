"""The advisory locks an intake transaction takes on PostgreSQL (``hub.cases.ordering``): one
per (device, alert kind) of its new alerts, held until the transaction ends."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from devices.kinds import AlertKind
from hub.cases.ordering import lock_devices
from tests.hub.conftest import migrated_engine
from tests.hub.factories import make_alert

HELD = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    yield from migrated_engine(postgres_url)


@pytest.mark.parametrize("devices", [1, 3])
def test_each_device_and_kind_is_locked_once_until_the_end(pg_engine: Engine, devices: int) -> None:
    alerts = [make_alert(device_id=f"smoke-{i}") for i in range(devices)]
    alerts += [make_alert(device_id="smoke-0"), make_alert(device_id="smoke-0", kind=AlertKind.SOS)]
    with Session(pg_engine) as session, session.begin():
        lock_devices(session, alerts)
        assert session.scalar(HELD) == devices + 1
    with Session(pg_engine) as session, session.begin():
        assert session.scalar(HELD) == 0
