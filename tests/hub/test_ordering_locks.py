"""The advisory locks an intake transaction takes on PostgreSQL (``hub.cases.ordering``): one
per (device, alert kind) of its new alerts, held until the transaction ends."""

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from devices.kinds import AlertKind
from hub.cases.ordering import lock_take, take_lock_names
from tests.hub.factories import make_alert

HELD = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")


@pytest.mark.parametrize("devices", [1, 3])
def test_each_device_and_kind_is_locked_once_until_the_end(pg_engine: Engine, devices: int) -> None:
    alerts = [make_alert(device_id=f"smoke-{i}") for i in range(devices)]
    alerts += [make_alert(device_id="smoke-0"), make_alert(device_id="smoke-0", kind=AlertKind.SOS)]
    with Session(pg_engine) as session, session.begin():
        lock_take(session, alerts)
        assert session.scalar(HELD) == devices + 1
    with Session(pg_engine) as session, session.begin():
        assert session.scalar(HELD) == 0


def test_the_incidents_are_locked_after_the_devices(pg_engine: Engine) -> None:
    alerts = [make_alert(device_id="smoke-0")]
    names = take_lock_names(alerts, ["sos|button-1", "fire@b3", "fire@b3"])
    assert names == [
        "linli-device-kind:smoke-0|smoke",
        "linli-incident:fire@b3",
        "linli-incident:sos|button-1",
    ]
    with Session(pg_engine) as session, session.begin():
        lock_take(session, alerts, ["sos|button-1", "fire@b3"])
        assert session.scalar(HELD) == 3
