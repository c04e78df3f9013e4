"""A list of devices from a peer of another release leaves out the devices it cannot read,
each logged: but a status listing 87,000 of them (a stolen edge's, found by an outside review)
logged 87,000 warnings from one message. A few are named, then one line counts the rest."""

import logging

import pytest

from devices.messages import EdgeStatus


def test_a_flood_of_unreadable_devices_is_a_few_log_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    readable = {"id": "b3-smoke", "kind": "smoke", "location": "Building 3"}
    unreadable = [{"id": f"d{n}", "kind": "toaster", "location": "x"} for n in range(5000)]
    with caplog.at_level(logging.WARNING, logger="devices.messages"):
        status = EdgeStatus.model_validate(
            {"edge_id": "e1", "state": "online", "devices": [*unreadable, readable]}
        )
    assert [d.id for d in status.devices] == ["b3-smoke"]
    lines = [r.getMessage() for r in caplog.records if r.name == "devices.messages"]
    assert len(lines) <= 4, len(lines)
    assert "'d0'" in lines[0]
    assert lines[-1] == "left out 4997 more devices that this release cannot read"


def test_one_unreadable_device_is_named_as_before(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="devices.messages"):
        status = EdgeStatus.model_validate(
            {"edge_id": "e1", "state": "online", "devices": [{"id": "m1", "kind": "toaster"}]}
        )
    assert status.devices == []
    [line] = [r.getMessage() for r in caplog.records if r.name == "devices.messages"]
    assert line.startswith("left out device 'm1' that this release cannot read: ")
