"""The cameras inside the edge agent: one worker thread per camera, alerts into the outbox,
evidence over its own connection to the hub's broker.

- ``CameraWorker`` (a thread, so decoding and OpenCV never block the event loop): open the
  source, read frames, sample them, run the camera's ``CameraPipeline``; reconnect with
  jittered backoff when a stream drops, and judge the silence meanwhile (``camera_tamper``
  with rule ``no_frames`` after ``no_frames_s``). Its alerts are handed to the event loop.
- ``CameraService.run``: commits each batch of decisions through the agent's outbox path
  (``commit``), then spools the evidence of every raised alert (clean + annotated JPEG), and
  uploads the spool on ``linli/edge/<id>/evidence`` at QoS 1, re-sending until the hub's
  ``EvidenceAck`` names a picture. A picture is spooled after its alert is committed: a crash
  in between loses a picture, never an alert. The spool is capped (``SpoolLimits``): beyond
  it the least urgent, oldest pictures are dropped and counted (``camera.evidence_dropped``).
- OpenCV's own thread pool is set to ``cv_threads`` (default 1) before the workers start:
  each worker thread then runs its OpenCV calls on one core, so two cameras use at most two
  cores of a 4-core Pi and the agent's event loop keeps one (OpenCV's default pool spans every
  core for each worker, and the workers' pools contend with each other and the loop).
"""

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from datetime import datetime
from pathlib import Path

import aiomqtt
import cv2
from pydantic import ValidationError

from devices.camera import CameraCommand, CameraCommandKind, CameraConfig, EvidenceAck
from devices.kinds import AlertState
from devices.messages import Alert
from devices.mqtt_link import Delay, MqttEndpoint, MqttLink, checkpoint, payload_bytes
from devices.registry import Device
from devices.topics import EdgeChannel, edge_topic
from edge.camera.analytics import FrameAnalyzer, people_detector, watches_people
from edge.camera.capture import (
    CaptureError,
    FrameSampler,
    analysis_frame,
    frames,
    is_live,
    open_source,
)
from edge.camera.evidence import (
    SPOOL_DIR,
    SPOOL_MAX_BYTES,
    SPOOL_MAX_FILES,
    EvidenceError,
    EvidenceSpool,
    Snapshot,
    SpooledPicture,
    SpoolLimits,
    evidence_images,
)
from edge.camera.pipeline import CameraAlert, CameraPipeline
from edge.detection import AlertDecision
from edge.outbox import OutboxError

logger = logging.getLogger(__name__)

COMMANDS_REMEMBERED = 256
"""How many camera command ids an edge remembers, to carry out a redelivered one once."""
EVIDENCE_WINDOW = 4
"""Pictures on the wire at once (each up to ~1 MiB)."""


Emit = Callable[[CameraConfig, list[CameraAlert]], None]
Commit = Callable[[Device, list[AlertDecision]], Awaitable[list[Alert]]]
Seen = Callable[[Device], Awaitable[None]]

SEEN_EVERY_S = 60.0
"""How often a camera that delivered frames is reported to detection as checked in."""


class CameraWorker(threading.Thread):
    """Capture and analytics of one camera, in its own thread."""

    def __init__(
        self,
        camera: CameraConfig,
        emit: Emit,
        clock: Callable[[], datetime],
        backoff: Delay,
        stop: threading.Event,
    ) -> None:
        super().__init__(name=f"camera-{camera.device}", daemon=True)
        self.camera = camera
        self._emit = emit
        self._clock = clock
        self._backoff = backoff
        self._halt = stop
        detector = people_detector() if watches_people(camera) else None
        analyzer = FrameAnalyzer(camera, detector)
        self.pipeline = CameraPipeline(camera, analyzer)
        self.frames_read = 0
        self.frames_analysed = 0
        self._rebaseline = threading.Event()

    def run(self) -> None:
        """Read and analyse until stopped; never raise."""
        camera = self.camera
        live = is_live(camera.source)
        sampler = FrameSampler(camera.detect_fps)
        last_ts: datetime | None = None
        last_frame_at: datetime | None = self._clock()
        while not self._halt.is_set():
            try:
                capture = open_source(camera)
            except CaptureError as exc:
                logger.warning("camera %s: %s; retrying", camera.device, exc)
                if live:
                    self._judge_silence(last_frame_at)
                self._halt.wait(self._backoff.next_delay())
                continue
            self._backoff.reset()
            try:
                for frame, ts in frames(capture, camera, self._clock, not_before=last_ts):
                    if self._halt.is_set():
                        break
                    self.frames_read += 1
                    last_ts = ts
                    last_frame_at = self._clock()
                    if not sampler.take(ts):
                        continue
                    self.frames_analysed += 1
                    if self._rebaseline.is_set():
                        # Here, between two frames: the analytics belong to this thread.
                        self._rebaseline.clear()
                        self.pipeline.rebaseline()
                    alerts = self.pipeline.process(analysis_frame(frame, camera.width), ts)
                    if alerts:
                        self._emit(camera, alerts)
            except Exception:
                # A bug or a broken decoder must not end the camera for good.
                logger.exception("camera %s: analytics failed; reopening the source", camera.device)
            finally:
                capture.release()
            if not live and not camera.loop:
                logger.info("camera %s: file %s ended", camera.device, camera.source)
                self._halt.wait()
                return
            if live:
                logger.warning("camera %s: stream ended; reconnecting", camera.device)
                self._judge_silence(last_frame_at)
                self._halt.wait(self._backoff.next_delay())

    def request_rebaseline(self) -> None:
        """Ask for the camera's next analysed frame to become its reference view."""
        self._rebaseline.set()

    @property
    def rebaseline_pending(self) -> bool:
        """Return whether a re-baseline was asked for and no frame has taken it up yet."""
        return self._rebaseline.is_set()

    def _judge_silence(self, last_frame_at: datetime | None) -> None:
        alerts = self.pipeline.no_frames(self._clock(), last_frame_at)
        if alerts:
            self._emit(self.camera, alerts)


class CameraService:
    """Every camera of one edge; ``await run()`` inside the agent's task group."""

    def __init__(
        self,
        cameras: list[CameraConfig],
        devices: dict[str, Device],
        *,
        edge_id: str,
        data_dir: Path,
        hub: MqttEndpoint,
        resend_after_s: float,
        commit: Commit,
        seen: Seen,
        count: Callable[[str, int], None],
        clock: Callable[[], datetime],
        backoff: Callable[[], Delay],
        seen_every_s: float = SEEN_EVERY_S,
        spool_max_bytes: int = SPOOL_MAX_BYTES,
        spool_max_files: int = SPOOL_MAX_FILES,
        cv_threads: int = 1,
    ) -> None:
        self.cameras = cameras
        self._devices = devices
        self.edge_id = edge_id
        self.spool = EvidenceSpool(
            data_dir / SPOOL_DIR, SpoolLimits(spool_max_bytes, spool_max_files)
        )
        self._cv_threads = cv_threads
        self._hub = hub
        self._resend_after_s = resend_after_s
        self._commit = commit
        self._seen = seen
        self._count_in = count
        self._clock = clock
        self._backoff = backoff
        self._seen_every_s = seen_every_s
        self._wake = asyncio.Event()
        self.workers: list[CameraWorker] = []
        self._commands_seen: dict[str, None] = {}
        """Ids of the commands already carried out (a redelivered copy is not repeated)."""

    async def run(self) -> None:
        """Run the workers, commit their alerts, upload evidence; until cancelled."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[CameraConfig, list[CameraAlert]]] = asyncio.Queue()
        stop = threading.Event()

        def emit(camera: CameraConfig, alerts: list[CameraAlert]) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (camera, alerts))

        # A cap lowered since the last run applies at once, not only at the next picture.
        self._count_dropped(await asyncio.to_thread(self.spool.enforce_cap))
        if self._cv_threads > 0:
            # Process-wide in OpenCV (not per thread): set once, before any worker runs.
            cv2.setNumThreads(self._cv_threads)
        self.workers = [
            CameraWorker(camera, emit, self._clock, self._backoff(), stop)
            for camera in self.cameras
        ]
        for worker in self.workers:
            worker.start()
        logger.info("edge %s: %d cameras started", self.edge_id, len(self.workers))
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._consume(queue), name="edge-camera-alerts")
                tasks.create_task(self._check_in(), name="edge-camera-check-in")
                tasks.create_task(self._upload_forever(), name="edge-camera-evidence")
        finally:
            stop.set()
            for worker in self.workers:
                await asyncio.to_thread(worker.join, 10)

    async def _consume(self, queue: asyncio.Queue[tuple[CameraConfig, list[CameraAlert]]]) -> None:
        while True:
            camera, batch = await queue.get()
            try:
                await self._handle(camera, batch)
            except Exception:
                # A bug must not take the agent (and every other device) down with it.
                self._count("internal_error")
                logger.exception("camera %s: handling %d alerts failed", camera.device, len(batch))

    async def _handle(self, camera: CameraConfig, batch: list[CameraAlert]) -> None:
        device = self._devices[camera.device]
        while True:
            try:
                alerts = await self._commit(device, [a.decision for a in batch])
                break
            except OutboxError:
                # The decisions stay here and are committed once the outbox works again.
                self._count("outbox_errors")
                logger.exception("camera %s: cannot store alerts; retrying", camera.device)
                await asyncio.sleep(1.0)
        self._count("alerts", len(alerts))
        for alert, camera_alert in zip(alerts, batch, strict=True):
            if alert.state is AlertState.RAISED and camera_alert.frame is not None:
                snapshot = Snapshot(
                    self.edge_id,
                    device.id,
                    alert.id,
                    alert.kind,
                    alert.ts,
                    camera_alert.zone,
                    camera_alert.box,
                    camera_alert.frame,
                )
                try:
                    spooled, dropped = await asyncio.to_thread(self._spool, snapshot, camera)
                except EvidenceError:
                    self._count("evidence_failed")
                    logger.exception("evidence of alert %s not spooled", alert.id)
                    continue
                # Counted here, on the event loop: the agent's counters are not thread-safe.
                self._count("evidence_spooled", spooled)
                self._count_dropped(dropped)
        self._wake.set()

    async def _check_in(self) -> None:
        """Count a camera delivering frames as its check-in: it publishes nothing on MQTT,
        and a camera silent past its device class's deadline is ``device_offline``."""
        read = {worker.camera.device: worker.frames_read for worker in self.workers}
        while True:
            await asyncio.sleep(self._seen_every_s)
            for worker in self.workers:
                device_id = worker.camera.device
                if worker.frames_read != read[device_id]:
                    read[device_id] = worker.frames_read
                    await self._seen(self._devices[device_id])

    def _spool(self, snapshot: Snapshot, camera: CameraConfig) -> tuple[int, list[SpooledPicture]]:
        """Spool an alert's pictures (in a thread); return how many, and what the cap dropped."""
        images = evidence_images(snapshot, camera)
        dropped: list[SpooledPicture] = []
        for image in images:
            dropped.extend(self.spool.put(image))
        return len(images), dropped

    # --- upload ---------------------------------------------------------------------------------

    async def _upload_forever(self) -> None:
        link = MqttLink(
            self._hub, name="edge-evidence", backoff=self._backoff(), on_error=self._upload_failed
        )

        async def upload(client: aiomqtt.Client) -> None:
            topics = [
                edge_topic(self.edge_id, EdgeChannel.EVIDENCE_ACK),
                edge_topic(self.edge_id, EdgeChannel.CAMERA_COMMAND),
            ]
            async with link.session(client, topics, self._read_downlink) as session:
                await session.serve(self._send(client))

        await link.run(upload)

    def _upload_failed(self, exc: Exception) -> None:
        if not isinstance(exc, aiomqtt.MqttError):
            # A full disk, a bug: counted; the link starts over and alerts flow on regardless.
            self._count("evidence_uplink_errors")

    async def _send(self, client: aiomqtt.Client) -> None:
        topic = edge_topic(self.edge_id, EdgeChannel.EVIDENCE)
        loop = asyncio.get_running_loop()
        sent: dict[str, float] = {}
        while True:
            checkpoint()
            self._wake.clear()
            pending = await asyncio.to_thread(self.spool.pending, EVIDENCE_WINDOW)
            now = loop.time()
            due = [
                image
                for image in pending
                if image.id not in sent or now - sent[image.id] >= self._resend_after_s
            ]
            for image in due:
                await client.publish(topic, image.model_dump_json(), qos=1)
                sent[image.id] = now
                self._count("evidence_sent")
            live = {image.id for image in pending}
            for stale in [i for i in sent if i not in live]:
                del sent[stale]
            with suppress(TimeoutError):
                async with asyncio.timeout(min(1.0, self._resend_after_s)):
                    await self._wake.wait()

    async def _read_downlink(self, messages: AsyncIterator[aiomqtt.Message]) -> None:
        async for message in messages:
            if message.topic.value.endswith("/" + EdgeChannel.CAMERA_COMMAND):
                self.on_command(payload_bytes(message.payload) or b"", message.topic.value)
                continue
            try:
                ack = EvidenceAck.model_validate_json(payload_bytes(message.payload) or b"")
            except ValidationError as exc:
                self._count("evidence_ack_rejected")
                logger.warning("rejected an evidence ack on %s: %s", message.topic.value, exc)
                continue
            deleted = await asyncio.to_thread(self.spool.acknowledge, list(ack.ids))
            self._count("evidence_acked", deleted)
            self._wake.set()

    def on_command(self, raw: bytes, topic: str) -> bool:
        """Carry out an operator's command for one of this edge's cameras; return whether it
        was carried out (a bad, unknown or repeated command is counted and changes nothing)."""
        try:
            command = CameraCommand.model_validate_json(raw)
        except ValidationError as exc:
            self._count("camera_command_rejected.invalid")
            logger.warning("rejected a camera command on %s: %s", topic, exc)
            return False
        worker = next((w for w in self.workers if w.camera.device == command.device_id), None)
        if worker is None:
            self._count("camera_command_rejected.unknown_camera")
            logger.warning(
                "camera command %s names %s, no camera here", command.id, command.device_id
            )
            return False
        if command.id in self._commands_seen:
            self._count("camera_command_repeated")
            return False
        self._commands_seen[command.id] = None
        while len(self._commands_seen) > COMMANDS_REMEMBERED:
            del self._commands_seen[next(iter(self._commands_seen))]
        match command.command:
            case CameraCommandKind.REBASELINE:
                worker.request_rebaseline()
        self._count(f"camera_command.{command.command}")
        logger.info(
            "camera %s: %s requested by %s",
            command.device_id,
            command.command,
            command.requested_by,
        )
        return True

    def _count_dropped(self, dropped: list[SpooledPicture]) -> None:
        for picture in dropped:
            self._count("evidence_dropped")
            self._count(f"evidence_dropped.{picture.kind or 'unknown'}")

    def _count(self, name: str, n: int = 1) -> None:
        self._count_in(f"camera.{name}", n)
