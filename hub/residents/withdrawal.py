"""Taking back an SOS from the phone page ("I'm OK, it was a mistake"), the pure core.

A personal-emergency-response centre never lets a resident's "cancel" close an alarm: a
resident may be made to say it (a coerced cancel), and a pocket's or a child's press reads
the same as a frightened one. So a take-back is information for the operator: a line on the
case's history, written as the household's comment through the same action path as an
operator's comment (``CaseRepository.act_in``: the case's version moves, the line is in the
audit chain), while the case stays open with its priority and deadlines as they were. The
operator calls back and resolves it (``false_alarm``, say).

The page shows ``withdrawn`` while the take-back is the latest word on the case
(``stands``): until someone takes the case on after it, another alert joins it (the
resident pressed again), or it is resolved. A second take-back meanwhile changes nothing;
one after a new press is news again and is written again.

Nothing here does I/O or reads the clock: the case's status, its later history and ``now``
are passed in.
"""

from collections.abc import Iterable
from datetime import UTC, datetime

from hub.cases.rules import CaseEventAction, CaseStatus, is_unresolved
from hub.errors import IllegalTransitionError

WITHDRAWAL_NOTE = "the resident took the SOS back from the phone page"
"""How every take-back's line begins: with the household's actor, what finds it again."""

SUPERSEDING: frozenset[CaseEventAction] = frozenset(
    {
        CaseEventAction.OPENED,
        CaseEventAction.REOPENED,
        CaseEventAction.ALERT_ATTACHED,
        CaseEventAction.MERGED_IN,
        CaseEventAction.ACKNOWLEDGED,
        CaseEventAction.ACCEPTED,
    }
)
"""History lines after which a take-back is no longer the latest word: a new alert (the
resident pressed again: it must never read as taken back) or a person taking the case on
("someone is coming" is shown again)."""


def withdrawal_actor(household_id: int) -> str:
    """Return the actor a household's take-back is written by (as its ratings are)."""
    return f"household-{household_id}"


def withdrawal_note(now: datetime, kinds: Iterable[str] = ()) -> str:
    """Return the line a take-back at ``now`` writes on the case; ``kinds`` are the case's
    alert kinds: any other than ``sos`` stands, and the line says so."""
    at = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    note = (
        f"{WITHDRAWAL_NOTE} at {at}: says it was a mistake. The case stays open: "
        "call back to check before resolving it."
    )
    others = sorted({kind for kind in kinds if kind != "sos"})
    if others:
        note += f" Only the SOS press is taken back, not its other alerts ({', '.join(others)})."
    return note


def stands(later: Iterable[str]) -> bool:
    """Return whether a take-back is still the latest word, given the actions of the case's
    history lines written after it."""
    return not any(action in SUPERSEDING for action in later)


def decide_withdrawal(case_id: int, status: CaseStatus, standing: bool) -> bool:
    """Return whether a take-back is to be written on case ``case_id`` in ``status``: not
    when one already stands (a repeat changes nothing); IllegalTransitionError (409) when the
    case is resolved or closed: there is nothing left to take back."""
    if standing:
        return False
    if not is_unresolved(status):
        raise IllegalTransitionError(
            f"case {case_id} is {status.value} already: there is nothing to take back"
        )
    return True
