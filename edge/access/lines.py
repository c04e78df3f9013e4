"""What the access shell writes per decision: the reader's command text and the log lines.

Both are on the path of every presented card, so neither is built from scratch per frame:
a reader command's topic and JSON are built once per (reader, door, action, duration) and the
decision's id is spliced in; decisions are logged once per group commit (``decisions_stored``),
not once each.
"""

import functools
import logging
from collections import Counter
from collections.abc import Sequence

from devices.access import AccessEventKind, AccessRecord, DoorConfig, ReaderAction, ReaderCommand
from devices.topics import DeviceChannel, device_topic

logger = logging.getLogger("edge.access.control")
"""The shell's logger: operators filter on it (the lines were written there before)."""

DECISIONS = frozenset({AccessEventKind.GRANTED, AccessEventKind.DENIED})


def command_text(
    reader_id: str, door: DoorConfig, action: ReaderAction, decision_id: str | None
) -> tuple[str, str]:
    """Return the topic and JSON of a reader command: ``ReaderCommand(...).model_dump_json(
    exclude_none=True)`` on ``linli/dev/<reader_id>/set``, byte for byte."""
    duration = door.unlock_s if action is ReaderAction.UNLOCK else None
    topic, base = _command_base(reader_id, door.id, action, duration)
    if decision_id is None:
        return topic, base
    # decision_id is the model's last field, and a record id is hex: nothing to escape.
    return topic, f'{base[:-1]},"decision_id":"{decision_id}"}}'


@functools.lru_cache(maxsize=256)
def _command_base(
    reader_id: str, door_id: str, action: ReaderAction, duration_s: float | None
) -> tuple[str, str]:
    command = ReaderCommand(command=action, door_id=door_id, duration_s=duration_s)
    return device_topic(reader_id, DeviceChannel.SET), command.model_dump_json(exclude_none=True)


def decisions_stored(records: Sequence[AccessRecord]) -> None:
    """Log the decisions of one commit: one of them as one line, several as one summary line
    at INFO (each at DEBUG)."""
    decisions = [r for r in records if r.kind in DECISIONS]
    if len(decisions) == 1:
        _log_decision(logging.INFO, decisions[0])
    elif decisions:
        logger.info("%d door decisions stored: %s", len(decisions), Decisions(decisions))
        if logger.isEnabledFor(logging.DEBUG):
            for record in decisions:
                _log_decision(logging.DEBUG, record)


def decisions_not_stored(records: Sequence[AccessRecord]) -> None:
    """Log the decisions of a commit that failed (their readers were commanded already)."""
    decisions = [r for r in records if r.kind in DECISIONS]
    if decisions:
        logger.warning(
            "%d door decisions not stored (readers commanded already; decided again on"
            " redelivery): %s",
            len(decisions),
            Decisions(decisions),
        )


def _log_decision(level: int, record: AccessRecord) -> None:
    logger.log(
        level,
        "door %s reader %s: %s (%s, credential %s)",
        record.door_id,
        record.reader_id,
        record.kind,
        record.reason,
        record.credential_id,
    )


class Decisions:
    """Decisions for a log line, formatted only if the line is written, per door:
    ``gate: 31 granted, 4 denied (unknown_credential 3, expired 1)``."""

    def __init__(self, records: Sequence[AccessRecord]) -> None:
        self._records = records

    def __str__(self) -> str:
        doors: dict[str, tuple[Counter[str], Counter[str]]] = {}
        for record in self._records:
            kinds, reasons = doors.setdefault(record.door_id, (Counter(), Counter()))
            kinds[record.kind] += 1
            if record.kind is AccessEventKind.DENIED:
                reasons[str(record.reason)] += 1
        parts = []
        for door_id, (kinds, reasons) in doors.items():
            line = (
                f"{door_id}: {kinds[AccessEventKind.GRANTED]} granted, "
                f"{kinds[AccessEventKind.DENIED]} denied"
            )
            if reasons:
                line += " (" + ", ".join(f"{why} {n}" for why, n in reasons.items()) + ")"
            parts.append(line)
        return "; ".join(parts)
