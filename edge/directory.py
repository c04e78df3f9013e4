"""Which registered device a message came from: the site file plus what the hub pushes."""

from collections.abc import Iterable

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


class DeviceDirectory:
    """Resolve device addresses to registered devices.

    Two sources: the site file the edge starts with, and the ``DeviceRegistry`` the hub
    pushes later. A hub entry overrides the site entry with the same id (the hub holds the
    newer record), but replacing the hub's list never drops a site-file device: the edge must
    keep detecting for the devices it was configured with even if the hub forgets them.
    """

    def __init__(self, site_devices: Iterable[Device] = ()) -> None:
        self._site: dict[str, Device] = {d.id: d for d in site_devices}
        self._hub: dict[str, Device] = {}
        self._by_id: dict[str, Device] = {}
        self._by_zigbee_name: dict[str, Device] = {}
        self._by_tasmota: dict[str, Device] = {}
        self._by_shelly: dict[str, Device] = {}
        self._rebuild()

    def replace_hub_devices(self, devices: Iterable[Device]) -> None:
        """Replace every hub-pushed device with ``devices``; site-file devices stay."""
        self._hub = {d.id: d for d in devices}
        self._rebuild()

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
        """Return every known device, ordered by id."""
        return [self._by_id[key] for key in sorted(self._by_id)]

    def __len__(self) -> int:
        return len(self._by_id)

    def _rebuild(self) -> None:
        by_id = {**self._site, **self._hub}
        by_name: dict[str, Device] = {}
        by_tasmota: dict[str, Device] = {}
        by_shelly: dict[str, Device] = {}
        # Hub entries are indexed last so that, if a site device and a hub device claim the
        # same Zigbee name (Tasmota topic, Shelly id), the hub's newer record wins, as it
        # does for ids.
        for device in [*self._site.values(), *self._hub.values()]:
            if by_id[device.id] is not device:
                continue
            if device.zigbee_name:
                by_name[device.zigbee_name] = device
            if device.tasmota_topic:
                by_tasmota[tasmota_key(device.tasmota_topic)] = device
            if device.shelly_id:
                # Shelly ids are MAC-based: ``src`` is lower case, the web UI shows upper case.
                by_shelly[device.shelly_id.lower()] = device
        self._by_id = by_id
        self._by_zigbee_name = by_name
        self._by_tasmota = by_tasmota
        self._by_shelly = by_shelly
