"""Fixtures shared by the whole suite: a private Mosquitto and fresh PostgreSQL databases.

On CI (``CI=true``) a missing Mosquitto or PostgreSQL fails the tests that need them; on a
laptop without them those tests are skipped, saying why.
"""

import gc
import inspect
import json
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest
from fastapi.dependencies import models as fastapi_models
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from devices.adapters import decode
from devices.observations import StateUpdate
from hub.persistence.engine import create_hub_engine, migrate
from linli.brokers import MosquittoProcess, site_tuning

# Shared assertion helpers get pytest's detailed failure messages, as test modules do.
pytest.register_assert_rewrite("tests.scale.whole")

pytest_plugins = ["tests.browser", "tests.hang_report"]
"""Fixtures every browser test shares (``chromium``, ``browser``); where an async test hangs."""

ON_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_ADMIN_URL = os.environ.get(
    "LINLI_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


REALDATA_PAYLOADS = (
    Path(
        os.environ.get(
            "LINLI_REALDATA",
            Path(__file__).resolve().parents[2] / "shared" / "realdata",
        )
    )
    / "payloads"
)
"""Real third-party device payloads (shared/realdata beside the checkout, or $LINLI_REALDATA)."""


def missing(what: str) -> None:
    """Fail on CI, skip elsewhere, when a real service the test needs is not there."""
    if ON_CI:
        pytest.fail(f"{what} is required on CI but is not available")
    pytest.skip(f"{what} is not available on this machine")


def shared_folder(folder: Path, what: str) -> Path:
    """Return ``folder`` of shared test data; ``missing`` (naming ``what``) when it is not there."""
    if not folder.is_dir():
        missing(f"{what} ({folder})")
    return folder


@pytest.fixture
def realdata() -> Path:
    """Return the folder of real third-party payload files."""
    return shared_folder(REALDATA_PAYLOADS, "shared/realdata")


def realdata_records(realdata: Path, name: str) -> list[dict[str, Any]]:
    """Return the records of one realdata payload file."""
    result: list[dict[str, Any]] = json.loads((realdata / name).read_text())["records"]
    return result


def only_state(topic: str, payload: bytes) -> StateUpdate:
    """Decode a device message that must carry exactly one state update, and return it."""
    decoded = decode(topic, payload)
    assert decoded is not None
    (observation,) = decoded.observations
    assert isinstance(observation, StateUpdate)
    return observation


REALDATA_VIDEOS = REALDATA_PAYLOADS.parent / "videos"
"""Real camera footage (shared/realdata/videos, see its SOURCES.md)."""


@pytest.fixture
def realvideos() -> Path:
    """Return the folder of real camera clips."""
    return shared_folder(REALDATA_VIDEOS, "shared/realdata/videos")


class LocalServer(Protocol):
    """A server a test starts on its own port and folder (Mosquitto, VictoriaMetrics)."""

    @staticmethod
    def executable() -> str | None:
        """Return the server's path, or None when it is not installed."""

    def start(self) -> None:
        """Start the server and wait until it answers."""

    def stop(self) -> None:
        """Stop the server."""


_Server = TypeVar("_Server", bound=LocalServer)


def serving(server: _Server, what: str) -> Iterator[_Server]:
    """Yield ``server`` started for one test, then stop it; ``missing`` when not installed."""
    if server.executable() is None:
        missing(what)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[MosquittoProcess]:
    """Start a private Mosquitto on a free port for one test."""
    yield from serving(MosquittoProcess(tmp_path / "mosquitto"), "mosquitto")


def _postgres_reachable() -> bool:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception:  # noqa: BLE001 - any failure means "not reachable"
        return False
    return True


_POSTGRES_OK: bool | None = None


def _need_postgres() -> None:
    """``missing`` unless the test PostgreSQL answers (asked once per process)."""
    global _POSTGRES_OK
    if _POSTGRES_OK is None:
        _POSTGRES_OK = _postgres_reachable()
    if not _POSTGRES_OK:
        missing(
            f"PostgreSQL at {make_url(POSTGRES_ADMIN_URL).render_as_string(hide_password=True)}"
        )


def _postgres_database_url(name: str) -> str:
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


@contextmanager
def _postgres_database(template: str | None = None) -> Iterator[str]:
    """Create a PostgreSQL database (a copy of ``template``, or empty), yield its name, drop it.

    PostgreSQL refuses to copy a template someone is connected to; the connections of the
    engine that migrated it may take a moment to end after ``dispose``, so that is retried.
    """
    _need_postgres()
    name = f"linli_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        for attempt in range(50):
            try:
                with admin.connect() as conn:
                    conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
                break
            except OperationalError as exc:
                if "is being accessed by other users" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.1)
        yield name
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """Create a fresh, empty PostgreSQL database for one test and drop it afterwards."""
    with _postgres_database() as name:
        yield _postgres_database_url(name)


@pytest.fixture(scope="session")
def _postgres_template() -> Iterator[str]:
    """A PostgreSQL database the hub's migrations brought to the newest schema, once per
    test process: the copy each test gets of it is the database a first migration makes."""
    with _postgres_database() as name:
        engine = create_hub_engine(_postgres_database_url(name))
        try:
            migrate(engine)
        finally:
            engine.dispose()
        yield name


@pytest.fixture
def migrated_postgres_url(_postgres_template: str) -> Iterator[str]:
    """Create a fresh PostgreSQL database at the newest schema, no rows of its own, for one
    test (a copy of the migrated template: ``CREATE DATABASE … TEMPLATE``)."""
    with _postgres_database(_postgres_template) as name:
        yield _postgres_database_url(name)


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file the hub's migrations brought to the newest schema, once per process."""
    path = tmp_path_factory.mktemp("template") / "hub.sqlite3"
    engine = create_hub_engine(f"sqlite:///{path}")
    try:
        migrate(engine)
    finally:
        engine.dispose()
    # The last connection closed folded the write-ahead log into the file: the file is all.
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Yield a fresh database at the newest schema: once SQLite in a temp folder, once
    PostgreSQL. Each is a copy of one the migrations made in this test process (a hub on it
    finds nothing to migrate); ``postgres_url`` and a SQLite path of the test's own start
    empty, for what a first start does."""
    if request.param == "sqlite":
        path = tmp_path / "hub.sqlite3"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("migrated_postgres_url")
    return url


@pytest.fixture
def site_broker(tmp_path: Path) -> Iterator[MosquittoProcess]:
    """A private Mosquitto on the shipped site settings (it keeps absent sessions' messages,
    QoS 0 too, up to 100,000)."""
    yield from serving(
        MosquittoProcess(tmp_path / "mosquitto", config_extra=site_tuning()), "mosquitto"
    )


@pytest.fixture
async def _collect_garbage_in_loop() -> AsyncIterator[None]:
    """Collect what an async test left behind while its event loop is still open.

    An MQTT client dropped without a clean disconnect (a test ending while a link is between
    reconnect attempts) closes its socket when the garbage collector finds it, and tells its
    event loop so. Collected later, in another test, that loop is closed and the warning fails
    whichever test the collector happened to run in.
    """
    yield
    gc.collect()


_FASTAPI_ENDPOINT_CACHES = (
    "_is_gen_callable_cached",
    "_is_async_gen_callable_cached",
    "_is_coroutine_callable_cached",
)


@pytest.fixture(autouse=True)
def _forget_old_apps() -> Iterator[None]:
    """Let the garbage collector have each test's hub app once the test is over.

    FastAPI keeps what it learnt of each endpoint in module-level caches of 4,096 entries
    (``fastapi.dependencies.models``); a hub's endpoints are closures of its app, so the
    caches held the last 20-50 tests' whole apps. The heap grew by ~20,000 objects a test
    and every full collection (each async test ends with one) walked it: 0.3-0.8 s a test
    late in a worker's run. Emptied after each test, as a new process would have them.
    """
    yield
    for name in _FASTAPI_ENDPOINT_CACHES:
        cached = getattr(fastapi_models, name, None)
        if cached is not None:
            cached.cache_clear()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every async test the in-loop garbage collection above."""
    for item in items:
        if isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj):
            item.fixturenames.append("_collect_garbage_in_loop")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze what collection left on the heap (every module the tests import, their
    objects): the garbage collector then never walks it again. Each async test ends with a
    full collection (above), which otherwise walked those ~200,000 objects every time."""
    gc.collect()
    gc.freeze()
