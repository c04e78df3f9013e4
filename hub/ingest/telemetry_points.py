"""Reading a telemetry batch point by point: one point the hub cannot take costs that point alone.

An edge forwards up to some 500 readings in one ``TelemetryBatch``. Validated whole, one
point that does not validate (a non-finite value, a wrong type, an overlong id) refused the
whole batch and its 499 good readings with it. ``read_points`` keeps every point that
validates and refuses the others one by one, as ``hub.ingest.messages`` salvages an alert
batch; only a batch whose own fields (its edge, its list of points) do not validate is refused
whole. Pure, no I/O: the caller turns each ``RefusedPoint`` into a counted, logged rejection.

A point that validates is still refused when its time is one the hub cannot use:

- ``time_unstorable``: outside what every store holds. InfluxDB line protocol (and
  VictoriaMetrics) counts time in int64 nanoseconds, from 1677-09-21 to 2262-04-11 UTC; a
  database column holds the years 1 to 9999 in UTC, and a time such as
  ``0001-01-01T00:00:00+14:00`` has no UTC value at all. Such a point used to reach the
  history writer, whose batch of 250 readings then failed and was written again in halves.
- ``time_ahead``: stamped more than ``MAX_CLOCK_AHEAD`` ahead of the hub's clock, the same
  bound the hub gives a phone's fix (``hub.positions.rules``). An edge whose clock runs years
  fast would otherwise set its devices' ``last_seen`` years ahead (after which none of their
  true readings counts as newer) and fill the history with readings no chart reads. The
  point is refused, not re-stamped: its true time is unknown.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import ValidationError

from devices.messages import TelemetryBatch, TelemetryPoint
from hub.positions.rules import MAX_CLOCK_AHEAD

__all__ = ["EARLIEST_STORABLE", "LATEST_STORABLE", "MAX_CLOCK_AHEAD", "ReadPoints", "RefusedPoint"]

EARLIEST_STORABLE = datetime(1677, 9, 21, 0, 12, 43, 145225, tzinfo=UTC)
"""The first whole microsecond int64 nanoseconds since 1970 reach (-2**63 ns)."""
LATEST_STORABLE = datetime(2262, 4, 11, 23, 47, 16, 854775, tzinfo=UTC)
"""The last whole microsecond int64 nanoseconds since 1970 reach (2**63 - 1 ns)."""

MALFORMED = "malformed"
TIME_UNSTORABLE = "time_unstorable"
TIME_AHEAD = "time_ahead"

_HEAD_CHARS = 200


@dataclass(frozen=True, slots=True)
class RefusedPoint:
    """One point of a batch the hub refuses, why, and what is readable of it for the log."""

    reason: str
    detail: str
    device_id: str | None
    head: str
    """The point's JSON, cut for the log."""


@dataclass(frozen=True, slots=True)
class ReadPoints:
    """A batch's points the hub takes, and those it refuses."""

    batch: TelemetryBatch
    refused: list[RefusedPoint]


def read_points(raw: bytes, now: datetime | None = None) -> ReadPoints:
    """Read a ``TelemetryBatch`` point by point: the points that validate and whose time the
    hub can store and believe (no more than ``MAX_CLOCK_AHEAD`` past ``now``, when given), the
    others refused one by one.

    Raises ``ValidationError`` when the batch itself (not JSON, no list of points, no valid
    edge) does not validate: then nothing of it is readable.
    """
    try:
        batch = TelemetryBatch.model_validate_json(raw)
    except ValidationError as exc:
        return _salvage(raw, exc, now)
    return _screen_times(batch, [], now)


def _salvage(raw: bytes, exc: ValidationError, now: datetime | None) -> ReadPoints:
    """Validate the batch's points one by one; re-raise ``exc`` if its envelope is bad."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # nested past the parser's depth: refused too
        raise exc from None
    items = data.get("points") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise exc
    try:
        envelope = TelemetryBatch.model_validate({**data, "points": []})
    except ValidationError:
        raise exc from None
    kept: list[TelemetryPoint] = []
    refused: list[RefusedPoint] = []
    for item in items:
        try:
            kept.append(TelemetryPoint.model_validate(item))
        except ValidationError as bad:
            detail = f"{bad.error_count()} validation error(s), first: {bad.errors()[0]['msg']}"
            refused.append(RefusedPoint(MALFORMED, detail, _device_id(item), _head(item)))
    return _screen_times(envelope.model_copy(update={"points": kept}), refused, now)


def _screen_times(
    batch: TelemetryBatch, refused: list[RefusedPoint], now: datetime | None
) -> ReadPoints:
    """Refuse the points of ``batch`` stamped where no store holds them or too far ahead."""
    latest = LATEST_STORABLE if now is None else min(LATEST_STORABLE, now + MAX_CLOCK_AHEAD)
    # Comparing aware datetimes takes their UTC offsets apart from the dates, so a time with
    # no UTC value (the year 1 at +14:00) compares, where converting it would overflow.
    if all(EARLIEST_STORABLE <= point.ts <= latest for point in batch.points):
        return ReadPoints(batch, refused)
    kept: list[TelemetryPoint] = []
    for point in batch.points:
        reason = _time_fault(point.ts, now)
        if reason is None:
            kept.append(point)
            continue
        refused.append(_refused_time(point, reason, now))
    return ReadPoints(batch.model_copy(update={"points": kept}), refused)


def _time_fault(ts: datetime, now: datetime | None) -> str | None:
    if not EARLIEST_STORABLE <= ts <= LATEST_STORABLE:
        return TIME_UNSTORABLE
    if now is not None and ts > now + MAX_CLOCK_AHEAD:
        return TIME_AHEAD
    return None


def _refused_time(point: TelemetryPoint, reason: str, now: datetime | None) -> RefusedPoint:
    if reason == TIME_AHEAD and now is not None:
        detail = (
            f"stamped {point.ts.isoformat()}, more than {_span(MAX_CLOCK_AHEAD)} ahead of "
            f"the hub's clock ({now.isoformat()})"
        )
    else:
        detail = (
            f"stamped {point.ts.isoformat()}, outside {EARLIEST_STORABLE.isoformat()} to "
            f"{LATEST_STORABLE.isoformat()} that every store of readings holds"
        )
    return RefusedPoint(reason, detail, point.device_id, _head(point.model_dump(mode="json")))


def _span(span: timedelta) -> str:
    seconds = int(span.total_seconds())
    return f"{seconds // 60} min" if seconds % 60 == 0 else f"{seconds} s"


def _device_id(item: object) -> str | None:
    device = item.get("device_id") if isinstance(item, dict) else None
    return device if isinstance(device, str) and len(device) <= 64 else None


def _head(item: object) -> str:
    try:
        return json.dumps(item, ensure_ascii=False)[:_HEAD_CHARS]
    except (ValueError, TypeError, RecursionError):
        return ""
