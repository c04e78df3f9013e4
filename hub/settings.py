"""Settings of the hub deployable, read from ``LINLI_HUB_*`` environment variables."""

from pathlib import Path
from typing import Literal

from pydantic import (
    AnyHttpUrl,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from devices.credentials import load_credentials, shared_group_name
from devices.kinds import AlertKind
from devices.mqtt_link import MQTT_TIMEOUT_S, MqttEndpoint, parse_alternates

CaseCategoryName = Literal[
    "life_safety", "security", "property", "maintenance", "request", "wellbeing", "supervision"
]
"""The names of ``hub.correlation.CaseCategory`` (not imported: that module reads settings)."""


GIB = 1024**3

DEFAULT_CLIENT_ID = "linli-hub"
DEFAULT_WORKER_GROUP = "linli-hubs"
"""The shared subscription group of hub workers started with ``--worker-id``."""


class HubSettings(BaseSettings):
    """Everything a hub process needs to know; built by the caller, never at import."""

    model_config = SettingsConfigDict(env_prefix="LINLI_HUB_", extra="forbid")

    data_dir: Path = Path("linli-data")
    database_url: str | None = None
    """SQLAlchemy URL; ``None`` means SQLite in ``data_dir``. PostgreSQL:
    ``postgresql+psycopg://user:password@host/db``."""
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = Field(default=1883, ge=1, le=65535)
    mqtt_credentials_file: Path | None = None
    """The hub's username and password on its broker (what ``linli broker init`` printed, in
    a file only the hub's user can read: the hub refuses to start otherwise)."""
    mqtt_ca_file: Path | None = None
    """The broker's CA (``linli broker init``'s ``ca_file``): connect over TLS and verify the
    broker's certificate and name (``mqtt_host`` must be one of its ``--host`` names)."""
    mqtt_alternates: str = ""
    """A clustered broker's other nodes, ``"host:port,host:port"`` (``deploy/nats``): tried in
    turn after ``mqtt_host`` when a connection fails. Empty for one Mosquitto."""
    mqtt_client_id: str = DEFAULT_CLIENT_ID
    """Also the broker session name: the hub uses a persistent session (clean_session=False),
    so two hub processes on one broker need different ids."""
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    """0: any free port (tests)."""
    max_payload_bytes: int = 256 * 1024
    ingest_batch_max: int = 500
    """At most this many alerts (an ``AlertBatch`` counting as ``alert_batch_max``, any other
    message as one) are committed in one database transaction."""
    alert_batch_max: int = Field(default=50, ge=0)
    """The most alerts an edge may pack into one ``AlertBatch`` message (the hub's retained
    status tells the edges); 0: one alert per message, as hubs before batches took them."""
    unknown_device_grace_s: float = Field(default=120.0, ge=0)
    """How long an alert about a device the hub does not know yet is left unacknowledged (the
    edge sends it again, its next status registers the device: ``hub.ingest.unknown_devices``)
    before it is refused for good; 0: refused at once."""
    start_ingest: bool = True
    """Run the MQTT ingest task (and case supervision); tests of the HTTP API alone turn it
    off."""
    feedback_kinds: frozenset[AlertKind] = frozenset({AlertKind.SOS})
    """Cases of these kinds are reported back to their device's edge as ``CaseFeedback``
    (``LINLI_HUB_FEEDBACK_KINDS='["sos", "smoke"]'``)."""
    feedback_queue_max: int = 1000
    """Feedback waiting to be published; beyond this it is dropped and counted."""
    stream_max_queued: int = Field(default=1000, ge=1)
    """Events held for one ``GET /api/v1/stream`` client that reads slower than they come;
    beyond this the oldest are dropped and the client gets a ``dropped`` event."""
    sse_keepalive_seconds: float = 15.0
    """How often ``GET /api/v1/stream`` sends a comment so proxies keep the stream open."""

    # --- case management (issue 6) ---
    correlation_rules_file: Path | None = None
    """A TOML or JSON file of correlation rules (``hub.cases.correlation``); None: the defaults."""
    reopen_within_seconds: float = Field(default=1800.0, ge=0)
    """A problem that comes back this soon after its case was resolved reopens that case."""
    mqtt_shared_group: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    """Subscribe through ``$share/<group>/...`` so that several hub workers split the edges'
    messages (each needs its own ``mqtt_client_id``)."""
    worker_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,32}$")
    """One of several hub workers on one PostgreSQL (``linli hub --worker-id``, docs/scale.md):
    unless given, ``mqtt_client_id`` becomes ``linli-hub-<worker_id>`` and
    ``mqtt_shared_group`` ``linli-hubs``."""
    live_relay: bool | None = None
    """On PostgreSQL, show every hub worker's live events on every worker's stream
    (LISTEN/NOTIFY, ``hub.live.relay``). Unset: while another hub listens on the database (a
    hub alone delivers in process, and relays again when another says hello); on: always;
    off: each worker's stream shows its own only."""
    acknowledge_within_s: dict[CaseCategoryName, PositiveFloat] = {}
    """Acknowledgement deadlines by case category, overriding ``hub.cases.supervision``'s defaults
    (life_safety 60, security 300, property 900, maintenance 86400):
    ``LINLI_HUB_ACKNOWLEDGE_WITHIN_S='{"security": 120}'``."""
    accept_within_s: dict[CaseCategoryName, PositiveFloat] = {}
    """Acceptance deadlines after a dispatch, by category (defaults 120, 600, 1800, 86400)."""
    resolve_within_s: dict[CaseCategoryName, PositiveFloat] = {}
    """Resolution deadlines by category: a case not resolved in time climbs the ladder (default:
    a resident's request, 172800 = 48 h; a category named here gets one, e.g. property):
    ``LINLI_HUB_RESOLVE_WITHIN_S='{"request": 86400, "property": 259200}'``."""
    escalation_levels: list[str] = Field(default=["community", "street", "district"], min_length=1)
    """The escalation ladder, lowest first."""
    supervision_interval_s: PositiveFloat = 1.0
    """How often the hub looks for deadlines that passed."""
    edge_silent_after_s: PositiveFloat = 120.0
    """An edge still ``online`` that sent no status for longer than this is lost: its
    ``edge_offline`` alert is raised (``hub.fleet.supervision``). Since 2026-12-07 only for an
    edge that does not say its heartbeat (an older edge): one that says it is judged by
    ``edge_missed_heartbeats``, ``edge_silent_floor_s`` and ``edge_heartbeat_max_s``. An edge
    sends its status every 30 s: 120 s is four missed in a row, so one or two statuses lost or
    delayed on a poor uplink raise nothing, and it comes after the broker's own 90 s (1.5 × the
    edge's 60 s keepalive), whose last will says so sooner for a box that died or lost its
    network; this catches the edge whose connection stays up and whose heartbeat stopped."""
    edge_missed_heartbeats: float = Field(default=4.0, ge=2, le=100, allow_inf_nan=False)
    """An edge that says its heartbeat (``EdgeStatus.heartbeat_s``, since 2026-12-07) is lost
    after this many of them missed in a row (at the edge's default 30 s: 120 s, as
    ``edge_silent_after_s``; at 300 s on a metered uplink: 20 min; at 5 s: 20 s). At least 2:
    one status late on a poor uplink must not open a case."""
    edge_silent_floor_s: float = Field(default=15.0, gt=0, le=86400, allow_inf_nan=False)
    """Never lost after less silence than this, whatever heartbeat the edge says: a status a few
    seconds late on a poor uplink, and the supervision round's own 5 s pace."""
    edge_heartbeat_max_s: float = Field(default=450.0, gt=0, le=86400, allow_inf_nan=False)
    """The longest heartbeat the hub takes from an edge: one that says more (a typo, a forged
    status, 1e9) is judged as if it said this (with 4 missed: lost after 30 min, the
    interruption reporting time of EN 50136-1's category SP3), logged once and counted
    (``edge_heartbeat_capped``): it cannot silence its own supervision."""
    edge_offline_grace_s: NonNegativeFloat = 60.0
    """How long an edge may stay ``offline`` (its last will, or its goodbye) before its
    ``edge_offline`` alert is raised: an edge restarted or upgraded is back within it and opens
    no case; a box that died is reported after it (a power cut: the broker's 90 s, then this,
    within EN 50136-1's 180 s). 0: at once."""
    notify_webhook_urls: list[AnyHttpUrl] = []
    """Each case event is POSTed as JSON to every URL here (a site's SMS / IM gateway)."""
    notify_mqtt: bool = False
    """Publish each case event on the hub's broker, ``linli/hub/cases/<case_id>/<event>``."""
    notify_interval_s: PositiveFloat = 0.5
    """How often the hub looks for notices to deliver when it has none in hand."""
    notify_webhook_secret: SecretStr | None = None
    """The HMAC-SHA256 key every webhook is signed with (``hub.cases.signing``,
    docs/security.md); required as soon as ``notify_webhook_urls`` is set."""

    # --- the HTTP attack surface (issue 14, docs/security.md) ---
    metrics_token: SecretStr | None = None
    """Bearer token Prometheus sends to ``GET /metrics``; None: ``/metrics`` answers 404."""
    cors_origins: list[str] = []
    """Origins whose pages may call the API from a browser; none by default."""
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    """Largest request body the hub reads; a larger one is answered 413 unread."""

    # --- auth (issue 6) ---
    bootstrap_token: SecretStr | None = None
    """A token accepted as an admin for every site, for setting up accounts on a new hub and
    for ``linli demo``; leave it unset in production once accounts exist."""
    roster_file: Path | None = None
    """Sites, grids and responders to create or update at start (``hub.roster.file``)."""
    seed_operator_token: SecretStr | None = None
    """An operator API token the hub stores when it starts, together with an ``operator``
    account whose password is the same secret (created once, never changed): what
    ``linli demo`` prints, so scripts and the console work at once (``LINLI_DEMO_TOKEN``)."""

    # --- door access (issue 4) ---
    access_sync: bool = True
    """Run the door access link (allow-lists to edges, access logs from them) on its own MQTT
    client ``<mqtt_client_id>-access``; off together with ``start_ingest``."""

    # --- camera evidence (issue 5) ---
    evidence_dir: Path | None = None
    """Folder of evidence pictures, one file per SHA-256; None: ``data_dir/evidence``."""
    gateway_secret: SecretStr | None = None
    """The HMAC key a messaging gateway signs residents' messages with
    (``POST /api/v1/gateway/messages``); None: that route is off."""
    gateway_outbound_url: AnyHttpUrl | None = None
    """Where the hub tells a messaging gateway something for a household (a notice, a
    request's new stage; signed like every webhook, docs/residents.md); None: households hear
    only on their page."""
    stage_check_interval_s: PositiveFloat = 5.0
    """How often the hub looks for requests whose stage changed, to tell the household through
    ``gateway_outbound_url`` (``hub.requests.stages``)."""
    care_check_interval_s: PositiveFloat = 60.0
    """How often the care households' homes are checked for signs of life (``hub.care``)."""
    audit_key: SecretStr | None = None
    """The key the audit chain's anchors are signed with (``hub.audit.anchors``), at least 16
    characters, the same on every hub worker of one database; None: a key made at the first
    anchor in ``data_dir/audit-anchor.key``. Keep it off the database's machine."""
    audit_anchor_every_s: float = Field(default=60.0, ge=0)
    """How often the hub anchors the audit chain's head (0: never)."""
    request_photo_dir: Path | None = None
    """Folder of residents' request photos, one file per SHA-256; None: under ``data_dir``."""
    evidence_max_bytes: int = 1024 * 1024
    """Largest evidence message accepted (the broker's limit; the JPEG is base64 inside)."""
    evidence_ingest: bool = True
    """Read evidence from the broker (with ``start_ingest``); off: the API only serves it."""
    evidence_retention_days: PositiveFloat = 90.0
    """Pictures received longer ago are deleted, except those of cases not yet resolved."""
    evidence_retention_interval_s: float = Field(default=3600.0, ge=0)
    """How often retention runs (with ``start_ingest``); 0: never (another process does it)."""
    evidence_edge_quota_bytes: int = Field(default=10 * GIB, ge=0)
    """Picture bytes one edge may hold on the hub (``hub.evidence.quota``); past it its
    pictures are refused (``over_quota``) until retention makes room. 10 GiB: about 200 camera
    alerts a day (two pictures of ~300 KB each) for the 90 days of retention."""
    evidence_life_safety_reserve_bytes: int = Field(default=GIB, ge=0)
    """Room above an edge's quota that only pictures of life-safety alerts may take."""
    evidence_min_free_disk_bytes: int = Field(default=2 * GIB, ge=0)
    """No picture is taken that would leave less free on the evidence folder's disk (the
    database and its alerts usually share it)."""

    def resolved_request_photo_dir(self) -> Path:
        """Return the folder of residents' request photos."""
        if self.request_photo_dir is not None:
            return self.request_photo_dir
        return self.data_dir / "request-photos"

    def resolved_evidence_dir(self) -> Path:
        """Return the folder of evidence pictures."""
        return self.evidence_dir if self.evidence_dir is not None else self.data_dir / "evidence"

    def workers_unshared_folders(self) -> list[str]:
        """Return the picture folders a hub worker keeps under its own data folder.

        Any worker may be asked for any picture (the workers share everything else through
        the database), so with ``worker_id`` these must name one folder all workers share.
        """
        if self.worker_id is None:
            return []
        folders = [
            ("LINLI_HUB_EVIDENCE_DIR", self.evidence_dir),
            ("LINLI_HUB_REQUEST_PHOTO_DIR", self.request_photo_dir),
        ]
        return [name for name, folder in folders if folder is None]

    # --- telemetry and console (issue 7) ---
    influx_url: str | None = None
    """InfluxDB (or any server of the v2 write API) for every reading; None turns it off."""
    influx_token: SecretStr | None = None
    influx_org: str = "linli"
    influx_bucket: str = "linli"
    influx_batch_size: int = Field(default=1000, ge=1)
    """Points per write request."""
    influx_flush_seconds: float = Field(default=1.0, gt=0)
    """A partial batch is written after waiting this long."""
    influx_buffer_max: int = Field(default=100_000, ge=1)
    """Points held while the server is slow or down; beyond this the oldest are dropped."""
    influx_timeout_seconds: float = Field(default=5.0, gt=0)
    history_retention_hours: float = Field(default=48.0, gt=0)
    """How long the hub keeps readings for the console (table ``reading_history``)."""
    history_queue_max: int = Field(default=50_000, ge=1)
    """Readings waiting to be stored for the console; beyond this the oldest are dropped."""

    @model_validator(mode="after")
    def _worker_defaults(self) -> "HubSettings":
        if self.worker_id is not None:
            if "mqtt_client_id" not in self.model_fields_set:
                self.mqtt_client_id = f"{DEFAULT_CLIENT_ID}-{self.worker_id}"
            if self.mqtt_shared_group is None:
                self.mqtt_shared_group = DEFAULT_WORKER_GROUP
        return self

    @model_validator(mode="after")
    def _credentials_are_private(self) -> "HubSettings":
        if self.mqtt_credentials_file is not None:
            load_credentials(self.mqtt_credentials_file)  # raises CredentialsError
        return self

    @model_validator(mode="after")
    def _webhooks_are_signed(self) -> "HubSettings":
        if self.notify_webhook_urls and self.notify_webhook_secret is None:
            raise ValueError(
                "notify_webhook_urls needs notify_webhook_secret: every webhook is signed"
            )
        if self.gateway_outbound_url is not None and self.notify_webhook_secret is None:
            raise ValueError(
                "gateway_outbound_url needs notify_webhook_secret: every webhook is signed"
            )
        return self

    def resolved_database_url(self) -> str:
        """Return the database URL to use, defaulting to SQLite in ``data_dir``."""
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'hub.sqlite3'}"

    @field_validator("audit_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("the audit anchor key must be at least 16 characters")
        return value

    @field_validator("mqtt_alternates")
    @classmethod
    def _broker_nodes(cls, value: str) -> str:
        parse_alternates(value)  # refuse a bad node list at start, not at the first reconnect
        return value

    def mqtt_group(self) -> str | None:
        """Return the shared subscription group the hub subscribes through, if any: with
        broker credentials, ``mqtt_shared_group`` tagged with the hub's password, so that no
        edge can name it and join it (``devices.credentials.shared_group_name``)."""
        if self.mqtt_shared_group is None or self.mqtt_credentials_file is None:
            return self.mqtt_shared_group
        password = load_credentials(self.mqtt_credentials_file).password.get_secret_value()
        return shared_group_name(self.mqtt_shared_group, password)

    def mqtt_endpoint(
        self, session: str | None = None, *, timeout_s: float = MQTT_TIMEOUT_S
    ) -> MqttEndpoint:
        """Return where one of the hub's MQTT sessions connects (``<mqtt_client_id>-<session>``)."""
        client_id = self.mqtt_client_id if session is None else f"{self.mqtt_client_id}-{session}"
        return MqttEndpoint(
            self.mqtt_host,
            self.mqtt_port,
            client_id=client_id,
            timeout_s=timeout_s,
            credentials_file=self.mqtt_credentials_file,
            tls_ca=self.mqtt_ca_file,
            alternates=parse_alternates(self.mqtt_alternates),
        )
