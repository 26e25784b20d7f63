"""The condition language of alert rules: operators, dotted payload paths and JSON literals.

Pure functions, no database: the admin form, the model's validation and the evaluator share them,
so a rule that validates is a rule the evaluator understands.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any, Final

from metrics.extraction import value_at

OPERATORS: Final = (">", ">=", "<", "<=", "==", "!=")
ORDERING_OPERATORS: Final = frozenset({">", ">=", "<", "<="})

# A path is dot-separated keys; a whole number indexes a list ("results.workers.0.1.idle", -1 the
# last), as in metric paths. No "*": a field condition compares one value.
# Keys in the status payload are identifiers with dashes; anything else is most likely a typo.
PATH_SEGMENT = re.compile(r"^[A-Za-z0-9_\-]+$")
MAX_PATH_SEGMENTS = 32


class ConditionError(ValueError):
    """A rule's condition cannot be understood; the message says what to write instead."""


class _Missing:
    """The value of a path that is not in the payload: equal to nothing, ordered with nothing."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final = _Missing()


def check_operator(operator: str) -> str:
    if operator not in OPERATORS:
        raise ConditionError(f"unknown operator {operator!r}: use one of {' '.join(OPERATORS)}")
    return operator


def parse_path(path: str) -> tuple[str, ...]:
    """``"results.services.redis"`` -> ``("results", "services", "redis")``, or ConditionError."""
    text = path.strip()
    if not text:
        raise ConditionError("the path is empty: write a dotted path such as results.services.redis")
    segments = tuple(text.split("."))
    if len(segments) > MAX_PATH_SEGMENTS:
        raise ConditionError(f"the path has more than {MAX_PATH_SEGMENTS} segments")
    for segment in segments:
        if not segment:
            raise ConditionError(f"the path {text!r} has an empty segment (two dots, or a dot at an end)")
        if not PATH_SEGMENT.match(segment):
            raise ConditionError(
                f"the path segment {segment!r} is not a key: use letters, digits, '_' and '-' "
                "(digits alone index a list)"
            )
    return segments


def parse_literal(text: str) -> Any:
    """A JSON literal (``false``, ``null``, ``85``, ``"ok"``) to compare a payload field with."""
    raw = text.strip()
    if not raw:
        raise ConditionError('the value is empty: write a JSON literal such as false, 0, null or "ok"')
    try:
        value = json.loads(raw, parse_constant=_refuse_constant)
    except (json.JSONDecodeError, ConditionError):
        hint = f' (a string needs double quotes: "{raw}")' if re.match(r"^[A-Za-z_][\w\- ]*$", raw) else ""
        raise ConditionError(f"the value {raw!r} is not a JSON literal{hint}") from None
    if isinstance(value, dict | list):
        raise ConditionError("the value must be a single JSON literal (string, number, true, false or null)")
    return value


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON and could never compare equal to a stored value.
    raise ConditionError(f"{name} is not a JSON literal")


def resolve_path(payload: Any, segments: tuple[str, ...]) -> Any:
    """The value at ``segments`` in ``payload``, or MISSING (the metric paths' rule: -1 is the last item)."""
    return value_at(payload, segments, missing=MISSING)


def is_number(value: Any) -> bool:
    # bool is an int in Python but not a number in JSON: `true > 0` must not hold.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def json_equal(left: Any, right: Any) -> bool:
    """Equality as JSON sees it: ``false`` is not ``0`` and ``1`` is ``1.0``."""
    if left is MISSING or right is MISSING:
        return False
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if is_number(left) and is_number(right):
        return float(left) == float(right)
    return type(left) is type(right) and bool(left == right)


def compare(actual: Any, operator: str, expected: Any) -> bool | None:
    """Whether ``actual <operator> expected`` holds; None when it cannot be decided.

    ``==`` and ``!=`` always decide (a missing field is unequal to every value, so
    ``status != "ok"`` holds when ``status`` is gone). Ordering needs two numbers; a missing or
    non-numeric value leaves it undecided rather than false, so a broken payload never resolves
    an alert by accident.
    """
    if operator == "==":
        return json_equal(actual, expected)
    if operator == "!=":
        return not json_equal(actual, expected)
    if not (is_number(actual) and is_number(expected)):
        return None
    a, b = float(actual), float(expected)
    if operator == ">":
        return a > b
    if operator == ">=":
        return a >= b
    if operator == "<":
        return a < b
    if operator == "<=":
        return a <= b
    raise ConditionError(f"unknown operator {operator!r}")


def literal_text(value: Any) -> str:
    """How a literal is written back in a rule's summary."""
    if value is MISSING:
        return "missing"
    return json.dumps(value)
