"""Labelled anomalies injected into a replayed hourly history, for testing and benchmarking detection.

``history`` gives, per region, one (timestamp, value, is_anomaly) point per hour: what the hourly rollup
of a metric would hold. The usual level of a region comes from ``payload.character`` (its baseline load
and phase), and the metric from the formulas of ``payload.generate`` (load swings +-25 % around the
baseline; wait time is 20 ms + load x 0.8..1.6, 1.2 on average). The payload's own wave is about an hour
long and averages out in an hourly rollup, so a daily wave (peaking at a region-specific hour) and a
weekly one (weekends at 75 %) stand in for it here: the seasonality a same-hour-of-the-week baseline exists
for. Each hour gets multiplicative normal noise (NOISE, 3 %): the hour-to-hour variation that is left
once 120 polls are averaged. Everything is deterministic for a given seed.

Injections (``Injection``) change chosen hours of chosen regions and label exactly those hours:
- ``spike``: the value times (1 + magnitude) for every injected hour (usually one to three);
- ``level_shift``: the same change, held for the whole duration (a new release, a larger customer);
- ``drift``: the change grows linearly from magnitude / hours in the first hour to magnitude in the last
  (a leak, a filling disk). Its first hours are hard to tell from noise, and are labelled all the same.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt

from pollers.simulator.payload import character

HOUR = timedelta(hours=1)
KINDS = ("spike", "level_shift", "drift")
METRICS = ("cpu_load", "wait_time")
NOISE = 0.03  # relative standard deviation of an hourly mean
DAILY_SWING = 0.25  # payload.generate: load = baseline x (1 + 0.25 x wave)
WEEKEND_FACTOR = 0.75


class InjectionError(ValueError):
    """An injection the history cannot take: unknown kind or metric, outside the history, overlapping."""


@dataclass(frozen=True)
class Injection:
    region: str
    metric: str
    kind: str
    start: datetime  # the first anomalous hour (aligned to the hour, UTC)
    hours: int
    magnitude: float  # relative change at full strength: 0.5 is +50 %, -0.5 is -50 %

    def factors(self) -> npt.NDArray[np.float64]:
        """What each injected hour's value is multiplied by."""
        if self.kind == "drift":
            return 1 + self.magnitude * np.arange(1, self.hours + 1) / self.hours
        return np.full(self.hours, 1 + self.magnitude)


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float
    is_anomaly: bool


@dataclass(frozen=True)
class History:
    """One metric's hourly history: ``values[r, h]`` is region ``regions[r]`` at ``times[h]``."""

    metric: str
    regions: tuple[str, ...]
    times: tuple[datetime, ...]
    values: npt.NDArray[np.float64]
    labels: npt.NDArray[np.bool_]

    def points(self, region: str) -> list[Point]:
        row = self.regions.index(region)
        return [
            Point(at, float(v), bool(a))
            for at, v, a in zip(self.times, self.values[row], self.labels[row], strict=True)
        ]


def expected(region: str, metric: str, times: Sequence[datetime]) -> npt.NDArray[np.float64]:
    """The noiseless value of ``metric`` in ``region`` at each hour: level x daily wave x weekly factor."""
    if metric not in METRICS:
        raise InjectionError(f"unknown metric {metric!r}; one of {', '.join(METRICS)}")
    char = character(region)
    hour_of_day = np.array([t.hour for t in times], dtype=np.float64)
    weekend = np.array([t.weekday() >= 5 for t in times])
    wave = np.sin(char.phase + 2 * math.pi * hour_of_day / 24)
    load = char.baseline_load * (1 + DAILY_SWING * wave) * np.where(weekend, WEEKEND_FACTOR, 1.0)
    if metric == "cpu_load":
        return np.clip(load, 1, 99)
    return 20 + load * 1.2


def _check(injection: Injection, regions: Sequence[str], metric: str, times: Sequence[datetime]) -> int:
    if injection.kind not in KINDS:
        raise InjectionError(f"unknown kind {injection.kind!r}; one of {', '.join(KINDS)}")
    if injection.region not in regions:
        raise InjectionError(f"region {injection.region!r} is not in the history")
    if injection.metric != metric:
        raise InjectionError(f"injection into {injection.metric!r} given to the history of {metric!r}")
    if injection.hours < 1:
        raise InjectionError(f"an injection lasts at least one hour, got {injection.hours}")
    if not math.isfinite(injection.magnitude) or injection.magnitude <= -1:
        raise InjectionError(f"magnitude must be finite and above -1 (-100 %), got {injection.magnitude}")
    offset = (injection.start - times[0]) / HOUR
    if offset != int(offset) or offset < 0 or offset + injection.hours > len(times):
        raise InjectionError(
            f"injection at {injection.start.isoformat()} for {injection.hours} h is not on an hour inside the history"
        )
    return int(offset)


def history(
    regions: Sequence[str],
    metric: str,
    start: datetime,
    hours: int,
    injections: Sequence[Injection] = (),
    *,
    seed: int = 0,
) -> History:
    """``hours`` hourly values of ``metric`` per region from ``start`` (aligned to the hour), injections applied."""
    if not regions or len(set(regions)) != len(regions):
        raise InjectionError("regions must be a non-empty list of distinct names")
    if hours < 1:
        raise InjectionError(f"hours must be at least 1, got {hours}")
    if start.tzinfo is None or start != start.replace(minute=0, second=0, microsecond=0):
        raise InjectionError(f"start must be an aware datetime on the hour, got {start.isoformat()}")
    times = tuple(start.astimezone(UTC) + i * HOUR for i in range(hours))
    rng = np.random.default_rng(seed)
    values = np.stack([expected(r, metric, times) for r in regions])
    values = values * (1 + NOISE * rng.standard_normal(values.shape))
    labels = np.zeros(values.shape, dtype=np.bool_)
    for injection in injections:
        at = _check(injection, regions, metric, times)
        row = list(regions).index(injection.region)
        span = slice(at, at + injection.hours)
        if labels[row, span].any():
            raise InjectionError(f"injections overlap in {injection.region!r} at {injection.start.isoformat()}")
        values[row, span] *= injection.factors()
        labels[row, span] = True
    return History(metric=metric, regions=tuple(regions), times=times, values=values, labels=labels)


def histories(
    regions: Sequence[str],
    start: datetime,
    hours: int,
    injections: Sequence[Injection] = (),
    *,
    seed: int = 0,
) -> Mapping[str, History]:
    """``history`` for every metric, each with the injections aimed at it and its own noise."""
    return {
        metric: history(
            regions, metric, start, hours, [i for i in injections if i.metric == metric], seed=seed * 1000 + n
        )
        for n, metric in enumerate(METRICS)
    }
