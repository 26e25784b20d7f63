"""The faults a real upstream shows and a poller must survive, as data the simulator acts on.

A fault comes either from the request's query string (``?fault=drip&interval=0.2``), for one
request, or from the control endpoint (``POST /_control/faults/<region>``), for every request to
that region, or for the next ``times`` requests only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pollers.simulator.payload import FORCED_SERVICE, SERVICES

KINDS = (
    "latency",  # answer normally after ``delay`` seconds
    "hang",  # send nothing until the client gives up (or ``delay`` seconds pass)
    "error",  # HTTP ``status`` (500, 502, 503, or any other code)
    "rate_limit",  # HTTP 429 with ``Retry-After: retry_after``
    "not_json",  # a 200 whose body is HTML
    "not_object",  # a 200 whose body is JSON but a list
    "truncated",  # the document cut in half, connection closed (Content-Length promises the whole)
    "oversized",  # a JSON body of ``size`` bytes; ``declare=0`` leaves out Content-Length
    "drip",  # the document one byte every ``interval`` seconds (compressed first when ``coding`` is given)
    "redirect",  # HTTP ``status`` 302 (or 301/307/308) to ``location``
    "degraded",  # a normal answer, but the region is down: ``service`` (redis by default) fails in every window
    "healthy",  # a normal answer, the region forced up (chance degrades no window)
    "encoding",  # the document compressed with ``coding`` (gzip, deflate, deflate-raw, br, zstd) and declared so
    "bad_encoding",  # Content-Encoding says ``coding`` but the document is sent as it is
    "bomb",  # ``size`` bytes of zeros (default 1 GiB) compressed with ``coding``; ``declare=0``: no Content-Length
    "deep",  # an object holding ``depth`` nested arrays (default 200,000)
    "charset",  # the document in ``charset``; ``bom=1`` adds a byte-order mark, ``declare=0`` omits the charset,
    # ``label`` names another charset than the one used
    "etag",  # ETag and Last-Modified on the answer; 304 when If-None-Match / If-Modified-Since match
    "auth",  # 401 unless the request has Basic ``username``:``password`` or Bearer ``token``
)
CODINGS = ("gzip", "deflate", "deflate-raw", "br", "zstd", "identity")
BOMB_SIZE = 1024**3


class FaultError(ValueError):
    """A fault description that cannot be acted on."""


@dataclass(frozen=True)
class Fault:
    kind: str
    delay: float = 0.0  # seconds before answering (every kind); the hang limit for "hang"
    status: int = 0  # for "error" (default 503) and "redirect" (default 302)
    retry_after: str = "1"  # for "rate_limit"; a number of seconds or an HTTP date
    size: int = 5 * 1024 * 1024  # for "oversized"
    declare: bool = True  # "oversized", "bomb": send Content-Length; "charset": name the charset
    interval: float = 0.5  # for "drip": seconds between bytes
    location: str = ""  # for "redirect"
    times: int | None = None  # control endpoint only: apply to the next N requests, then clear
    coding: str = ""  # for "encoding", "bad_encoding", "bomb" (default gzip) and "drip" (default none)
    depth: int = 200_000  # for "deep"
    charset: str = "utf-8"  # for "charset"
    bom: bool = False  # for "charset"
    label: str = ""  # for "charset": the charset named in Content-Type when it should differ from the real one
    username: str = ""  # for "auth" (Basic)
    password: str = ""  # for "auth" (Basic)
    token: str = ""  # for "auth" (Bearer)
    service: str = FORCED_SERVICE  # for "degraded": the dependency that is down (redis or database)

    @classmethod
    def parse(cls, params: Mapping[str, Any]) -> Fault:
        """Build from query parameters or a control-endpoint JSON body; raise FaultError on nonsense."""
        kind = str(params.get("fault") or params.get("kind") or "")
        if kind not in KINDS:
            raise FaultError(f"unknown fault {kind!r}; expected one of {', '.join(KINDS)}")
        try:
            fault = cls(
                kind=kind,
                delay=float(params.get("delay", 3600.0 if kind == "hang" else 0.0)),
                status=int(params.get("status", 302 if kind == "redirect" else 503 if kind == "error" else 0)),
                retry_after=str(params.get("retry_after", "1")),
                size=int(params.get("size", BOMB_SIZE if kind == "bomb" else 5 * 1024 * 1024)),
                declare=str(params.get("declare", "1")).lower() not in {"0", "false", "no"},
                interval=float(params.get("interval", 0.5)),
                location=str(params.get("location", params.get("to", ""))),
                times=int(params["times"]) if params.get("times") not in (None, "") else None,
                coding=str(params.get("coding", "")).lower(),
                depth=int(params.get("depth", 200_000)),
                charset=str(params.get("charset", "utf-8")).lower(),
                bom=str(params.get("bom", "0")).lower() in {"1", "true", "yes"},
                label=str(params.get("label", ""))[:40],
                username=str(params.get("username", "")),
                password=str(params.get("password", "")),
                token=str(params.get("token", "")),
                service=str(params.get("service") or FORCED_SERVICE).lower(),
            )
        except (TypeError, ValueError) as exc:
            raise FaultError(f"bad fault parameter: {exc}") from None
        if fault.delay < 0 or fault.interval < 0 or fault.size < 0:
            raise FaultError("delay, interval and size must not be negative")
        if fault.kind == "error" and not 400 <= fault.status <= 599:
            raise FaultError("an error fault needs a 4xx or 5xx status")
        if fault.kind == "redirect":
            if fault.status not in (301, 302, 303, 307, 308):
                raise FaultError("a redirect fault needs status 301, 302, 303, 307 or 308")
            if not fault.location:
                raise FaultError("a redirect fault needs a location")
        if fault.coding and fault.coding not in CODINGS:
            raise FaultError(f"unknown coding {fault.coding!r}; expected one of {', '.join(CODINGS)}")
        if not 1 <= fault.depth <= 10_000_000:
            raise FaultError("depth must be between 1 and 10000000")
        if fault.kind == "charset":
            try:
                "{}".encode(fault.charset)
            except LookupError:
                raise FaultError(f"unknown charset {fault.charset!r}") from None
        if fault.kind == "auth" and not (fault.token or fault.username):
            raise FaultError("an auth fault needs a token, or a username and password")
        if fault.service not in SERVICES:
            raise FaultError(f"unknown service {fault.service!r}; expected one of {', '.join(SERVICES)}")
        if fault.times is not None and fault.times < 1:
            raise FaultError("times must be at least 1")
        return fault
