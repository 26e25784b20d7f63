"""ETag and Last-Modified on JSON responses, answering 304 when the client's copy is current."""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import get_conditional_response
from django.utils.http import http_date, parse_http_date_safe

# 200 answers conditionally; a 201 only carries the ETag of what it created.
TAGGED_STATUSES = (200, 201)


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
    response["ETag"] = '"' + hashlib.sha256(response.content).hexdigest()[:32] + '"'
    if response.status_code != 200:
        return response
    last_modified = parse_http_date_safe(response["Last-Modified"]) if response.has_header("Last-Modified") else None
    answer = get_conditional_response(request, etag=response["ETag"], last_modified=last_modified, response=response)
    return answer if answer is not None else response
