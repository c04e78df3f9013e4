"""Settings of one edge agent (environment variables ``LINLI_EDGE_*``)."""

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from devices.adapters import DEFAULT_MAX_PAYLOAD_BYTES
from devices.credentials import load_credentials
from devices.mqtt_link import MQTT_TIMEOUT_S, MqttEndpoint, parse_alternates
from devices.registry import Identifier


class EdgeSettings(BaseSettings):
    """Everything an edge agent needs to run; build it in ``main()``, never at import."""

    # No infinite or NaN duration: ``inf`` is greater than 0, and an edge told to beat every
    # ``inf`` seconds never beat again, its every status refused by the hub as unreadable.
    model_config = SettingsConfigDict(env_prefix="LINLI_EDGE_", extra="forbid", allow_inf_nan=False)

    site_file: Path
    edge_id: Identifier | None = None
    """None: use the ``edge_id`` of the site file."""
    data_dir: Path = Path("linli-data/edge")
    local_mqtt_host: str = "127.0.0.1"
    local_mqtt_port: int = Field(default=1883, ge=1, le=65535)
    hub_mqtt_host: str = "127.0.0.1"
    hub_mqtt_port: int = Field(default=1883, ge=1, le=65535)
    hub_mqtt_alternates: str = ""
    """The hub's clustered broker's other nodes, ``"host:port,host:port"`` (``deploy/nats``):
    tried in turn after ``hub_mqtt_host`` when a connection fails. Empty for one Mosquitto."""
    local_mqtt_credentials_file: Path | None = None
    """The agent's username and password on its site broker (``linli broker init --site``'s
    ``edge`` entry), in a file only the agent's user can read."""
    local_mqtt_ca_file: Path | None = None
    """The site broker's CA: connect over TLS and verify it (None: plain, e.g. loopback)."""
    hub_mqtt_credentials_file: Path | None = None
    """The edge's identity on the hub's broker (``linli broker add-edge``'s output), in a file
    only the agent's user can read. Re-read at every reconnect: a rotated password is used."""
    hub_mqtt_ca_file: Path | None = None
    """The hub broker's CA: the uplink goes over TLS and checks the broker's certificate."""
    z2m_base: str = "zigbee2mqtt"
    discover_detectors: bool = True
    """Handle an unregistered smoke, CO, gas or leak detector on the site's Zigbee network as
    a device of its own, so its alarm is raised (``edge.discovery``); false refuses it."""
    hub_mqtt_keepalive_s: int = Field(default=60, ge=1, le=65535)
    """MQTT keepalive of the edge's sessions with the hub's broker: the broker publishes the
    edge's last will (``offline``) after 1.5 times this without a word from it. A category of
    site that must know of a dead edge within 20 s wants about 13 s (more pings on the uplink)."""
    heartbeat_s: float = Field(default=30, gt=0, le=86400)
    """How often the edge says its status; the status carries it, and the hub judges the edge
    lost after a few missed (it takes at most its ``edge_heartbeat_max_s``, 450 s by default:
    a longer one is logged and capped there). At most a day."""
    status_again_after_s: float = Field(default=12, gt=0)
    """After each connection to the hub's broker the edge says its status again once, this
    long after the status at connect: an edge back within seconds of its last will (a network
    blip) has that first status refused as late behind the will by the hub
    (``hub.fleet.status_order.LATE_WITHIN``, 10 s), and with a slow heartbeat it would stay
    offline past the hub's grace, a false ``edge_offline``. More than 10 s."""
    resend_after_s: float = Field(default=10, gt=0)
    """Send an alert again when the hub has not acknowledged it after this long."""
    max_in_flight: int = Field(default=1000, ge=1)
    """Unacknowledged alerts on the wire at once, so a slow hub never overflows a queue.
    Twice the hub's ``ingest_batch_max``: while the hub commits one batch the next arrives
    (with 200 a drained backlog went in batches of ~100, the hub idle half the time). Within
    Mosquitto's default queue for the hub (1,000 queued + 20 in flight); the site's
    ``deploy/mosquitto.conf`` queues 100,000."""
    sos_not_delivered_after_s: float = Field(default=30, gt=0)
    """A resident's SOS press the hub has not acknowledged (``AlertAck``) this long after it
    was stored is shown on the button as ``not_delivered`` (``edge.sos_watch``), so that the
    resident uses the phone instead of waiting for help that does not know. Three times the
    default ``resend_after_s``: a press lost on the wire is sent twice more first. The press
    stays in the outbox and is still delivered when the hub is back."""
    sos_not_delivered_repeat_s: float = Field(default=60, gt=0, le=3600)
    """``not_delivered`` is shown again this often while the press is not acknowledged and the
    button still shows it (a squawk or a blink is momentary)."""
    sos_not_delivered_repeats: int = Field(default=10, ge=0, le=1000)
    """How many more times ``not_delivered`` is shown after the first (0: once only)."""
    telemetry_interval_s: float = Field(default=5, gt=0)
    max_payload_bytes: int = Field(default=DEFAULT_MAX_PAYLOAD_BYTES, ge=1)
    co_profile: Literal["ul2034", "en50291"] = "ul2034"
    """The standard the CO dose model follows (``edge.detectors.co``)."""
    detection_tick_s: float = Field(default=5, gt=0)
    """How often time-driven detection runs (check-in deadlines, a leak that stayed dry)."""
    ingest_beat_s: float = Field(default=5, gt=0)
    """How often the device ingest's reading loop, idle, shows that it still runs
    (``edge.liveness``; it shows it at every message too)."""
    stuck_after_periods: float = Field(default=3, gt=1)
    """A loop of the edge (the device ingest's reading, every ``ingest_beat_s``; the detection
    tick, every ``detection_tick_s``) that has not run for this many of its periods is stuck:
    the heartbeat stops saying ``online`` (the hub raises ``edge_offline``) and systemd's
    watchdog is no longer told the edge is well (it restarts it), until the loop runs again."""
    zigbee_bridge_grace_s: float = Field(default=60, ge=0)
    """How long Zigbee2MQTT's ``bridge/state`` may say offline before one high-severity alert
    says the site's Zigbee network is deaf (``edge.zigbee_bridge``): a restart for an update
    is back within seconds."""
    trust_device_time: bool = False
    """Take a device's own timestamps as they are. Off (the default, and what every real site
    must keep): a device's time is bounded by when the edge received the message, at most 5 s
    ahead of it (clock skew) and replaced by it when more than a day behind
    (``devices.observations.observed_at``), so a device clock running ahead can neither hold
    an alarm back nor count as CO exposure, and one never set (1970) cannot stamp alerts
    decades away. Only a simulation that stamps readings in a simulated time of its own
    (``linli simulate --speed`` above 1, ``linli demo --speed`` above 1, a test replaying a
    fixed day) turns it on."""
    mqtt_timeout_s: float = Field(default=MQTT_TIMEOUT_S, gt=0)
    """How long one exchange with a broker (CONNACK, PUBACK, or the SUBACK-or-first-message that
    shows a session's subscriptions stand) may take before the connection is tried again."""
    outbox_sync: Literal["full", "normal"] = "full"
    """SQLite ``synchronous`` pragma of the outbox: ``full`` survives a power cut."""
    outbox_max_alerts: int = Field(default=100_000, ge=1000)
    """Alerts the outbox stores (the hub away) before it sheds superseded ones: transitions of
    a non-life-safety kind of a device that has raised and cleared it again since, oldest
    first (``edge.outbox_shed``; ~45 MB at the default). Life-safety alerts, an unresolved
    alarm and each device's last episode are never shed: past the bound they still grow."""
    access_log_max_records: int = Field(default=200_000, ge=1000)
    """Access log records the edge keeps for the hub (the hub away): a record is shed once this
    many later ones have been logged, oldest first (``edge.access.store``; ~64 MB at the
    default, a month of a busy gate). Acknowledged records are deleted at once."""
    # --- cameras (issue 5, edge.camera) ---
    evidence_spool_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024 * 1024)
    """Disk the camera evidence spool may take; past it the least urgent pictures are dropped."""
    evidence_spool_max_files: int = Field(default=2000, ge=2)
    """Pictures the camera evidence spool may hold (two per alert)."""
    camera_cv_threads: int = Field(default=1, ge=0)
    """OpenCV threads for the camera workers' calls; 0: OpenCV's default (every core)."""

    @model_validator(mode="after")
    def _credentials_are_private(self) -> "EdgeSettings":
        for path in (self.local_mqtt_credentials_file, self.hub_mqtt_credentials_file):
            if path is not None:
                load_credentials(path)  # raises CredentialsError: refuse to start
        return self

    def local_endpoint(self, edge_id: str) -> MqttEndpoint:
        """Return where the edge reads its devices (the site's broker)."""
        return MqttEndpoint(
            self.local_mqtt_host,
            self.local_mqtt_port,
            client_id=f"linli-edge-{edge_id}-local",
            timeout_s=self.mqtt_timeout_s,
            credentials_file=self.local_mqtt_credentials_file,
            tls_ca=self.local_mqtt_ca_file,
        )

    @field_validator("hub_mqtt_alternates")
    @classmethod
    def _broker_nodes(cls, value: str) -> str:
        parse_alternates(value)  # refuse a bad node list at start, not at the first reconnect
        return value

    def hub_endpoint(self, edge_id: str, session: str | None = None) -> MqttEndpoint:
        """Return where one of the edge's sessions with the hub connects."""
        name = f"linli-edge-{edge_id}" if session is None else f"linli-edge-{edge_id}-{session}"
        return MqttEndpoint(
            self.hub_mqtt_host,
            self.hub_mqtt_port,
            client_id=name,
            keepalive_s=self.hub_mqtt_keepalive_s,
            timeout_s=self.mqtt_timeout_s,
            credentials_file=self.hub_mqtt_credentials_file,
            tls_ca=self.hub_mqtt_ca_file,
            alternates=parse_alternates(self.hub_mqtt_alternates),
        )
