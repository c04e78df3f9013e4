"""Simulated devices: each turns a reading at a simulated time into the message it would send.

A simulated device is a small object with an injected ``random.Random`` and no clock: every
method takes ``at``, the simulated time in seconds since the scenario began, and ``epoch``
(given once) says which wall-clock instant ``at = 0`` stands for in the payloads' ``ts`` and
``last_seen``. Calls on one device must come in non-decreasing ``at`` order.

The device publishes the way its registration says:

- natively, on ``linli/dev/<id>/state`` (JSON with the reading names of
  ``devices.payloads.Readings`` plus ``ts`` in RFC 3339), ``linli/dev/<id>/event`` and the
  retained ``linli/dev/<id>/availability``;
- through Zigbee2MQTT when it has a ``zigbee_name``: ``zigbee2mqtt/<friendly name>`` with the
  bridge's own field names and quirks (``battery`` sometimes as text like ``"80.00"``,
  ``contact: true`` meaning CLOSED, ``action: "emergency"`` followed by ``action: null``,
  ``last_seen`` in epoch milliseconds). Zigbee CO and gas detectors report their own alarm
  flag (``carbon_monoxide``, ``gas``), not a level: that is what such devices expose.
"""

import json
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import ClassVar, NamedTuple
from zoneinfo import ZoneInfo

from devices.kinds import DeviceKind
from devices.payloads import Availability, ButtonEvent, Readings
from devices.registry import Device
from devices.topics import DeviceChannel, device_topic, zigbee_topic

SECONDS_PER_DAY = 86_400.0

RESIDENTS_TIMEZONE = ZoneInfo("Asia/Shanghai")
"""The sample community's time zone (``simulators/sites/courtyard-roster.toml``): a
resident's day is lived in local time."""
UP_AT = time(7, 0)
TO_BED_AT = time(22, 0)
"""A resident's waking hours (the care check's default, docs/residents.md)."""


def resident_moving(local: datetime) -> bool:
    """Return whether a resident at home is moving where the motion sensor sees them at
    ``local`` (their wall-clock time): up and about for 20 minutes of every half hour of
    their waking hours (a sensor's occupancy flag drops while they sit still), asleep at
    night."""
    return UP_AT <= local.time() < TO_BED_AT and local.minute % 30 < 20


JsonValue = float | int | bool | str | None


class Step(NamedTuple):
    """One message to publish ``at`` simulated seconds after the scenario began."""

    at: float
    topic: str
    payload: bytes
    retain: bool = False


@dataclass(frozen=True, slots=True)
class Battery:
    """A battery that drains linearly from ``start_pct`` at ``start_at`` simulated seconds."""

    start_pct: float
    drain_pct_per_day: float
    start_at: float = 0.0

    def level(self, at: float) -> float:
        """Return the charge in percent at simulated time ``at``."""
        elapsed_days = max(at - self.start_at, 0.0) / SECONDS_PER_DAY
        return min(max(self.start_pct - self.drain_pct_per_day * elapsed_days, 0.0), 100.0)


# Normalised reading names → Zigbee2MQTT field names (the inverse of devices.zigbee2mqtt).
ZIGBEE_FIELDS: Mapping[str, str] = {
    "smoke": "smoke",
    "smoke_test": "test",
    "water_leak": "water_leak",
    "contact": "contact",
    "occupancy": "occupancy",
    "presence": "presence",
    "tamper": "tamper",
    "gas": "gas",
    "co_alarm": "carbon_monoxide",
    "co_ppm": "co",
    "battery_low": "battery_low",
    "battery_pct": "battery",
    "temperature_c": "temperature",
    "humidity_pct": "humidity",
    "smoke_density_db_per_m": "smoke_density_dbm",
}

# Zigbee detectors raise their own low-battery flag well below Linli's 15 % threshold.
ZIGBEE_BATTERY_LOW_PCT = 10.0


def rfc3339(moment: datetime) -> str:
    """Format an aware datetime as RFC 3339 UTC text with milliseconds, e.g. ``…T08:00:00.000Z``."""
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json(body: Mapping[str, JsonValue]) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class SimulatedDevice:
    """A registered device that reports readings, with its own noise and battery.

    Subclasses say what the device measures by overriding ``reading``; this class knows the
    wire formats. ``battery`` is ``None`` for mains-powered kinds.
    """

    battery_powered: ClassVar[bool] = True

    def __init__(
        self,
        device: Device,
        rng: random.Random,
        *,
        epoch: datetime,
        battery: Battery | None = None,
        battery_as_text: bool | None = None,
    ) -> None:
        if epoch.tzinfo is None:
            raise ValueError("epoch must be timezone-aware")
        self.device = device
        self.rng = rng
        self.epoch = epoch
        self.battery: Battery | None = None
        if self.battery_powered:
            # 0.05-0.15 % a day: a battery lasts about two to five years.
            self.battery = battery or Battery(rng.uniform(45.0, 100.0), rng.uniform(0.05, 0.15))
        # Some Zigbee firmware sends the battery as text ("80.00"); a given device always does.
        self.battery_as_text = rng.random() < 0.3 if battery_as_text is None else battery_as_text
        self._linkquality = rng.randint(30, 200)
        self._settle(rng)

    def _settle(self, rng: random.Random) -> None:
        """Draw this particular device's fixed traits (offsets, baselines) from ``rng``."""

    @property
    def via_zigbee(self) -> bool:
        """Return whether the device reaches the edge through Zigbee2MQTT."""
        return self.device.zigbee_name is not None

    def moment(self, at: float) -> datetime:
        """Return the wall-clock instant that simulated time ``at`` stands for."""
        return self.epoch + timedelta(seconds=at)

    def battery_pct(self, at: float) -> float | None:
        """Return the battery charge the device would report at ``at``, if it has a battery."""
        return None if self.battery is None else round(self.battery.level(at))

    def reading(self, at: float) -> Readings:
        """Return what the device measures at ``at`` when nothing is happening."""
        return Readings()

    def report(self, at: float, readings: Readings | None = None) -> Step:
        """Return the state message carrying ``readings`` (default: a quiet reading) and battery."""
        values = (readings if readings is not None else self.reading(at)).present()
        battery = self.battery_pct(at)
        if battery is not None:
            values["battery_pct"] = float(battery)
        if self.via_zigbee:
            return self._zigbee_message(at, values)
        body: dict[str, JsonValue] = {**values, "ts": rfc3339(self.moment(at))}
        return Step(at, device_topic(self.device.id, DeviceChannel.STATE), _json(body))

    def availability(self, at: float, *, online: bool) -> Step | None:
        """Return the retained availability message of a native device (``None`` for Zigbee).

        For Zigbee devices availability is the bridge's business: it marks a silent battery
        device offline only after its own timeout, which is why Linli supervises check-ins.
        """
        if self.via_zigbee:
            return None
        text = Availability.ONLINE if online else Availability.OFFLINE
        topic = device_topic(self.device.id, DeviceChannel.AVAILABILITY)
        return Step(at, topic, str(text).encode(), retain=True)

    def _zigbee_message(
        self,
        at: float,
        values: Mapping[str, float | bool],
        extra: Mapping[str, JsonValue] | None = None,
    ) -> Step:
        if self.device.zigbee_name is None:
            raise ValueError(f"device {self.device.id} is not a Zigbee2MQTT device")
        unmapped = set(values) - set(ZIGBEE_FIELDS)
        if unmapped:
            raise ValueError(f"Zigbee2MQTT has no field for {sorted(unmapped)}")
        body: dict[str, JsonValue] = {ZIGBEE_FIELDS[k]: v for k, v in values.items()}
        battery = values.get("battery_pct")
        if battery is not None:
            level = float(battery)
            body["battery"] = f"{level:.2f}" if self.battery_as_text else round(level)
            body["battery_low"] = level < ZIGBEE_BATTERY_LOW_PCT
            body["voltage"] = round(2_500 + 7 * level)  # a CR2032 / 2xAA pack, 2.5-3.2 V
        body.update(extra or {})
        self._linkquality = min(max(self._linkquality + self.rng.randint(-8, 8), 0), 255)
        body["linkquality"] = self._linkquality
        body["last_seen"] = round(self.moment(at).timestamp() * 1000)
        return Step(at, zigbee_topic(self.device.zigbee_name), _json(body))


class CoSensor(SimulatedDevice):
    """A carbon-monoxide detector: ppm with a 0-5 ppm baseline and proportional noise."""

    # The detector's own alarm point, for Zigbee detectors that report only a flag.
    OWN_ALARM_PPM: ClassVar[float] = 50.0

    def _settle(self, rng: random.Random) -> None:
        self.baseline_ppm = rng.uniform(0.5, 4.0)

    def reading(self, at: float, ambient_ppm: float = 0.0) -> Readings:
        """Return the reading at ``at`` with ``ambient_ppm`` of CO above the room's baseline."""
        noise = self.rng.gauss(0.0, 0.6 + 0.03 * ambient_ppm)
        base = min(max(self.baseline_ppm + noise, 0.0), 5.0)
        ppm = round(max(base + ambient_ppm * (1 + self.rng.gauss(0.0, 0.02)), 0.0), 1)
        if self.via_zigbee:
            return Readings(co_alarm=ppm >= self.OWN_ALARM_PPM)
        return Readings(co_ppm=ppm)


class GasSensor(SimulatedDevice):
    """A combustible-gas detector in %LEL (mains-powered): 0 plus noise, never negative."""

    battery_powered = False
    OWN_ALARM_LEL: ClassVar[float] = 10.0

    def reading(self, at: float, lel_pct: float = 0.0) -> Readings:
        """Return the reading at ``at`` with a true concentration of ``lel_pct`` %LEL."""
        measured = round(min(max(lel_pct + self.rng.gauss(0.0, 0.3), 0.0), 100.0), 1)
        if self.via_zigbee:
            return Readings(gas=measured >= self.OWN_ALARM_LEL)
        return Readings(gas_lel_pct=measured)


class HeatSensor(SimulatedDevice):
    """A heat detector with a room thermometer: about 22 °C, a slow daily drift, some noise."""

    def _settle(self, rng: random.Random) -> None:
        self.room_c = 22.0 + rng.uniform(-1.5, 1.5)
        self.humidity_pct = rng.uniform(35.0, 60.0)
        self._phase = rng.uniform(0.0, 2 * math.pi)

    def room_temperature(self, at: float) -> float:
        """Return the room's true temperature at ``at``: a ±1.5 °C swing over a day."""
        return self.room_c + 1.5 * math.sin(2 * math.pi * at / SECONDS_PER_DAY + self._phase)

    def reading(self, at: float, temperature_c: float | None = None) -> Readings:
        """Return the reading at ``at``; ``temperature_c`` overrides the room (a fire)."""
        true_c = self.room_temperature(at) if temperature_c is None else temperature_c
        humidity = min(max(self.humidity_pct + self.rng.gauss(0.0, 0.8), 0.0), 100.0)
        return Readings(
            temperature_c=round(true_c + self.rng.gauss(0.0, 0.1), 2),
            humidity_pct=round(humidity, 1),
        )


class SmokeDetector(SimulatedDevice):
    """A smoke detector: its own alarm flag."""

    def reading(self, at: float, smoke: bool = False) -> Readings:
        """Return the reading at ``at``."""
        return Readings(smoke=smoke)


class WaterLeakSensor(SimulatedDevice):
    """A water-leak sensor: wet or dry."""

    def reading(self, at: float, wet: bool = False) -> Readings:
        """Return the reading at ``at``."""
        return Readings(water_leak=wet)


class DoorContact(SimulatedDevice):
    """A door or gate contact; ``contact`` true means CLOSED, as in Zigbee2MQTT."""

    def reading(self, at: float, closed: bool = True) -> Readings:
        """Return the reading at ``at``."""
        return Readings(contact=closed, tamper=False)


class MotionSensor(SimulatedDevice):
    """A motion sensor in a home; ``occupancy`` true while it sees someone, as in
    Zigbee2MQTT. Unless told otherwise it sees the resident's day (``resident_moving``), so a
    care household's home shows signs of life in waking hours and none at night."""

    def reading(self, at: float, occupied: bool | None = None) -> Readings:
        """Return the reading at ``at`` (``occupied``: what it sees, else the resident's day)."""
        if occupied is None:
            occupied = resident_moving(self.moment(at).astimezone(RESIDENTS_TIMEZONE))
        return Readings(occupancy=occupied)


class DoorReader(SimulatedDevice):
    """A card reader (mains-powered): reports only its tamper switch while idle."""

    battery_powered = False

    def reading(self, at: float) -> Readings:
        """Return the reading at ``at``."""
        return Readings(tamper=False)


class Camera(SimulatedDevice):
    """A camera's MQTT side (mains-powered): a tamper flag as its check-in."""

    battery_powered = False

    def reading(self, at: float) -> Readings:
        """Return the reading at ``at``."""
        return Readings(tamper=False)


# Zigbee2MQTT action names a button sends (zigbee-herdsman-converters: TS0215A_sos and kin).
ZIGBEE_ACTIONS: Mapping[ButtonEvent, str] = {
    ButtonEvent.PRESS: "emergency",
    ButtonEvent.DOUBLE_PRESS: "double",
    ButtonEvent.LONG_PRESS: "hold",
}

# A Zigbee button's next message resets ``action`` to null this long after the press.
ZIGBEE_ACTION_RESET_S = 0.5


class SosButton(SimulatedDevice):
    """A one-touch SOS button: check-ins carry the battery; a press is an event."""

    def press(self, at: float, event: ButtonEvent = ButtonEvent.PRESS) -> list[Step]:
        """Return the messages of one press: a native event, or Zigbee action then null."""
        if not self.via_zigbee:
            body: dict[str, JsonValue] = {"event": str(event), "ts": rfc3339(self.moment(at))}
            return [Step(at, device_topic(self.device.id, DeviceChannel.EVENT), _json(body))]
        values = self._battery_values(at)
        reset_at = at + ZIGBEE_ACTION_RESET_S
        return [
            self._zigbee_message(at, values, {"action": ZIGBEE_ACTIONS[event]}),
            self._zigbee_message(reset_at, self._battery_values(reset_at), {"action": None}),
        ]

    def report(self, at: float, readings: Readings | None = None) -> Step:
        """Return a check-in; a Zigbee button's carries ``action: null`` as real ones do."""
        if self.via_zigbee and readings is None:
            return self._zigbee_message(at, self._battery_values(at), {"action": None})
        return super().report(at, readings)

    def _battery_values(self, at: float) -> dict[str, float | bool]:
        battery = self.battery_pct(at)
        return {} if battery is None else {"battery_pct": float(battery)}


SIMULATORS: Mapping[DeviceKind, type[SimulatedDevice]] = {
    DeviceKind.CO: CoSensor,
    DeviceKind.GAS: GasSensor,
    DeviceKind.HEAT: HeatSensor,
    DeviceKind.SMOKE: SmokeDetector,
    DeviceKind.WATER_LEAK: WaterLeakSensor,
    DeviceKind.DOOR_CONTACT: DoorContact,
    DeviceKind.MOTION: MotionSensor,
    DeviceKind.DOOR_READER: DoorReader,
    DeviceKind.CAMERA: Camera,
    DeviceKind.SOS_BUTTON: SosButton,
}


def simulate(device: Device, rng: random.Random, *, epoch: datetime) -> SimulatedDevice:
    """Return the simulated device for a registered device, by its kind."""
    return SIMULATORS[device.kind](device, rng, epoch=epoch)


def fleet(
    devices: list[Device], rng: random.Random, *, epoch: datetime
) -> dict[str, SimulatedDevice]:
    """Return a simulated device per registered device, each with its own seeded noise."""
    return {d.id: simulate(d, random.Random(rng.getrandbits(64)), epoch=epoch) for d in devices}
