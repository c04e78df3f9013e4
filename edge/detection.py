"""Alert detection: pure functions of (device state, device, input, event time).

No I/O, no clock: the caller passes the event time (or, for ``tick``, the current time) in
and carries out what comes back. Only transitions produce alerts: a second ``smoke: true``
while smoke is raised produces nothing. Every alert's reason names the rule, the values it
saw and the profile applied.

- ``detect`` handles one observation: readings feed the detectors in ``edge.detectors``
  (the CO dose model, the heat trend, the SOS gestures, wired inputs' states, the battery
  trend and flat lines)
  and the simpler rules of ``edge.detection_rules`` (gas levels, smoke flag and
  obscuration, leak, tamper, battery level); any message from the device proves it alive.
- ``tick`` handles the passing of time with no new reading: a leak that has stayed dry, gas
  that has stayed below its clear level, a CO dose reached or a heat reading at the fixed
  level left standing (``co_tick``, ``heat_tick``), a device past its check-in deadline
  (the kind's, the one configured, or the one learned from the device's own rhythm:
  ``checkin_deadline_of``).

The state and decision types live in ``edge.detection_state``, the per-reading rules in
``edge.detection_rules``; both are re-exported here.
"""

from dataclasses import replace
from datetime import datetime, timedelta

from devices.kinds import AlertKind
from devices.observations import (
    COUNT_ONLY,
    AvailabilityChange,
    DeviceEvent,
    InputState,
    Observation,
    StateUpdate,
)
from devices.payloads import DEVICE_ANNOUNCE, ButtonEvent
from devices.registry import Device
from edge import clock_step
from edge.detection_rules import (
    READING_RULES,
    co_tick,
    gas_tick,
    leak_tick,
    rejoined,
    sos_rule,
)
from edge.detection_state import (
    FLOOD_PROFILE,
    HEAT_PROFILE,
    LIVENESS_PROFILE,
    AlertDecision,
    Detection,
    DeviceState,
    GasLevel,
    StateFormatError,
    Step,
    Values,
)
from edge.detectors import flooding as flooding_rules
from edge.detectors import inputs
from edge.detectors.liveness import CheckinDeadline, checkin_deadline
from edge.detectors.profile import DEFAULT_PROFILE, DetectionProfile

__all__ = [
    "AlertDecision",
    "Detection",
    "DeviceState",
    "GasLevel",
    "StateFormatError",
    "checkin_deadline_of",
    "detect",
    "flooded",
    "tick",
]


def detect(
    state: DeviceState,
    device: Device,
    observation: Observation,
    event_time: datetime,
    profile: DetectionProfile = DEFAULT_PROFILE,
    *,
    received_at: datetime | None = None,
    watching_since: datetime | None = None,
) -> Detection:
    """Return the device's new state and the alerts one observation causes.

    ``event_time`` is when the reading was taken (device time, else receive time);
    ``received_at`` is when the edge received it (defaults to ``event_time``);
    ``watching_since`` is when the edge began listening (as for ``tick``): a silence that
    began before it is not learned as the device's rhythm.
    """
    seen = event_time if received_at is None else received_at
    step = Step(state, event_time, seen=seen)
    self_test = False
    match observation:
        case StateUpdate(readings, _, doubtful):
            _checked_in(step, seen, watching_since, "message_received")
            step.doubtful = doubtful
            self_test = readings.smoke_test is True
            standing, newest = step.state.co.at, step.state.heat.samples[-1:]
            for rule in READING_RULES:
                rule(step, device, readings, profile)
            if step.state.co.at != standing:  # a new CO reading stands: it came now
                step.state = replace(step.state, co_seen=seen)
            if step.state.heat.samples[-1:] != newest:  # a new heat sample: it came now
                step.state = replace(step.state, heat_seen=seen)
        case DeviceEvent(event, _, count):
            _checked_in(step, seen, watching_since, "message_received")
            if count is not None and not _new_count(step, count):
                # The device repeating its last event (a Shelly, every 30 s): not a press.
                return Detection(step.state, tuple(step.alerts), self_test)
            if event == COUNT_ONLY:  # the count alone, recorded: nothing happened
                return Detection(step.state, tuple(step.alerts), self_test)
            if count is not None and _pushed(step, count[0]):
                # The push whose input state already raised it (a Gen1 Shelly sends both).
                return Detection(step.state, tuple(step.alerts), self_test)
            if event == DEVICE_ANNOUNCE:
                rejoined(step, device, profile)
            else:
                sos_rule(step, device, event, profile)
        case InputState(name, on):
            _checked_in(step, seen, watching_since, "message_received")
            _input(step, device, name, on, profile)
        case AvailabilityChange(online=True):
            if AlertKind.DEVICE_OFFLINE in step.state.raised:
                rejoined(step, device, profile)  # back from offline: as good as a re-join
            _checked_in(step, seen, watching_since, "availability=online")
        case AvailabilityChange(online=False):
            # The bridge's (or the device's last will's) word, not a check-in by the device.
            step.switch(
                AlertKind.DEVICE_OFFLINE,
                raise_rule="availability=offline",
                clear_rule=None,
                values={"availability": "offline"},
                profile=LIVENESS_PROFILE,
            )
    return Detection(step.state, tuple(step.alerts), self_test)


def _input(step: Step, device: Device, name: str, on: bool, profile: DetectionProfile) -> None:
    """Read a wired input's state: off → on on an SOS button is a press."""
    memory, pressed = inputs.input_changed(step.state.inputs, name, on, step.event_time)
    step.state = replace(step.state, inputs=memory)
    if pressed is None:
        return
    sos_rule(
        step,
        device,
        ButtonEvent.PRESS,
        profile,
        raise_rule=inputs.RULE_INPUT_ON,
        marked=inputs.RULE_FIRST_SIGHTING if pressed.first_sighting else None,
        extra={"input": name},
    )


def _pushed(step: Step, input_name: str) -> bool:
    """Record that an input sent a push event; return whether its state already raised it."""
    memory, same = inputs.push_event(step.state.inputs, input_name, step.event_time)
    step.state = replace(step.state, inputs=memory)
    return same


def _new_count(step: Step, count: tuple[str, int]) -> bool:
    """Record a device's count of its events; return whether it is a new one.

    Any other count than the last of the input is new, a lower one too: a device that
    restarted counts from zero again. A mains Gen1 Shelly says so itself (``COUNT_ONLY``,
    count 0, at its first status after the restart). (A device that restarts and has its
    first event, with the very count of the last before it, before it says so is taken for a
    repeat: the one case this cannot tell apart.)
    """
    counts = dict(step.state.event_counts)
    input_name, number = count
    if counts.get(input_name) == number:
        return False
    counts[input_name] = number
    step.state = replace(step.state, event_counts=tuple(sorted(counts.items())))
    return True


def flooded(
    state: DeviceState,
    device: Device,
    at: datetime,
    topic: str,
    settings: flooding_rules.FloodSettings,
) -> Detection:
    """Return the device's state and its ``device_flooding`` alert (if not raised already):
    the edge saw ``topic``, one of the device's, flooding at ``at`` (``FloodWatch``)."""
    step = Step(replace(state, flooded_at=at), at)
    step.switch(
        AlertKind.DEVICE_FLOODING,
        raise_rule=(
            f">={settings.messages} messages in each {settings.window_s:g}s"
            f" for {settings.windows * settings.window_s:g}s"
        ),
        clear_rule=None,
        values={
            "messages": settings.messages,
            "window_s": settings.window_s,
            "sustained_s": settings.windows * settings.window_s,
            "topic": topic,
        },
        profile=FLOOD_PROFILE,
    )
    return Detection(step.state, tuple(step.alerts))


def tick(
    state: DeviceState,
    device: Device,
    now: datetime,
    profile: DetectionProfile = DEFAULT_PROFILE,
    *,
    watching_since: datetime | None = None,
    deadline: bool = True,
) -> Detection:
    """Return the device's new state and the alerts that the passing of time causes.

    ``deadline`` False leaves the check-in deadline unjudged: the device's bridge is offline,
    and its one alert covers every device behind it (``edge.zigbee_bridge``).

    ``watching_since`` is when the caller began listening (the edge's start): a check-in
    deadline never counts from earlier, so an edge that was down for hours does not report
    every device offline at once, and a device never heard from at all still gets a deadline.

    ``now`` is the edge's clock, compared only with ``last_seen`` (also the edge's clock).
    Each alert carries the moment its condition became true (a leak silent and dry for long
    enough, a check-in deadline passed), never later than ``now``.
    """
    step = Step(state, now)
    leak_tick(step, profile)
    gas_tick(step, profile)
    co_tick(step, profile)
    heat_tick(step, profile)
    if deadline:
        _liveness_tick(step, device, now, profile, watching_since)
    if flooding_rules.calmed(state.flooded_at, now, profile.flood):
        step.switch(
            AlertKind.DEVICE_FLOODING,
            raise_rule=None,
            clear_rule=f"under the bound for {profile.flood.clear_after_s:g}s",
            values={"quiet_s": profile.flood.clear_after_s},
            profile=FLOOD_PROFILE,
        )
    return Detection(step.state, tuple(step.alerts))


# --- liveness ------------------------------------------------------------------------------


def _checked_in(step: Step, seen: datetime, watching_since: datetime | None, rule: str) -> None:
    last = step.state.last_seen
    if last is None or seen > last:
        rhythm = step.state.rhythm.heard(last, seen, watching_since)
        step.state = replace(step.state, last_seen=seen, rhythm=rhythm)
    elif (last - seen).total_seconds() > clock_step.STEP_S:
        # The edge's clock went back: this is the device's last check-in now.
        step.state = replace(step.state, last_seen=seen)
    step.switch(
        AlertKind.DEVICE_OFFLINE,
        raise_rule=None,
        clear_rule=rule,
        values={"availability": "online"},
        profile=LIVENESS_PROFILE,
    )


def heat_tick(step: Step, profile: DetectionProfile) -> None:
    """Raise heat on a reading at or above the fixed level that nothing has followed for the
    hold (a sensor destroyed by the fire, or reporting on change only): the fixed rule's
    second reading never comes. Judged on the edge's clock from when it came (``heat_seen``);
    stamped with the reading's time plus the hold. Clear raised heat the same way once the
    newest reading has been cool and steady for ``clear_after_s`` (``HeatTrend.cooled_at``)."""
    settings = profile.heat
    came, trend = step.state.heat_seen, step.state.heat
    cooled = trend.cooled_at(settings)
    if AlertKind.HEAT in step.state.raised and cooled is not None and came is not None:
        # Cleared between reports too: the newest reading, cool and steady, has stood long
        # enough (its event time plus how long it has stood on the edge's clock).
        if trend.samples[-1][0] + (step.event_time - came) >= cooled:
            clear_bound = settings.fixed_c - settings.clear_margin_c
            rule = f"temperature_c<{clear_bound:g} for {settings.clear_after_s:g}s"
            values: Values = {"temperature_c": trend.samples[-1][1]}
            step.switch(
                AlertKind.HEAT,
                raise_rule=None,
                clear_rule=rule,
                values=values,
                profile=HEAT_PROFILE,
                at=cooled,
            )
        return
    standing = trend.standing_hot(settings)
    if AlertKind.HEAT in step.state.raised or standing is None or came is None:
        return
    if (step.event_time - came).total_seconds() < settings.fixed_hold_s:
        return
    at, celsius = standing
    step.switch(
        AlertKind.HEAT,
        raise_rule=f"temperature_c>={settings.fixed_c:g} standing {settings.fixed_hold_s:g}s",
        clear_rule=None,
        values={"temperature_c": celsius},
        profile=HEAT_PROFILE,
        at=at + timedelta(seconds=settings.fixed_hold_s),
    )


def _liveness_tick(
    step: Step,
    device: Device,
    now: datetime,
    profile: DetectionProfile,
    watching_since: datetime | None,
) -> None:
    # A time further after ``now`` than a clock step was read before the edge's clock went
    # back: not a check-in to count from (the deadline would wait as long as the clock went
    # back; ``edge.clock_step``).
    latest = now + timedelta(seconds=clock_step.STEP_S)
    known = [t for t in (step.state.last_seen, watching_since) if t is not None and t <= latest]
    if not known:
        return
    last = max(known)
    deadline = checkin_deadline_of(step.state, device, profile)
    due = last + timedelta(seconds=deadline.seconds)
    if now >= due:
        values: Values = {
            "silent_since": last.isoformat(),
            "deadline_s": deadline.seconds,
            "deadline_source": deadline.source.value,
        }
        if deadline.learned_interval_s is not None:
            values["learned_interval_s"] = deadline.learned_interval_s
        step.switch(
            AlertKind.DEVICE_OFFLINE,
            raise_rule="checkin_overdue",
            clear_rule=None,
            values=values,
            profile=LIVENESS_PROFILE,
            at=due,
        )


def checkin_deadline_of(
    state: DeviceState, device: Device, profile: DetectionProfile = DEFAULT_PROFILE
) -> CheckinDeadline:
    """Return how long ``device`` may stay silent now: configured, learned or default."""
    return checkin_deadline(device, profile.checkin_s, profile.checkin_configured, state.rhythm)
