"""Progress of long runs on the terminal (rich): simulated time, messages, what is left."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class StepReport(Protocol):
    """Called once per published step: its simulated time and the count so far."""

    def __call__(self, at: float, published: int) -> None: ...


@contextmanager
def simulation_progress(
    name: str, total_s: float | None, *, console: Console | None = None
) -> Iterator[StepReport]:
    """Show a run's simulated time against ``total_s`` (a spinner-like count if endless)."""
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[simulated]}"),
        TextColumn("{task.fields[messages]} messages"),
        TimeElapsedColumn(),
    ]
    if total_s is not None:
        columns.append(TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task(name, total=total_s, simulated="0 s", messages=0)

        def report(at: float, published: int) -> None:
            progress.update(task, completed=at, simulated=_clock(at), messages=published)

        yield report


@contextmanager
def counted(name: str, total: int, *, console: Console | None = None) -> Iterator[Progress]:
    """Show a count of ``total`` items (benchmarks), gone when done so figures print clean.

    Set the count with ``progress.update(progress.task_ids[0], completed=n)``.
    """
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        progress.add_task(name, total=total)
        yield progress


def _clock(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d} simulated"
