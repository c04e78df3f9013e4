"""Which registered device a message came from: the site file plus what the hub pushes, and
the detectors found unregistered on the site's Zigbee network (``edge.discovery``)."""

from collections.abc import Iterable

from devices.discovery import is_placeholder
from devices.kinds import DeviceKind
from devices.observations import (
    DeviceAddress,
    NativeAddress,
    ShellyAddress,
    TasmotaAddress,
    ZigbeeAddress,
)
from devices.registry import Device
from devices.tasmota import address_keys, tasmota_key

MAX_DISCOVERED = 200
"""How many discovered detectors the edge remembers: more than a Zigbee coordinator serves, and
few enough that its status, which lists them, stays well under the hub's 256 KiB message limit
beside a large site file. One past it is still detected, message by message, not supervised."""


class DeviceDirectory:
    """Resolve device addresses to registered devices.

    Two sources: the site file the edge starts with, and the ``DeviceRegistry`` the hub
    pushes later. A hub entry overrides the site entry with the same id (the hub holds the
    newer record), but replacing the hub's list never drops a site-file device: the edge must
    keep detecting for the devices it was configured with even if the hub forgets them.

    And a third, below both: the detectors discovered unregistered (``remember_discovered``),
    supervised and listed like the others until a registration takes their Zigbee name or
    their id. Not looked up by ``resolve``: ``discovered`` finds them, so that the ingest
    still counts what it handles as discovered.
    """

    def __init__(self, site_devices: Iterable[Device] = ()) -> None:
        self._site: dict[str, Device] = {d.id: d for d in site_devices}
        self._hub: dict[str, Device] = {}
        self._found: dict[str, Device] = {}
        self._bridges: dict[str, Device] = {}
        """The site's Zigbee bridges heard, by id (``edge.zigbee_bridge``)."""
        self._tasmota_bridges: frozenset[str] = frozenset()
        """Tasmota topics that registered devices are behind, none registered as itself."""
        self._discovered: dict[str, Device] = {}
        """By Zigbee name: the found devices no registration has taken over."""
        self._by_id: dict[str, Device] = {}
        self._listed: dict[str, Device] = {}
        """Every device supervised and in the inventory: the registered and the discovered."""
        self._by_zigbee_name: dict[str, Device] = {}
        self._by_tasmota: dict[str, Device] = {}
        self._by_shelly: dict[str, Device] = {}
        self._rebuild()

    def replace_hub_devices(self, devices: Iterable[Device]) -> None:
        """Replace every hub-pushed device with ``devices``; site-file devices stay."""
        self._hub = {d.id: d for d in devices}
        self._rebuild()

    def remember_discovered(self, device: Device) -> bool:
        """Remember a discovered detector (``edge.discovery``): supervised and in the
        inventory from now on. Return whether it was new (and remembered)."""
        if device.id in self._found or len(self._found) >= MAX_DISCOVERED:
            return False
        self._found[device.id] = device
        self._rebuild()
        return True

    def remember_bridge(self, device: Device) -> bool:
        """Remember one of the site's Zigbee bridges (``devices.zigbee_network``): supervised
        and in the inventory from now on. Return whether it was new."""
        if device.id in self._bridges:
            return False
        self._bridges[device.id] = device
        self._rebuild()
        return True

    def bridge(self, device_id: str) -> Device | None:
        """Return the Zigbee bridge of this id if heard (the hub's entry of it if it pushed
        one), else None."""
        if device_id not in self._bridges:
            return None
        return self._by_id.get(device_id, self._bridges[device_id])

    def bridges(self) -> list[Device]:
        """Return the Zigbee bridges heard, ordered by id."""
        return [self._by_id.get(key, self._bridges[key]) for key in sorted(self._bridges)]

    def is_tasmota_bridge(self, topic: str) -> bool:
        """Return whether the Tasmota ``topic`` is a Zigbee bridge that registered devices
        are behind (``tasmota_topic = "<topic>/<name>"``) and not a device of its own."""
        return topic in self._tasmota_bridges

    def discovered(self, friendly_name: str) -> Device | None:
        """Return the discovered detector of this Zigbee name that no registration took over."""
        return self._discovered.get(friendly_name)

    def discovered_devices(self) -> list[Device]:
        """Return the discovered detectors no registration took over, ordered by id."""
        return sorted(self._discovered.values(), key=lambda d: d.id)

    def resolve(self, address: DeviceAddress) -> Device | None:
        """Return the device behind ``address``, or None for a device nobody registered."""
        match address:
            case NativeAddress(device_id):
                return self._by_id.get(device_id)
            case ZigbeeAddress(friendly_name):
                return self._by_zigbee_name.get(friendly_name)
            case TasmotaAddress():
                found = (self._by_tasmota.get(key) for key in address_keys(address))
                return next((device for device in found if device is not None), None)
            case ShellyAddress(shelly_id):
                return self._by_shelly.get(shelly_id.lower())
        raise AssertionError(f"unhandled address {address!r}")  # pragma: no cover

    def kind_of(self, address: DeviceAddress) -> DeviceKind | None:
        """Return the kind of the device behind ``address``, None if nobody registered it."""
        device = self.resolve(address)
        return None if device is None else device.kind

    def fahrenheit(self, address: DeviceAddress) -> bool:
        """Return whether the device behind ``address`` publishes bare temperatures in °F."""
        device = self.resolve(address)
        return device is not None and device.fahrenheit

    def devices(self) -> list[Device]:
        """Return every device supervised and listed: the registered and the discovered, by id."""
        return [self._listed[key] for key in sorted(self._listed)]

    def __len__(self) -> int:
        return len(self._listed)

    def _rebuild(self) -> None:
        by_id = {**self._site, **self._hub}
        by_name: dict[str, Device] = {}
        by_tasmota: dict[str, Device] = {}
        by_shelly: dict[str, Device] = {}
        # Hub entries are indexed last so that, if a site device and a hub device claim the
        # same Zigbee name (Tasmota topic, Shelly id), the hub's newer record wins, as it
        # does for ids. A registration still at its discovered place (the hub registered the
        # detector from its inventory) yields its name to any other: the one an operator made.
        registered = [*self._site.values(), *self._hub.values()]
        for device in sorted(registered, key=lambda d: not is_placeholder(d)):
            if by_id[device.id] is not device:
                continue
            if device.zigbee_name:
                by_name[device.zigbee_name] = device
            if device.tasmota_topic:
                by_tasmota[tasmota_key(device.tasmota_topic)] = device
            if device.shelly_id:
                # Shelly ids are MAC-based: ``src`` is lower case, the web UI shows upper case.
                by_shelly[device.shelly_id.lower()] = device
        self._discovered = {
            d.zigbee_name: d
            for d in self._found.values()
            if d.zigbee_name and d.id not in by_id and d.zigbee_name not in by_name
        }
        self._by_id = by_id
        found = [*self._discovered.values(), *self._bridges.values()]
        self._listed = {**{d.id: d for d in found}, **by_id}
        self._tasmota_bridges = frozenset(
            key.partition("/")[0] for key in by_tasmota if "/" in key
        ) - frozenset(by_tasmota)
        self._by_zigbee_name = by_name
        self._by_tasmota = by_tasmota
        self._by_shelly = by_shelly
