"""Query-string and path parameter types, and the refusal of parameters an endpoint does not declare.

Each type validates and documents at once: pydantic checks the value and writes the OpenAPI schema from the
same annotation; a problem becomes a 400 naming the parameter (``api.validation``). What ninja would let pass
silently is refused here: a parameter the endpoint does not declare, and one given more than once (ninja
would keep the last).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from django.http import HttpRequest
from ninja import Schema
from pydantic import (
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    PrivateAttr,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from metrics.relative_time import parse_duration, parse_relative

BUCKETS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "6h": timedelta(hours=6),
    "1d": timedelta(days=1),
}
MAX_CURSOR_LENGTH = 512
# Far enough apart for any real query, near enough that arithmetic on them (windows, buckets) cannot overflow.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)
SLUG_PATTERN = r"^[-a-zA-Z0-9_]+$"
TIMESTAMP_HELP = (
    "ISO 8601 (`2026-01-31T12:00:00Z`; no offset means UTC), Unix seconds, or relative to now (`now`, `now-1h`)."
)
NOT_A_TIMESTAMP = (
    "not a date between 1970 and 9999: use ISO 8601 (2026-01-31T12:00:00Z), Unix seconds, or now-1h (s m h d w)"
)
NOT_A_DURATION = "not a duration: use a whole number and a unit, e.g. 30m, 1h, 24h, 7d (s m h d w, at most 3660d)"
BOTH_RANGES = "give either 'from' or 'range', not both"
NO_NUL = "must not contain NUL characters"
REVERSED_RANGE = "must be before 'to'"


def parse_timestamp(raw: str) -> datetime:
    """ISO 8601 (``Z`` or an offset; no offset means UTC), Unix seconds, or ``now``/``now-1h`` (relative_time)."""
    text = raw.strip()
    if not text:
        raise ValueError("empty")
    relative = parse_relative(text, datetime.now(UTC))
    if relative is not None:
        if not EARLIEST <= relative < LATEST:
            raise ValueError("out of range")
        return relative
    try:
        seconds = float(text)
    except ValueError:
        value = datetime.fromisoformat(text)
    else:
        if seconds != seconds or not 0 <= seconds < LATEST.timestamp():  # NaN, or out of range
            raise ValueError("out of range")
        value = datetime.fromtimestamp(seconds, tz=UTC)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    if not EARLIEST <= value < LATEST:
        raise ValueError("out of range")
    return value


def _timestamp(value: Any) -> datetime:
    try:
        return parse_timestamp(str(value))
    except (ValueError, OverflowError, OSError):
        raise PydanticCustomError("timestamp", NOT_A_TIMESTAMP) from None


def _duration(value: Any) -> timedelta:
    try:
        return parse_duration(str(value))
    except ValueError:
        raise PydanticCustomError("duration", NOT_A_DURATION) from None


def _without_nul(value: Any) -> Any:
    # PostgreSQL refuses NUL in text: it would be a 500 deep in the database instead of a 400 here.
    if isinstance(value, str) and "\x00" in value:
        raise PydanticCustomError("nul_character", NO_NUL)
    return value


@dataclass(frozen=True)
class OneOf:
    """A string that must be one of ``choices``; documented as an enum (``Annotated[str, OneOf(...)]``)."""

    choices: tuple[str, ...]

    def check(self, value: str) -> str:
        if value not in self.choices:
            raise PydanticCustomError(
                "one_of", "unknown value {value}; one of {choices}", {"value": repr(value[:50]), "choices": self.text}
            )
        return value

    @property
    def text(self) -> str:
        return ", ".join(choice or '""' for choice in self.choices)  # the empty choice shown, not a lone comma

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "enum": list(self.choices)}


@dataclass(frozen=True)
class Between:
    """A whole number in ``minimum..maximum``; ``maximum`` may be read from settings when each request comes."""

    minimum: int
    maximum: int | Callable[[], int]

    @property
    def upper(self) -> int:
        return self.maximum() if callable(self.maximum) else self.maximum

    def check(self, value: int) -> int:
        if not self.minimum <= value <= self.upper:
            raise PydanticCustomError(
                "between", "must be between {minimum} and {maximum}", {"minimum": self.minimum, "maximum": self.upper}
            )
        return value

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {**handler(schema), "minimum": self.minimum, "maximum": self.upper}


# A point in time as a query parameter: documented as a string, since Unix seconds are accepted too.
Timestamp = Annotated[datetime, BeforeValidator(_timestamp), WithJsonSchema({"type": "string"})]
Text = Annotated[str, BeforeValidator(_without_nul)]
# A span back from ``to`` (or now), as the dashboards' range picker writes it: documented as a string.
Duration = Annotated[timedelta, BeforeValidator(_duration), WithJsonSchema({"type": "string", "examples": ["1h"]})]
Slug = Annotated[str, Field(pattern=SLUG_PATTERN, examples=["us-east"], description="The source's slug.")]
Cursor = Annotated[Text, Field(max_length=MAX_CURSOR_LENGTH, description="`next_cursor` of the previous page.")]
TrueFalse = Annotated[str, OneOf(("true", "false"))]


class TimeRange(Schema):
    start: Timestamp | None = Field(None, alias="from", description=f"Start of the range, included. {TIMESTAMP_HELP}")
    end: Timestamp | None = Field(None, alias="to", description=f"End of the range, excluded. {TIMESTAMP_HELP}")
    span: Duration | None = Field(
        None,
        alias="range",
        description="Instead of `from`: this long before `to` (or now), e.g. `1h`, `24h`, `7d` (units s m h d w).",
    )

    _both_given: bool = PrivateAttr(False)

    @model_validator(mode="after")
    def _from_range(self) -> TimeRange:
        # ``range`` is ``from`` written relative to ``to``; both at once would be two answers to one question.
        if self.span is not None:
            if self.start is not None:
                self._both_given = True
            else:
                self.start = max((self.end or datetime.now(UTC)) - self.span, EARLIEST)
        return self

    def problems(self, *, allow_empty: bool = True) -> dict[str, list[str]]:
        """``from`` is included and ``to`` excluded; a reversed range is an error, an empty one may be."""
        return range_problems(self, allow_empty=allow_empty)


def range_problems(query: TimeRange, *, allow_empty: bool = True) -> dict[str, list[str]]:
    """Both ``from`` and ``range`` given, or a reversed (or, unless allowed, empty) range."""
    if query._both_given:
        return {"range": [BOTH_RANGES]}
    return reversed_range(query.start, query.end, allow_empty=allow_empty)


def reversed_range(start: datetime | None, end: datetime | None, *, allow_empty: bool = True) -> dict[str, list[str]]:
    if start is None or end is None:
        return {}
    if start > end or (start == end and not allow_empty):
        return {"from": [REVERSED_RANGE]}
    return {}


def declared_names(models: Iterable[Any]) -> tuple[str, ...]:
    """The query parameter names ninja built its query models from, in the order they are declared."""
    names: list[str] = []
    for model in models:
        if model.__ninja_param_source__ == "query":
            names.extend(model.__ninja_flatten_map__)
    return tuple(names)


def strays(request: HttpRequest, allowed: tuple[str, ...]) -> dict[str, list[str]]:
    """Each parameter of the query string the endpoint does not take, or that is given more than once."""
    problems: dict[str, list[str]] = {}
    for name in request.GET:
        if name not in allowed:
            problems[name] = [f"unknown parameter; this endpoint takes: {', '.join(allowed) or 'none'}"]
        elif len(request.GET.getlist(name)) > 1:
            problems[name] = ["given more than once"]
    return problems
