"""A care household's day (独居老人): the motion sensors in the homes of a site, as the hub's
no-activity check (``hub.care``) reads them.

``care_day_plan``: a resident lives an ordinary day — up at 07:00, moving about for 20 minutes
of every half hour, in bed at 22:00 (``simulators.sensors.resident_moving``); each sensor
reports what it sees every ``CHECK_IN_EVERY_S``. ``quiet_day_plan``: the resident was last seen
moving as the day began, then the sensor, alive and checking in, sees nobody for a day (PRODUCT
scenario 12: a wellbeing check). Pure, like every simulator: functions of simulated time and an
injected ``random.Random``; simulated time 0 is ``epoch``.
"""

import random
from collections.abc import Iterator
from datetime import datetime

from devices.kinds import DeviceKind
from devices.registry import Device
from devices.site import SiteFile
from simulators.errors import NoSuitableDeviceError
from simulators.sensors import MotionSensor, Step

DAY_S = 86_400.0
CHECK_IN_EVERY_S = 300.0
"""A Zigbee motion sensor reports on a change and checks in at least this often."""


def motion_sensors(site: SiteFile) -> tuple[Device, ...]:
    """Return the motion sensors of the site's homes (those of care households, in the sample)."""
    found = tuple(d for d in site.devices if d.kind is DeviceKind.MOTION)
    if not found:
        raise NoSuitableDeviceError(f"site {site.site.name!r} has no motion sensor")
    return found


def _sensors(site: SiteFile, rng: random.Random, epoch: datetime) -> list[MotionSensor]:
    return [
        MotionSensor(device, random.Random(rng.getrandbits(64)), epoch=epoch)
        for device in motion_sensors(site)
    ]


def _day(sensor: MotionSensor, quiet: bool) -> Iterator[Step]:
    online = sensor.availability(0.0, online=True)
    if online is not None:
        yield online
    at = 0.0
    while at <= DAY_S:
        if quiet:
            yield sensor.report(at, sensor.reading(at, occupied=at == 0.0))
        else:
            yield sensor.report(at)
        at += CHECK_IN_EVERY_S


def care_day_plan(site: SiteFile, rng: random.Random, epoch: datetime) -> Iterator[Step]:
    """Yield an ordinary day of every motion sensor of the site, in time order."""
    steps = [step for sensor in _sensors(site, rng, epoch) for step in _day(sensor, quiet=False)]
    yield from sorted(steps, key=lambda s: s.at)


def quiet_day_plan(site: SiteFile, rng: random.Random, epoch: datetime) -> Iterator[Step]:
    """Yield a day in which every motion sensor, checking in, sees nobody after the first
    report."""
    steps = [step for sensor in _sensors(site, rng, epoch) for step in _day(sensor, quiet=True)]
    yield from sorted(steps, key=lambda s: s.at)
