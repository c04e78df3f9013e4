"""The topics of responders' phones: OwnTracks, unchanged, in its MQTT mode.

A responder's phone publishes its fixes as ``owntracks/phone-<responder_id>/<device>`` (the
app's default ``owntracks/%u/%d``, ``%u`` its broker username) and would read remote commands
on ``…/cmd`` (none are sent). The hub reads them (``hub.ingest``, ``hub.positions``); the broker's
ACL gives each phone its own subtree (``linli.trust.acl``). The rest of the topic contract is in
``devices.topics``.
"""

from dataclasses import dataclass

from devices.errors import TopicError
from devices.registry import check_identifier

OWNTRACKS_ROOT = "owntracks"
"""The OwnTracks apps' topic root in MQTT mode (https://owntracks.org/booklet/tech/json/):
they publish ``owntracks/<user>/<device>[/<subtopic>]``; on the hub's broker the user level
is the phone's username, ``phone-<responder id>``."""
OWNTRACKS_USER_PREFIX = "phone-"
"""A phone's broker username is ``phone-<responder id>`` (``linli broker add-phone``), and the
app's default topic ``owntracks/%u/%d`` carries it: the hub takes the responder from it."""
OWNTRACKS_COMMAND = "cmd"
"""The subtopic an OwnTracks app reads remote commands on (``owntracks/<user>/<device>/cmd``)."""


@dataclass(frozen=True, slots=True)
class OwnTracksTopic:
    """A parsed ``owntracks/phone-<responder_id>/<device>`` topic: where a phone's fixes
    come."""

    responder_id: str
    device: str


def owntracks_user(responder_id: str) -> str:
    """Return a responder's phone's broker username, which the app puts in its topics."""
    return OWNTRACKS_USER_PREFIX + check_identifier(responder_id)


def owntracks_topic(responder_id: str, device: str) -> str:
    """Build the topic a responder's OwnTracks app publishes its locations on: the app's
    default ``owntracks/%u/%d``, ``%u`` being its username."""
    return f"{OWNTRACKS_ROOT}/{owntracks_user(responder_id)}/{device}"


def owntracks_subscriptions() -> list[str]:
    """Return the filters the hub reads responders' phones on: their locations (and wills)."""
    return [f"{OWNTRACKS_ROOT}/+/+"]


def parse_owntracks_topic(topic: str) -> OwnTracksTopic | None:
    """Return the responder and device of an OwnTracks location topic, None for any topic
    outside ``owntracks/``; raise ``TopicError`` for one under it that is not
    ``owntracks/phone-<responder_id>/<device>`` with a valid responder id."""
    levels = topic.split("/")
    if levels[0] != OWNTRACKS_ROOT:
        return None
    if len(levels) != 3 or not levels[2] or not levels[1].startswith(OWNTRACKS_USER_PREFIX):
        shape = f"{OWNTRACKS_ROOT}/{OWNTRACKS_USER_PREFIX}<responder_id>/<device>"
        raise TopicError(f"topic {topic!r} is not {shape}")
    try:
        responder_id = check_identifier(levels[1].removeprefix(OWNTRACKS_USER_PREFIX))
    except ValueError as exc:
        raise TopicError(f"topic {topic!r}: {exc}") from exc
    return OwnTracksTopic(responder_id, levels[2])
