"""Fuzzing every JSON body the hub's API reads: any body gets an answer below 500, and a
refused one (4xx) leaves every table exactly as it was."""

import asyncio
import contextlib
import hashlib
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, select

from hub.app import create_app
from hub.auth.rules import new_secret
from hub.persistence.schema import Base
from hub.settings import HubSettings
from tests.fuzz.conftest import API_BODY_EXAMPLES, PROFILE
from tests.fuzz.strategies import JSON_VALUES, PAYLOADS, as_bytes, objects_with, run

SKIPPED = {"/api/v1/auth/logout"}
"""Ends the session the fuzzer signs in with; it reads no body anyway."""


class Hub:
    """One app, its admin client, and a way to see whether anything was stored."""

    def __init__(self, tmp: Path) -> None:
        token = new_secret()
        self.settings = HubSettings(data_dir=tmp, start_ingest=False, bootstrap_token=token)
        self.app = create_app(self.settings)
        self.engine: Engine = create_engine(self.settings.resolved_database_url())
        # SQLite's data_version, read on a connection of our own, changes when any other
        # connection commits: the cheap proof that a request stored nothing at all.
        assert self.engine.url.database
        self._watch = sqlite3.connect(self.engine.url.database, isolation_level=None)
        # Hypothesis drives a synchronous test: one event loop for the app's whole life.
        self._runner = asyncio.Runner()
        self._stack = contextlib.AsyncExitStack()
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://hub.test",
            headers={"authorization": f"Bearer {token}"},
        )

    def start(self) -> None:
        """Run the app's lifespan."""
        self._runner.run(
            self._stack.enter_async_context(self.app.router.lifespan_context(self.app))
        )

    def stop(self) -> None:
        """End the lifespan, close everything."""
        self._runner.run(self.client.aclose())
        self._runner.run(self._stack.aclose())
        self._runner.close()
        self._watch.close()
        self.engine.dispose()

    def data_version(self) -> int:
        """Return a number that changes whenever the app commits anything."""
        return int(self._watch.execute("PRAGMA data_version").fetchone()[0])

    def request(self, method: str, path: str, body: bytes) -> httpx.Response:
        """Send one request and return the answer."""
        headers = {"content-type": "application/json"}
        return self._runner.run(self.client.request(method, path, content=body, headers=headers))

    def digest(self) -> str:
        """Return a hash of every row of every table."""
        h = hashlib.sha256()
        with self.engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                rows = sorted(repr(tuple(r)) for r in conn.execute(select(table)))
                h.update(f"{table.name}:{rows}".encode())
        return h.hexdigest()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A hub app (SQLite, no MQTT) shared by the examples of this module."""
    running = Hub(tmp_path_factory.mktemp("hub"))
    running.start()
    yield running
    running.stop()


@dataclass(frozen=True)
class BodyRoute:
    """One route that reads a JSON body, from the app's OpenAPI schema."""

    method: str
    path: str
    fields: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _body_routes() -> list[BodyRoute]:
    app = create_app(HubSettings(data_dir=Path("/nonexistent"), start_ingest=False))
    schema = app.openapi()
    components = schema.get("components", {}).get("schemas", {})
    found: list[BodyRoute] = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody")
            if body is None or path in SKIPPED:
                continue
            ref = body["content"].get("application/json", {}).get("schema", {}).get("$ref", "")
            properties = components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
            found.append(BodyRoute(method.upper(), path, tuple(sorted(properties)) or ("x",)))
    return sorted(found, key=str)


ROUTES = _body_routes()


def test_every_body_is_fuzzed() -> None:
    paths = {r.path for r in ROUTES}
    assert {"/api/v1/devices", "/api/v1/households", "/api/v1/silences"} <= paths
    assert any(p.startswith("/api/v1/access/") for p in paths)


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_api_body(route: BodyRoute, hub: Hub) -> None:
    method = route.method
    path = re.sub(r"\{[^}]+\}", "1", route.path)
    bodies = st.one_of(PAYLOADS, as_bytes(objects_with(list(route.fields))), as_bytes(JSON_VALUES))
    seen = {"version": hub.data_version(), "digest": hub.digest()}

    @settings(max_examples=API_BODY_EXAMPLES[PROFILE])
    @given(bodies)
    def answers_and_refuses_cleanly(body: bytes) -> None:
        run(f"API body {method} {route.path}")
        response = hub.request(method, path, body)
        assert response.status_code < 500, (response.status_code, response.text)
        version = hub.data_version()
        if version == seen["version"]:
            return  # nothing committed since the last look: every table as it was
        after = hub.digest()  # a commit: compare what is in the tables, row by row
        if response.status_code >= 400:
            assert after == seen["digest"], f"{response.status_code} but something was stored"
        seen.update(version=version, digest=after)

    answers_and_refuses_cleanly()


STATISTICS_PARAMS = (
    "start", "end", "by", "site_id", "street", "district", "month", "timezone"
)  # fmt: skip


def test_statistics_query(hub: Hub) -> None:
    """The statistics' query parameters, any text or a real timestamp: an answer below 500, and
    nothing stored (a read)."""
    texts = st.one_of(
        st.text(max_size=40),
        st.datetimes(timezones=st.timezones()).map(lambda t: t.isoformat()),
        st.sampled_from(["site", "street", "district", "grid", "category", "", "-1"]),
        # Instants at the ends of the years a datetime holds, whose UTC lies beyond them.
        st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]),
        # Months (``month=``), at the ends of time too, and zones (``timezone=``).
        st.dates().map(lambda d: d.strftime("%Y-%m")),
        st.sampled_from(["0001-01", "9999-12", "2026-13", "2026-00", "２０２６-１２"]),
        st.timezones().map(str),
        st.sampled_from(["Asia/Shanghai", "Etc/GMT+14", "Pacific/Kiritimati", "../../etc"]),
    )
    seen = {"version": hub.data_version(), "digest": hub.digest()}

    @settings(max_examples=API_BODY_EXAMPLES[PROFILE])
    @given(st.dictionaries(st.sampled_from(STATISTICS_PARAMS), texts))
    def answers_and_reads_only(params: dict[str, str]) -> None:
        run("API query GET /api/v1/statistics")
        response = hub._runner.run(hub.client.get("/api/v1/statistics", params=params))
        assert response.status_code in {200, 422}, (response.status_code, response.text)
        if hub.data_version() != seen["version"]:  # a commit of the hub's own tasks, if any
            assert hub.digest() == seen["digest"], "a statistics read stored something"

    answers_and_reads_only()


def test_owntracks_messages(hub: Hub) -> None:
    """Any body posted as an OwnTracks message: answered 200 (let pass), 404 (the fuzzer's
    admin is no responder on the roster) or 422 (refused with its reason), and nothing stored."""
    locations = objects_with(["_type", "lat", "lon", "tst", "acc"]).map(
        lambda message: {**message, "_type": "location"}
    )
    bodies = st.one_of(PAYLOADS, as_bytes(locations), as_bytes(JSON_VALUES), st.binary(max_size=64))
    seen = {"version": hub.data_version(), "digest": hub.digest()}

    @settings(max_examples=API_BODY_EXAMPLES[PROFILE])
    @given(bodies)
    def answers_and_stores_nothing(body: bytes) -> None:
        run("API body POST /api/v1/owntracks")
        response = hub.request("POST", "/api/v1/owntracks", body)
        assert response.status_code in {200, 404, 422}, (response.status_code, response.text)
        if hub.data_version() != seen["version"]:
            assert hub.digest() == seen["digest"], "an OwnTracks message stored something"

    answers_and_stores_nothing()
