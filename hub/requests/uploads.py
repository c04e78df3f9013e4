"""The ceiling on the size of residents' uploads, before anything parses them.

FastAPI reads a multipart form to the end (spooling files to disk) before a route sees it,
so the route's per-photo limit alone would let a 2 GB upload fill the disk first. The hub's
``SecurityMiddleware`` (``hub.http.security``) refuses, with 413, a request to one of these
paths whose declared ``Content-Length`` is over ``MAX_UPLOAD_REQUEST``, and cuts off one that
sends more than that (or declared nothing); every other path has the smaller
``max_request_bytes``.
"""

import re

from hub.requests.photos import MAX_UPLOAD_BYTES
from hub.requests.rules import MAX_PHOTOS

UPLOAD_PATHS = re.compile(
    r"/r/[^/]+/requests|/api/v1/requests/\d+/updates|/api/v1/gateway/messages"
)

MAX_UPLOAD_REQUEST = 2 * MAX_PHOTOS * MAX_UPLOAD_BYTES
"""Three photos of the largest size, base64-encoded if they come as JSON, and the text."""
