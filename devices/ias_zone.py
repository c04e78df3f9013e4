"""IAS zones (Zigbee cluster 0x0500): the zone status bits, and what a zone's alarm bit means
for the kind of device registered at its address.

An IAS zone says "alarm" and nothing more: which alarm is the zone's type (fire, CO, water,
contact, panic), which a bridge may or may not pass on. Tasmota often sends only the zone
status (``ZoneStatusChange``, or the raw ``0500<00`` hex: arendst/Tasmota#14096), and
Zigbee2MQTT names the bits ``alarm_1``/``alarm_2`` (or ``alarm``) for every device it has no
zone type for: ``modernExtend.iasZoneAlarm`` with ``zoneType: "generic"`` (ORVIBO SE30,
Heiman HS2SA-5, MultIR MIR-SM100-E) and the definition it generates for any unsupported IAS
device (Koenkk/zigbee2mqtt src/lib/generateDefinition.ts). Both adapters
then read the bit by the registered kind (``fill_zone_alarm``):

- a smoke, CO, gas or water-leak detector's alarm bit is that reading; a reading decoded
  from a specific key in the same message wins (the bridge knew the zone type, the
  registration may be wrong);
- a door contact's alarm bit is the door open, unless the message says ``contact``;
- an SOS button's alarm bit is a call for help: each adapter reads it (as an event or as a
  state, as its bridge repeats it or not) before asking this module;
- a heat detector's is not read: ``Readings`` has no heat flag, a heat detector is judged by
  its temperature (Heiman HM-5HA-E's ``alarm`` says nothing Linli reads);
- an unregistered device's, or any other kind's, is ignored (logged at debug): without the
  zone type an alarm bit could be a motion sensor's or a vibration sensor's.
"""

import logging
from typing import Any

from devices.kinds import DeviceKind

logger = logging.getLogger(__name__)

# IAS Zone status bits (ZCL spec, cluster 0x0500, attribute ZoneStatus; zigbee-herdsman-
# converters' iasZoneAlarm reads the same: alarm_1 bit 0 … test bit 8).
ZONE_ALARM1 = 0x0001
ZONE_ALARM2 = 0x0002
ZONE_TAMPER = 0x0004
ZONE_BATTERY_LOW = 0x0008
ZONE_TEST = 0x0100
"""The device is in test mode (a detector's self-test). Not every test sets it: Xiaomi
JTYJ-GD-01LM's test button sends alarm 2 alone (zigbee-herdsman-converters src/lib/lumi.ts,
``lumi_smoke``: ``test = zoneStatus & (1 << 1)``). A zone status without this bit is read as
an alarm all the same: a missed real alarm 2 is worse than a test press taken for one."""

ZONE_READING: dict[DeviceKind, str] = {
    DeviceKind.WATER_LEAK: "water_leak",
    DeviceKind.SMOKE: "smoke",
    DeviceKind.CO: "co_alarm",
    DeviceKind.GAS: "gas",
}
"""The ``Readings`` field a detector's zone alarm bit is, by the detector's kind."""

SELF_TESTED: frozenset[DeviceKind] = frozenset({DeviceKind.SMOKE, DeviceKind.CO, DeviceKind.GAS})
"""Kinds whose zone test bit is a self-test (``smoke_test``): the edge reads their alarm flags
meanwhile as a test, never a fire, CO or gas (edge.detection_rules)."""


def fill_zone_alarm(
    alarm: bool, kind: DeviceKind | None, values: dict[str, Any], where: str
) -> None:
    """Fill what a zone's alarm bit says into ``values`` (``Readings`` fields), by ``kind``.

    An SOS button's bit is its adapter's to read (an event or a state): ignored here, as is
    any kind's without a reading; ``where`` names the device and the bit in the debug log.
    """
    match kind:
        case DeviceKind.DOOR_CONTACT:
            if values.get("contact") is None:
                values["contact"] = not alarm
        case None:
            logger.debug("%s of an unregistered device ignored", where)
        case _ if kind in ZONE_READING:
            reading = ZONE_READING[kind]
            if values.get(reading) is None:
                values[reading] = alarm
        case _:
            logger.debug("%s of a %s device ignored", where, kind)
