"""``linli broker``: the identities of the hub's broker and of site brokers (docs/security.md).

Every command prints one JSON object on stdout, for scripts; errors go to stderr, exit 2.
"""

import os
import pwd
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from devices.registry import check_identifier
from linli.trust.acl import DEVICE_ROLES, Identity, Role
from linli.trust.folder import BrokerFolder, BrokerKind, TrustError, as_json
from linli.trust.sweep import clear_retained

broker_app = typer.Typer(
    no_args_is_help=True,
    help="Issue, rotate and revoke broker identities (CA, TLS, passwords, ACL).",
)

Folder = Annotated[Path, typer.Argument(help="The broker's folder (created by `init`).")]


def _fail(exc: Exception) -> typer.Exit:
    typer.echo(f"linli broker: {exc}", err=True)
    return typer.Exit(2)


def _identifier(value: str) -> str:
    try:
        return check_identifier(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _identity(role: Role, subject: str) -> Identity:
    """Return the identity, or refuse a subject its role cannot be bound to."""
    identity = Identity(role, subject)
    try:
        _ = identity.username
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    return identity


@broker_app.command()
def init(
    folder: Folder,
    host: Annotated[
        list[str] | None,
        typer.Option("--host", help="A name or address clients use (repeat); default localhost."),
    ] = None,
    tls_port: Annotated[int, typer.Option(help="The TLS listener's port.")] = 8883,
    port: Annotated[
        int | None,
        typer.Option(help="Also a plain listener on this port, bound to 127.0.0.1 only."),
    ] = None,
    bind: Annotated[
        str | None, typer.Option(help="Address of the TLS listener; default every interface.")
    ] = None,
    site: Annotated[
        str | None,
        typer.Option(
            help="Make a site broker for this edge (devices connect) instead of the hub's."
        ),
    ] = None,
    user: Annotated[
        str | None,
        typer.Option(help="The user Mosquitto runs as; default the one running this command."),
    ] = None,
    device_port: Annotated[
        int | None,
        typer.Option(
            help="Site broker: also a plain listener for devices that cannot speak TLS "
            "(password and ACL, in clear on the device network)."
        ),
    ] = None,
    device_bind: Annotated[
        str | None,
        typer.Option(help="Address of the device listener; default every interface."),
    ] = None,
) -> None:
    """Create a broker folder: CA, server certificate, mosquitto.conf, first identities."""
    hosts = host or ["localhost"]
    run_as = user or pwd.getpwuid(os.geteuid()).pw_name
    if user is None and os.geteuid() == 0:
        typer.echo(
            "warning: Mosquitto will run as root on this folder; give --user mosquitto (the "
            "account deploy/systemd/linli-mosquitto.service runs it as) to make it theirs",
            err=True,
        )
    broker = BrokerFolder(folder)
    kind = BrokerKind.SITE if site is not None else BrokerKind.HUB
    try:
        passwords = broker.init(
            kind=kind,
            hosts=hosts,
            tls_port=tls_port,
            port=port,
            site_edge_id=_identifier(site) if site is not None else None,
            tls_bind=bind,
            run_as=run_as,
            device_port=device_port,
            device_bind=device_bind,
            now=datetime.now(UTC),
        )
    except (TrustError, ValueError, OSError) as exc:
        raise _fail(exc) from exc
    out: dict[str, object] = {"port": port, "tls_port": tls_port, "ca_file": broker.ca_file()}
    if device_port is not None:
        out["device_port"] = device_port
    for username, password in passwords.items():
        record = broker.load().accounts[username]
        key = {Role.HUB: "hub", Role.SITE_EDGE: "edge", Role.ZIGBEE2MQTT: "zigbee2mqtt"}[
            record.role
        ]
        out[key] = {"username": username, "password": password}
    if site is not None:
        out["site"] = site
    typer.echo(as_json(out))


def rotation_notice(username: str, *, reloaded: bool) -> str:
    """Return the warning an ``add-*`` that replaced ``username``'s password prints.

    Re-running a setup step (a lost JSON, a script run twice) used to rotate the password of
    an edge or device already installed without a word: the broker disconnected it at the
    reload and refused its old password, and an edge's alerts then waited in its outbox until
    someone found out why the hub showed it offline."""
    when = (
        "no longer works: the running broker has disconnected whoever used it"
        if reloaded
        else "stops working when the broker starts (it was not running)"
    )
    return (
        f"linli broker: {username} already had an identity: this ROTATED its password. The old "
        f"one {when}; put the new one where {username} reads it (an edge's credentials file, "
        "a device's MQTT settings) now."
    )


def _issue(folder: Path, identity: Identity) -> None:
    broker = BrokerFolder(folder)
    try:
        password, rotated = broker.issue_noting_rotation(identity)
        record = broker.load()
        reloaded = broker.reload()
    except (TrustError, OSError) as exc:
        raise _fail(exc) from exc
    out = {
        "username": identity.username,
        "password": password,
        "ca_file": broker.ca_file(),
        "tls_port": record.tls_port,
        "reloaded": reloaded,
    }
    if record.device_port is not None and identity.role in DEVICE_ROLES:
        out["device_port"] = record.device_port
    if rotated:
        out["rotated"] = True
        typer.echo(rotation_notice(identity.username, reloaded=reloaded), err=True)
    typer.echo(as_json(out))


@broker_app.command("add-edge")
def add_edge(folder: Folder, edge_id: Annotated[str, typer.Argument()]) -> None:
    """Issue an edge its identity on the hub's broker (again: rotate it)."""
    _issue(folder, Identity(Role.EDGE, _identifier(edge_id)))


@broker_app.command("add-device")
def add_device(folder: Folder, device_id: Annotated[str, typer.Argument()]) -> None:
    """Issue a native device its identity on a site broker (again: rotate it)."""
    _issue(folder, Identity(Role.DEVICE, _identifier(device_id)))


@broker_app.command("add-tasmota")
def add_tasmota(
    folder: Folder,
    topic: Annotated[str, typer.Argument(help="Its Topic (%topic%), e.g. tasmota_A1B2C3.")],
) -> None:
    """Issue a Tasmota its identity on a site broker, bound to its topic (again: rotate it)."""
    _issue(folder, _identity(Role.TASMOTA, topic))


@broker_app.command("add-shelly-gen1")
def add_shelly_gen1(
    folder: Folder,
    shelly_id: Annotated[str, typer.Argument(help="Its id, e.g. shellyflood-445566.")],
) -> None:
    """Issue a Shelly Gen1 its identity on a site broker, bound to shellies/<id>/ (again:
    rotate it)."""
    _issue(folder, _identity(Role.SHELLY_GEN1, shelly_id))


@broker_app.command("add-shelly-gen2")
def add_shelly_gen2(
    folder: Folder,
    prefix: Annotated[
        str,
        typer.Argument(
            help="Its MQTT prefix: its id (the default, e.g. shellyplusht-c049ef8bc088) or "
            "shellies/<id>."
        ),
    ],
) -> None:
    """Issue a Shelly Gen2+ its identity on a site broker, bound to its MQTT prefix (again:
    rotate it)."""
    _issue(folder, _identity(Role.SHELLY_GEN2, prefix))


@broker_app.command("add-phone")
def add_phone(
    folder: Folder,
    responder_id: Annotated[str, typer.Argument(help="The responder's roster id.")],
) -> None:
    """Issue a responder's phone (OwnTracks in MQTT mode) its identity on the hub's broker,
    bound to owntracks/<RESPONDER_ID>/ (again: rotate it)."""
    _issue(folder, _identity(Role.PHONE, responder_id))


@broker_app.command()
def revoke(
    folder: Folder,
    subject: Annotated[str, typer.Argument(metavar="ID")],
    role: Annotated[
        Role | None,
        typer.Option(
            help="What ID names: on the hub's broker edge (the default) or phone (a responder "
            "id); on a site broker device (the default), tasmota (a topic), shelly-gen1 (an "
            "id), shelly-gen2 (a prefix)."
        ),
    ] = None,
) -> None:
    """Withdraw an edge's or a phone's (hub broker), or a device's (site broker) identity.

    An edge's or a device's retained messages are cleared too, on a running broker
    (``"cleared"``): run it again once the broker runs if they were not (docs/security.md)."""
    broker = BrokerFolder(folder)
    if role is None:
        _identifier(subject)
    else:
        _identity(role, subject)
    try:
        revoked = broker.revoke(subject, role)
        reloaded = broker.reload()
        out: dict[str, object] = {"revoked": revoked, "id": subject, "reloaded": reloaded}
        hub = broker.load().kind is BrokerKind.HUB
        swept = Identity(role or (Role.EDGE if hub else Role.DEVICE), subject)
        if swept.role is not Role.PHONE:
            out["cleared"] = reloaded and clear_retained(broker, swept)
    except (TrustError, OSError) as exc:
        raise _fail(exc) from exc
    if out.get("cleared") is False:
        typer.echo(
            f"linli broker: the retained messages of {swept.role} {subject} are still on the "
            "broker (not running, or not reachable): run this again once it runs",
            err=True,
        )
    typer.echo(as_json(out))
