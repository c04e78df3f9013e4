"""Progress displays of long runs: simulated time and messages, on a recorded console."""

import io

from rich.console import Console

from linli.progress import counted, simulation_progress


def test_a_simulation_shows_its_simulated_time_and_messages() -> None:
    console = Console(file=io.StringIO(), width=120, force_terminal=False)
    with simulation_progress("forced_gate", 105.0, console=console) as report:
        for published, at in enumerate((0.0, 60.0, 105.0), start=1):
            report(at, published)
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "forced_gate" in text
    assert "0:01:45 simulated" in text
    assert "3 messages" in text


def test_an_endless_run_has_no_time_left_and_a_count_goes_away_when_done() -> None:
    console = Console(file=io.StringIO(), width=120, force_terminal=False)
    with simulation_progress("demo", None, console=console) as report:
        report(3600.0, 42)
    assert "1:00:00 simulated" in console.file.getvalue()  # type: ignore[attr-defined]
    with counted("burst", 10, console=console) as progress:
        progress.update(progress.task_ids[0], completed=10)
        assert progress.tasks[0].finished
