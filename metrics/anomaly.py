"""Anomaly detection on hourly rollups: a seasonal baseline per metric and source, and peer comparison
across regions. The math is explained in docs/anomalies.md.

- Seasonal: a value at hour t is compared with the values at the same hour of the week over the last
  ``weeks`` weeks (t - 168 h, t - 336 h, ...). Their median and MAD give a robust z-score
  ``z = (x - median) / scale`` with ``scale = max(1.4826 * MAD, floor)``; flagged when ``|z| > sensitivity``.
- Peers: a region's value is compared the same way with the values of the *other* regions at the same hour.

The MAD floor: ``floor = max(RELATIVE_FLOOR * |median|, ABSOLUTE_FLOOR)``. Without it a flat history
(MAD = 0) divides by zero, and a nearly flat one flags changes nobody would call unusual (a load of
40.0 % four weeks running, then 40.5 %). With it a value must depart by at least
``sensitivity * RELATIVE_FLOOR`` of the baseline (3.5 x 5 % = 17.5 %) before it can be flagged.

Pure functions over numpy arrays; the batch functions score a whole matrix (sources x hours) with no
Python loop per source, so evaluating 1,000 sources' latest hour is a few array operations. It lives in
``metrics`` (imports only ``observability``) so the alert rule kind, charts and the changes feed can
all reach it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

HOURS_PER_WEEK = 168
DEFAULT_WEEKS = 4
MIN_POINTS = 3  # a median and MAD of fewer points say nothing about what is usual
MIN_PEERS = 3
DEFAULT_SENSITIVITY = 3.5  # Iglewicz and Hoaglin's cut-off for the modified z-score
MAD_SCALE = 1.4826  # 1 / Phi^-1(3/4): makes the MAD estimate the standard deviation of normal data
RELATIVE_FLOOR = 0.05  # the scale is at least 5 % of |median| ...
ABSOLUTE_FLOOR = 1e-6  # ... and never 0, so a flat history of zeros does not divide by zero

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


class AnomalyError(ValueError):
    """Input the detector cannot use: NaN or infinite values, nothing to score, a sensitivity <= 0."""


class NoBaseline(AnomalyError):
    """Too few points to say what is usual (fewer than MIN_POINTS history values or MIN_PEERS peers)."""


@dataclass(frozen=True)
class Score:
    """One value against its baseline: the robust z-score and whether it passes the sensitivity."""

    value: float
    median: float
    scale: float  # max(1.4826 * MAD, floor): the robust standard deviation the z-score divides by
    z: float
    flagged: bool


def check_sensitivity(sensitivity: float) -> float:
    if isinstance(sensitivity, bool) or not isinstance(sensitivity, int | float):
        raise AnomalyError(f"sensitivity must be a number, got {sensitivity!r}")
    if not np.isfinite(sensitivity) or sensitivity <= 0:
        raise AnomalyError(f"sensitivity must be a finite number above 0, got {sensitivity!r}")
    return float(sensitivity)


def _matrix(values: object, what: str, *, ndim: int = 2) -> FloatArray:
    """``values`` as a float array of ``ndim`` dimensions with at least one value (finiteness not checked)."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise AnomalyError(f"{what} must be numbers") from None
    if array.ndim != ndim:
        raise AnomalyError(f"{what} must have {ndim} dimension(s), got shape {array.shape}")
    if array.size == 0:
        raise AnomalyError(f"{what} is empty")
    return array


def _finite(values: object, what: str, *, ndim: int) -> FloatArray:
    array = _matrix(values, what, ndim=ndim)
    if not np.isfinite(array).all():
        raise AnomalyError(f"{what} contains NaN or infinite values")
    return array


def floor(median: FloatArray | float) -> FloatArray:
    """The least scale a z-score divides by: RELATIVE_FLOOR of |median|, at least ABSOLUTE_FLOOR."""
    return np.maximum(RELATIVE_FLOOR * np.abs(median), ABSOLUTE_FLOOR)


def robust_score(value: float, baseline: Sequence[float], *, sensitivity: float = DEFAULT_SENSITIVITY) -> Score:
    """``value`` against the median and floored MAD of ``baseline`` (at least MIN_POINTS values)."""
    sensitivity = check_sensitivity(sensitivity)
    x = float(_finite([value], "value", ndim=1)[0])
    if len(baseline) == 0:
        raise NoBaseline(f"no baseline: 0 values, need at least {MIN_POINTS}")
    points = _finite(baseline, "baseline", ndim=1)
    if points.size < MIN_POINTS:
        raise NoBaseline(f"no baseline: {points.size} values, need at least {MIN_POINTS}")
    median = float(np.median(points))
    mad = float(np.median(np.abs(points - median)))
    scale = float(max(MAD_SCALE * mad, float(floor(median))))
    z = (x - median) / scale
    return Score(value=x, median=median, scale=scale, z=z, flagged=abs(z) > sensitivity)


def seasonal_baseline(hourly: Sequence[float], index: int, *, weeks: int = DEFAULT_WEEKS) -> list[float]:
    """The values at the same hour of the week as ``hourly[index]`` over the ``weeks`` weeks before it.

    ``hourly`` is one value per consecutive hour (oldest first); weeks before its start are simply missing.
    """
    if weeks < 1:
        raise AnomalyError(f"weeks must be at least 1, got {weeks}")
    if not 0 <= index < len(hourly):
        raise AnomalyError(f"index {index} is outside the series of {len(hourly)} hours")
    back = (index - k * HOURS_PER_WEEK for k in range(1, weeks + 1))
    return [hourly[i] for i in back if i >= 0]


def seasonal_score(
    hourly: Sequence[float],
    index: int,
    *,
    weeks: int = DEFAULT_WEEKS,
    sensitivity: float = DEFAULT_SENSITIVITY,
) -> Score:
    """``hourly[index]`` against the same hour of the week over the last ``weeks`` weeks."""
    return robust_score(hourly[index], seasonal_baseline(hourly, index, weeks=weeks), sensitivity=sensitivity)


def peer_score(region: str, values: Mapping[str, float], *, sensitivity: float = DEFAULT_SENSITIVITY) -> Score:
    """``values[region]`` against the median and floored MAD of the other regions at the same time."""
    if region not in values:
        raise AnomalyError(f"region {region!r} has no value among {sorted(values)}")
    peers = [v for name, v in values.items() if name != region]
    if len(peers) < MIN_PEERS:
        raise NoBaseline(f"no baseline: {len(peers)} peers, need at least {MIN_PEERS}")
    return robust_score(values[region], peers, sensitivity=sensitivity)


@dataclass(frozen=True)
class Scores:
    """Scores of a whole matrix: ``z`` is NaN and ``flagged`` False where there is no baseline."""

    z: FloatArray
    flagged: BoolArray

    @property
    def has_baseline(self) -> BoolArray:
        return ~np.isnan(self.z)


def _scores(values: FloatArray, history: FloatArray, sensitivity: float, min_points: int) -> Scores:
    """``values`` (any shape S) against ``history`` (K x S, NaN where a point is missing) along axis 0."""
    count = np.sum(~np.isnan(history), axis=0)
    enough = count >= min_points
    with np.errstate(all="ignore"):  # cells without a baseline divide NaN by NaN; they are masked below
        median = _median(history, count)
        mad = _median(np.abs(history - median), count)
        scale = np.maximum(MAD_SCALE * mad, floor(median))
        z = np.where(enough, (values - median) / scale, np.nan)
    return Scores(z=z, flagged=enough & (np.abs(np.nan_to_num(z)) > sensitivity))


def _median(stack: FloatArray, count: npt.NDArray[np.intp]) -> FloatArray:
    """The median along axis 0 ignoring NaN, ``count`` the non-NaN values per cell (NaN where it is 0).

    Sorting the few (weeks or peers) values of every cell and picking the middle ones is several times
    faster than np.nanmedian, and np.sort puts NaN last, so the first ``count`` values are the real ones.
    """
    ordered = np.sort(stack, axis=0)
    low = np.maximum((count - 1) // 2, 0)[np.newaxis]
    high = (count // 2)[np.newaxis]
    return (np.take_along_axis(ordered, low, 0)[0] + np.take_along_axis(ordered, high, 0)[0]) / 2


def _seasonal_history(matrix: FloatArray, columns: npt.NDArray[np.intp], weeks: int) -> FloatArray:
    """weeks x sources x len(columns): the value ``k`` weeks before each column, NaN before the start."""
    history = np.full((weeks, matrix.shape[0], columns.size), np.nan)
    for k in range(1, weeks + 1):  # a loop over weeks (4), never over sources
        back = columns - k * HOURS_PER_WEEK
        ok = back >= 0
        history[k - 1][:, ok] = matrix[:, back[ok]]
    return history


def seasonal_scores(hourly: object, *, weeks: int = DEFAULT_WEEKS, sensitivity: float = DEFAULT_SENSITIVITY) -> Scores:
    """Score every hour of a sources x hours matrix (one row per source, consecutive hours, oldest first)."""
    sensitivity = check_sensitivity(sensitivity)
    if weeks < 1:
        raise AnomalyError(f"weeks must be at least 1, got {weeks}")
    matrix = _finite(hourly, "hourly values", ndim=2)
    columns = np.arange(matrix.shape[1])
    return _scores(matrix, _seasonal_history(matrix, columns, weeks), sensitivity, MIN_POINTS)


def latest_seasonal_scores(
    hourly: object, *, weeks: int = DEFAULT_WEEKS, sensitivity: float = DEFAULT_SENSITIVITY
) -> Scores:
    """Score only the last hour of each source (what a rule evaluation needs): arrays of one value per source."""
    sensitivity = check_sensitivity(sensitivity)
    if weeks < 1:
        raise AnomalyError(f"weeks must be at least 1, got {weeks}")
    matrix = _matrix(hourly, "hourly values")
    last = np.array([matrix.shape[1] - 1])
    # Only the latest hour and its same hours of the week are read: check those, not the whole matrix.
    read = [int(last[0]) - k * HOURS_PER_WEEK for k in range(weeks + 1)]
    if not np.isfinite(matrix[:, [c for c in read if c >= 0]]).all():
        raise AnomalyError("hourly values contains NaN or infinite values")
    history = _seasonal_history(matrix, last, weeks)
    value = matrix[:, last]
    scores = _scores(value, history, sensitivity, MIN_POINTS)
    return Scores(z=scores.z[:, 0], flagged=scores.flagged[:, 0])


def peer_scores(values: object, *, sensitivity: float = DEFAULT_SENSITIVITY) -> Scores:
    """Score every region (rows) at every hour (columns) against the other regions at that hour."""
    sensitivity = check_sensitivity(sensitivity)
    matrix = _finite(values, "region values", ndim=2)
    regions = matrix.shape[0]
    if regions - 1 < MIN_PEERS:
        raise NoBaseline(f"no baseline: {regions - 1} peers, need at least {MIN_PEERS}")
    # others[r] lists every row but r: a (regions x regions-1 x hours) stack, leave-one-out without a loop.
    others = np.array([[j for j in range(regions) if j != r] for r in range(regions)], dtype=np.intp)
    peers = np.moveaxis(matrix[others], 1, 0)  # (regions-1) x regions x hours, the layout _scores reduces
    return _scores(matrix, peers, sensitivity, MIN_PEERS)
