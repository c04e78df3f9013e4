"""``--worker-id``: what it makes of the hub's settings (plain values, no process)."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from hub.settings import HubSettings


def test_a_worker_id_names_the_session_and_joins_the_group() -> None:
    worker = HubSettings(worker_id="2")
    assert worker.mqtt_client_id == "linli-hub-2"
    assert worker.mqtt_shared_group == "linli-hubs"
    assert worker.mqtt_endpoint("access").client_id == "linli-hub-2-access"


def test_explicit_client_id_and_group_win() -> None:
    worker = HubSettings(worker_id="2", mqtt_client_id="hub-east-2", mqtt_shared_group="east")
    assert (worker.mqtt_client_id, worker.mqtt_shared_group) == ("hub-east-2", "east")


def test_one_hub_by_default_and_a_bad_worker_id_is_refused() -> None:
    single = HubSettings()
    assert (single.worker_id, single.mqtt_client_id, single.mqtt_shared_group) == (
        None,
        "linli-hub",
        None,
    )
    with pytest.raises(ValidationError, match="worker_id"):
        HubSettings(worker_id="two words")


def test_with_credentials_the_group_carries_a_tag_of_the_hubs_password(tmp_path: Path) -> None:
    """No edge can name the group (docs/security.md); every worker with the hub's credentials
    computes the same one, and another password another."""

    def group(name: str, password: str, **settings: Any) -> str | None:
        path = tmp_path / name
        path.write_text(json.dumps({"username": "hub", "password": password}))
        path.chmod(0o600)
        return HubSettings(worker_id="1", mqtt_credentials_file=path, **settings).mqtt_group()

    ours = group("a.json", "s3cret")
    assert ours == group("b.json", "s3cret")
    assert ours is not None
    assert re.fullmatch(r"linli-hubs-[0-9a-f]{16}", ours)
    assert group("c.json", "other") != ours
    assert group("d.json", "s3cret", mqtt_shared_group="east") != ours
    # Without credentials (the demo's open loopback broker) the name is the one given.
    assert HubSettings(worker_id="1").mqtt_group() == "linli-hubs"
    assert HubSettings().mqtt_group() is None
