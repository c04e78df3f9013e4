"""Settings of the hub deployable, read from ``LINLI_HUB_*`` environment variables."""

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from devices.kinds import AlertKind


class HubSettings(BaseSettings):
    """Everything a hub process needs to know; built by the caller, never at import."""

    model_config = SettingsConfigDict(env_prefix="LINLI_HUB_", extra="forbid")

    data_dir: Path = Path("linli-data")
    database_url: str | None = None
    """SQLAlchemy URL; ``None`` means SQLite in ``data_dir``. PostgreSQL:
    ``postgresql+psycopg://user:password@host/db``."""
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_client_id: str = "linli-hub"
    """Also the broker session name: the hub uses a persistent session (clean_session=False),
    so two hub processes on one broker need different ids."""
    http_host: str = "127.0.0.1"
    http_port: int = 8080
    max_payload_bytes: int = 256 * 1024
    ingest_batch_max: int = 500
    """At most this many MQTT messages are committed in one database transaction."""
    start_ingest: bool = True
    """Run the MQTT ingest task; tests of the HTTP API alone turn it off."""
    feedback_kinds: frozenset[AlertKind] = frozenset({AlertKind.SOS})
    """Cases of these kinds are reported back to their device's edge as ``CaseFeedback``
    (``LINLI_HUB_FEEDBACK_KINDS='["sos", "smoke"]'``)."""
    feedback_queue_max: int = 1000
    """Feedback waiting to be published; beyond this it is dropped and counted."""
    sse_keepalive_seconds: float = 15.0
    """How often ``GET /api/v1/stream`` sends a comment so proxies keep the stream open."""

    # --- case management (issue 6) ---

    # --- auth (issue 6) ---

    # --- door access (issue 4) ---

    # --- camera evidence (issue 5) ---

    # --- telemetry and console (issue 7) ---

    def resolved_database_url(self) -> str:
        """Return the database URL to use, defaulting to SQLite in ``data_dir``."""
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'hub.sqlite3'}"
