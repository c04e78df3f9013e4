"""``linli status``: edges, outboxes and open cases at a glance, from the hub's API.

``fetch_status`` reads the API (a token with the ``read`` permission); ``render_status`` is a
pure function of what was read and the time, returning rich renderables to print.
"""

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

TOKEN_ENV = "LINLI_TOKEN"  # noqa: S105 - the name of a variable
FINISHED = frozenset({"resolved", "closed"})
PRIORITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "dim"}


class StatusError(Exception):
    """The hub could not be asked (unreachable, not a hub, or the token refused)."""


@dataclass(frozen=True)
class HubSnapshot:
    """What the hub said: its edges, devices and unfinished cases."""

    edges: list[dict[str, Any]]
    devices: list[dict[str, Any]]
    cases: list[dict[str, Any]]


def fetch_status(client: httpx.Client) -> HubSnapshot:
    """Read edges, devices and unfinished cases from the hub; raise ``StatusError``."""
    try:
        edges = _items(client, "/api/v1/edges")
        devices = _items(client, "/api/v1/devices")
        cases = [
            c for c in _items(client, "/api/v1/cases", limit=500) if c["status"] not in FINISHED
        ]
    except httpx.HTTPError as exc:
        raise StatusError(f"the hub at {client.base_url} cannot be reached: {exc}") from exc
    return HubSnapshot(edges, devices, cases)


def _items(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    response = client.get(path, params=params)
    if response.status_code in (401, 403):
        raise StatusError(f"the hub refused the token ({response.status_code}): see --token")
    response.raise_for_status()
    try:
        items: list[dict[str, Any]] = response.json()["items"]
    except (ValueError, KeyError, TypeError) as exc:
        # Something else answers there (a router's page, a proxy, Grafana on the wrong port):
        # a 200 with HTML ended in a JSONDecodeError traceback before.
        raise StatusError(
            f"{client.base_url} answered {path} with {response.headers.get('content-type', '?')}"
            ": not a Linli hub's API (check --hub's host and port)"
        ) from exc
    return items


def render_status(snapshot: HubSnapshot, now: datetime) -> RenderableType:
    """Return the edges table, the unserved devices line and the open cases table."""
    edges = Table(title="Edges", title_justify="left")
    for column in ("edge", "state", "last seen", "outbox", "devices", "rejected"):
        edges.add_column(column, justify="right" if column in ("outbox", "devices") else "left")
    served: dict[str, int] = {}
    for device in snapshot.devices:
        if device.get("edge_id"):
            served[device["edge_id"]] = served.get(device["edge_id"], 0) + 1
    for edge in snapshot.edges:
        rejected = sum(v for k, v in edge["counters"].items() if k.startswith("rejected."))
        state = Text(edge["state"], style="green" if edge["state"] == "online" else "bold red")
        if in_memory := edge.get("in_memory"):
            # Its disk refused them: what they hold is lost at a power cut.
            state.append(f"\ndisk failing: {', '.join(in_memory)} in memory", style="bold red")
        edges.add_row(
            edge["id"],
            state,
            _ago(edge["last_seen"], now),
            str(edge["outbox_depth"]),
            str(served.get(edge["id"], 0)),
            str(rejected) if rejected else "-",
        )
    unserved = [d["id"] for d in snapshot.devices if d.get("unserved_reason")]
    devices = Text(f"{len(snapshot.devices)} devices", style="bold")
    if unserved:
        devices.append(f", {len(unserved)} served by no edge: ", style="bold red")
        devices.append(", ".join(unserved[:10]) + (" …" if len(unserved) > 10 else ""))
    cases = Table(title=f"Open cases ({len(snapshot.cases)})", title_justify="left")
    for column in ("#", "priority", "kind", "status", "where", "opened"):
        cases.add_column(column)
    for case in sorted(snapshot.cases, key=lambda c: (_rank(c["priority"]), c["opened_at"])):
        cases.add_row(
            str(case["id"]),
            Text(case["priority"], style=PRIORITY_STYLE.get(case["priority"], "")),
            case["kind"],
            case["status"],
            case.get("location") or ", ".join(case.get("device_ids", [])),
            _ago(case["opened_at"], now),
        )
    return Group(edges, devices, Text(""), cases)


def _rank(priority: str) -> int:
    order = list(PRIORITY_STYLE)
    return order.index(priority) if priority in order else len(order)


def _ago(value: str | None, now: datetime) -> str:
    if not value:
        return "never"
    seconds = max(0, int((now - datetime.fromisoformat(value)).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172_800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86_400} d ago"


HubOption = Annotated[str, typer.Option(help="The hub's address.")]
TokenOption = Annotated[
    str | None, typer.Option(help=f"An API token (default: ${TOKEN_ENV}; the demo prints one).")
]
DEFAULT_HUB = "http://127.0.0.1:8080"


def hub_client(hub: str, token: str | None, timeout: float = 10) -> httpx.Client:
    """Return a client of the hub's API with ``token``, or ``$LINLI_TOKEN``; refuse neither."""
    token = token or os.environ.get(TOKEN_ENV)
    if not token:
        raise typer.BadParameter(f"give --token or set {TOKEN_ENV}", param_hint="--token")
    headers = {"authorization": f"Bearer {token}"}
    return httpx.Client(base_url=hub, headers=headers, timeout=timeout)


def status_command(hub: HubOption = DEFAULT_HUB, token: TokenOption = None) -> None:
    """Show the edges, their outboxes, devices no edge serves and the open cases."""
    with hub_client(hub, token) as client:
        try:
            snapshot = fetch_status(client)
        except StatusError as exc:
            typer.echo(f"linli status: {exc}", err=True)
            raise typer.Exit(1) from exc
    Console().print(render_status(snapshot, datetime.now(UTC)))
