"""The ``linli`` command: ``demo``, ``hub``, ``edge`` and ``simulate``.

Each command imports the program it runs when it runs: ``linli edge`` on a Raspberry Pi does
not load the hub's web stack, and ``linli hub`` does not load OpenCV (about a second of CPU
at every start, paid by every process the end-to-end tests spawn).
"""

import asyncio
import logging
import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from devices.credentials import CredentialsError
from edge.settings import EdgeSettings
from hub.auth.rules import new_secret
from hub.errors import HubError
from hub.settings import HubSettings
from linli.accounts import token_app, user_app
from linli.flags import address_flag, address_settings, settings_values
from linli.progress import simulation_progress
from linli.report import report_command
from linli.running import data_folders_held, database_held, folder_made, run_until_signalled
from linli.site_file import read_site_file
from linli.status import status_command
from linli.trust.commands import broker_app
from simulators.scenarios import SCENARIOS
from simulators.sites import sample_site_path

if TYPE_CHECKING:
    from linli.demo import DemoEndpoints

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Linli (邻里): community hazard sensors, SOS buttons and cases, edge to hub.",
)


class CoProfile(StrEnum):
    """The CO standards an edge can follow."""

    UL2034 = "ul2034"
    EN50291 = "en50291"


DEMO_TOKEN_ENV = "LINLI_DEMO_TOKEN"  # noqa: S105 - the name of a variable

DataDir = Annotated[Path, typer.Option(help="Folder for everything durable (databases, outbox).")]
HUB_DATA_DIR = Path("linli-data/hub")
EDGE_DATA_DIR = Path("linli-data/edge")
LOOPBACK_MQTT = "127.0.0.1:1883"


def _data_dir(default: Path, variable: str) -> Any:
    return typer.Option(
        help=f"Folder for everything durable (databases, outbox); default ${variable}, "
        f"else {default}.",
        show_default=False,
    )


def _setting(help_text: str) -> Any:
    """A flag whose setting, when left out, comes from the environment (linli.flags)."""
    return typer.Option(help=help_text, show_default=False)


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    # Chatty third-party loggers: their INFO lines are per connection or per packet.
    for name in ("amqtt", "transitions", "uvicorn.access", "mqtt"):
        logging.getLogger(name).setLevel(logging.WARNING)


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def _settings(cls: type[SettingsT], **values: Any) -> SettingsT:
    """Build settings, or exit 2 saying why (a credentials file others can read, above all)."""
    try:
        return cls(**values)
    except (ValidationError, CredentialsError) as exc:
        typer.echo(f"linli: cannot start: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def demo(
    no_simulators: Annotated[
        bool, typer.Option("--no-simulators", help="Run without simulated devices.")
    ] = False,
    http_port: Annotated[
        int | None, typer.Option(help="Hub HTTP port (default 8080 or free).")
    ] = None,
    mqtt_port: Annotated[int | None, typer.Option(help="MQTT port (default 1883 or free).")] = None,
    data_dir: DataDir = Path("linli-data"),
    site: Annotated[Path | None, typer.Option(help="Site file (default: the sample).")] = None,
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 1.0,
    calm: Annotated[
        bool,
        typer.Option(
            "--calm", help="The old pace: first incident after 2-5 min, then every 10-30 min."
        ),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the whole stack on embedded defaults: broker, hub, one edge, simulators.

    Prints an operator token for scripts (``Authorization: Bearer <token>``), which is also
    the console password of the ``operator`` account; set ``LINLI_DEMO_TOKEN`` to fix it.
    """
    from linli.demo import DemoOptions, run_demo

    _configure_logging(verbose)
    operator_token = os.environ.get(DEMO_TOKEN_ENV) or new_secret()

    def announce(endpoints: "DemoEndpoints") -> None:
        typer.echo(
            "\nLinli demo is running.\n"
            f"  hub:       {endpoints.hub_url}   (API {endpoints.hub_url}/api/v1, docs /docs)\n"
            f"  MQTT:      {endpoints.mqtt_host}:{endpoints.mqtt_port}   (the demo's own broker: "
            "no TLS, no passwords, open to anything on this machine, loopback only; for a real "
            "site see docs/security.md, `linli broker init`)\n"
            f"  edge:      {endpoints.edge_id} serving {endpoints.site_file}\n"
            f"  data:      {data_dir.resolve()}\n"
            f"  operator token: {operator_token}\n"
            "             (curl -H 'Authorization: Bearer <token>' …; console sign-in: "
            "operator / the same token)\n"
            "Press Ctrl-C to stop.\n",
        )

    options = DemoOptions(
        data_dir=data_dir,
        http_port=http_port,
        mqtt_port=mqtt_port,
        simulators=not no_simulators,
        site_file=site,
        speed=speed,
        calm=calm,
        operator_token=operator_token,
    )
    with data_folders_held(*options.data_folders):
        run_until_signalled(run_demo(options, on_ready=announce))


@app.command()
def hub(
    data_dir: Annotated[Path | None, _data_dir(HUB_DATA_DIR, "LINLI_HUB_DATA_DIR")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL; default SQLite in the data folder.")
    ] = None,
    mqtt: Annotated[
        str | None,
        _setting(
            "The hub's MQTT broker, HOST:PORT; default $LINLI_HUB_MQTT_HOST and "
            f"$LINLI_HUB_MQTT_PORT, else {LOOPBACK_MQTT}."
        ),
    ] = None,
    http_host: Annotated[
        str | None, _setting("Default $LINLI_HUB_HTTP_HOST, else 127.0.0.1.")
    ] = None,
    http_port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65535, help="Default $LINLI_HUB_HTTP_PORT, else 8080.", show_default=False
        ),
    ] = None,
    roster: Annotated[
        Path | None,
        typer.Option(
            help="Roster file (sites, grids, responders) to create or update at start; "
            "default LINLI_HUB_ROSTER_FILE."
        ),
    ] = None,
    mqtt_credentials: Annotated[
        Path | None,
        typer.Option(
            help="File with the hub's broker username and password (`linli broker init`'s "
            "hub entry), mode 0600; default LINLI_HUB_MQTT_CREDENTIALS_FILE."
        ),
    ] = None,
    mqtt_ca: Annotated[
        Path | None,
        typer.Option(
            help="The broker's CA (`ca_file`): TLS to --mqtt, verified; "
            "default LINLI_HUB_MQTT_CA_FILE."
        ),
    ] = None,
    worker_id: Annotated[
        str | None,
        typer.Option(
            help="Run as one of several hub workers on one PostgreSQL (docs/scale.md): MQTT "
            "client id linli-hub-ID, shared subscription group linli-hubs; each worker needs "
            "its own ID and --http-port. Default LINLI_HUB_WORKER_ID (unset: one hub)."
        ),
    ] = None,
    shared_group: Annotated[
        str | None,
        typer.Option(
            help="The MQTT shared subscription group the workers split the edges' messages "
            "in; default LINLI_HUB_MQTT_SHARED_GROUP, or linli-hubs with --worker-id."
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the hub: MQTT ingest, cases and the HTTP API."""

    _configure_logging(verbose)
    given: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "http_host": http_host,
        "http_port": http_port,
        "mqtt_credentials_file": mqtt_credentials,
        "mqtt_ca_file": mqtt_ca,
        "worker_id": worker_id,
        "mqtt_shared_group": shared_group,
    } | address_settings(mqtt, "--mqtt", "mqtt_host", "mqtt_port")
    defaults = {"data_dir": HUB_DATA_DIR}
    settings = _settings(HubSettings, **settings_values(HubSettings, given, defaults))
    if roster is not None:
        settings = settings.model_copy(update={"roster_file": roster})
    from hub.persistence.engine import sqlite_file
    from hub.service import serve

    started = asyncio.Event()
    database = sqlite_file(settings.resolved_database_url())
    folder_made(settings.data_dir, "the hub's data folder")
    with data_folders_held(settings.data_dir), database_held(database):
        run_until_signalled(serve(settings, started=started), started=started)


@app.command()
def edge(
    site: Annotated[Path, typer.Option(help="The site file describing this edge's devices.")],
    data_dir: Annotated[Path | None, _data_dir(EDGE_DATA_DIR, "LINLI_EDGE_DATA_DIR")] = None,
    local_mqtt: Annotated[
        str | None,
        _setting(
            "The site broker the devices publish to, HOST:PORT; default "
            f"$LINLI_EDGE_LOCAL_MQTT_HOST and _PORT, else {LOOPBACK_MQTT}."
        ),
    ] = None,
    hub_mqtt: Annotated[
        str | None,
        _setting(
            "The hub's broker, HOST:PORT (the uplink); default $LINLI_EDGE_HUB_MQTT_HOST "
            f"and _PORT, else {LOOPBACK_MQTT}."
        ),
    ] = None,
    edge_id: Annotated[str | None, typer.Option(help="Override the site file's edge id.")] = None,
    resend_after: Annotated[
        float | None,
        _setting(
            "Re-send an alert the hub has not acknowledged after N s; default "
            "$LINLI_EDGE_RESEND_AFTER_S, else 10."
        ),
    ] = None,
    heartbeat: Annotated[
        float | None,
        _setting("Status heartbeat interval, seconds; default $LINLI_EDGE_HEARTBEAT_S, else 30."),
    ] = None,
    co_profile: Annotated[
        CoProfile | None,
        _setting(
            "CO exposure standard the detectors follow (ul2034, en50291); default "
            "$LINLI_EDGE_CO_PROFILE, else ul2034."
        ),
    ] = None,
    hub_credentials: Annotated[
        Path | None,
        typer.Option(
            help="File with this edge's identity on the hub's broker (`linli broker add-edge`'s "
            "output), mode 0600; default LINLI_EDGE_HUB_MQTT_CREDENTIALS_FILE."
        ),
    ] = None,
    hub_ca: Annotated[
        Path | None,
        typer.Option(
            help="The hub broker's CA: TLS uplink, verified; LINLI_EDGE_HUB_MQTT_CA_FILE."
        ),
    ] = None,
    local_credentials: Annotated[
        Path | None,
        typer.Option(
            help="File with the agent's identity on the site broker (`linli broker init --site`"
            "'s edge entry), mode 0600; default LINLI_EDGE_LOCAL_MQTT_CREDENTIALS_FILE."
        ),
    ] = None,
    local_ca: Annotated[
        Path | None,
        typer.Option(help="The site broker's CA, for TLS to it; LINLI_EDGE_LOCAL_MQTT_CA_FILE."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run an edge agent: devices in, durable alerts out to the hub."""

    _configure_logging(verbose)
    given: dict[str, Any] = {
        "site_file": site,
        "edge_id": edge_id,
        "data_dir": data_dir,
        "resend_after_s": resend_after,
        "heartbeat_s": heartbeat,
        "co_profile": None if co_profile is None else co_profile.value,
        "hub_mqtt_credentials_file": hub_credentials,
        "hub_mqtt_ca_file": hub_ca,
        "local_mqtt_credentials_file": local_credentials,
        "local_mqtt_ca_file": local_ca,
    }
    given |= address_settings(local_mqtt, "--local-mqtt", "local_mqtt_host", "local_mqtt_port")
    given |= address_settings(hub_mqtt, "--hub-mqtt", "hub_mqtt_host", "hub_mqtt_port")
    defaults = {"data_dir": EDGE_DATA_DIR}
    settings = _settings(EdgeSettings, **settings_values(EdgeSettings, given, defaults))
    read_site_file(settings.site_file)
    from edge.agent import EdgeAgent

    with data_folders_held(settings.data_dir):
        run_until_signalled(EdgeAgent(settings).run())


LOAD = "load"
_LOAD_PANEL = "simulate load (city scale)"


@app.command()
def simulate(
    scenario: Annotated[
        str,
        typer.Argument(
            help="Scenario name, or `load` for city-scale load against the hub's broker; "
            "`linli simulate list` lists them."
        ),
    ],
    site: Annotated[Path | None, typer.Option(help="Site file (default: the sample).")] = None,
    mqtt: Annotated[
        str, typer.Option(help="The site broker, HOST:PORT (for `load`: the hub's broker).")
    ] = "127.0.0.1:1883",
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 1.0,
    duration: Annotated[
        float | None,
        typer.Option(help="Stop after N simulated seconds (for `load`: real seconds, default 60)."),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed, for a repeatable run.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    edges: Annotated[int, typer.Option(help="Simulated edges.", rich_help_panel=_LOAD_PANEL)] = 10,
    devices_per_edge: Annotated[
        int, typer.Option(help="Devices of each edge.", rich_help_panel=_LOAD_PANEL)
    ] = 100,
    incidents_per_hour: Annotated[
        float,
        typer.Option(help="Incidents per hazard detector an hour.", rich_help_panel=_LOAD_PANEL),
    ] = 1.0,
    sos_per_hour: Annotated[
        float, typer.Option(help="Presses per SOS button an hour.", rich_help_panel=_LOAD_PANEL)
    ] = 1.0,
    passages_per_hour: Annotated[
        float, typer.Option(help="Passages per door an hour.", rich_help_panel=_LOAD_PANEL)
    ] = 60.0,
    hub: Annotated[
        str | None,
        typer.Option(
            help="The hub's HTTP address, to check what it stored (lost, duplicated).",
            rich_help_panel=_LOAD_PANEL,
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            help="An API token for --hub (default: $LINLI_TOKEN).", rich_help_panel=_LOAD_PANEL
        ),
    ] = None,
    credentials_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder of EDGE_ID.json identities (`linli broker add-edge`), one per simulated "
            "edge, for a broker set up by `linli broker init`; default: anonymous.",
            rich_help_panel=_LOAD_PANEL,
        ),
    ] = None,
    ca: Annotated[
        Path | None,
        typer.Option(help="The broker's CA, for TLS to it.", rich_help_panel=_LOAD_PANEL),
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option(
            help="Tag of the run's edge ids (load-RUN-e0000...); default random.",
            rich_help_panel=_LOAD_PANEL,
        ),
    ] = None,
    edge_intervals: Annotated[
        tuple[float, float],
        typer.Option(
            "--edge-intervals",
            help="Each edge's telemetry batch and status heartbeat periods, seconds "
            "(a real edge's defaults: 5 30).",
            rich_help_panel=_LOAD_PANEL,
        ),
    ] = (5.0, 30.0),
    warmup: Annotated[
        float,
        typer.Option(
            help="Seconds between the edges' first status (the hub registers their devices) "
            "and the first event.",
            rich_help_panel=_LOAD_PANEL,
        ),
    ] = 10.0,
    drain: Annotated[
        float,
        typer.Option(
            help="Seconds to wait for the last acknowledgements.", rich_help_panel=_LOAD_PANEL
        ),
    ] = 120.0,
) -> None:
    """Play a scenario of simulated devices against a broker, or `load`: many simulated edges
    speaking the uplink protocol to the hub's broker, with a summary of throughput, latency
    and anything lost or duplicated (exit 1 if anything was)."""

    if scenario == "list":
        for name, entry in sorted(SCENARIOS.items()):
            typer.echo(f"{name:14} {entry.description}")
        typer.echo(
            f"{LOAD:14} City-scale load: --edges N --devices-per-edge M against the hub's broker."
        )
        return
    if scenario == LOAD:
        _configure_logging(verbose)
        if not verbose:
            # A reconnect of one of hundreds of edges is the run's business, not a page of logs.
            logging.getLogger().setLevel(logging.ERROR)
        _simulate_load(
            address_flag(mqtt, "--mqtt"),
            edges=edges,
            devices_per_edge=devices_per_edge,
            duration=60.0 if duration is None else duration,
            rates=(incidents_per_hour, sos_per_hour, passages_per_hour),
            seed=seed,
            hub=hub,
            token=token,
            credentials_dir=credentials_dir,
            ca=ca,
            run_id=run_id,
            times=(warmup, drain),
            edge_intervals=edge_intervals,
        )
        return
    if scenario not in SCENARIOS:
        raise typer.BadParameter(f"unknown scenario {scenario!r}; try `linli simulate list`")
    from aiomqtt import MqttError

    from simulators.runner import run_scenario

    _configure_logging(verbose)
    host, port = address_flag(mqtt, "--mqtt")
    site_file = read_site_file(site or sample_site_path())
    total = duration if duration is not None else SCENARIOS[scenario].duration_s
    try:
        with simulation_progress(scenario, total) as report:
            run_until_signalled(
                run_scenario(
                    scenario,
                    site_file,
                    host=host,
                    port=port,
                    speed=speed,
                    rng_seed=seed,
                    duration_s=duration,
                    on_step=report,
                )
            )
    except (MqttError, OSError) as exc:
        typer.echo(
            f"linli simulate: the broker at {mqtt} ended the scenario: {exc}. Scenarios connect "
            "without a password: a broker made by `linli broker init` refuses them (play them "
            "against `linli demo`).",
            err=True,
        )
        raise typer.Exit(2) from exc


def _simulate_load(
    broker: tuple[str, int],
    *,
    edges: int,
    devices_per_edge: int,
    duration: float,
    rates: tuple[float, float, float],
    seed: int | None,
    hub: str | None,
    token: str | None,
    credentials_dir: Path | None,
    ca: Path | None,
    run_id: str | None,
    times: tuple[float, float],
    edge_intervals: tuple[float, float],
) -> None:
    from rich.console import Console

    from linli.load_command import HubApi, run_load_command
    from linli.status import TOKEN_ENV
    from simulators.load import LoadOptions, LoadTarget
    from simulators.load_mix import LoadPlan

    try:
        plan = LoadPlan(
            edges=edges,
            devices_per_edge=devices_per_edge,
            duration_s=duration,
            incidents_per_device_h=rates[0],
            sos_per_button_h=rates[1],
            passages_per_door_h=rates[2],
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    api = None
    if hub is not None:
        token = token or os.environ.get(TOKEN_ENV)
        if not token:
            raise typer.BadParameter(f"give --token or set {TOKEN_ENV}", param_hint="--token")
        api = HubApi(hub.rstrip("/"), token)
    if min(edge_intervals) <= 0:
        raise typer.BadParameter("must be positive", param_hint="--edge-intervals")
    options = LoadOptions(
        warmup_s=times[0],
        drain_s=times[1],
        telemetry_flush_s=edge_intervals[0],
        heartbeat_s=edge_intervals[1],
    )
    if run_id is not None:
        from devices.registry import check_identifier
        from simulators.load_mix import edge_id

        try:
            check_identifier(edge_id(run_id, 0) + "-d0000")
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--run-id") from exc
        options.run_id = run_id
    target = LoadTarget(broker[0], broker[1], credentials_dir=credentials_dir, ca_file=ca)
    ok = run_load_command(plan, target, options, seed=seed, hub=api, console=Console())
    if not ok:
        raise typer.Exit(1)


app.command("status")(status_command)
app.command("report")(report_command)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(broker_app, name="broker")


audit_app = typer.Typer(no_args_is_help=True, help="The hash-chained audit trail.")
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify(
    data_dir: Annotated[Path | None, _data_dir(HUB_DATA_DIR, "LINLI_HUB_DATA_DIR")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL; default SQLite in the data folder.")
    ] = None,
    cases_from: Annotated[
        int,
        typer.Option(
            min=0,
            help="Compare case rows with their history from this case id on (cases from "
            "before an upgrade whose hub recorded less: docs/upgrading.md); default all.",
        ),
    ] = 0,
) -> None:
    """Check the hub's audit chain: exit 0 if intact, 1 naming the first broken link, 2 if
    the database cannot be checked. Reads only; takes the same flags as ``linli hub``."""
    from hub.audit.repository import verify_audit_chain

    given = {"data_dir": data_dir, "database_url": database_url}
    values = settings_values(HubSettings, given, {"data_dir": HUB_DATA_DIR})
    settings = _settings(HubSettings, **values)
    try:
        verdict = verify_audit_chain(settings, cases_from=cases_from)
    except HubError as exc:
        typer.echo(f"cannot check the audit chain: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(verdict.describe())
    if cases_from:
        typer.echo(f"case rows compared with their history from case {cases_from} on")
    if not verdict.intact:
        raise typer.Exit(1)


def main() -> None:
    """Entry point of the ``linli`` console script."""
    app()
