"""One line per interval for a repeated message; the next one that passes says how many were held back."""

from __future__ import annotations

import logging

import pytest

from observability.log_throttle import ThrottleFilter


def record(msg: str, name: str = "metrics.cache") -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, None, None)


def test_it_passes_the_first_line_and_holds_the_repeats(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [100.0]
    monkeypatch.setattr("observability.log_throttle.time.monotonic", lambda: clock[0])
    throttle = ThrottleFilter(interval=30)
    assert throttle.filter(record("Exception ignored"))
    assert [throttle.filter(record("Exception ignored")) for _ in range(5)] == [False] * 5
    assert throttle.filter(record("another message"))  # a different message has its own budget
    clock[0] += 30
    passed = record("Exception ignored")
    assert throttle.filter(passed)
    assert "5 more like this" in passed.getMessage()


def test_it_is_wired_to_the_cache_logger_in_the_settings() -> None:
    logger = logging.getLogger("metrics.cache")
    assert any(isinstance(f, ThrottleFilter) for f in logger.filters)
