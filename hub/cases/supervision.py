"""Supervision, the pure core: deadlines on cases, and what happens when one passes.

Every active case must be taken on in time (督促办结): acknowledged by an operator (or accepted
by a responder) within its category's acknowledgement deadline — life safety 60 s by
default, as PRODUCT.md asks — and, once dispatched, accepted by its responder within the
acceptance deadline. A deadline is a row in the database (``hub.db.CaseTimerRow``) with a
``due_at``; when it passes, ``on_timer`` decides:

* acknowledgement overdue → **escalate** one level (community → street → district by
  default) and check again one deadline later; at the top level, notify again each time,
  each wait twice the last (up to ``REPEAT_BACKOFF_CAP`` deadlines: ``repeat_timer``);
* acceptance overdue (a member of the case's team did not answer) → **reassign** their duty
  to the next responder on call (the silent one counts as having declined), and escalate if
  the case has nobody left (a roster change that takes the member off the case's site brings
  their deadline forward to then: ``hub.cases.timers.bring_acceptances_forward``). The
  deadline counts from when their page went out: a member whose page the hub is still
  trying to deliver (the paging gateway is down) has not been asked yet, and their deadline
  is **postponed** (``SupervisedCase.pages``); the case still climbs by its acknowledgement
  deadline meanwhile;
* resolution overdue (a category with a ``resolve_within``: a resident's request not done
  within 48 h, PRODUCT.md scenario 13) → **escalate** one level (to the street) and check
  again one such deadline later, taken on or not;
* acknowledgement deadline of a case taken on with nobody on its team (everyone declined or
  fell silent, nobody on call) → **watch**: the hub has tried to dispatch it again (a shift
  may have started) and looks again one deadline later, paging nobody (its escalation, when
  its team emptied, said it all), until someone is on it or it ends;
* the case was taken on, moved on or ended meanwhile → nothing.

Nothing here does I/O or reads the clock: the case, the timer and ``now`` are passed in.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from hub.cases.correlation import CaseCategory
from hub.cases.rules import ACTIVE, CaseStatus
from hub.settings import HubSettings

DEFAULT_LEVELS = ("community", "street", "district")
DEFAULT_RESOLVE_WITHIN: Mapping[CaseCategory, timedelta] = {
    CaseCategory.REQUEST: timedelta(hours=48)
}
"""A resident's request not done within 48 h climbs to the street (PRODUCT.md scenario 13)."""


REPEAT_BACKOFF_CAP = 8
"""The longest wait between repeated pages at the top level, in acknowledgement deadlines."""


class TimerKind(StrEnum):
    """What a deadline is for."""

    ACKNOWLEDGE = "acknowledge"
    ACCEPT = "accept"
    RESOLVE = "resolve"


@dataclass(frozen=True, slots=True)
class SupervisionPolicy:
    """Deadlines per case category, and the escalation ladder."""

    acknowledge_within: Mapping[CaseCategory, timedelta]
    accept_within: Mapping[CaseCategory, timedelta]
    levels: tuple[str, ...] = DEFAULT_LEVELS
    resolve_within: Mapping[CaseCategory, timedelta] = field(
        default_factory=lambda: dict(DEFAULT_RESOLVE_WITHIN)
    )
    """Categories whose cases must be done (resolved) in time, or climb the ladder."""

    @property
    def top_level(self) -> int:
        """Return the highest escalation level."""
        return len(self.levels) - 1

    def level_name(self, level: int) -> str:
        """Return the name of an escalation level (the top one beyond it)."""
        return self.levels[min(level, self.top_level)]


DEFAULT_POLICY = SupervisionPolicy(
    acknowledge_within={
        CaseCategory.LIFE_SAFETY: timedelta(seconds=60),
        CaseCategory.SECURITY: timedelta(minutes=5),
        CaseCategory.PROPERTY: timedelta(minutes=15),
        CaseCategory.MAINTENANCE: timedelta(hours=24),
        CaseCategory.REQUEST: timedelta(hours=2),
        CaseCategory.WELLBEING: timedelta(minutes=15),
        CaseCategory.SUPERVISION: timedelta(minutes=15),
    },
    accept_within={
        CaseCategory.LIFE_SAFETY: timedelta(minutes=2),
        CaseCategory.SECURITY: timedelta(minutes=10),
        CaseCategory.PROPERTY: timedelta(minutes=30),
        CaseCategory.MAINTENANCE: timedelta(hours=24),
        CaseCategory.REQUEST: timedelta(hours=4),
        CaseCategory.WELLBEING: timedelta(minutes=30),
        CaseCategory.SUPERVISION: timedelta(minutes=30),
    },
)
"""Life safety must be acknowledged within 60 s (PRODUCT.md); the rest by site policy."""


@dataclass(frozen=True, slots=True)
class SupervisedCase:
    """The facts of a case that its deadlines depend on."""

    status: CaseStatus
    category: CaseCategory
    acknowledged: bool
    waiting: frozenset[str]
    """The members of its team who have not answered yet (``hub.cases.dispatch``)."""
    escalation_level: int
    staffed: bool = True
    """Someone is on its team, or it has no site whose roster could staff it: nothing to look
    for. False: taken on or not, nobody is going."""
    pages: Mapping[str, datetime | None] = field(default_factory=dict)
    """For a member whose page (a dispatch or hand-over notice naming them) was queued since
    their acceptance deadline was set and is delivered or still being tried: when it first
    went out, None while it has not. A member not in it was paged by no notice the hub still
    tries (no paging gateway configured, or every such notice given up): their deadline counts
    from their assignment."""


@dataclass(frozen=True, slots=True)
class Timer:
    """A deadline of a case."""

    kind: TimerKind
    due_at: datetime
    assignee: str | None = None
    """For an acceptance deadline: who had to accept."""
    set_at: datetime | None = None
    """When it was set: how long the last wait was, for the backoff at the top level."""


def acknowledge_timer(category: CaseCategory, now: datetime, policy: SupervisionPolicy) -> Timer:
    """Return the acknowledgement deadline of a case opened (or reopened) at ``now``."""
    return Timer(TimerKind.ACKNOWLEDGE, now + policy.acknowledge_within[category])


def repeat_timer(
    category: CaseCategory, fired: Timer, now: datetime, policy: SupervisionPolicy
) -> Timer:
    """Return the next acknowledgement deadline of a case still not taken on at the top level:
    each wait twice the last, up to ``REPEAT_BACKOFF_CAP`` times the category's deadline.

    The top level has been paged already; paging it every minute for as long as an SOS stays
    unacknowledged would bury the one page that matters among copies (PRODUCT.md: responders
    drowned in duplicate pages). Doubling keeps the first reminders close together and never
    stops them: a life-safety case is paged again after 1, 2, 4, then every 8 minutes.
    """
    within = policy.acknowledge_within[category]
    if fired.set_at is None:  # how long the last wait was is unknown: no backoff
        return Timer(TimerKind.ACKNOWLEDGE, now + within)
    last = fired.due_at - fired.set_at
    wait = min(max(within, last * 2), within * REPEAT_BACKOFF_CAP)
    return Timer(TimerKind.ACKNOWLEDGE, now + wait)


def accept_timer(
    category: CaseCategory, assignee: str, now: datetime, policy: SupervisionPolicy
) -> Timer:
    """Return the acceptance deadline of a case dispatched to ``assignee`` at ``now``."""
    return Timer(TimerKind.ACCEPT, now + policy.accept_within[category], assignee)


def resolve_timer(category: CaseCategory, now: datetime, policy: SupervisionPolicy) -> Timer | None:
    """Return the deadline by which a case opened (or reopened) at ``now`` must be done, if
    its category has one."""
    within = policy.resolve_within.get(category)
    return None if within is None else Timer(TimerKind.RESOLVE, now + within)


@dataclass(frozen=True, slots=True)
class Satisfied:
    """The deadline was met, or no longer applies: do nothing."""


@dataclass(frozen=True, slots=True)
class Escalate:
    """Raise the case to ``level`` (or notify again at the top) and check again at ``next``."""

    level: int
    repeated: bool
    """True when already at the top level: a repeated notification, not a new level."""
    next: Timer
    overdue: TimerKind = TimerKind.ACKNOWLEDGE
    """Which deadline passed: not taken on (acknowledge) or not done (resolve) in time."""


@dataclass(frozen=True, slots=True)
class Reassign:
    """The responder did not answer: treat it as a decline and dispatch to the next one."""

    silent: str


@dataclass(frozen=True, slots=True)
class Postpone:
    """The responder's page went out late or not yet: they have not been asked for as long as
    the deadline gives, so check again at ``next`` (the same deadline, moved)."""

    next: Timer


@dataclass(frozen=True, slots=True)
class Watch:
    """Taken on, but nobody is going: look for someone on call again at ``next``."""

    next: Timer


TimerOutcome = Satisfied | Escalate | Reassign | Postpone | Watch


def on_timer(
    case: SupervisedCase, timer: Timer, now: datetime, policy: SupervisionPolicy
) -> TimerOutcome:
    """Decide what a deadline that passed at ``now`` does to the case."""
    if case.status not in ACTIVE:
        return Satisfied()
    match timer.kind:
        case TimerKind.ACKNOWLEDGE:
            if case.acknowledged:
                # Each look is a read of the roster and pages nobody: no backoff, so the first
                # responder whose shift starts is sent within one deadline.
                if case.staffed:
                    return Satisfied()
                return Watch(next=acknowledge_timer(case.category, now, policy))
            level = min(case.escalation_level + 1, policy.top_level)
            repeated = case.escalation_level >= policy.top_level
            return Escalate(
                level=level,
                repeated=repeated,
                next=repeat_timer(case.category, timer, now, policy)
                if repeated
                else acknowledge_timer(case.category, now, policy),
            )
        case TimerKind.ACCEPT:
            if timer.assignee is None or timer.assignee not in case.waiting:
                return Satisfied()  # they answered, or the duty moved on
            if timer.assignee in case.pages:
                paged_at = case.pages[timer.assignee]
                within = policy.accept_within[case.category]
                # Not paged yet: look again one deadline on, which is never early (a page out
                # from now gives them until at least then), and then count from it.
                due = now + within if paged_at is None else paged_at + within
                if due > now:
                    return Postpone(next=Timer(TimerKind.ACCEPT, due, timer.assignee, timer.set_at))
            return Reassign(silent=timer.assignee)
        case TimerKind.RESOLVE:
            again = resolve_timer(case.category, now, policy)
            assert again is not None  # the timer exists only for such categories
            return Escalate(
                level=min(case.escalation_level + 1, policy.top_level),
                repeated=case.escalation_level >= policy.top_level,
                next=again,
                overdue=TimerKind.RESOLVE,
            )
    raise AssertionError("unreachable")  # pragma: no cover - mypy cannot see the match is total


def escalate_unassignable(
    case: SupervisedCase, now: datetime, policy: SupervisionPolicy
) -> Escalate:
    """Return the escalation for a case nobody on call could be found for."""
    level = min(case.escalation_level + 1, policy.top_level)
    return Escalate(
        level=level,
        repeated=case.escalation_level >= policy.top_level,
        next=acknowledge_timer(case.category, now, policy),
    )


def supervision_policy(settings: HubSettings) -> SupervisionPolicy:
    """Return the policy of ``settings``: the defaults with its overrides."""
    acknowledge = dict(DEFAULT_POLICY.acknowledge_within)
    accept = dict(DEFAULT_POLICY.accept_within)
    for name, seconds in settings.acknowledge_within_s.items():
        acknowledge[CaseCategory(name)] = timedelta(seconds=seconds)
    for name, seconds in settings.accept_within_s.items():
        accept[CaseCategory(name)] = timedelta(seconds=seconds)
    resolve = dict(DEFAULT_RESOLVE_WITHIN)
    for name, seconds in settings.resolve_within_s.items():
        resolve[CaseCategory(name)] = timedelta(seconds=seconds)
    return SupervisionPolicy(acknowledge, accept, tuple(settings.escalation_levels), resolve)
