"""A messaging gateway's residents' messages in: ``POST /api/v1/gateway/messages``.

Not a bearer-token route: the gateway signs every message (``hub.requests.gateway``) and
names the household by its page token (the resident linked the two by opening the page's
link in the gateway, e.g. a WeChat mini program). The message becomes a request exactly as
one from the page does; the same ``message_id`` again returns the same request (200, not
201). With no ``gateway_secret`` set, the route does not exist (404).
"""

import asyncio
import base64
import binascii
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import Field, StringConstraints, ValidationError

from hub.errors import InvalidInputError, NotFoundError
from hub.http.deps import API_PREFIX, ChangesDep, ClockDep, SettingsDep, StoreDep
from hub.http.text import visible_text
from hub.http.times import StorableDatetime
from hub.http.views import View
from hub.requests.gateway import GatewaySignatureError, verify
from hub.requests.photos import (
    MAX_UPLOAD_BYTES,
    PhotoRejectedError,
    ProcessedPhoto,
    reencode_photo,
)
from hub.requests.repository import NewRequest
from hub.requests.rules import (
    MAX_PHOTOS,
    MAX_TEXT,
    NOTHING_VISIBLE,
    RequestCategory,
    RequestSource,
    check_window,
)
from hub.residents.rules import token_hash

router = APIRouter(prefix=API_PREFIX)

GATEWAY_PATH = "/gateway/messages"

MAX_BODY = 4 * (MAX_UPLOAD_BYTES * MAX_PHOTOS) // 3 + 64 * 1024
"""Three photos of the largest size, base64, and the rest of the message."""


class GatewayPhoto(View):
    """A photo the resident sent, as base64 (the hub re-encodes it like any other)."""

    content_base64: Annotated[str, StringConstraints(max_length=4 * MAX_UPLOAD_BYTES // 3 + 4)]


class GatewayMessage(View):
    """What a gateway forwards: a resident's request, named by the household's page token."""

    message_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    household_token: Annotated[str, StringConstraints(min_length=16, max_length=128)]
    category: RequestCategory = RequestCategory.OTHER
    text: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT)
    ]
    preferred_from: StorableDatetime | None = None
    preferred_until: StorableDatetime | None = None
    photos: list[GatewayPhoto] = Field(default_factory=list, max_length=MAX_PHOTOS)


class GatewayReceipt(View):
    """The answer to the gateway: the request, its case, and whether it was seen before."""

    request_id: int
    case_id: int
    duplicate: bool


async def _photos(message: GatewayMessage) -> list[ProcessedPhoto]:
    photos: list[ProcessedPhoto] = []
    for number, photo in enumerate(message.photos, start=1):
        try:
            data = base64.b64decode(photo.content_base64, validate=True)
            photos.append(await reencode_photo(data))
        except (binascii.Error, ValueError) as exc:
            reason = exc if isinstance(exc, PhotoRejectedError) else "not base64"
            raise InvalidInputError(f"photo {number}: {reason}") from exc
    return photos


@router.post(GATEWAY_PATH, status_code=201, response_model=GatewayReceipt)
async def gateway_message(
    request: Request,
    settings: SettingsDep,
    store: StoreDep,
    changes: ChangesDep,
    clock: ClockDep,
) -> JSONResponse:
    """Take a resident's request from a signed messaging gateway (idempotent by message id)."""
    if settings.gateway_secret is None:
        raise HTTPException(status_code=404)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(status_code=413, detail="the message is too large")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(status_code=413, detail="the message is too large")
    try:
        verify(
            settings.gateway_secret.get_secret_value().encode(),
            request.headers.get("x-linli-timestamp"),
            request.headers.get("x-linli-signature"),
            body,
            clock(),
        )
    except GatewaySignatureError as exc:
        raise HTTPException(status_code=401, detail=str(exc)) from exc
    try:
        message = GatewayMessage.model_validate_json(body)
    except ValidationError as exc:
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        raise InvalidInputError(f"the message does not fit: {fields}") from exc
    try:
        household = await asyncio.to_thread(
            store.households.household_by_token, token_hash(message.household_token)
        )
    except NotFoundError as exc:
        raise NotFoundError("no household has this token (it may have been rotated)") from exc
    new = NewRequest(
        household_id=household.id,
        category=message.category,
        text=visible_text(message.text, NOTHING_VISIBLE),
        source=RequestSource.GATEWAY,
        created_by="gateway",
        external_id=message.message_id,
    )
    # A retry is answered as its first delivery was, before anything is checked again: its
    # visit window may have begun to pass since, and refusing it now would tell the gateway
    # (and the resident) that a request the hub holds was never taken.
    opened = await asyncio.to_thread(store.requests.repeat_of, new)
    if opened is None:
        window = check_window(message.preferred_from, message.preferred_until, clock())
        photos = await _photos(message)
        new = replace(new, preferred=window)
        opened = await asyncio.to_thread(store.requests.open_request, new, photos)
    if opened.new:
        changes.case_changed(opened.case, resident_sees=False)
    receipt = GatewayReceipt(
        request_id=opened.request.id, case_id=opened.case.id, duplicate=not opened.new
    )
    return JSONResponse(receipt.model_dump(), status_code=201 if opened.new else 200)
