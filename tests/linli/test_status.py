"""``linli status``: what the hub said, rendered as tables (pure, on plain values)."""

from datetime import UTC, datetime

from rich.console import Console

from linli.status import HubSnapshot, render_status

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def rendered(snapshot: HubSnapshot) -> str:
    """Return the status as plain text, as a terminal 120 columns wide shows it."""
    console = Console(width=120, record=True, color_system=None)
    console.print(render_status(snapshot, NOW))
    return console.export_text()


def test_edges_outboxes_unserved_devices_and_open_cases_at_a_glance() -> None:
    snapshot = HubSnapshot(
        edges=[
            {
                "id": "edge-courtyard",
                "state": "online",
                "last_seen": "2026-12-02T11:59:30+00:00",
                "outbox_depth": 3,
                "counters": {"rejected.malformed_json": 2, "alerts_sent": 9},
            },
            {
                "id": "edge-gate",
                "state": "offline",
                "last_seen": "2026-12-02T09:00:00+00:00",
                "outbox_depth": 0,
                "counters": {},
            },
        ],
        devices=[
            {"id": "b3-smoke", "edge_id": "edge-courtyard", "unserved_reason": None},
            {"id": "lost-leak", "edge_id": None, "unserved_reason": "no edge assigned"},
        ],
        cases=[
            {
                "id": 7,
                "priority": "high",
                "kind": "water_leak",
                "status": "open",
                "location": "Bike Basement",
                "opened_at": "2026-12-02T11:50:00+00:00",
            },
            {
                "id": 8,
                "priority": "critical",
                "kind": "sos",
                "status": "acknowledged",
                "location": None,
                "device_ids": ["b3-sos"],
                "opened_at": "2026-12-02T11:58:00+00:00",
            },
        ],
    )
    text = rendered(snapshot)
    courtyard = next(line for line in text.splitlines() if "edge-courtyard" in line)
    cells = [cell.strip() for cell in courtyard.split("│") if cell.strip()]
    assert cells == ["edge-courtyard", "online", "30 s ago", "3", "1", "2"]
    assert "3 h ago" in next(line for line in text.splitlines() if "edge-gate" in line)
    assert "1 served by no edge: lost-leak" in text
    assert "Open cases (2)" in text
    lines = text.splitlines()
    sos = next(i for i, line in enumerate(lines) if "b3-sos" in line)
    leak = next(i for i, line in enumerate(lines) if "Bike Basement" in line)
    assert sos < leak  # critical first


def test_an_edge_whose_disk_refuses_its_stores_says_so() -> None:
    failing = {
        "id": "edge-b3",
        "state": "online",
        "last_seen": "2026-12-02T11:59:30+00:00",
        "outbox_depth": 1,
        "counters": {},
        "in_memory": ["outbox", "access"],
    }
    healthy = failing | {"id": "edge-b4", "in_memory": []}
    text = rendered(HubSnapshot(edges=[failing, healthy], devices=[], cases=[]))
    assert "disk failing: outbox, access in memory" in text
    assert text.count("disk failing") == 1
