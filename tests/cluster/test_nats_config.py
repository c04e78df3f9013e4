"""The shipped NATS accounts (deploy/nats/accounts.conf) grant what the topic scheme says."""

import re
from pathlib import Path

from tests.cluster.nats import accounts_config, subject

SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "accounts.conf"


def _permissions(text: str) -> dict[str, tuple[set[str], set[str]]]:
    """Return each user's (publish, subscribe) subjects in an accounts file."""
    users = {}
    for match in re.finditer(
        r'user: "([^"]+)".*?publish: \[(.*?)\].*?subscribe: \[(.*?)\]', text, re.DOTALL
    ):
        name, publish, subscribe = match.groups()
        users[name] = (
            set(re.findall(r'"([^"]+)"', publish)),
            set(re.findall(r'"([^"]+)"', subscribe)),
        )
    return users


def test_the_shipped_accounts_match_the_topic_scheme() -> None:
    shipped = _permissions(SHIPPED.read_text())
    rendered = _permissions(accounts_config("secret", {"e1": "secret"}))
    assert set(rendered) == {"hub", "edge-e1"}
    for user in ("hub", "edge-e1"):
        assert shipped[user] == rendered[user], user


def test_an_edge_may_publish_only_on_its_own_uplink() -> None:
    publish, subscribe = _permissions(accounts_config("s", {"e1": "s", "e2": "s"}))["edge-e1"]
    assert "linli.edge.e1.alert" in publish
    assert all(s.startswith("linli.edge.e1.") for s in publish)
    assert "linli.edge.e1.ack" in subscribe
    assert "linli.edge.e1.ack" not in publish  # only the hub acknowledges
    assert not any("e2" in s for s in publish | subscribe)


def test_topics_become_subjects() -> None:
    assert subject("linli/edge/+/alert") == "linli.edge.*.alert"
    assert subject("linli/hub/cases/#") == "linli.hub.cases.>"
