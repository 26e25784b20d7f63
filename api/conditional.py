"""ETag and Last-Modified on JSON responses, answering 304 when the client's copy is current; ``If-Match`` on a
change, checked before it is made (``require_match``)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import get_conditional_response
from django.utils.http import http_date, parse_etags, parse_http_date_safe

from api.errors import ApiError

# 200 answers conditionally; a 201 only carries the ETag of what it created.
TAGGED_STATUSES = (200, 201)
# Only a read is answered from its preconditions afterwards: a change has been made by then, so a 412 (or a
# 304) after it would tell the client that nothing happened. A change checks If-Match first (require_match).
CONDITIONAL_METHODS = frozenset({"GET", "HEAD"})


def etag_of(content: bytes | str) -> str:
    """The strong ETag of a JSON body (text as a response encodes it, UTF-8): it changes exactly when the
    representation does."""
    data = content.encode() if isinstance(content, str) else content
    return '"' + hashlib.sha256(data).hexdigest()[:32] + '"'


def require_match(request: HttpRequest, current_etag: str) -> None:
    """412 ``precondition_failed`` when the request's ``If-Match`` names neither ``current_etag`` (the ETag a GET
    of the resource answers now) nor ``*``: the client's copy is stale, and the change must not be made."""
    header = request.headers.get("If-Match")
    if header is None:
        return
    tags = parse_etags(header)
    if "*" in tags or current_etag in tags:
        return
    raise ApiError(
        412,
        "precondition_failed",
        "The resource changed since you read it (If-Match does not match its ETag); read it again.",
        {"etag": current_etag},
    )


def set_last_modified(response: HttpResponse, when: datetime | None) -> None:
    """Called by views whose data has a time; ``conditional`` then answers If-Modified-Since with it."""
    if when is not None:
        response["Last-Modified"] = http_date(int(when.timestamp()))


def conditional(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    """The response with its ETag, or 304 Not Modified when If-None-Match / If-Modified-Since says it is unchanged.

    The ETag hashes the exact body, so it changes exactly when the representation does, whatever the store
    behind it. Streamed, non-JSON and ``no-store`` responses are left as they are.
    """
    if (
        response.status_code not in TAGGED_STATUSES
        or not isinstance(response, HttpResponse)
        or not response.get("Content-Type", "").startswith("application/json")
        or "no-store" in response.get("Cache-Control", "")
    ):
        return response
    response["ETag"] = etag_of(response.content)
    if response.status_code != 200 or request.method not in CONDITIONAL_METHODS:
        return response
    last_modified = parse_http_date_safe(response["Last-Modified"]) if response.has_header("Last-Modified") else None
    answer = get_conditional_response(request, etag=response["ETag"], last_modified=last_modified, response=response)
    return answer if answer is not None else response
