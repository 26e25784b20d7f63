"""Service level objective arithmetic: error budget, attainment, remaining budget, burn rate, and the
multi-window, multi-burn-rate alert decision of the SRE workbook (chapter "Alerting on SLOs").

Pure functions of good/total event counts (for availability: good = up polls, total = polls, read
from the availability buckets by ``metrics.slo_windows``) and a target in percent. Everything is
computed with exact fractions, so a window that burns at exactly a threshold (1.44 % errors against
a 0.1 % budget is 14.4x) meets it instead of missing it by a rounding error.

It lives in ``metrics`` (which imports only ``observability``) because that is the lowest floor
every user can reach: the burn-rate rule kind in ``alerts``, SLO pages in ``dashboard`` and ``api``,
reports; and the window totals it reads come from the metric store contract of this app.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

Number = int | float | Decimal | Fraction | str


class SloError(ValueError):
    """Input the arithmetic cannot use: a target outside (0, 100) %, bad counts, a missing window."""


class NoData(SloError):
    """A window without any event: its ratio, and so its burn rate, is undefined."""


# Beyond this decimal exponent no target, threshold or rate means anything. It is checked before the exact
# conversion: Fraction("1e99999999") builds the integer 10**99999999 (minutes of CPU for 11 bytes of input).
MAX_EXPONENT = 100


def exact(value: Number, what: str) -> Fraction:
    """``value`` as an exact fraction; a float is read as the decimal it prints as (99.9, not 99.90000000000000568)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | Fraction | str):
        raise SloError(f"{what} must be a number, got {value!r}")
    if isinstance(value, Decimal) or (isinstance(value, str) and "/" not in value):  # "1/3" has no exponent
        try:
            decimal = Decimal(value.strip() if isinstance(value, str) else value)
        except ArithmeticError:  # decimal.InvalidOperation: not a number at all
            raise SloError(f"{what} must be a finite number, got {value!r}") from None
        if not decimal.is_finite():
            raise SloError(f"{what} must be a finite number, got {value!r}")
        if decimal and abs(decimal.adjusted()) > MAX_EXPONENT:
            raise SloError(f"{what} must be a number between 1e-{MAX_EXPONENT} and 1e{MAX_EXPONENT} in size")
    try:
        return Fraction(repr(value)) if isinstance(value, float) else Fraction(value)
    except (ValueError, OverflowError, ZeroDivisionError):
        raise SloError(f"{what} must be a finite number, got {value!r}") from None


@dataclass(frozen=True)
class Objective:
    """A target share of good events, in percent: strictly between 0 and 100."""

    target_percent: Fraction

    @classmethod
    def of(cls, target_percent: Number) -> Objective:
        target = exact(target_percent, "target")
        if not 0 < target < 100:
            raise SloError(
                f"target must be above 0 % and below 100 %, got {float(target):g} %"
                " (100 % leaves no error budget to burn; 0 % promises nothing)"
            )
        return cls(target)

    @property
    def target(self) -> Fraction:
        """The target as a share of events (99.9 % -> 999/1000)."""
        return self.target_percent / 100

    @property
    def error_budget(self) -> Fraction:
        """The share of events allowed to be bad: 1 - target (99.9 % -> 1/1000)."""
        return 1 - self.target


@dataclass(frozen=True)
class Counts:
    """Good and total events in one window."""

    good: int
    total: int

    def __post_init__(self) -> None:
        for name in ("good", "total"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise SloError(f"{name} must be a whole number of events, at least 0, got {value!r}")
        if self.good > self.total:
            raise SloError(f"good ({self.good}) cannot exceed total ({self.total})")

    @property
    def bad(self) -> int:
        return self.total - self.good


def _nonempty(counts: Counts, window: str) -> Counts:
    if counts.total == 0:
        raise NoData(f"no events in the {window} window: its ratio is undefined")
    return counts


def error_ratio(counts: Counts, window: str = "") -> Fraction:
    """Bad events / total events. An empty window raises NoData."""
    counts = _nonempty(counts, window or "given")
    return Fraction(counts.bad, counts.total)


def attainment(counts: Counts, window: str = "") -> Fraction:
    """Good events / total events: what the objective's target is compared with."""
    return 1 - error_ratio(counts, window)


def burn_rate(counts: Counts, objective: Objective, window: str = "") -> Fraction:
    """How fast the window spends the budget: its error ratio / the error budget.

    1 spends exactly the whole budget over the SLO period; 14.4 spends it 14.4 times as fast (a
    30-day budget in 50 hours).
    """
    return error_ratio(counts, window) / objective.error_budget


def remaining_budget(counts: Counts, objective: Objective) -> Fraction:
    """The share of the period's error budget not yet spent, for the counts of the SLO window so far.

    The budget in events is error_budget x total; spent is bad / that. 1 is untouched, 0 spent
    exactly, below 0 overspent (the objective is missed). An empty window raises NoData.
    """
    return 1 - burn_rate(counts, objective, "SLO")


def budget_consumed(rate: Number, window: timedelta, period: timedelta) -> Fraction:
    """The share of a ``period``'s budget that burning at ``rate`` for ``window`` spends: rate x window / period."""
    if period <= timedelta(0) or window <= timedelta(0):
        raise SloError("window and period must be positive")
    return exact(rate, "burn rate") * Fraction(window / timedelta(seconds=1)) / Fraction(period / timedelta(seconds=1))


# --- multi-window, multi-burn-rate alerts ---------------------------------------------------


@dataclass(frozen=True)
class BurnRateCondition:
    """Fire when both windows burn at ``threshold`` or faster: the long window proves the burn is
    significant (it spent a real share of the budget), the short one that it is still going on (so
    the alert resolves minutes after the burn stops, not after the long window drains)."""

    long_window: str
    short_window: str
    threshold: Fraction
    severity: str  # "page" or "ticket", as the workbook routes them


SEVERITY_ORDER = {"page": 0, "ticket": 1}  # most urgent first


# The workbook's recommendation for a 30-day SLO: 2 % of the budget in 1 h, 5 % in 6 h (pages),
# 10 % in 3 d (a ticket); each short window is 1/12 of its long one.
STANDARD_CONDITIONS: tuple[BurnRateCondition, ...] = (
    BurnRateCondition("1h", "5m", Fraction(144, 10), "page"),
    BurnRateCondition("6h", "30m", Fraction(6), "page"),
    BurnRateCondition("3d", "6h", Fraction(1), "ticket"),
)


@dataclass(frozen=True)
class ConditionResult:
    condition: BurnRateCondition
    long_rate: Fraction
    short_rate: Fraction

    @property
    def firing(self) -> bool:
        return self.long_rate >= self.condition.threshold and self.short_rate >= self.condition.threshold


@dataclass(frozen=True)
class BurnDecision:
    results: tuple[ConditionResult, ...]

    @property
    def firing(self) -> tuple[ConditionResult, ...]:
        return tuple(result for result in self.results if result.firing)

    @property
    def severity(self) -> str | None:
        """The most urgent severity firing ("page" before "ticket"); None when nothing fires."""
        severities = {result.condition.severity for result in self.firing}
        return min(severities, key=lambda s: (SEVERITY_ORDER.get(s, len(SEVERITY_ORDER)), s), default=None)


def decide(
    windows: Mapping[str, Counts],
    objective: Objective,
    conditions: Sequence[BurnRateCondition] = STANDARD_CONDITIONS,
) -> BurnDecision:
    """Evaluate every condition on the windows' counts (keyed by window name, e.g. "1h", "5m").

    A window a condition needs but ``windows`` lacks raises SloError; an empty one raises NoData
    (no polls for five minutes is a fact for the caller to report, not a burn rate of 0).
    """
    if not conditions:
        raise SloError("no burn-rate conditions given")
    results = []
    for condition in conditions:
        rates = []
        for name in (condition.long_window, condition.short_window):
            if name not in windows:
                raise SloError(f"the {name} window is needed and was not given (have: {', '.join(windows) or 'none'})")
            rates.append(burn_rate(windows[name], objective, name))
        results.append(ConditionResult(condition, rates[0], rates[1]))
    return BurnDecision(tuple(results))
