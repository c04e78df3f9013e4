"""``--worker-id``: what it makes of the hub's settings (plain values, no process)."""

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
