"""Fixtures: a hub broker and a site broker as ``linli broker init`` makes them."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from linli.brokers import MosquittoProcess
from tests.conftest import missing
from tests.security.brokers import SecuredBroker, running_broker

SITE_EDGE = "site-a"


@pytest.fixture
def hub_broker(tmp_path: Path) -> Iterator[SecuredBroker]:
    """The hub's broker, from ``linli broker init``, running."""
    if MosquittoProcess.executable() is None:
        missing("mosquitto")
    with running_broker(tmp_path / "hub-broker") as broker:
        yield broker


@pytest.fixture
def site_broker_secured(tmp_path: Path) -> Iterator[SecuredBroker]:
    """A site broker, from ``linli broker init --site``, running."""
    if MosquittoProcess.executable() is None:
        missing("mosquitto")
    with running_broker(tmp_path / "site-broker", "--site", SITE_EDGE) as broker:
        yield broker
