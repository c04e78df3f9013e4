"""The access shell's per-decision output: reader command text and the commit's log lines."""

import logging
from datetime import UTC, datetime

import pytest

from devices.access import AccessEventKind, AccessRecord, DoorConfig, ReaderAction, ReaderCommand
from edge.access.lines import command_text, decisions_not_stored, decisions_stored

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
GATE = DoorConfig(id="gate", reader_id="gate-reader", unlock_s=7.5)


@pytest.mark.parametrize("action", list(ReaderAction))
@pytest.mark.parametrize("decision_id", [None, "0123456789abcdef0123456789abcdef"])
def test_command_text_is_the_commands_json_on_the_readers_set_topic(
    action: ReaderAction, decision_id: str | None
) -> None:
    expected = ReaderCommand(
        command=action,
        door_id="gate",
        duration_s=7.5 if action is ReaderAction.UNLOCK else None,
        decision_id=decision_id,
    ).model_dump_json(exclude_none=True)
    assert command_text("exit-reader", GATE, action, decision_id) == (
        "linli/dev/exit-reader/set",
        expected,
    )
    # A door whose unlock time changed gets its new duration.
    longer = GATE.model_copy(update={"unlock_s": 9.0})
    _, text = command_text("exit-reader", longer, action, decision_id)
    assert ReaderCommand.model_validate_json(text).duration_s == (
        9.0 if action is ReaderAction.UNLOCK else None
    )


def record(n: int, kind: AccessEventKind, reason: str, door: str = "gate") -> AccessRecord:
    return AccessRecord(
        id=f"{n:032x}",
        edge_id="e1",
        door_id=door,
        kind=kind,
        ts=NOW,
        reader_id=f"{door}-reader",
        credential_id=n if reason != "unknown_credential" else None,
        reason=reason,
    )


GRANTED = AccessEventKind.GRANTED
DENIED = AccessEventKind.DENIED


def test_one_decision_is_one_line_as_before(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edge.access")
    decisions_stored([record(5, GRANTED, "granted")])
    line = "door gate reader gate-reader: granted (granted, credential 5)"
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("edge.access.control", logging.INFO, line)
    ]


def test_a_commits_decisions_are_one_summary_line_and_each_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    records = [
        record(1, GRANTED, "granted"),
        record(2, DENIED, "unknown_credential"),
        record(3, GRANTED, "granted"),
        record(4, DENIED, "expired", door="lobby"),
        record(5, DENIED, "unknown_credential"),
        record(6, AccessEventKind.DOOR_OPENED, "granted"),  # a door event: not a decision
    ]
    caplog.set_level(logging.INFO, logger="edge.access")
    decisions_stored(records)
    assert [r.getMessage() for r in caplog.records] == [
        "5 door decisions stored: gate: 2 granted, 2 denied (unknown_credential 2); "
        "lobby: 0 granted, 1 denied (expired 1)"
    ]
    caplog.clear()
    caplog.set_level(logging.DEBUG, logger="edge.access")
    decisions_stored(records)
    assert len(caplog.records) == 6
    assert caplog.records[2].getMessage() == (
        "door gate reader gate-reader: denied (unknown_credential, credential None)"
    )


def test_decisions_whose_commit_failed_are_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="edge.access")
    decisions_not_stored([record(1, GRANTED, "granted")])
    (line,) = caplog.records
    assert line.levelno == logging.WARNING
    assert "1 door decisions not stored" in line.getMessage()
