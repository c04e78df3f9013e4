"""``linli report``: a month's statistics up the chain, from the hub's API, as a table or CSV.

For the street's and the district's monthly report (PRODUCT.md scenario 13): the figures of
``GET /api/v1/statistics`` (``docs/statistics.md``) for one calendar month in the sites' time
zone, grouped by community, street, district, grid or category, with the overdue cases; CSV
for a spreadsheet. ``month_period``, ``report_rows`` and ``render_report`` are pure.
"""

import csv
import io
import os
import stat
import sys
from datetime import UTC, datetime, tzinfo
from typing import Annotated, Any, BinaryIO, TextIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
import typer
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from linli.status import DEFAULT_HUB, HubOption, TokenOption, hub_client

COLUMNS = (
    "group",
    "opened",
    "resolved",
    "active",
    "overdue",
    "overdue_rate",
    "response_p50_s",
    "response_p90_s",
    "closure_p50_s",
    "closure_p90_s",
    "judged",
    "false_alarm_rate",
    "ratings",
    "rating_mean",
    "district",
)
"""The CSV's columns: the group's key, the figures as the API names them, then a street's
district (grouping by street: two districts may each have a 新华街道; last, so a sheet that
reads the columns by position finds the figures where they were)."""
TOTAL = "(all)"
"""The group name of the totals row."""
NO_KEY = "(none)"
"""The group name of the cases with no key (a site with no street, a case outside every grid)."""


class ReportError(Exception):
    """The hub could not be asked, or refused the question."""


def month_period(month: str, zone: tzinfo) -> tuple[datetime, datetime]:
    """Return the first instant of ``month`` (``YYYY-MM``) in ``zone`` and of the next month."""
    try:
        first = datetime.strptime(month, "%Y-%m").replace(tzinfo=zone)
    except ValueError:
        raise ValueError(f"a month is YYYY-MM, not {month!r}") from None
    following = first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)
    return first, following


def fetch_report(client: httpx.Client, params: dict[str, str]) -> dict[str, Any]:
    """Ask the hub for the statistics; raise ``ReportError`` with the hub's reason."""
    try:
        response = client.get("/api/v1/statistics", params=params)
    except httpx.HTTPError as exc:
        raise ReportError(f"the hub at {client.base_url} cannot be reached: {exc}") from exc
    if response.status_code in (401, 403):
        raise ReportError(f"the hub refused the token ({response.status_code}): see --token")
    if response.status_code == 422:
        raise ReportError(f"the hub refused the question: {response.json().get('detail')}")
    if response.status_code != 200:
        raise ReportError(f"the hub answered {response.status_code}: {response.text[:200]}")
    report: dict[str, Any] = response.json()
    return report


def report_rows(report: dict[str, Any]) -> list[list[str]]:
    """Return the report as rows of text: ``COLUMNS``, a row per group, then the totals."""
    groups = [
        (g["key"] if g["key"] is not None else NO_KEY, g.get("district"), g["figures"])
        for g in report["groups"]
    ]
    rows = [list(COLUMNS)]
    for name, district, figures in [*groups, (TOTAL, None, report["total"])]:
        rows.append(
            [
                _text(name),
                *(_plain(figures[column]) for column in COLUMNS[1:-1]),
                "" if district is None else _text(district),
            ]
        )
    return rows


BOM = "\ufeff"
"""UTF-8's byte order mark, as ``utf-8-sig`` writes it first."""
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""How a cell a spreadsheet would run as a formula starts (OWASP, "CSV injection")."""


def _text(name: str) -> str:
    """Return a group's name as a spreadsheet shows it and never runs it: a street or site
    named ``=HYPERLINK(…)`` in the roster is text, quoted with a leading ``'``."""
    return f"'{name}" if name.startswith(FORMULA_STARTS) else name


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1 else f"{value:.1f}"
    return str(value)


def write_csv(report: dict[str, Any], out: TextIO, *, for_people: bool = False) -> None:
    """Write the report's rows as CSV, RFC 4180's way: rows end in CRLF, and a name holding
    either (a street named over two lines) is quoted. With rows ending in LF alone the csv
    module left a lone CR unquoted, and a spreadsheet split the row there.

    ``for_people``: a file a person opens in a spreadsheet, started with a byte order mark
    (written UTF-8, that is ``utf-8-sig``), without which Excel reads a CSV in the PC's ANSI
    code page (GBK on a Chinese-locale PC) and shows 新华街道 garbled. A program reading a
    pipe gets none: to it the mark is part of the first column's name."""
    if for_people:
        out.write(BOM)
    csv.writer(out).writerows(report_rows(report))


def write_csv_bytes(report: dict[str, Any], out: BinaryIO, *, for_people: bool = False) -> None:
    """Write the report as ``write_csv`` does, encoded UTF-8 whatever the locale, its CRLFs
    untranslated (a text stream on Windows turned each into CR CR LF)."""
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    try:
        write_csv(report, text, for_people=for_people)
        text.flush()
    finally:
        text.detach()  # the caller's stream stays open


def is_a_file(out: BinaryIO) -> bool:
    """Return whether ``out`` is a regular file (``linli report --csv > march.csv``), not a
    terminal, a pipe or a stream in memory."""
    try:
        return stat.S_ISREG(os.fstat(out.fileno()).st_mode)
    except (OSError, ValueError, io.UnsupportedOperation):
        return False


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"


def _with_district(name: str, district: str | None) -> str:
    return name if district is None else f"{name} ({district})"


def render_report(report: dict[str, Any], title: str) -> RenderableType:
    """Return the figures table and the overdue cases table."""
    figures = Table(title=title, title_justify="left")
    for column in ("", "opened", "resolved", "active", "overdue", "taken on p50/p90",
                   "resolved in p50/p90", "false alarms", "rating"):  # fmt: skip
        figures.add_column(column, justify="left" if column == "" else "right")
    groups = [
        (
            _with_district(g["key"] if g["key"] is not None else NO_KEY, g.get("district")),
            g["figures"],
        )
        for g in report["groups"]
    ]
    for name, f in [*groups, (TOTAL, report["total"])]:
        figures.add_row(
            Text(name, style="bold" if name == TOTAL else ""),
            str(f["opened"]),
            str(f["resolved"]),
            str(f["active"]),
            f"{f['overdue']} ({_share(f['overdue_rate'])})",
            f"{_duration(f['response_p50_s'])} / {_duration(f['response_p90_s'])}",
            f"{_duration(f['closure_p50_s'])} / {_duration(f['closure_p90_s'])}",
            _share(f["false_alarm_rate"]),
            "—" if f["rating_mean"] is None else f"{f['rating_mean']:.1f} ({f['ratings']})",
        )
    overdue = Table(title=f"Overdue ({report['total']['overdue']})", title_justify="left")
    for column in ("#", "category", "community", "grid", "street", "opened", "status", "level"):
        overdue.add_column(column)
    for case in report["overdue"]:
        overdue.add_row(
            str(case["id"]),
            case["category"],
            case["site_id"] or "—",
            case["grid_id"] or "—",
            case["street"] or "—",
            case["opened_at"][:16].replace("T", " "),
            case["status"],
            str(case["escalation_level"]),
        )
    return Group(figures, Text(""), overdue)


def report_command(
    month: Annotated[str, typer.Option(help="The month, YYYY-MM.")],
    by: Annotated[
        str, typer.Option(help="Group by site (community), street, district, grid or category.")
    ] = "site",
    street: Annotated[str | None, typer.Option(help="Only this street's communities.")] = None,
    district: Annotated[str | None, typer.Option(help="Only this district's.")] = None,
    site: Annotated[str | None, typer.Option(help="Only this community (site id).")] = None,
    timezone: Annotated[
        str | None,
        typer.Option(help="Cut the month in this time zone (default: each community's own)."),
    ] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on standard output.")] = False,
    hub: HubOption = DEFAULT_HUB,
    token: TokenOption = None,
) -> None:
    """A month's statistics up the chain: by community, street, district, grid or category."""
    params = {"month": month, "by": by}
    zone: tzinfo = UTC  # the month is only checked here: the hub cuts it in each site's zone
    if timezone is not None:
        try:
            zone = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise typer.BadParameter(f"no time zone {timezone!r}", param_hint="--timezone") from exc
    try:
        start, end = month_period(month, zone)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--month") from exc
    if timezone is not None:  # one zone for all: the hub is asked for that period
        params = {"start": start.isoformat(), "end": end.isoformat(), "by": by}
    for name, value in (("street", street), ("district", district), ("site_id", site)):
        if value is not None:
            params[name] = value
    with hub_client(hub, token, timeout=30) as client:
        try:
            report = fetch_report(client, params)
        except ReportError as exc:
            typer.echo(f"linli report: {exc}", err=True)
            raise typer.Exit(1) from exc
    if as_csv:
        sys.stdout.flush()
        write_csv_bytes(report, sys.stdout.buffer, for_people=is_a_file(sys.stdout.buffer))
    else:
        title = f"{month} by {by}" + "".join(
            f", {k} {v}" for k, v in params.items() if k not in {"start", "end", "by", "month"}
        )
        Console().print(render_report(report, title))
