"""The resident's button: show how their request is going, over the local broker.

The edge shows a press's own stages at once (``received``, ``cancelled``: ``show``), shows
``not_delivered`` when the hub has not acknowledged a press in time (``edge.sos_watch``), and
relays the stages the hub reports for the button's case (``relay``), as the commands of
``edge.feedback`` (pure). Best effort: a stage that cannot be shown is counted and never holds
up alerts.
"""

import logging
from collections.abc import Callable
from typing import Literal

import aiomqtt

from devices.messages import CaseFeedback, FeedbackStage
from devices.observations import NativeAddress
from devices.registry import Device
from edge.device_detection import CountFn
from edge.directory import DeviceDirectory
from edge.feedback import feedback_command

logger = logging.getLogger(__name__)


class ButtonFeedback:
    """Show how a resident's request is going on the button, over the local broker.

    Best effort: a failure is counted (``feedback_unsent``) and never holds up alerts.

    The hub sends a button its latest case's stage again whenever it (re)connects (lost
    feedback reaches the button late rather than never): a stage of a case that this button
    was last shown is not shown again (``feedback_repeated``), unless the edge showed the
    button something of its own since (a new press's ``received``). A hub stage that cannot
    be shown when it comes (the local broker down) is kept, the latest per device, and shown
    when the local broker is back (``show_unshown``): before, it was dropped, and "someone is
    coming" never reached the resident unless the hub happened to reconnect later.

    Several hub workers publish from queues of their own, so a stage can arrive after a newer
    one of the same case: one whose case ``version`` is below the newest heard for the device
    is dropped (``feedback_stale``), or "someone is coming" could follow "resolved".

    ``not_delivered`` (the edge's own, ``edge.sos_watch``) is replaced by the hub's next stage
    (always shown after it, even one shown before it), or by ``received`` again if the press
    reaches the hub while the button still shows ``not_delivered`` (``delivered_late``).
    """

    def __init__(
        self,
        directory: DeviceDirectory,
        local: Callable[[], aiomqtt.Client | None],
        count: CountFn,
        *,
        z2m_base: str,
    ) -> None:
        self._directory = directory
        self._local = local
        self._count = count
        self._z2m_base = z2m_base
        self._shown: dict[str, tuple[int, FeedbackStage]] = {}
        """The hub's last stage shown on each device, by its case (in memory: after the
        edge restarts, a stage the hub sends again is shown once more)."""
        self._unshown: dict[str, CaseFeedback] = {}
        """The hub's latest stage for each device that could not be shown yet."""
        self._heard: dict[str, tuple[int, int]] = {}
        """The newest version of its case the hub told each device of, as (case, version)."""
        self._last: dict[str, FeedbackStage] = {}
        """The stage each device was last shown (the edge's own or the hub's)."""

    async def relay(self, feedback: CaseFeedback) -> None:
        """Show a stage the hub reports for a device's case, unless it is the one shown."""
        device = self._directory.resolve(NativeAddress(feedback.device_id))
        if device is None:
            self._count("uplink_rejected", 1)
            logger.warning("feedback for unknown device %s ignored", feedback.device_id)
            return
        if self._stale(device.id, feedback):
            self._count("feedback_stale", 1)
            logger.info(
                "feedback %s of case %s version %s for %s is older than one heard: not shown",
                feedback.stage,
                feedback.case_id,
                feedback.version,
                device.id,
            )
            return
        shown = (feedback.case_id, feedback.stage)
        self._unshown.pop(device.id, None)
        if self._shown.get(device.id) == shown:
            self._count("feedback_repeated", 1)
            return
        outcome = await self._show(device, feedback.stage)
        if outcome == "shown":
            self._shown[device.id] = shown
        elif outcome == "unsent":
            self._unshown[device.id] = feedback

    def _stale(self, device_id: str, feedback: CaseFeedback) -> bool:
        """Return whether the hub already told the device of a newer version of this case
        (and note this one's version if it is the newest)."""
        if feedback.version is None:
            return False
        heard = self._heard.get(device_id)
        if heard is not None and heard[0] == feedback.case_id and feedback.version < heard[1]:
            return True
        self._heard[device_id] = (feedback.case_id, feedback.version)
        return False

    async def show_unshown(self) -> None:
        """Show the hub's stages kept while the local broker was down (call it reconnected)."""
        for feedback in list(self._unshown.values()):
            await self.relay(feedback)

    @property
    def ready(self) -> bool:
        """Return whether the local broker is connected (a stage can be shown now)."""
        return self._local() is not None

    async def show(self, device: Device, stage: FeedbackStage) -> bool:
        """Show a stage of the edge's own (``received``, ``cancelled``, ``not_delivered``) on
        the device; return False if it could not be shown (the local broker down)."""
        self._shown.pop(device.id, None)  # the hub's next stage shows, even one shown before
        if stage is not FeedbackStage.NOT_DELIVERED:
            self._unshown.pop(device.id, None)  # older than the press it answers
        return await self._show(device, stage) != "unsent"

    def last(self, device: Device) -> FeedbackStage | None:
        """Return the stage the device was last shown (the edge's own or the hub's)."""
        return self._last.get(device.id)

    async def delivered_late(self, device: Device) -> None:
        """A press shown ``not_delivered`` has reached the hub: show ``received`` again,
        unless the hub's own stage replaced ``not_delivered`` already."""
        if self._last.get(device.id) is FeedbackStage.NOT_DELIVERED:
            await self.show(device, FeedbackStage.RECEIVED)

    async def _show(
        self, device: Device, stage: FeedbackStage
    ) -> Literal["shown", "unsent", "nothing"]:
        """Show ``stage`` on the device; say whether it was, could not be (the local broker
        down or failing), or the device shows nothing."""
        command = feedback_command(device, stage, z2m_base=self._z2m_base)
        if command is None:
            return "nothing"
        client = self._local()
        if client is None:
            self._count("feedback_unsent", 1)
            logger.warning("no local broker: %s feedback to %s not shown yet", stage, device.id)
            return "unsent"
        try:
            await client.publish(command.topic, command.payload, qos=1)
        except aiomqtt.MqttError as exc:
            self._count("feedback_unsent", 1)
            logger.warning("%s feedback to %s failed: %s", stage, device.id, exc)
            return "unsent"
        self._count(f"feedback.{stage}", 1)
        self._last[device.id] = stage
        logger.info("feedback %s shown on %s", stage, device.id)
        return "shown"
