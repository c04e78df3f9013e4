"""The outbox file on a Raspberry Pi's SD card after the hub was away (a real SQLite file).

Found by a field review (2026-12-07): a backlog stored and then acknowledged in large
transactions (the ingest's group commit, ``ACK_GROUP`` ids per ack) grows the write-ahead log
to the size of the largest transaction, and SQLite reuses that file from its start but never
shrinks it: tens of megabytes written after every checkpoint and kept for the life of the card.
``journal_size_limit`` truncates it after each checkpoint.
"""

from pathlib import Path

from devices.kinds import AlertKind
from edge.outbox import Outbox
from edge.sqlite_tx import WAL_LIMIT_BYTES
from tests.edge.test_outbox import alert

BACKLOG = 30_000


def test_the_write_ahead_log_is_given_back_after_a_backlog_is_acknowledged(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    outbox = Outbox.open(path)
    try:
        backlog = [alert(f"b{i % 50}-leak", AlertKind.WATER_LEAK) for i in range(BACKLOG)]
        outbox.commit("b0-leak", "{}", backlog)  # one group commit of a burst
        wal = path.with_name(path.name + "-wal")
        grown = wal.stat().st_size
        assert grown > 2 * WAL_LIMIT_BYTES  # the burst did grow it
        assert outbox.acknowledge([a.id for a in backlog]) == BACKLOG
        outbox.commit("b1-leak", "{}", [alert("b1-leak", AlertKind.WATER_LEAK)])
        assert outbox.depth() == 1
        assert wal.stat().st_size <= WAL_LIMIT_BYTES
    finally:
        outbox.close()
