"""The base of every read model the hub's API returns, and the generic ones."""

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict


class View(BaseModel):
    """Base of the read models: immutable, and exactly the fields listed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


T = TypeVar("T")


class Items(View, Generic[T]):
    """A list response: ``{"items": [...]}``."""

    items: list[T]


class Health(View):
    """Whether the hub is up, and its ingest counters."""

    status: Literal["ok", "degraded"] = "ok"
    """``degraded`` while a background task of the hub (``tasks``) is down, waiting to be
    started again, or while its MQTT ingest is not connected (it hears no edge)."""
    mqtt_connected: bool
    counters: dict[str, int]
    tasks: dict[str, bool] = {}
    """Whether each case task (``supervision``, ``notifications``) is running now."""
    photos: dict[str, int] = {}
    """Residents' photos being re-encoded now (``photos_reencoding``) and the most at once
    since the hub started (``photos_reencoding_most``); always both, unlike ``counters``."""
