"""The shapes of ``/api/v1/``: each one validates (request bodies), serialises (responses) and documents (the
generated OpenAPI document) at once.

Response schemas describe what ``api.representations`` returns and forbid anything else
(``additionalProperties: false``): a representation that grows a field fails until its schema, and so the
document, says so. Times stay the strings the representations write (``2026-01-31T12:00:00Z``).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from ninja import Schema
from pydantic import ConfigDict, Field, SecretStr, WithJsonSchema

from api.params import BUCKETS, SLUG_PATTERN, OneOf, Text
from pollers.models import MASK, MAX_PINNED_METRICS
from pollers.models import Source as SourceModel

Time = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
OptionalTime = Annotated[str | None, WithJsonSchema({"type": ["string", "null"], "format": "date-time"})]
HealthStatus = Literal["disabled", "pending", "ok", "failing", "stale"]


# A JSON number written as the API writes it: whole numbers as integers (metrics.serialization.number).
Number = Annotated[int | float, WithJsonSchema({"type": "number"})]
AuthScheme = Annotated[str, OneOf(tuple(SourceModel.AuthScheme.values))]
# A write-only secret as a response shows it: only whether one is stored, with the mask credential headers get.
StoredSecret = Annotated[str | None, WithJsonSchema({"type": ["string", "null"], "enum": [MASK, None]})]
STORED_SECRET = f"Write-only: {MASK} when one is stored, null when none."
# A write-only secret as a request gives it; SecretStr keeps it out of a repr (the locals of an error report).
NewSecret = Annotated[SecretStr, Field(min_length=1)]
WRITE_SECRET = (
    f"Write-only, stored encrypted: a value replaces the stored one, null removes it, {MASK} (as read) keeps it."
)


class Strict(Schema):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(Strict):
    code: str = Field(examples=["invalid_parameters"])
    message: str
    details: dict[str, Any] = Field(description="`fields` names each bad field or parameter; a 500 has `request_id`.")


class Error(Strict):
    """Every error under /api/, whatever produced it."""

    error: ErrorBody


class PollHealth(Strict):
    status: HealthStatus
    last_polled_at: OptionalTime
    last_success_at: OptionalTime
    last_error_at: OptionalTime
    last_error_kind: str
    last_error_message: str
    consecutive_failures: int = Field(ge=0)
    circuit_state: Literal["closed", "open", "half_open"]
    last_latency_ms: float | None
    last_status_code: int | None


# A source's network settings and pins, validated by the model's own rules (``Source.clean``: the form's too).
PINNED_METRICS = f"Metric names (of metric_paths) shown first on the card, at most {MAX_PINNED_METRICS}."
PROXY = (
    '"" for POLLER_PROXY (or none), "direct" for none, else a proxy of POLLER_ALLOWED_PROXIES; never with '
    "credentials (those belong in POLLER_PROXY)."
)
TLS_VERIFY = (
    "false lets anyone on the path impersonate the upstream; refused while the source sends a password, token or "
    "credential header, unless insecure_credentials_acknowledged."
)
INSECURE_CREDENTIALS_ACKNOWLEDGED = (
    "true to send the source's password, token or credential headers over plain http to a host other than loopback, "
    "or with tls_verify false (a pinned tls_ca_pem is not used then); kept until set back to false."
)
CREDENTIALS_SENT_UNVERIFIED = (
    "Read-only. Why anyone on the network path could read the credentials this source sends, by the field to "
    "change (url: plain http to a host other than loopback; tls_verify: verification off), each message naming "
    "what is sent, never a value, and how to fix or acknowledge it; {} when none is sent that way or "
    "insecure_credentials_acknowledged. A save is refused with these messages: a source stored before that rule "
    "keeps polling and shows them here."
)
URL = (
    "http or https; plain http to a host other than loopback is refused while the source sends a password, token "
    "or credential header, unless insecure_credentials_acknowledged."
)
TLS_CA_PEM = '"" for the system CAs; else trust only these CA certificates (PEM).'


class Source(Strict):
    slug: str
    team: str = Field(description="The owning team's slug.")
    name: str
    url: str = Field(description="Passwords and credential-like query values masked.")
    enabled: bool
    interval_seconds: int
    timeout_seconds: float
    headers: dict[str, str] = Field(description="Credential header values masked as ••••••.")
    region: str
    tags: list[str]
    metric_paths: dict[str, str]
    volatile_paths: list[str]
    pinned_metrics: list[str] = Field(description=PINNED_METRICS)
    proxy: str = Field(description=PROXY)
    tls_verify: bool = Field(description=TLS_VERIFY)
    insecure_credentials_acknowledged: bool = Field(description=INSECURE_CREDENTIALS_ACKNOWLEDGED)
    credentials_sent_unverified: dict[Literal["url", "tls_verify"], str] = Field(
        description=CREDENTIALS_SENT_UNVERIFIED
    )
    tls_ca_pem: str = Field(description=TLS_CA_PEM)
    auth_scheme: AuthScheme
    auth_username: str
    auth_secret: StoredSecret = Field(description=f"The Basic password or Bearer token. {STORED_SECRET}")
    tls_client_cert_pem: str = Field(description="The client certificate (PEM) presented for mutual TLS.")
    tls_client_key: StoredSecret = Field(description=f"The client certificate's private key. {STORED_SECRET}")
    alert_state: Literal["ok", "degraded", "critical"]
    created_at: Time
    updated_at: Time
    health: PollHealth


class SourceList(Strict):
    sources: list[Source]


def model_limits(name: str) -> dict[str, Any]:
    """The bounds the Source model itself enforces on a field, so the schema and the admin agree on them."""
    field = SourceModel._meta.get_field(name)
    assert isinstance(field, models.Field)
    limits: dict[str, Any] = {}
    if getattr(field, "max_length", None):
        limits["max_length"] = field.max_length
    minimums = [v.limit_value for v in field.validators if isinstance(v, MinValueValidator)]
    maximums = [v.limit_value for v in field.validators if isinstance(v, MaxValueValidator)]
    if minimums:
        limits["ge"] = max(minimums)
    if maximums:
        limits["le"] = min(maximums)
    return limits


READ_ONLY = (
    "alert_state",
    "health",
    "created_at",
    "updated_at",
    "last_polled_at",
    "last_success_at",
    "circuit_state",
    "credentials_sent_unverified",
)
# Optional fields default to None only so that "not sent" can be told apart (the model's default applies);
# a client sending null gets the type error, since pydantic never validates a default (the write-only secrets alone
# take null: it removes them).
UNSENT: Any = None


class SourceWrite(Schema):
    """Fields a client may set; the model's ``full_clean`` (URL, SSRF guard, uniqueness) runs after these checks."""

    model_config = ConfigDict(extra="forbid", strict=True)
    # Refused by name with a reason, rather than as unknown fields (see api.validation).
    refused_fields: ClassVar[dict[str, str]] = {name: "read-only" for name in READ_ONLY}

    name: Annotated[Text, Field(min_length=1, **model_limits("name"))] = UNSENT
    url: Annotated[Text, Field(json_schema_extra={"format": "uri"}, **model_limits("url"))] = Field(
        default=UNSENT, description=URL
    )
    enabled: bool = UNSENT
    interval_seconds: Annotated[int, Field(**model_limits("interval_seconds"))] = UNSENT
    timeout_seconds: Annotated[float, Field(**model_limits("timeout_seconds"))] = UNSENT
    headers: dict[Text, Text] = Field(default=UNSENT, description="A value sent back masked keeps the stored one.")
    region: Annotated[Text, Field(**model_limits("region"))] = UNSENT
    tags: list[Text] = UNSENT
    metric_paths: dict[Text, Text] = Field(default=UNSENT, description="Metric name to dotted path in the payload.")
    volatile_paths: list[Text] = UNSENT
    pinned_metrics: list[Text] = Field(default=UNSENT, description=PINNED_METRICS)
    proxy: Annotated[Text, Field(**model_limits("proxy"))] = Field(default=UNSENT, description=PROXY)
    tls_verify: bool = Field(default=UNSENT, description=TLS_VERIFY)
    insecure_credentials_acknowledged: bool = Field(default=UNSENT, description=INSECURE_CREDENTIALS_ACKNOWLEDGED)
    tls_ca_pem: Text = Field(default=UNSENT, description=TLS_CA_PEM)
    auth_scheme: AuthScheme = Field(default=UNSENT, description='"" for none; a scheme needs its auth_secret.')
    auth_username: Annotated[Text, Field(**model_limits("auth_username"))] = UNSENT
    auth_secret: NewSecret | None = Field(default=UNSENT, description=WRITE_SECRET)  # null: removed
    tls_client_cert_pem: Text = Field(default=UNSENT, description='"" for none; it needs its tls_client_key.')
    tls_client_key: NewSecret | None = Field(default=UNSENT, description=f"Unencrypted PEM. {WRITE_SECRET}")


class SourceCreate(SourceWrite):
    slug: Annotated[str, Field(pattern=SLUG_PATTERN, **model_limits("slug"))]
    team: Annotated[str, Field(pattern=SLUG_PATTERN, max_length=50)] = Field(
        default=UNSENT,
        description="The owning team's slug. A token's objects go to its team; a session names one when it "
        "manages several.",
    )
    name: Annotated[Text, Field(min_length=1, **model_limits("name"))]
    url: Annotated[Text, Field(json_schema_extra={"format": "uri"}, **model_limits("url"))] = Field(description=URL)


class SourceUpdate(SourceWrite):
    refused_fields: ClassVar[dict[str, str]] = {
        **SourceWrite.refused_fields,
        "slug": "cannot be changed: its history is stored under it; create a new source instead",
    }


class Snapshot(Strict):
    source: str
    hash: str
    sequence: int
    fetched_at: Time
    last_seen_at: Time
    metrics: dict[str, Number]
    payload: dict[str, Any] = Field(default=UNSENT, description="The upstream payload, when asked for.")


class SnapshotIndex(Strict):
    sources: dict[str, Snapshot]


class Change(Strict):
    path: str
    kind: Literal["changed", "added", "removed"]
    old: Any
    new: Any


class HistoryEntry(Strict):
    id: str
    hash: str
    sequence: int
    fetched_at: Time
    metrics: dict[str, Number]
    diff: list[Change]
    payload: dict[str, Any]


class HistoryPage(Strict):
    source: str
    entries: list[HistoryEntry]
    next_cursor: str | None
    next: str | None = Field(description="This query's next page, or null on the last.")


class ChangesEntry(Strict):
    id: str
    hash: str
    sequence: int
    fetched_at: Time
    changes: list[Change]


class ChangesPage(Strict):
    source: str
    entries: list[ChangesEntry]
    next_cursor: str | None
    next: str | None = Field(description="This query's next page, or null on the last.")


class Bucket(Strict):
    start: Time
    min: Number
    avg: Number
    max: Number
    count: int = Field(ge=0)


class Series(Strict):
    source: str
    metric: str
    bucket: Annotated[str, OneOf(tuple(BUCKETS))]
    start: Time = Field(alias="from")
    end: Time = Field(alias="to")
    buckets: list[Bucket]


class Check(Strict):
    status: Literal["ok", "down"]
    latency_ms: float
    detail: str


class Checks(Strict):
    database: Check
    cache: Check
    channel_layer: Check
    metric_store: Check
    poller: Check


class Ready(Strict):
    status: Literal["ready", "not_ready"]
    checks: Checks | None = Field(
        default=None,
        description="Only for an API token (read scope) or the allowlisted scraper (METRICS_TOKEN, or a direct "
        "connection from METRICS_ALLOWED_IPS); left out for anyone else.",
    )


class Liveness(Strict):
    status: Literal["ok"]


class Backends(Strict):
    database: str
    cache: Literal["redis", "local-memory"]
    channel_layer: Literal["redis", "in-memory"]
    metric_store: str


class Limits(Strict):
    rate_limit_token: str
    rate_limit_ip: str
    max_page_size: int
    max_series_buckets: int


class Endpoint(Strict):
    method: str
    path: str
    summary: str


class Index(Strict):
    name: str
    api_version: Literal["v1"]
    docs: str = Field(description="Swagger UI of this API.")
    openapi: str = Field(description="The OpenAPI document.")
    authentication: str
    endpoints: list[Endpoint]


class Info(Strict):
    name: str
    version: str
    api_version: Literal["v1"]
    backends: Backends
    regions: list[str]
    limits: Limits


def documented(ok: dict[int, Any], *errors: int, not_modified: bool = False) -> dict[int, Any]:
    """An operation's ``response=``: its success bodies, 304 when it answers conditionally, then its errors."""
    responses = dict(ok)
    if not_modified:
        responses[304] = None
    responses.update(dict.fromkeys(errors, Error))
    return responses


READ_ERRORS = (400, 401, 404, 429, 500, 503)
WRITE_ERRORS = (400, 401, 403, 404, 413, 415, 429, 500, 503)
