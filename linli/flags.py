"""Flags over settings: what ``linli hub`` and ``linli edge`` pass to their settings class.

A flag given on the command line wins; a flag left out leaves its setting to the environment
(``LINLI_HUB_*``, ``LINLI_EDGE_*``, e.g. from a systemd unit's ``EnvironmentFile``) and only
then to the command's own default. Before, every flag's default was passed as if given, so
``LINLI_EDGE_CO_PROFILE=en50291`` or ``LINLI_EDGE_HUB_MQTT_HOST`` in ``/etc/linli/edge.env``
was silently ignored.
"""

import os
from typing import Any

import typer
from pydantic_settings import BaseSettings

PORTS = range(1, 65536)
"""The TCP ports a broker can listen on. A typo outside them (``:188300``) was taken before:
``linli hub`` then tried that broker for ever, receiving no alarm."""


def split_address(value: str) -> tuple[str, int] | None:
    """Return ``HOST:PORT`` as its parts, or None if it is not one (a port outside ``PORTS``
    included)."""
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or int(port) not in PORTS:
        return None
    return host, int(port)


def address_flag(value: str, option: str) -> tuple[str, int]:
    """Return the HOST:PORT flag ``option``'s parts, or refuse it as a bad parameter."""
    address = split_address(value)
    if address is None:
        raise typer.BadParameter(f"{option} must be HOST:PORT (port 1-65535), got {value!r}")
    return address


def address_settings(value: str | None, option: str, host: str, port: str) -> dict[str, Any]:
    """Return the host and port settings a HOST:PORT flag gives (none if not given)."""
    if value is None:
        return {}
    host_value, port_value = address_flag(value, option)
    return {host: host_value, port: port_value}


def settings_values(
    cls: type[BaseSettings], given: dict[str, Any], defaults: dict[str, Any]
) -> dict[str, Any]:
    """Return the values to build ``cls`` with: every flag ``given`` (None: not given), and
    for each setting no flag gave, its command default unless the environment sets it."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    environment = {name.upper() for name in os.environ}
    chosen = {name: value for name, value in given.items() if value is not None}
    fallback = {
        name: value
        for name, value in defaults.items()
        if name not in chosen and f"{prefix}{name}".upper() not in environment
    }
    return fallback | chosen
