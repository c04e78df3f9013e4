"""Retained messages are replays: the broker sends a topic's last retained message to every new
subscription, and the edge subscribes anew every time it connects. What a device said since
reaches the edge's persistent session live. So a retained message changes nothing for a
device the edge already knows (``retained_replays_ignored``), and a retained card frame opens
no door (``retained_events_ignored``). Found by an outside tester's probe: a stolen
detector's or reader's password, revoked since, left retained messages that forged a fire or
opened the gate at every edge restart, or cleared a real fire.
"""

import asyncio
import json
from collections.abc import Callable

import aiomqtt
import pytest

from devices.access import ReaderAction
from devices.kinds import AlertKind, AlertState
from devices.topics import credential_topic
from edge.agent import EdgeAgent
from edge.settings import EdgeSettings
from hub.settings import HubSettings
from linli.brokers import MosquittoProcess
from tests.background import running
from tests.edge.conftest import (  # noqa: F401 (fixtures)
    Devices,
    eventually,
    make_settings,
    running_agent,
    running_edge,
    running_hub,
    site_file,
)
from tests.edge.test_access_agent import (  # noqa: F401
    BOB_CARD,
    Reader,
    edge_settings,
    enrolled_site,
    hub_settings,
)

pytestmark = pytest.mark.mosquitto


async def test_a_retained_card_frame_does_not_reopen_the_door_at_every_edge_restart(
    edge_settings: EdgeSettings,  # noqa: F811
    hub_settings: HubSettings,  # noqa: F811
    mosquitto: MosquittoProcess,
) -> None:
    async with enrolled_site(edge_settings, hub_settings, mosquitto) as (_http, reader, agent, _):
        # The frame is published retained; live, it reaches the edge without the retain flag
        # and is one presentation: one unlock, as expected.

        async with aiomqtt.Client(mosquitto.host, mosquitto.port) as client:
            await client.publish(
                credential_topic("gate-reader"), json.dumps({"card": BOB_CARD}), qos=1, retain=True
            )
        await eventually(lambda: len(reader.commands) == 1, "the live presentation")
        assert reader.commands[0][1].command is ReaderAction.UNLOCK
        # Stored with its receipt: a frame answered and not yet stored when the edge stops is
        # delivered again and decided again (at least once), which is not what this is about.
        await eventually(lambda: agent.counters.get("outbox_groups", 0) >= 1, "the frame stored")

    # The same edge starts again (a restart, a power cut): nobody presents a card.
    watcher = Reader(mosquitto)
    async with running(watcher.run(), name="watcher"):
        await eventually(lambda: watcher.ready, "the watcher to subscribe")
        async with running_agent(EdgeAgent(edge_settings)) as again:
            await asyncio.sleep(3)
            granted = again.counters.get("access.granted", 0)
    assert (granted, watcher.commands) == (0, []), (
        f"nobody presented a card, yet the edge decided the replayed retained frame: "
        f"{granted} granted, commands sent {[(r, c.command) for r, c in watcher.commands]}"
    )


async def test_a_retained_fire_left_by_a_revoked_device_is_not_raised_at_every_restart(
    mosquitto: MosquittoProcess,
    make_settings: Callable[..., EdgeSettings],  # noqa: F811
) -> None:
    """A stolen detector password: the attacker publishes ``{"smoke": true}`` retained (the ACL
    lets a device retain on its own topics; only ``availability`` is meant to be). The
    operator revokes the identity and the detector, back in service, reports clean air. The
    broker still holds the retained fire (revocation does not clear it) and replays it at
    every edge restart, where readings of a retained message count, stamped with the time it
    was received: a new fire, at every restart, with nobody there."""
    settings = make_settings()
    devices = Devices(mosquitto)
    async with running_hub(mosquitto) as hub:
        async with running_agent(EdgeAgent(settings)):
            await devices.publish("linli/dev/b3-smoke/state", '{"smoke": true}', retain=True)
            await eventually(lambda: len(hub.alerts) == 1, "the forged fire")
            # Revoked; the real detector reports clean air (as native devices do: not retained).
            await devices.publish("linli/dev/b3-smoke/state", '{"smoke": false}')
            await eventually(lambda: len(hub.alerts) == 2, "the fire cleared")
        assert [(a.kind, a.state) for a in hub.alerts] == [
            (AlertKind.SMOKE, AlertState.RAISED),
            (AlertKind.SMOKE, AlertState.CLEARED),
        ]
        async with running_agent(EdgeAgent(settings)) as again:
            await eventually(lambda: again.counters.get("messages_received", 0) >= 1, "replay")
            await asyncio.sleep(2)
        # Alerts are sent at least once: the first run's, re-sent by the restarted edge when
        # the hub's acknowledgement had not reached it before it stopped, are not new fires.
        before = {a.id for a in hub.alerts[:2]}
        raised = [a for a in hub.alerts[2:] if a.state is AlertState.RAISED and a.id not in before]
        assert raised == [], f"the retained fire was raised again after a restart: {raised}"


async def test_a_retained_all_clear_does_not_clear_a_real_fire_at_a_restart(
    mosquitto: MosquittoProcess,
    make_settings: Callable[..., EdgeSettings],  # noqa: F811
) -> None:
    """The mirror: the attacker leaves ``{"smoke": false}`` retained. Later a real fire: the
    detector reports ``smoke: true`` once (most report on change) and the edge raises it. The
    edge restarts during the fire (a power cut, a crash): the retained all-clear is replayed,
    stamped now, and the edge sends a clearance for a fire still burning."""
    settings = make_settings()
    devices = Devices(mosquitto)
    await devices.publish("linli/dev/b3-smoke/state", '{"smoke": false}', retain=True)
    async with running_hub(mosquitto) as hub:
        async with running_agent(EdgeAgent(settings)):
            await devices.publish("linli/dev/b3-smoke/state", '{"smoke": true}')
            await eventually(lambda: len(hub.alerts) == 1, "the real fire")
        async with running_agent(EdgeAgent(settings)) as again:
            await eventually(lambda: again.counters.get("messages_received", 0) >= 1, "replay")
            await asyncio.sleep(2)
        cleared = [a for a in hub.alerts if a.state is AlertState.CLEARED]
        assert cleared == [], f"a replayed all-clear cleared a real fire: {cleared}"


async def test_a_deeply_nested_bridge_event_does_not_block_the_sites_alarms(
    mosquitto: MosquittoProcess,
    make_settings: Callable[..., EdgeSettings],  # noqa: F811
) -> None:
    """``zigbee2mqtt/bridge/event`` is read for device announces with ``json.loads``, which
    raises ``RecursionError`` (not the ``ValueError`` it catches) on 60 KiB of ``[``: under
    the 64 KiB device payload limit. Whoever holds the Zigbee2MQTT identity (or a bug in a
    bridge) then stops the edge's device session; the message is not acknowledged, so the
    broker delivers it again at every reconnect, and a native smoke detector's fire waits
    behind it."""
    async with running_edge(mosquitto, EdgeAgent(make_settings())) as (hub, devices):
        await devices.publish("zigbee2mqtt/bridge/event", b"[" * 60_000)
        await devices.publish("linli/dev/b3-smoke/state", '{"smoke": true}')
        await eventually(lambda: len(hub.alerts) == 1, "the native detector's fire")


async def test_a_retained_fire_of_a_device_the_edge_never_heard_of_is_raised(
    mosquitto: MosquittoProcess,
    make_settings: Callable[..., EdgeSettings],  # noqa: F811
) -> None:
    """The other side: a new edge (or one whose state was lost) knows nothing of the device,
    and a retained message may be all there is of a fire that began before it listened."""
    await Devices(mosquitto).publish("linli/dev/b3-smoke/state", '{"smoke": true}', retain=True)
    async with running_hub(mosquitto) as hub, running_agent(EdgeAgent(make_settings())):
        await eventually(lambda: len(hub.alerts) == 1, "the fire")
    assert [(a.kind, a.state) for a in hub.alerts] == [(AlertKind.SMOKE, AlertState.RAISED)]
