"""A resident's SOS the hub has not got: tell her, so that she uses the phone.

The edge shows ``received`` the moment it stores a press, uplink or not. With the hub away (its
broker unreachable, the hub process dead) that was all the button ever showed: the resident
believed help was coming. A social alarm unit signals a failed call; so does the edge now.

``DeliveryWatch`` (pure) follows each SOS button's latest raised ``sos`` alert from its commit
to the hub's ``AlertAck``. One not acknowledged ``after_s`` (``sos_not_delivered_after_s``,
default 30 s) after it was stored is *overdue*: the button is shown ``not_delivered``,
counted (``sos_not_delivered``) and logged once. A squawk or a blink is momentary and the
resident may be in the next room, so it is shown again every ``repeat_s``
(``sos_not_delivered_repeat_s``, 60 s) while the button still shows it, at most ``repeats``
more times (``sos_not_delivered_repeats``, 10: ten minutes; 0 shows it once), each counted
(``sos_not_delivered_repeated``); a press whose button was shown a stage of the hub's since
(the hub has it, only its ack is missing) is not repeated. The alert stays in the outbox and
is sent as ever; when the hub acknowledges it at last (``sos_delivered_late``) the button shows
``received`` again, unless the hub's own stage replaced ``not_delivered`` already
(``edge.button_feedback.ButtonFeedback.delivered_late``), and the hub's stages follow as usual.

What is watched: raised ``sos`` alerts only — what a resident presses and what shows
``received``. A cancel (a cleared ``sos``) is not: the case stays open for an operator either
way. Detectors show nothing to anyone; a hub that hears nothing of an edge raises
``edge_offline`` for those. Only a device's latest press is followed: it is what the button
shows.

``SosWatch`` is the shell: ``committed`` is told of every committed alert
(``DeviceDetection.on_committed``), ``acked`` of every acknowledgement (``edge.uplink``), and
``run`` (the agent's ``edge-sos-watch`` task) shows what is due, on the agent's monotonic
clock. In memory: at a start the agent gives it the presses the outbox still holds, watched
from then on.
"""

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from devices.kinds import AlertKind, AlertState
from devices.messages import Alert, FeedbackStage
from devices.mqtt_link import checkpoint
from devices.observations import NativeAddress
from devices.registry import Device
from edge.button_feedback import ButtonFeedback
from edge.device_detection import CountFn
from edge.directory import DeviceDirectory

logger = logging.getLogger(__name__)

TICK_S = 1.0
"""How often the watch looks for overdue presses, at most (a quarter of ``after_s`` if less)."""


@dataclass(frozen=True, slots=True)
class Press:
    """A device's latest SOS, not acknowledged by the hub yet."""

    device_id: str
    alert_id: str
    stored_at: float
    """When the edge stored it (monotonic seconds)."""
    signalled: bool = False
    """Whether the button was told ``not_delivered`` (or the edge gave up telling it)."""
    told_at: float = 0.0
    """When the button was last told ``not_delivered`` (monotonic seconds)."""
    told: int = 0
    """How many times the button was told ``not_delivered``."""


def watched(alert: Alert) -> bool:
    """Return whether the hub's acknowledgement of this alert is awaited for its button."""
    return alert.kind is AlertKind.SOS and alert.state is AlertState.RAISED


class DeliveryWatch:
    """Each SOS button's latest press until the hub acknowledges it. Pure: time is passed in."""

    def __init__(self, after_s: float, repeat_s: float = 60.0, repeats: int = 0) -> None:
        self.after_s = after_s
        self.repeat_s = repeat_s
        self.repeats = repeats
        self._presses: dict[str, Press] = {}
        """By device: its latest press not acknowledged yet."""

    def __len__(self) -> int:
        return len(self._presses)

    def stored(self, alerts: Iterable[Alert], now: float) -> None:
        """Follow the presses among alerts committed at ``now`` (a device's later press
        replaces its earlier one: the button shows the latest)."""
        for alert in alerts:
            if watched(alert):
                self._presses[alert.device_id] = Press(alert.device_id, alert.id, now)

    def acked(self, ids: Iterable[str]) -> list[Press]:
        """Forget the presses the hub acknowledged; return those it got too late (their
        buttons were told ``not_delivered``)."""
        if not self._presses:
            return []
        by_alert = {press.alert_id: press for press in self._presses.values()}
        late: list[Press] = []
        for alert_id in ids:
            press = by_alert.pop(alert_id, None)
            if press is None:
                continue
            del self._presses[press.device_id]
            if press.signalled:
                late.append(press)
        return late

    def overdue(self, now: float) -> list[Press]:
        """Return the presses not acknowledged ``after_s`` after they were stored and not
        signalled yet, or signalled ``repeat_s`` ago or more with repeats left."""
        return [
            press
            for press in self._presses.values()
            if (not press.signalled and now - press.stored_at >= self.after_s)
            or (
                press.signalled
                and 0 < press.told <= self.repeats
                and now - press.told_at >= self.repeat_s
            )
        ]

    def signalled(self, press: Press, now: float = 0.0) -> None:
        """Note that the press's button was told at ``now`` (unless a newer press replaced
        it since)."""
        if self._presses.get(press.device_id) == press:
            told = replace(press, signalled=True, told_at=now, told=press.told + 1)
            self._presses[press.device_id] = told

    def done(self, press: Press) -> None:
        """Tell the press's button nothing more (the edge gave up telling it, or the hub's
        own stage shows on it)."""
        if self._presses.get(press.device_id) == press:
            self._presses[press.device_id] = replace(press, signalled=True, told=0)


class SosWatch:
    """Tells a button its press has not reached the hub in time, and again when it has."""

    def __init__(
        self,
        feedback: ButtonFeedback,
        directory: DeviceDirectory,
        *,
        after_s: float,
        repeat_s: float = 60.0,
        repeats: int = 0,
        monotonic: Callable[[], float],
        count: CountFn,
    ) -> None:
        self._feedback = feedback
        self._directory = directory
        self._monotonic = monotonic
        self._count = count
        self.watch = DeliveryWatch(after_s, repeat_s, repeats)
        self._late: list[Press] = []
        """Presses acknowledged after their button was told ``not_delivered``."""
        self._wake = asyncio.Event()
        self.checked_at = float("-inf")
        """The monotonic time of the last look for overdue presses (for tests)."""

    def committed(self, alerts: Sequence[Alert]) -> None:
        """Alerts were just committed to the outbox: follow the presses among them."""
        self.watch.stored(alerts, self._monotonic())

    def acked(self, ids: Sequence[str]) -> None:
        """The hub acknowledged these alerts (``edge.uplink``)."""
        late = self.watch.acked(ids)
        if late:
            self._late.extend(late)
            self._wake.set()

    async def run(self) -> None:
        """Show what is due on the buttons until cancelled."""
        tick_s = min(TICK_S, self.watch.after_s / 4)
        while True:
            checkpoint()
            self._wake.clear()
            try:
                await self.check()
            except Exception:
                # A bug: log it and look again, never take the agent down with it.
                logger.exception("SOS delivery watch failed")
            try:
                async with asyncio.timeout(tick_s):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def check(self) -> None:
        """Tell the buttons of presses delivered late, then of presses overdue."""
        now = self._monotonic()
        late, self._late = self._late, []
        for press in late:
            self._count("sos_delivered_late", 1)
            logger.info(
                "SOS %s of %s reached the hub %.0f s after it was stored",
                press.alert_id,
                press.device_id,
                now - press.stored_at,
            )
            device = self._directory.resolve(NativeAddress(press.device_id))
            if device is not None:
                await self._feedback.delivered_late(device)
        for press in self.watch.overdue(now):
            if not self._feedback.ready:
                break  # the local broker is down: told once it is back
            device = self._directory.resolve(NativeAddress(press.device_id))
            if press.signalled:
                await self._repeat(press, device, now)
                continue
            if device is not None and not await self._feedback.show(
                device, FeedbackStage.NOT_DELIVERED
            ):
                continue  # the local broker went meanwhile: tried again at the next look
            self.watch.signalled(press, now)
            self._count("sos_not_delivered", 1)
            logger.warning(
                "SOS %s of %s not acknowledged by the hub %.0f s after it was stored: "
                "its button shows not_delivered (still queued, sent when the hub is back)",
                press.alert_id,
                press.device_id,
                now - press.stored_at,
            )
        self.checked_at = now

    async def _repeat(self, press: Press, device: Device | None, now: float) -> None:
        """Show ``not_delivered`` again, if the button still shows it."""
        if device is None or self._feedback.last(device) is not FeedbackStage.NOT_DELIVERED:
            self.watch.done(press)  # the hub's stage shows: it has the press
            return
        if not await self._feedback.show(device, FeedbackStage.NOT_DELIVERED):
            return  # the local broker went meanwhile: tried again at the next look
        self.watch.signalled(press, now)
        self._count("sos_not_delivered_repeated", 1)
        logger.info(
            "SOS %s of %s still not acknowledged %.0f s after it was stored: not_delivered "
            "shown again",
            press.alert_id,
            press.device_id,
            now - press.stored_at,
        )
