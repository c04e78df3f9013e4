"""The edge agent: the task group that composes ingest, detection, uplink, doors and cameras.

One ``asyncio.TaskGroup`` of named tasks:

- ``edge-ingest`` (``edge.ingest``): device messages from the local broker → decode →
  detection → outbox commit → acknowledge the message to the broker → wake the forwarder
  (or, while it waits, send the commit's alerts at once: ``edge.handoff``);
- ``edge-uplink`` (``edge.uplink``): the hub's broker: retained ``EdgeStatus`` (last will:
  offline), alerts out of the outbox in life-safety order with a bounded window,
  ``AlertAck``, ``DeviceRegistry`` and ``CaseFeedback`` in;
- ``edge-detect-tick`` (``edge.device_detection``): time-driven detection (check-in
  deadlines, a leak that has stayed dry) every ``detection_tick_s``, committed like ingest's;
- ``edge-heartbeat``: ``EdgeStatus`` again every ``heartbeat_s``, only while the device
  ingest's reading loop and the detection tick are seen to run (``edge.liveness``): a stuck
  edge goes silent, and the hub raises ``edge_offline``;
- ``edge-telemetry``: buffered readings as a ``TelemetryBatch`` every
  ``telemetry_interval_s`` (best effort, QoS 0);
- ``edge-sos-watch`` (``edge.sos_watch``): a resident's SOS the hub has not acknowledged
  within ``sos_not_delivered_after_s`` shows ``not_delivered`` on the button;
- ``edge-access`` (``edge.access``) and ``edge-cameras`` (``edge.camera``);
- ``edge-watchdog`` under systemd (``edge.systemd_notify``): ``READY=1``, then ``WATCHDOG=1``
  while the same loops run, so systemd restarts a stuck edge.

Each broker connection is a ``devices.mqtt_link.MqttLink``: it reconnects forever with
jittered exponential backoff; detection and the outbox keep working while the uplink is down.
"""

import asyncio
import logging
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from devices.camera import check_cameras
from devices.kinds import DeviceKind
from devices.mqtt_link import Backoff, checkpoint
from devices.observations import NativeAddress
from devices.registry import Device
from devices.site import SiteFile
from edge.access.control import AccessControl
from edge.access.store import FILE_NAME as ACCESS_FILE_NAME
from edge.access.store import AccessStore
from edge.camera.service import CameraService
from edge.detectors.profile import DetectionProfile, ProfileBook
from edge.device_detection import DeviceDetection
from edge.directory import DeviceDirectory
from edge.handoff import HandOff
from edge.ingest import DeviceIngest
from edge.liveness import Liveness
from edge.outbox import FILE_NAME, Outbox, OutboxError
from edge.settings import EdgeSettings
from edge.sos_watch import SosWatch
from edge.sqlite_tx import DatabaseThread
from edge.systemd_notify import SystemdNotifier
from edge.uplink import EdgeUplink, TelemetryBuffer
from edge.zigbee_bridge import known_bridges

logger = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(UTC)


_PRESSES_WATCHED_AT_START = 1000
"""Stored alerts read at start for presses to watch (``edge.sos_watch``): most urgent first, so
every SOS press the outbox holds is among them unless a thousand SOS presses wait."""


class EdgeAgent:
    """The edge agent of one site. ``await EdgeAgent(settings).run()``; cancel it to stop.

    The constructor reads the site file and opens the outbox; ``run`` can be called once and
    closes the outbox when it ends.
    """

    def __init__(
        self,
        settings: EdgeSettings,
        *,
        clock: Callable[[], datetime] = _utc_now,
        monotonic: Callable[[], float] | None = None,
        rng: Callable[[], float] = random.random,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        # A wall clock injected alone is moved by hand: no monotonic clock to tell its steps.
        steady = time.monotonic if monotonic is None and clock is _utc_now else monotonic
        monotonic = monotonic or time.monotonic
        site = SiteFile.load(settings.site_file)
        self.edge_id: str = settings.edge_id or site.site.edge_id
        self.site_devices: list[Device] = [
            d.model_copy(update={"edge_id": self.edge_id}) for d in site.devices
        ]
        self.directory = DeviceDirectory(self.site_devices)
        # Each device's detectors: --co-profile, then the site file's [detection] tables
        # (checked before anything is opened: a bad table stops the edge at once).
        self.profiles = ProfileBook.build(
            site.detection,
            DetectionProfile.for_co_standard(settings.co_profile),
            self.site_devices,
        )
        self.outbox = Outbox.open(
            settings.data_dir / FILE_NAME,
            settings.outbox_sync,
            resend_after_s=settings.resend_after_s,
            max_alerts=settings.outbox_max_alerts,
        )
        self.counters: Counter[str] = Counter()
        self._clock = clock
        # The loops the edge vouches for (edge.liveness): the heartbeat and the watchdog ask.
        self.liveness = Liveness(
            monotonic, stuck_after_periods=settings.stuck_after_periods, count=self._count
        )
        self._detecting = self.liveness.part("detection", settings.detection_tick_s)
        # systemd's notify socket, when it runs the edge (edge.systemd_notify).
        self.systemd = SystemdNotifier.from_environ(os.environ if environ is None else environ)
        # One thread owns every outbox call, in order.
        self._db = DatabaseThread("edge-outbox")
        # Set when alerts are stored or acknowledged: the forwarder looks again.
        wake = asyncio.Event()
        # The waiting forwarder's offer: a commit sends its alerts itself (edge.handoff).
        handoff = HandOff()
        self.detection = DeviceDetection(
            edge_id=self.edge_id,
            directory=self.directory,
            profiles=self.profiles,
            outbox=self.outbox,
            db=self._db,
            wake=wake,
            handoff=handoff,
            count=self._count,
            clock=clock,
            monotonic=steady,
            trust_device_time=settings.trust_device_time,
            bridge_grace_s=settings.zigbee_bridge_grace_s,
        )
        # The Zigbee bridges heard before a restart: still supervised, still listed.
        for bridge in known_bridges(self.edge_id, self.site_devices, self.detection.states.keys()):
            self.directory.remember_bridge(bridge)
        # Door access (edge.access): reader frames and door contacts in, its own hub link.
        self.access = AccessControl(
            edge_id=self.edge_id,
            store=AccessStore.open(
                settings.data_dir / ACCESS_FILE_NAME,
                settings.outbox_sync,
                max_log_records=settings.access_log_max_records,
            ),
            outbox=self.outbox,
            hub=settings.hub_endpoint(self.edge_id, "access"),
            local=lambda: self.ingest.client,
            on_alerts=self.detection.announce,
            count=self._count,
            locate=lambda device_id: getattr(
                self.directory.resolve(NativeAddress(device_id)), "location", None
            ),
            clock=clock,
            monotonic=monotonic,
            rng=rng,
            resend_after_s=settings.resend_after_s,
        )
        telemetry = TelemetryBuffer(self._count)
        self.ingest = DeviceIngest(
            settings.local_endpoint(self.edge_id),
            directory=self.directory,
            detection=self.detection,
            access=self.access,
            telemetry=telemetry,
            count=self._count,
            clock=clock,
            z2m_base=settings.z2m_base,
            max_payload_bytes=settings.max_payload_bytes,
            backoff_rng=rng,
            monotonic=monotonic,
            discover_for=self.edge_id if settings.discover_detectors else None,
            # Watched from its first connection: until then its link retries with a backoff.
            alive=self.liveness.part("ingest", settings.ingest_beat_s, resting=True),
        )
        # A press the hub does not acknowledge in time shows not_delivered (edge.sos_watch).
        self.sos_watch = SosWatch(
            self.ingest.feedback,
            self.directory,
            after_s=settings.sos_not_delivered_after_s,
            repeat_s=settings.sos_not_delivered_repeat_s,
            repeats=settings.sos_not_delivered_repeats,
            monotonic=monotonic,
            count=self._count,
        )
        self.detection.on_committed = self.sos_watch.committed
        # Presses stored before a restart and still not acknowledged are watched from now on:
        # with the hub still away, their buttons hear not_delivered too (SOS ranks first).
        self.sos_watch.committed(self.outbox.due(monotonic(), _PRESSES_WATCHED_AT_START))
        self.uplink = EdgeUplink(
            settings.hub_endpoint(self.edge_id),
            settings,
            edge_id=self.edge_id,
            site_devices=self.site_devices,
            directory=self.directory,
            outbox=self.outbox,
            db=self._db,
            wake=wake,
            handoff=handoff,
            telemetry=telemetry,
            relay_feedback=self.ingest.feedback.relay,
            on_acked=self.sos_watch.acked,
            checkins=self.detection.checkins,
            in_memory=self._in_memory,
            vouch=self.liveness.vouch,
            counters=self.counters,
            count=self._count,
            clock=clock,
            monotonic=monotonic,
            backoff_rng=rng,
        )
        # Camera analytics (edge.camera): worker threads, alerts through this outbox.
        check_cameras(site.cameras, {d.id for d in site.devices if d.kind is DeviceKind.CAMERA})
        self.cameras: CameraService | None = None
        if site.cameras:
            self.cameras = CameraService(
                site.cameras,
                {d.id: d for d in self.site_devices},
                edge_id=self.edge_id,
                data_dir=settings.data_dir,
                hub=settings.hub_endpoint(self.edge_id, "evidence"),
                resend_after_s=settings.resend_after_s,
                commit=self.detection.commit_camera_alerts,
                seen=self.detection.camera_seen,
                count=self._count,
                clock=clock,
                backoff=lambda: Backoff(rng=rng),
                spool_max_bytes=settings.evidence_spool_max_bytes,
                spool_max_files=settings.evidence_spool_max_files,
                cv_threads=settings.camera_cv_threads,
            )

    @property
    def local_ready(self) -> bool:
        """Return whether the agent is subscribed on the local broker right now."""
        return self.ingest.ready

    @property
    def uplink_ready(self) -> bool:
        """Return whether the agent is connected to the hub's broker right now."""
        return self.uplink.client is not None

    async def run(self) -> None:
        """Run until cancelled; reconnect to either broker forever."""
        logger.info(
            "edge %s starting: %d site devices, %d alerts waiting in the outbox",
            self.edge_id,
            len(self.site_devices),
            self.outbox.depth(),
        )
        self.detection.begin()
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self.ingest.run(), name="edge-ingest")
                tasks.create_task(self.uplink.run(), name="edge-uplink")
                tasks.create_task(self._detect_tick_forever(), name="edge-detect-tick")
                tasks.create_task(self.uplink.heartbeat(), name="edge-heartbeat")
                tasks.create_task(self.uplink.send_telemetry(), name="edge-telemetry")
                tasks.create_task(self.sos_watch.run(), name="edge-sos-watch")
                tasks.create_task(self.access.run(), name="edge-access")
                if self.cameras is not None:
                    tasks.create_task(self.cameras.run(), name="edge-cameras")
                if self.systemd is not None:
                    tasks.create_task(self.systemd.serve(self.liveness.vouch), name="edge-watchdog")
        finally:
            self._db.shutdown()
            self.outbox.close()
            logger.info("edge %s stopped", self.edge_id)

    async def detect_tick(self) -> None:
        """Run time-driven detection for every known device, at the clock's now."""
        await self.detection.tick()

    async def _detect_tick_forever(self) -> None:
        while True:
            checkpoint()
            # Each turn: a tick that hangs stops the beats (edge.liveness).
            self._detecting.beat()
            await asyncio.sleep(self.settings.detection_tick_s)
            try:
                await self.detection.tick()
            except OutboxError:
                # The states stay as they were: the next tick decides the same again.
                self._count("outbox_errors")
                logger.exception("cannot store time-driven alerts in the outbox; retrying")
            except Exception:
                # A bug: log it and tick again, never take the whole agent down with it.
                logger.exception("time-driven detection failed")

    def _in_memory(self) -> list[str]:
        """The stores whose disk refused them, for the status (``EdgeStatus.in_memory``)."""
        refused = [("outbox", self.outbox.unsaved), ("access", not self.access.store.on_disk)]
        return [name for name, in_memory in refused if in_memory]

    def _count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n
