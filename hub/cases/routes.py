"""Alerts and cases over HTTP under ``/api/v1``: lists, a case's record, and people's actions.

Routes parse, call the repository in a worker thread and hand the committed case to the
one case-changed path (``hub.cases.changes``). Errors from the hub's hierarchy become HTTP
statuses in ``hub.app``: unknown case 404, illegal case action 409, unacceptable input 422,
an action sent for a version of the case it has moved on from 412.

A case's entity tag is its version (``CaseView.version``) quoted, ``"7"``: ``GET`` of a case
and every action's answer give it as ``ETag``. An action sent with ``If-Match`` is done only
if the case is still at one of the versions it names, checked under the case's row lock
(``hub.cases.actions.check_version``); ``W/"7"`` names version 7 too (a proxy compressing the
answer makes its tag weak, and the version names the case's state whatever the bytes).
"""

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Request, Response

from devices.kinds import AlertKind
from hub.auth.rules import Principal, Role
from hub.cases.changes import CaseChanges
from hub.cases.rules import CaseAction, CaseStatus, Resolution
from hub.cases.views import AlertView, CaseDetail, CaseView
from hub.errors import InvalidInputError
from hub.http.deps import (
    API_PREFIX,
    ActorDep,
    Assignee,
    ChangesDep,
    Limit,
    Note,
    OptionalNote,
    StoreDep,
    caller_sites,
    visible_devices,
)
from hub.http.text import visible_or_none
from hub.http.views import Items, View
from hub.requests.rules import NOTE_SHOWS_NOTHING
from hub.store import HubStore

router = APIRouter(prefix=API_PREFIX)


def acts_for_self(request: Request) -> bool:
    """Return whether the caller may act only for themselves: a responder's account, whose
    own moves the repository checks against the case's team under its row lock (the guard
    in ``hub.auth.routes`` read the team before, and it may have changed since)."""
    principal = getattr(request.state, "principal", None)
    return isinstance(principal, Principal) and principal.role is Role.RESPONDER


ForSelfDep = Annotated[bool, Depends(acts_for_self)]


def entity_tag(version: int) -> str:
    """Return the entity tag of a case at ``version`` (its ``ETag``)."""
    return f'"{version}"'


def matched_versions(header: str | None) -> frozenset[int] | None:
    """Return the case versions an ``If-Match`` header names, or None if it names any
    (absent, or ``*``: the action is done on the case whatever it has become).

    A tag that is no version (``"abc"``) matches none; a value that is no entity tag at all
    (``7``, unquoted) is refused (InvalidInputError), not taken as matching nothing.
    """
    if header is None:
        return None
    versions: set[int] = set()
    for part in header.split(","):
        tag = part.strip()
        if tag == "*":
            return None
        opaque = tag.removeprefix("W/")
        if len(opaque) < 2 or opaque[0] != '"' or opaque[-1] != '"' or '"' in opaque[1:-1]:
            raise InvalidInputError(
                'If-Match must be entity tags as ETag gives them, such as "7" '
                "(the case's version, in double quotes), or *"
            )
        if opaque[1:-1].isascii() and opaque[1:-1].isdigit():
            versions.add(int(opaque[1:-1]))
    return frozenset(versions)


def if_match(
    header: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description='Do it only if the case is still at this version (its ETag, "7"): '
            "else 412 and nothing changes",
        ),
    ] = None,
) -> frozenset[int] | None:
    """The ``If-Match`` header of a case action, parsed (``matched_versions``)."""
    return matched_versions(header)


IfMatchDep = Annotated[frozenset[int] | None, Depends(if_match)]

STALE: dict[int | str, dict[str, Any]] = {
    412: {
        "description": "Sent with If-Match, and the case has changed since: nothing was done. "
        'The body names the case as it is now: {"detail", "version", "status"}',
    }
}
"""What an action's OpenAPI says of a refusal for a version the case has moved on from."""


class AcknowledgeRequest(View):
    """Body of ``POST /cases/{id}/acknowledge``; the note is optional."""

    note: OptionalNote | None = None


class ResolveRequest(View):
    """Body of ``POST /cases/{id}/resolve``: the resolution code and a note saying how."""

    note: Note
    resolution: Resolution


class DispatchRequest(View):
    """Body of ``POST /cases/{id}/dispatch`` and ``/hand_over``: the responder it goes to (by
    id; for a dispatch, leave it out to let the dispatch rules choose) and a note."""

    assignee: Assignee | None = None
    note: OptionalNote | None = None


class ActionRequest(View):
    """Body of the other case actions (accept, decline, start, close, reopen): a note."""

    note: OptionalNote | None = None


@router.get("/alerts")
async def list_alerts(
    store: StoreDep,
    device_id: str | None = None,
    kind: AlertKind | None = None,
    case_id: int | None = None,
    limit: Limit = 100,
    *,
    request: Request,
) -> Items[AlertView]:
    """List alerts, newest event time first (a site-scoped caller sees its sites' only)."""
    device_ids = await visible_devices(store, caller_sites(request))
    alerts = await asyncio.to_thread(
        store.cases.list_alerts,
        device_id=device_id,
        kind=kind,
        case_id=case_id,
        limit=limit,
        device_ids=device_ids,
    )
    return Items(items=alerts)


@router.get("/cases")
async def list_cases(
    store: StoreDep, request: Request, status: CaseStatus | None = None, limit: Limit = 100
) -> Items[CaseView]:
    """List cases, most recently updated first (a site-scoped caller sees its sites' only)."""
    sites = caller_sites(request)
    return Items(
        items=await asyncio.to_thread(
            store.cases.list_cases, status=status, limit=limit, sites=sites
        )
    )


@router.get("/cases/{case_id}")
async def get_case(case_id: int, store: StoreDep, response: Response) -> CaseDetail:
    """Show one case with its alerts and its history; its version as the ``ETag`` (send it
    back as ``If-Match`` with an action to have it done only on the case as shown)."""
    case = await asyncio.to_thread(store.cases.get_case, case_id)
    response.headers["ETag"] = entity_tag(case.version)
    return case


async def _act(
    case_id: int,
    action: CaseAction,
    store: HubStore,
    changes: CaseChanges,
    response: Response,
    versions: frozenset[int] | None,
    *,
    actor: str | None,
    for_self: bool = False,
    note: str | None = None,
    resolution: Resolution | None = None,
    assignee: str | None = None,
) -> CaseView:
    note = visible_or_none(note, NOTE_SHOWS_NOTHING)
    case = await asyncio.to_thread(
        store.cases.act,
        case_id,
        action,
        note=note,
        actor=actor,
        resolution=resolution,
        assignee=assignee,
        for_self=for_self,
        if_match=versions,
    )
    changes.case_changed(case, resident_sees=action is not CaseAction.COMMENT)
    response.headers["ETag"] = entity_tag(case.version)
    return case


@router.post("/cases/{case_id}/acknowledge", responses=STALE)
async def acknowledge_case(
    case_id: int,
    store: StoreDep,
    changes: ChangesDep,
    actor: ActorDep,
    response: Response,
    versions: IfMatchDep,
    body: Annotated[AcknowledgeRequest | None, Body()] = None,
) -> CaseView:
    """Acknowledge an open case (409 naming its status otherwise)."""
    note = body.note if body is not None else None
    return await _act(
        case_id, CaseAction.ACKNOWLEDGE, store, changes, response, versions, actor=actor, note=note
    )


def _add_action_route(action: CaseAction, endpoint: Callable[..., Any], summary: str) -> None:
    """Serve ``endpoint`` as ``POST /cases/{case_id}/<action>``, documented by ``summary``."""
    endpoint.__doc__ = summary
    router.add_api_route(
        f"/cases/{{case_id}}/{action.value}",
        endpoint,
        methods=["POST"],
        name=f"{action.value}_case",
        responses=STALE,
    )


def _assigning_action(action: CaseAction, summary: str) -> None:
    """Serve an action that names a responder (``DispatchRequest``)."""

    async def endpoint(
        case_id: int,
        store: StoreDep,
        changes: ChangesDep,
        actor: ActorDep,
        for_self: ForSelfDep,
        response: Response,
        versions: IfMatchDep,
        request: Request,
        body: Annotated[DispatchRequest | None, Body()] = None,
    ) -> CaseView:
        # Every field may be left out, and so may the body, as for the other actions.
        body = body or DispatchRequest()
        await _check_assignee_scope(store, caller_sites(request), body.assignee)
        return await _act(
            case_id,
            action,
            store,
            changes,
            response,
            versions,
            actor=actor,
            for_self=for_self,
            note=body.note,
            assignee=body.assignee,
        )

    _add_action_route(action, endpoint, summary)


async def _check_assignee_scope(
    store: HubStore, sites: frozenset[str] | None, assignee: str | None
) -> None:
    """Answer a scoped caller naming another site's responder as for one that does not
    exist: the action's own refusal named the responder's site (found by an outside review)."""
    if sites is None or assignee is None:
        return
    ours = await asyncio.to_thread(store.roster.list_responders, sites=sites)
    if all(responder.id != assignee for responder in ours):
        raise InvalidInputError(f"responder {assignee} does not exist")


def _simple_action(action: CaseAction, summary: str) -> None:
    """Serve an action whose body, if any, is only a note."""

    async def endpoint(
        case_id: int,
        store: StoreDep,
        changes: ChangesDep,
        actor: ActorDep,
        for_self: ForSelfDep,
        response: Response,
        versions: IfMatchDep,
        body: Annotated[ActionRequest | None, Body()] = None,
    ) -> CaseView:
        note = body.note if body is not None else None
        return await _act(
            case_id,
            action,
            store,
            changes,
            response,
            versions,
            actor=actor,
            for_self=for_self,
            note=note,
        )

    _add_action_route(action, endpoint, summary)


_assigning_action(
    CaseAction.DISPATCH, "Send an open, acknowledged or dispatched case to a responder (派单)."
)


_assigning_action(
    CaseAction.HAND_OVER,
    "Hand an accepted case over to another responder, who has to accept it in turn.",
)


_simple_action(CaseAction.ACCEPT, "Accept a case dispatched to you (接单).")


_simple_action(
    CaseAction.DECLINE, "Decline a dispatched case: it goes back to be dispatched again."
)


_simple_action(CaseAction.START, "Say that work on an accepted case has started on site.")


_simple_action(CaseAction.CLOSE, "Close a resolved case for good: it will not reopen.")


_simple_action(CaseAction.REOPEN, "Reopen a resolved case.")


class CommentRequest(View):
    """Body of ``POST /cases/{id}/comment``."""

    note: Note


@router.post("/cases/{case_id}/comment", responses=STALE)
async def comment_on_case(
    case_id: int,
    body: CommentRequest,
    store: StoreDep,
    changes: ChangesDep,
    actor: ActorDep,
    for_self: ForSelfDep,
    response: Response,
    versions: IfMatchDep,
) -> CaseView:
    """Add a note to a case's record, at any point in its life, without changing its status."""
    return await _act(
        case_id,
        CaseAction.COMMENT,
        store,
        changes,
        response,
        versions,
        actor=actor,
        for_self=for_self,
        note=body.note,
    )


@router.post("/cases/{case_id}/resolve", responses=STALE)
async def resolve_case(
    case_id: int,
    body: ResolveRequest,
    store: StoreDep,
    changes: ChangesDep,
    actor: ActorDep,
    response: Response,
    versions: IfMatchDep,
) -> CaseView:
    """Resolve an active case with a resolution code and a note saying how."""
    return await _act(
        case_id,
        CaseAction.RESOLVE,
        store,
        changes,
        response,
        versions,
        actor=actor,
        note=body.note,
        resolution=body.resolution,
    )
