"""``linli simulate load``: the city-scale load run, its live display and its summary."""

import asyncio
import math
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from simulators.load import HubCheck, LoadOptions, LoadProgress, LoadResult, LoadTarget, run_load
from simulators.load_mix import LoadPlan, expected_per_hour
from simulators.load_tally import percentile

ProgressFn = Callable[[LoadProgress], None]


@dataclass(frozen=True, slots=True)
class HubApi:
    """Where to ask the hub what it stored (None: no check)."""

    url: str
    token: str


@contextmanager
def load_progress(console: Console | None = None) -> Iterator[ProgressFn]:
    """Show a running load: time, edges connected, records sent, acknowledged, waiting."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[line]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task("load", total=None, line="connecting")

        def show(p: LoadProgress) -> None:
            what = "draining" if p.draining else f"{p.at_s:5.0f}/{p.duration_s:.0f} s"
            progress.update(
                task,
                total=p.duration_s,
                completed=p.at_s,
                description=f"load {what}",
                line=(
                    f"edges {p.connected}/{p.edges}  sent {p.sent}  acked {p.acked}"
                    f"  waiting {p.waiting}  readings {p.telemetry_points}"
                ),
            )

        yield show


def run_load_command(
    plan: LoadPlan,
    target: LoadTarget,
    options: LoadOptions,
    *,
    seed: int | None,
    hub: HubApi | None,
    console: Console,
) -> bool:
    """Run a load with a live display, print its summary; return whether nothing was lost."""
    rates = expected_per_hour(plan)
    console.print(
        f"[bold]{plan.edges} edges × {plan.devices_per_edge} devices[/] for "
        f"{plan.duration_s:.0f} s against {target.host}:{target.port} (run {options.run_id}); "
        "per hour: " + ", ".join(f"{kind} {count:,.0f}" for kind, count in rates.items())
    )
    with load_progress(console) as show:
        result = asyncio.run(_run(plan, target, options, seed, show))
    checked = None
    if hub is not None:
        headers = {"authorization": f"Bearer {hub.token}"}
        with httpx.Client(base_url=f"{hub.url}/api/v1", headers=headers) as api:
            from simulators.load import check_hub

            checked = check_hub(result, api)
    for line in summary_lines(result, checked):
        console.print(line)
    lost = result.waiting > 0 or (
        checked is not None and bool(checked.alerts.lost or checked.access.lost)
    )  # a record never acknowledged counts: it did not arrive in the run's time
    doubled = checked is not None and bool(checked.alerts.duplicated or checked.access.duplicated)
    return not lost and not doubled


async def _run(
    plan: LoadPlan,
    target: LoadTarget,
    options: LoadOptions,
    seed: int | None,
    show: ProgressFn,
) -> LoadResult:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Ctrl-C ends the schedule early; the run still drains and prints what it saw.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return await run_load(plan, target, options=options, seed=seed, on_progress=show, stop=stop)


def summary_lines(result: LoadResult, checked: HubCheck | None) -> list[str]:
    """Return the run's summary, one line each."""
    tally = result.tally
    lat = tally.latencies_ms
    lines = [
        f"sent       {tally.total_sent} records ("
        + ", ".join(f"{k} {n}" for k, n in sorted(tally.sent.items()))
        + f"); {tally.telemetry_points} readings in telemetry batches",
        f"acked      {tally.total_acked} ({tally.resends} resends, "
        f"{tally.acked_again} repeated acks, {result.reconnects} reconnects)",
        f"sustained  {tally.throughput():.1f} records/s acknowledged "
        f"(offered {tally.total_sent / result.plan.duration_s:.1f}/s over "
        f"{result.plan.duration_s:.0f} s; run took {result.elapsed_s:.0f} s)",
        f"latency    made → committed (the hub's ack): p50 {_ms(percentile(lat, 0.5))}, "
        f"p99 {_ms(percentile(lat, 0.99))}, max {_ms(max(lat, default=math.nan))}",
        f"waiting    {result.waiting} records never acknowledged (still in the edges' outboxes)",
    ]
    for kind, values in sorted(tally.latencies_by_kind.items()):
        lines.insert(
            4,
            f"  {kind:17} p50 {_ms(percentile(values, 0.5))}, p99 {_ms(percentile(values, 0.99))}"
            f" ({len(values)})",
        )
    if checked is None:
        lines.append("hub check  skipped (no --hub/--token)")
        return lines
    for name, rec in (("alerts", checked.alerts), ("access", checked.access)):
        example = (rec.lost or rec.duplicated or rec.unfinished or [""])[0]
        lines.append(
            f"hub {name:7}sent {rec.sent}, stored {rec.stored}: lost {len(rec.lost)}, "
            f"duplicated {len(rec.duplicated)}, still at the edges {len(rec.unfinished)}"
            + (f" (e.g. {example})" if example else "")
        )
    lines.append(
        f"hub cases  {checked.cases} cases hold the run's alerts; "
        f"{checked.alerts_without_case} critical raised alerts in no case"
    )
    return lines


def _ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f} ms"
