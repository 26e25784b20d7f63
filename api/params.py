"""Strict query-string parsing: every problem with a parameter is a 400 naming it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.http import HttpRequest

from api.errors import field_errors

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


def parse_timestamp(raw: str) -> datetime:
    """ISO 8601 (``Z`` or an offset; no offset means UTC) or Unix seconds."""
    text = raw.strip()
    if not text:
        raise ValueError("empty")
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


class QueryParams:
    """Reads named parameters from the query string and collects what is wrong with them."""

    def __init__(self, request: HttpRequest, allowed: tuple[str, ...]) -> None:
        self.query = request.GET
        self.errors: dict[str, list[str]] = {}
        for name in self.query:
            if name not in allowed:
                self.error(name, f"unknown parameter; this endpoint takes: {', '.join(allowed) or 'none'}")
            elif len(self.query.getlist(name)) > 1:
                self.error(name, "given more than once")

    def error(self, name: str, problem: str) -> None:
        self.errors.setdefault(name, []).append(problem)

    def _raw(self, name: str) -> str | None:
        if name in self.errors:
            return None
        value = self.query.get(name)
        if value is not None and "\x00" in value:
            # PostgreSQL refuses NUL in text: it would be a 500 deep in the database instead of a 400 here.
            self.error(name, "must not contain NUL characters")
            return None
        return value

    def string(self, name: str, *, required: bool = False, max_length: int = 200) -> str | None:
        raw = self._raw(name)
        if raw is None or raw == "":
            if required and name not in self.errors:
                self.error(name, "required")
            return None
        if len(raw) > max_length:
            self.error(name, f"longer than {max_length} characters")
            return None
        return raw

    def timestamp(self, name: str) -> datetime | None:
        raw = self._raw(name)
        if raw is None:
            return None
        try:
            return parse_timestamp(raw)
        except (ValueError, OverflowError, OSError):
            self.error(name, "not a date between 1970 and 9999: use ISO 8601 (2026-01-31T12:00:00Z) or Unix seconds")
            return None

    def integer(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        raw = self._raw(name)
        if raw is None:
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            self.error(name, "not a whole number")
            return default
        if not minimum <= value <= maximum:
            self.error(name, f"must be between {minimum} and {maximum}")
            return default
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str | None = None) -> str | None:
        raw = self._raw(name)
        if raw is None:
            if default is None and name not in self.errors:
                self.error(name, f"required; one of {', '.join(choices)}")
            return default
        if raw not in choices:
            self.error(name, f"unknown value {raw[:50]!r}; one of {', '.join(choices)}")
            return default
        return raw

    def cursor(self, name: str = "cursor") -> str | None:
        raw = self._raw(name)
        if raw is None or raw == "":
            return None
        if len(raw) > MAX_CURSOR_LENGTH:
            self.error(name, "not a cursor from a previous page")
            return None
        return raw

    def time_range(
        self,
        start: datetime | None,
        end: datetime | None,
        *,
        start_name: str = "from",
        end_name: str = "to",
        allow_empty: bool = True,
    ) -> None:
        """``from`` is included and ``to`` excluded; a reversed range is an error, an empty one may be."""
        if start is None or end is None:
            return
        if start > end or (start == end and not allow_empty):
            self.error(start_name, f"must be before '{end_name}'")

    def raise_if_invalid(self) -> None:
        if self.errors:
            raise field_errors(self.errors, "Some query parameters are invalid.")
