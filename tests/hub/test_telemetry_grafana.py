"""The Grafana dashboard in deploy/grafana queries what the telemetry writer writes."""

import json
import re
from pathlib import Path
from typing import Any

from devices.payloads import Readings
from hub.telemetry.writer import MEASUREMENT, TAG_KEYS

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "linli-readings.json"


def load() -> dict[str, Any]:
    """Return the dashboard as parsed JSON."""
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def test_every_panel_queries_the_reading_measurement_and_a_real_field() -> None:
    dashboard = load()
    fields = set(Readings.model_fields)
    queried: set[str] = set()
    for panel in dashboard["panels"]:
        assert panel["datasource"]["type"] == "influxdb"
        for target in panel["targets"]:
            query = target["query"]
            assert f'r._measurement == "{MEASUREMENT}"' in query, panel["title"]
            found = re.findall(r'r\._field == "([a-z_]+)"', query)
            assert found, panel["title"]
            assert set(found) <= fields, panel["title"]
            queried.update(found)
            tags = set(re.findall(r"r\.([a-z_]+) =~", query))
            assert tags <= set(TAG_KEYS), panel["title"]
    assert {"co_ppm", "temperature_c", "gas_lel_pct"} <= queried


def test_the_dashboard_is_importable() -> None:
    dashboard = load()
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    assert dashboard["uid"] == "linli-readings"
    names = {variable["name"] for variable in dashboard["templating"]["list"]}
    assert {"datasource", "bucket", "device"} <= names
    device = next(v for v in dashboard["templating"]["list"] if v["name"] == "device")
    assert 'tag: "device_id"' in device["query"]
