"""Benchmark: the case intake alone, one alert per take, beside what the database spends on it.

At a low rate an alert's hub latency is mostly one intake take (``CaseIntake.ingest_alerts``):
its statements, its commit and the Python around them. This runs that take in process, with no
broker, no edge and no event loop, on SQLite or on a throwaway PostgreSQL database: gas
detectors raising and clearing in turn, each alert joining its room's open case, as in
``bench.alerts_to_cases``'s paced load. It times every take, and, as the baseline measured in
the same run, the time the database driver spends in the take's statements and its commit.
The difference is the hub's own work per take (SQLAlchemy, the case rules, the audit chain);
the statements are listed by their time per take, to show where a round trip goes.
``--batch N`` puts N alerts in each take instead, as a burst's takes hold them (the per-alert
cost of a burst's intake, without the broker and the event loop).

``--gap-ms 10`` idles 10 ms before each take, as at the paced run's 100 alerts a second: a take
after a pause runs slower than one back to back (its code and data are no longer in the CPU's
caches), and that is the take the paced latency holds.

    python -m bench.intake [--db sqlite|postgresql] [--takes N] [--batch N] [--gap-ms MS]
"""

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from bench.alerts_to_cases import hub_database
from devices.kinds import AlertKind, AlertState, DeviceKind, Severity
from hub.ingest.identity import intake_screen
from hub.persistence.engine import create_hub_engine, migrate
from hub.store import HubStore
from tests.hub.factories import make_alert, make_device

DEVICES = 20
WARM_UP = 50
"""Takes run before the timed ones (connections, statement caches, the first case of each room)."""


class DatabaseClock:
    """Adds up the driver's time in statements (by statement) and in commits."""

    def __init__(self, engine: Engine) -> None:
        self.statements: dict[str, list[float]] = defaultdict(list)
        self.commits: list[float] = []
        self._started = 0.0
        self._committing = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine, "commit", self._commit)
        event.listen(Session, "after_commit", self._committed)

    def close(self) -> None:
        """Stop listening to sessions (a class-wide event)."""
        event.remove(Session, "after_commit", self._committed)

    def clear(self) -> None:
        """Forget what was added up so far."""
        self.statements.clear()
        self.commits.clear()

    def _before(self, *_: Any) -> None:
        self._started = time.perf_counter()

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        name = " ".join(statement.split())[:80]
        self.statements[name].append(time.perf_counter() - self._started)

    def _commit(self, *_: Any) -> None:
        self._committing = time.perf_counter()

    def _committed(self, *_: Any) -> None:
        if self._committing:
            self.commits.append(time.perf_counter() - self._committing)
            self._committing = 0.0


def run(
    url: str, takes: int, batch: int = 1, gap_s: float = 0.0
) -> tuple[list[float], DatabaseClock]:
    """Run ``WARM_UP`` and then ``takes`` takes of ``batch`` alerts, ``gap_s`` apart (idle
    between them); return each timed take's seconds."""
    engine = create_hub_engine(url)
    migrate(engine)
    store = HubStore(engine)
    store.fleet.upsert_devices(
        make_device(f"gas-{i}", kind=DeviceKind.GAS, location=f"Building 1/Boiler room {i % 4}")
        for i in range(DEVICES)
    )
    clock = DatabaseClock(engine)
    seconds: list[float] = []
    start = datetime.now(UTC)
    try:
        for i in range(WARM_UP + takes):
            if i == WARM_UP:
                clock.clear()
                seconds.clear()
            alerts = [
                make_alert(
                    device_id=f"gas-{n % DEVICES}",
                    kind=AlertKind.GAS,
                    state=AlertState.RAISED if (n // DEVICES) % 2 == 0 else AlertState.CLEARED,
                    severity=Severity.HIGH,
                    ts=start + timedelta(milliseconds=10 * n),
                )
                for n in range(i * batch, (i + 1) * batch)
            ]
            if gap_s:
                time.sleep(gap_s)
            began = time.perf_counter()
            store.intake.ingest_alerts(alerts, datetime.now(UTC), screen=intake_screen)
            seconds.append(time.perf_counter() - began)
    finally:
        clock.close()
        engine.dispose()
    return seconds, clock


def main() -> None:
    """Time one-alert takes and print them beside the database's own time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--takes", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=1, help="alerts in each take")
    parser.add_argument(
        "--gap-ms",
        type=float,
        default=0.0,
        help="idle time before each take (10: as at 100 alerts/s; takes back to back: 0)",
    )
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="linli-bench-intake-") as root,
        hub_database(args.db, Path(root), "intake") as url,
    ):
        seconds, clock = run(url, args.takes, args.batch, args.gap_ms / 1000)
    ms = sorted(s * 1000 for s in seconds)
    n = len(ms)
    in_statements = sum(sum(v) for v in clock.statements.values()) * 1000 / n
    in_commits = sum(clock.commits) * 1000 / n
    database = in_statements + in_commits
    what = "one-alert takes" if args.batch == 1 else f"takes of {args.batch} alerts"
    print(
        f"\n{n} {what} on {args.db} (after {WARM_UP} untimed), each alert joining its"
        f" room's open gas case" + (f", {args.gap_ms:g} ms apart" if args.gap_ms else "")
    )
    print(
        f"{'intake take':40} p50 {statistics.median(ms):6.2f} ms   p99 {ms[int(n * 0.99)]:6.2f} ms"
        f"   mean {statistics.fmean(ms):6.2f} ms"
    )
    print(
        f"{'baseline: in the database driver':40} {database:6.2f} ms a take"
        f" (statements {in_statements:.2f}, commit {in_commits:.2f})"
    )
    print(
        f"{'ratio take / database (mean)':40} {statistics.fmean(ms) / database:.1f}x;"
        f" the hub's own work {statistics.fmean(ms) - database:.2f} ms a take"
    )
    if args.batch > 1:
        print(f"{'per alert (mean)':40} {statistics.fmean(ms) / args.batch:.3f} ms")
    print("statements, by their time per take:")
    for name, times in sorted(clock.statements.items(), key=lambda kv: -sum(kv[1])):
        print(f"  {len(times) / n:5.2f} a take {sum(times) * 1000 / n:7.3f} ms   {name}")


if __name__ == "__main__":
    main()
