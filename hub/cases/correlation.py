"""Correlation, the pure core: which incident an alert belongs to.

Alerts of related kinds at the same place make one incident: smoke, heat and a camera's fire
cue in building 3 are one fire. A site describes this with ``CorrelationRules`` (defaults in
``DEFAULT_RULES``; a site may load its own from a TOML or JSON file, see ``load_rules``):

* a rule names the alert kinds it groups, the category of the case they open, and the depth of
  the location path that counts as "the same place" (1 = the building of
  ``"Building 3/Floor 12/Unit 1201"``), or no depth for one incident per device;
* ``attach`` kinds (an SOS) join an *active* incident of the rule at the same place whose last
  alert is at most ``attach_within_s`` old, but never open one under this rule: a press next
  to a fire is part of the fire; a press anywhere else is its own SOS case;
* faults only ever group with faults: a dead battery is a maintenance case, never part of a fire;
* the other way round, a case of such a rule, when it opens, takes in the active cases of its
  ``attach`` kinds at its place whose last alert is within ``attach_within_s`` of its first,
  if no person has taken them on yet (``takes_in``): a press before the fire is part of the
  fire too.

An alert's ``Route`` carries its correlation key; the database keeps at most one active case
per key (``hub.persistence``, ``cases.open_key``), which is what makes incident creation race-free.
Kinds no rule names get one case per (device, kind), as before correlation existed.

Nothing here does I/O except ``load_rules`` reading the rules file it is given.
"""

import hashlib
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from devices.kinds import FAULTS, LIFE_SAFETY, SECURITY, AlertKind, AlertState
from devices.location import Location, place_key
from devices.messages import Alert
from hub.cases.rules import open_key
from hub.errors import InvalidInputError
from hub.settings import HubSettings

RULE_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
_PLACE_DIGEST_CHARS = 40


class CaseCategory(StrEnum):
    """What kind of work a case is: who is sent and how fast."""

    LIFE_SAFETY = "life_safety"
    SECURITY = "security"
    PROPERTY = "property"
    MAINTENANCE = "maintenance"
    REQUEST = "request"
    """A resident's everyday request (点单): a repair, a hazard, rubbish not collected."""
    WELLBEING = "wellbeing"
    """A wellbeing check on a care household (独居老人) that showed no sign of life."""
    SUPERVISION = "supervision"
    """The alarm path itself is down: an edge lost, or a site's Zigbee network deaf, every
    detector and SOS button behind it unwatched. Not an alarm, but no flat battery either:
    someone looks at the box now (``ALARM_PATH_FAULTS``)."""


ALARM_PATH_FAULTS: frozenset[AlertKind] = frozenset(
    {AlertKind.EDGE_OFFLINE, AlertKind.BRIDGE_OFFLINE}
)
"""Faults of the alarm path rather than of one device: their cases are ``supervision``."""


def category_of(kind: AlertKind) -> CaseCategory:
    """Return the category of a case opened by an alert of ``kind`` that no rule groups."""
    if kind in LIFE_SAFETY:
        return CaseCategory.LIFE_SAFETY
    if kind is AlertKind.NO_ACTIVITY:
        return CaseCategory.WELLBEING
    if kind is AlertKind.RESIDENT_REQUEST:
        return CaseCategory.REQUEST
    if kind in ALARM_PATH_FAULTS:
        return CaseCategory.SUPERVISION
    if kind in FAULTS:
        return CaseCategory.MAINTENANCE
    if kind in SECURITY:
        return CaseCategory.SECURITY
    return CaseCategory.PROPERTY


class CorrelationRule(BaseModel):
    """Alert kinds that make one incident at one place."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Annotated[str, Field(pattern=RULE_NAME_PATTERN)]
    kinds: frozenset[AlertKind]
    category: CaseCategory
    place_depth: Annotated[int, Field(ge=1)] | None = None
    """How many parts of the device's location path make "the same place"; None: per device."""
    attach: frozenset[AlertKind] = frozenset()
    """Kinds that join an active incident of this rule at the same place, never opening one."""
    attach_within_s: Annotated[float, Field(gt=0)] = 600.0
    reopen_within_s: Annotated[float, Field(ge=0)] | None = None
    """A recurrence this soon after resolution reopens the case; None: the hub's setting."""

    @model_validator(mode="after")
    def _faults_stay_apart(self) -> "CorrelationRule":
        if not self.kinds:
            raise ValueError(f"rule {self.name!r} groups no kinds")
        faults = self.kinds & FAULTS
        if faults and faults != self.kinds:
            raise ValueError(f"rule {self.name!r} mixes faults with alarms: faults stay apart")
        if self.attach & FAULTS:
            raise ValueError(f"rule {self.name!r}: a fault never joins another incident")
        if self.attach & self.kinds:
            raise ValueError(f"rule {self.name!r}: a kind is either grouped or attached")
        return self


class CorrelationRules(BaseModel):
    """A site's correlation rules; each alert kind is grouped by at most one rule."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rules: tuple[CorrelationRule, ...]

    @model_validator(mode="after")
    def _one_rule_per_kind(self) -> "CorrelationRules":
        seen: dict[AlertKind, str] = {}
        names: set[str] = set()
        for rule in self.rules:
            if rule.name in names:
                raise ValueError(f"two rules are named {rule.name!r}")
            names.add(rule.name)
            for kind in rule.kinds:
                if kind in seen:
                    raise ValueError(f"{kind} is grouped by both {seen[kind]!r} and {rule.name!r}")
                seen[kind] = rule.name
        return self

    def rule_for(self, kind: AlertKind) -> CorrelationRule | None:
        """Return the rule that groups ``kind``, if any."""
        return next((rule for rule in self.rules if kind in rule.kinds), None)


DEFAULT_RULES = CorrelationRules(
    rules=(
        CorrelationRule(
            name="fire",
            kinds=frozenset(
                {AlertKind.SMOKE, AlertKind.HEAT, AlertKind.CAMERA_FIRE, AlertKind.CAMERA_SMOKE}
            ),
            category=CaseCategory.LIFE_SAFETY,
            place_depth=1,
            attach=frozenset({AlertKind.SOS}),
        ),
        CorrelationRule(
            name="co",
            kinds=frozenset({AlertKind.CO}),
            category=CaseCategory.LIFE_SAFETY,
            place_depth=3,
            attach=frozenset({AlertKind.SOS}),
        ),
        CorrelationRule(
            name="gas",
            kinds=frozenset({AlertKind.GAS}),
            category=CaseCategory.LIFE_SAFETY,
            place_depth=3,
            attach=frozenset({AlertKind.SOS}),
        ),
        CorrelationRule(
            name="water_leak",
            kinds=frozenset({AlertKind.WATER_LEAK}),
            category=CaseCategory.PROPERTY,
            place_depth=3,
        ),
        CorrelationRule(
            name="sos",
            kinds=frozenset({AlertKind.SOS}),
            category=CaseCategory.LIFE_SAFETY,
            # A press after the case was resolved is a new call for help, never an old one.
            reopen_within_s=0.0,
        ),
        CorrelationRule(
            name="security", kinds=SECURITY, category=CaseCategory.SECURITY, place_depth=2
        ),
        CorrelationRule(
            name="supervision", kinds=ALARM_PATH_FAULTS, category=CaseCategory.SUPERVISION
        ),
        CorrelationRule(
            name="maintenance",
            kinds=FAULTS - ALARM_PATH_FAULTS,
            category=CaseCategory.MAINTENANCE,
        ),
    )
)
"""Fire is one incident per building (an SOS there joins it); CO, gas and leaks per dwelling
or room; an SOS alone per button; door and camera security per area (two levels); an edge lost
or a Zigbee network deaf one supervision case each; other faults one maintenance case per
device."""


@dataclass(frozen=True, slots=True)
class Route:
    """Where an alert goes: its correlation key, rule, category and place."""

    key: str
    rule: str | None
    category: CaseCategory
    place: str | None
    """The location the incident is about (cut to the rule's depth); None per device."""
    reopen_within_s: float | None = None
    """The rule's reopen window, if it has its own."""


def place_route_key(rule: str, place: str, site: str | None = None) -> str:
    """Return the correlation key of ``rule``'s incident at ``place`` of ``site``: the same
    for every spelling of the place (``devices.location.place_key``).

    Places are named within their site (every community has its Building 3), so an incident
    is one site's: two sites' fires in their Building 3s are two cases, each seen by its own
    site (a single case was seen only by the site of the device that opened it, found by an
    outside review). A device of no site keys its place alone, as before sites existed.
    """
    name = place_key(place) if site is None else f"{site}\x1f{place_key(place)}"
    # A digest keeps the key short whatever the length of the place (256 characters at most).
    digest = hashlib.sha256(name.encode()).hexdigest()[:_PLACE_DIGEST_CHARS]
    return f"{rule}@{digest}"


def _place(location: str, depth: int) -> str:
    try:
        return str(Location.parse(location).at_level(depth))
    except ValueError:
        # A stored location is already canonical; a stray one still correlates as it is.
        return location


def route(
    rules: CorrelationRules,
    device_id: str,
    kind: AlertKind,
    location: str,
    site: str | None = None,
) -> Route:
    """Return the incident an alert of ``kind`` from a device at ``location`` of ``site``
    belongs to."""
    rule = rules.rule_for(kind)
    if rule is None:
        return Route(open_key(device_id, kind), None, category_of(kind), None)
    if rule.place_depth is None:
        return Route(
            f"{rule.name}|{device_id}", rule.name, rule.category, None, rule.reopen_within_s
        )
    place = _place(location, rule.place_depth)
    return Route(
        place_route_key(rule.name, place, site),
        rule.name,
        rule.category,
        place,
        rule.reopen_within_s,
    )


@dataclass(frozen=True, slots=True)
class AttachTarget:
    """An active incident an alert may join instead of its own route, if recent enough."""

    route: Route
    within_s: float


def attach_targets(
    rules: CorrelationRules, kind: AlertKind, location: str, site: str | None = None
) -> list[AttachTarget]:
    """Return, in rule order, the incidents at this place of ``site`` an alert of ``kind``
    may join."""
    targets: list[AttachTarget] = []
    for rule in rules.rules:
        if kind not in rule.attach:
            continue
        if rule.place_depth is None:
            continue  # a per-device incident has no place another device could share
        place = _place(location, rule.place_depth)
        targets.append(
            AttachTarget(
                Route(
                    place_route_key(rule.name, place, site),
                    rule.name,
                    rule.category,
                    place,
                    rule.reopen_within_s,
                ),
                rule.attach_within_s,
            )
        )
    return targets


@dataclass(frozen=True, slots=True)
class BatchRoutes:
    """Each alert's own incident, and the active incidents it may join instead."""

    own: dict[str, Route]
    """By alert id: the incident its own rule gives it."""
    targets: dict[str, list[AttachTarget]]
    """By alert id: the incidents it may attach to, in rule order."""

    @property
    def candidate_keys(self) -> frozenset[str]:
        """Return the keys of every incident some alert of the batch may join."""
        return frozenset(t.route.key for found in self.targets.values() for t in found)


def plan_routes(
    rules: CorrelationRules,
    alerts: Sequence[Alert],
    locations: Mapping[str, str],
    sites: Mapping[str, str | None] | None = None,
) -> BatchRoutes:
    """Return the own route and the attach targets of each alert (located by its device, in
    its device's site: ``sites``, by device id; none given or listed, no site)."""
    # Once per device and kind: a burst's take holds hundreds of alerts of a few devices, and
    # each route parses its place and hashes its key.
    own: dict[tuple[str, AlertKind], Route] = {}
    targets: dict[tuple[AlertKind, str, str | None], list[AttachTarget]] = {}
    plan = BatchRoutes(own={}, targets={})
    site_of = sites or {}
    for a in alerts:
        location = locations[a.device_id]
        site = site_of.get(a.device_id)
        if (found := own.get((a.device_id, a.kind))) is None:
            found = own[a.device_id, a.kind] = route(rules, a.device_id, a.kind, location, site)
        if (joins := targets.get((a.kind, location, site))) is None:
            joins = targets[a.kind, location, site] = attach_targets(rules, a.kind, location, site)
        plan.own[a.id] = found
        plan.targets[a.id] = joins
    return plan


def incident_lock_keys(rules: CorrelationRules, plan: BatchRoutes) -> set[str]:
    """Return the incidents a take must lock before it reads which are active (several hub
    workers, ``hub.cases.ordering``): every incident one of its alerts may attach to, and its
    alerts' own incidents of a rule that other kinds attach to (an SOS next to a fire waits
    for the fire case another worker is opening). Other incidents need no lock: two workers
    opening the same one meet at its unique ``open_key``."""
    joinable = {rule.name for rule in rules.rules if rule.attach}
    own = {route.key for route in plan.own.values() if route.rule in joinable}
    return own | plan.candidate_keys


CLOCK_AHEAD_ALLOWED = timedelta(minutes=5)
"""How far after its receipt an alert's time is taken as it is (an edge's clock a little
ahead of the hub's); as ``hub.positions.rules.MAX_CLOCK_AHEAD`` for a phone's fix."""


def correlation_time(ts: datetime, received_at: datetime | None) -> datetime:
    """Return when an alert stamped ``ts`` counts as having happened, to join it by time: its
    own time, but no later than ``CLOCK_AHEAD_ALLOWED`` after the hub received it.

    An edge whose clock runs far ahead (no network time after a power cut) stamps its alarms
    hours or days late; taken as they are, one such alarm moved its fire case's last alert
    into the future and every press in the building after it was "too long after the fire"
    (found by an outside review). A time in the past is taken as it is: a replay after an
    outage is that old. The alert is stored as stamped.
    """
    return ts if received_at is None else min(ts, received_at + CLOCK_AHEAD_ALLOWED)


def attach_routes(
    plan: BatchRoutes,
    alerts: Sequence[Alert],
    last_alert_at: Mapping[str, datetime],
    received_at: datetime | None = None,
) -> tuple[dict[str, Route], dict[str, Route]]:
    """Return each alert's incident, and the own route of those that attach to another.

    An alert joins the first target incident whose newest alert — active in the database
    (``last_alert_at``, by key) or raised in this very batch — is within the target's window
    of the alert's own time (``correlation_time``, received at ``received_at``); otherwise it
    keeps its own route.
    """
    routes = dict(plan.own)
    wanted = plan.candidate_keys
    latest = dict(last_alert_at)
    for alert in alerts:
        key = routes[alert.id].key
        if key in wanted and alert.state is AlertState.RAISED:
            at = correlation_time(alert.ts, received_at)
            latest[key] = max(latest.get(key, at), at)
    attached: dict[str, Route] = {}
    for alert in alerts:
        at = correlation_time(alert.ts, received_at)
        for target in plan.targets[alert.id]:
            last = latest.get(target.route.key)
            if last is not None and abs(at - last) <= timedelta(seconds=target.within_s):
                attached[alert.id] = routes[alert.id]
                routes[alert.id] = target.route
                break
    return routes, attached


@dataclass(frozen=True, slots=True)
class WaitingCase:
    """An active case that a case opening now at the same place might take in."""

    kinds: frozenset[AlertKind]
    """The kinds of its members."""
    locations: tuple[str, ...]
    """Where its devices are registered."""
    last_alert_at: datetime
    taken_on: bool
    """A person has acknowledged or accepted it: it is theirs, and stays its own case."""


def takes_in(
    rule: CorrelationRule, place: str | None, first_alert_at: datetime, case: WaitingCase
) -> bool:
    """Return whether a case of ``rule`` at ``place`` opened by an alert at ``first_alert_at``
    takes in ``case``: the mirror of an attach, for the press handled before the incident.

    Only a case made of nothing but the rule's ``attach`` kinds, all of its devices at the
    place, its last alert within the rule's window of the opening one, and nobody on it yet:
    a case a person has taken on is never moved from under them.
    """
    if place is None or rule.place_depth is None or case.taken_on:
        return False
    if not case.kinds or not case.kinds <= rule.attach or not case.locations:
        return False
    if abs(first_alert_at - case.last_alert_at) > timedelta(seconds=rule.attach_within_s):
        return False
    here = place_key(place)
    return all(place_key(_place(location, rule.place_depth)) == here for location in case.locations)


def load_rules(path: Path) -> CorrelationRules:
    """Read correlation rules from a TOML or JSON file, or raise ``InvalidInputError``.

    TOML: one ``[[rules]]`` table per rule, with the fields of ``CorrelationRule``.
    """
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode()) if path.suffix == ".toml" else json.loads(raw)
        return CorrelationRules.model_validate(data)
    except (OSError, ValueError, ValidationError) as exc:
        raise InvalidInputError(f"correlation rules {path}: {exc}") from exc


def correlation_rules(settings: HubSettings) -> CorrelationRules:
    """Return the site's rules: its rules file if the settings name one, else the defaults."""
    if settings.correlation_rules_file is None:
        return DEFAULT_RULES
    return load_rules(settings.correlation_rules_file)
