"""Which pages of a case did not go out and are still needed now: what the console marks
("page failed — phone wang, li") and the case views say (``CaseView.pages_failing``).

A page is a case notice that asks something of someone (a call-out, ``CALLS_OUT``; a dispatch
or hand-over, ``SENDS``) to one target. Its copies (a dispatch queued again, an escalation
repeated) are one page: a later copy says an earlier one again
(``hub.cases.notices._give_up_superseded``). A page fails when its copies since the last one
delivered have failed ``MAX_ATTEMPTS`` times, all told (a try under way is not counted until
its outcome is recorded), or its newest copy was given up; the hub writes its
``notice_failed`` line in the transaction that records the failure making it so
(``hub.cases.notice_lines.say_page_failing``), once a page, so the live stream carries the
case at once. It is off as soon as a copy goes out (and a ``notice_delivered`` line says so
if a ``notice_failed`` one had said it was failing), and
when nothing is asked any more: a call-out once the case is taken on, a dispatch once someone
on the case has accepted, everything once the case is over. A responder the hub took off the
case for not answering a page that never reached them is still one to phone while nobody is
going; one who declined themselves was reached.

``notice_facts`` reads what is needed for many cases in two queries; ``failing_pages`` and
``page_of_copy`` are pure.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.cases.notify import CALLS_OUT, MAX_ATTEMPTS, SENDS, Channel, failing_head, gateway_host
from hub.cases.rules import CaseEventAction
from hub.cases.views import PageFailingView
from hub.persistence.tables import CaseEventRow, NotificationRow

_ASKING = sorted(e.value for e in CALLS_OUT | SENDS)


@dataclass(frozen=True, slots=True)
class NoticeCopy:
    """One queued copy of a page, as the notices queue has it."""

    id: int
    event: CaseEventAction
    team: tuple[str, ...]
    channel: Channel
    target: str
    created_at: datetime
    attempts: int
    delivered: bool
    still_tried: bool
    error: str | None
    claimed: bool = False
    """A worker holds it: its last try has no outcome yet (not counted)."""

    @property
    def tries(self) -> int:
        """Its tries whose outcome was recorded."""
        return self.attempts - 1 if self.claimed else self.attempts


@dataclass(frozen=True, slots=True)
class NoticeFacts:
    """What a case's pages became, and the history lines that speak of them."""

    copies: tuple[NoticeCopy, ...] = ()
    """Oldest first."""
    declined: frozenset[str] = frozenset()
    """Responders who declined the case themselves."""
    failed_lines: tuple[tuple[int, datetime, str], ...] = ()
    """The case's ``notice_failed`` lines (id, ts, note), oldest first."""


@dataclass(frozen=True, slots=True)
class CaseNow:
    """What a case is now, as far as its pages go."""

    active: bool
    """Not resolved, closed or taken into another case."""
    acknowledged: bool
    accepted: bool
    """Someone on its team has accepted."""


@dataclass(frozen=True, slots=True)
class PageNow:
    """One page of a case as its copies since the last one delivered have it."""

    copies: tuple[NoticeCopy, ...]
    """Not delivered, oldest first (none: its newest copy went out)."""
    tries: int
    """Their tries whose outcome was recorded, all told."""
    line_id: int | None
    """The newest ``notice_failed`` line the hub wrote of one of them."""
    failing: PageFailingView | None
    """What the case views say of it: None while it is not failing, or not needed now."""


def failing_pages(facts: NoticeFacts, case: CaseNow) -> list[PageFailingView]:
    """Return the case's pages that did not go out and still ask something now, oldest
    first."""
    out = [page.failing for page in _pages(facts, case) if page.failing is not None]
    out.sort(key=lambda page: (page.since, page.event.value))
    return out


def page_of_copy(facts: NoticeFacts, case: CaseNow, notice_id: int) -> PageNow | None:
    """Return the page one of whose copies not delivered is ``notice_id``, or None."""
    return next((p for p in _pages(facts, case) if any(c.id == notice_id for c in p.copies)), None)


def _pages(facts: NoticeFacts, case: CaseNow) -> list[PageNow]:
    """Return each page of the case with its copies since the last one delivered."""
    runs: dict[tuple[bool, str, str], list[NoticeCopy]] = {}
    for copy in facts.copies:
        family = (copy.event in SENDS, copy.event.value if copy.event in CALLS_OUT else "")
        key = (*family, f"{copy.channel.value} {copy.target}")
        run = runs.setdefault(key, [])
        if copy.delivered:
            run.clear()  # it went out: what was not delivered before it is said by it
        else:
            run.append(copy)
    pages: list[PageNow] = []
    for run in runs.values():
        if not run:
            continue
        tries = sum(copy.tries for copy in run)
        line_id = _line_of(run, facts.failed_lines)
        pages.append(
            PageNow(tuple(run), tries, line_id, _failing(run, tries, line_id, facts, case))
        )
    return pages


def _failing(
    run: Sequence[NoticeCopy], tries: int, line_id: int | None, facts: NoticeFacts, case: CaseNow
) -> PageFailingView | None:
    """Return what the views say of a page not delivered, or None if it is not failing (yet)
    or asks nothing now."""
    if not case.active:
        return None
    newest = run[-1]
    if newest.still_tried and tries < MAX_ATTEMPTS:
        return None  # not failing yet: tried as any page is
    whom = [who for who in newest.team if who not in facts.declined]
    if newest.event in CALLS_OUT:
        needed = not case.acknowledged
        whom = []
    else:
        needed = bool(whom) and not case.accepted
    if not needed:
        return None
    return PageFailingView(
        event=newest.event,
        whom=whom,
        gateway=gateway_host(newest.channel, newest.target),
        since=run[0].created_at,
        tries=tries,
        error=next((c.error for c in reversed(run) if c.error is not None), None),
        still_tried=newest.still_tried,
        line_id=line_id,
    )


def _line_of(run: Sequence[NoticeCopy], lines: Sequence[tuple[int, datetime, str]]) -> int | None:
    """Return the newest ``notice_failed`` line the hub wrote of one of ``run``'s copies."""
    heads = tuple(failing_head(c.event, c.team, c.channel, c.target) + " " for c in run)
    since = run[0].created_at
    for line_id, ts, note in reversed(lines):
        if ts >= since and note.startswith(heads):
            return line_id
    return None


def notice_facts(session: Session, case_ids: Iterable[int]) -> dict[int, NoticeFacts]:
    """Return the facts of the pages of each case (two queries, however many cases)."""
    wanted = sorted(set(case_ids))
    if not wanted:
        return {}
    event = NotificationRow.payload["event"].as_string()
    copies: dict[int, list[NoticeCopy]] = {}
    for row in session.execute(
        select(
            NotificationRow.id,
            NotificationRow.case_id,
            event,
            NotificationRow.payload["team"],
            NotificationRow.channel,
            NotificationRow.target,
            NotificationRow.created_at,
            NotificationRow.attempts,
            NotificationRow.delivered_at,
            NotificationRow.next_attempt_at,
            NotificationRow.last_error,
            NotificationRow.claimed_until,
        )
        .where(
            NotificationRow.case_id.in_(wanted),
            NotificationRow.household_id.is_(None),
            NotificationRow.contact.is_(None),
            event.in_(_ASKING),
        )
        .order_by(NotificationRow.id)
    ):
        notice_id, case_id, name, team, channel, target, created, tries, out, due, error, held = row
        if case_id is None or channel not in {c.value for c in Channel}:
            continue
        copies.setdefault(case_id, []).append(
            NoticeCopy(
                id=notice_id,
                event=CaseEventAction(name),
                team=tuple(str(who) for who in team) if isinstance(team, list) else (),
                channel=Channel(channel),
                target=target,
                created_at=created,
                attempts=tries,
                delivered=out is not None,
                still_tried=due is not None,
                error=error,
                claimed=held is not None,
            )
        )
    declined: dict[int, set[str]] = {}
    failed: dict[int, list[tuple[int, datetime, str]]] = {}
    for line_id, case_id, ts, action, note, actor in session.execute(
        select(
            CaseEventRow.id,
            CaseEventRow.case_id,
            CaseEventRow.ts,
            CaseEventRow.action,
            CaseEventRow.note,
            CaseEventRow.actor,
        )
        .where(
            CaseEventRow.case_id.in_([c for c in wanted if c in copies]),
            CaseEventRow.action.in_(
                [CaseEventAction.NOTICE_FAILED.value, CaseEventAction.DECLINED.value]
            ),
        )
        .order_by(CaseEventRow.id)
    ):
        if action == CaseEventAction.DECLINED.value:
            if actor:
                declined.setdefault(case_id, set()).add(actor)
        elif note:
            failed.setdefault(case_id, []).append((line_id, ts, note))
    return {
        case_id: NoticeFacts(
            copies=tuple(copies.get(case_id, ())),
            declined=frozenset(declined.get(case_id, ())),
            failed_lines=tuple(failed.get(case_id, ())),
        )
        for case_id in wanted
    }
