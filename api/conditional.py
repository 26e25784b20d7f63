"""JSON responses with ETag and Last-Modified, answering 304 when the client's copy is current."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.utils.cache import get_conditional_response
from django.utils.http import http_date


def json_body(data: Any) -> bytes:
    return json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":"), allow_nan=False).encode()


def conditional_json(
    request: HttpRequest, data: Any, *, last_modified: datetime | None = None, status: int = 200
) -> HttpResponseBase:
    """The response, or 304 Not Modified when If-None-Match / If-Modified-Since says it is unchanged.

    The ETag hashes the exact body, so it changes exactly when the representation does, whatever
    the store behind it; the read itself is served by the read-cached store.
    """
    body = json_body(data)
    response = HttpResponse(body, status=status, content_type="application/json")
    response["ETag"] = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    timestamp = int(last_modified.timestamp()) if last_modified is not None else None
    if timestamp is not None:
        response["Last-Modified"] = http_date(timestamp)
    if status != 200:
        return response
    conditional = get_conditional_response(request, etag=response["ETag"], last_modified=timestamp, response=response)
    return conditional if conditional is not None else response
