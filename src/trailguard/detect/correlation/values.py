"""How member values are compared: group keys, distinct values, numbers and times."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from trailguard.detect.correlation.model import CorrelationInputError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")


def comparable(value: Any) -> Any:
    """The form two values are compared in: strings fold case (Sigma compares strings
    case-insensitively; `casefold` is full Unicode folding, a superset of SQLite's ASCII
    `lower`), containers become hashable tuples, everything else compares as is (so 1, 1.0
    and True are one value, as in SQL, while 1 and "1" stay distinct)."""
    if isinstance(value, str):
        return value.casefold()
    if isinstance(value, list | tuple):
        return tuple(comparable(item) for item in value)
    if isinstance(value, Mapping):
        return tuple(sorted(((str(k), comparable(v)) for k, v in value.items()), key=_first))
    if isinstance(value, set | frozenset):
        return tuple(sorted((comparable(item) for item in value), key=repr))
    return value


def _first(pair: tuple[str, Any]) -> str:
    return pair[0]


def numeric(value: Any) -> int | Fraction | None:
    """The number in a field, exactly, or None when the field holds no finite number.

    Integers and floats count, and so do strings spelled as a JSON number (what
    pySigma-backend-sqlite accepts); booleans do not (summing flags is a rule error).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return Fraction(value) if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return Fraction(value) if value.is_finite() else None
    if isinstance(value, str):
        text = value.strip()
        if _JSON_NUMBER.fullmatch(text):
            return Fraction(text)
    return None


def micros(moment: datetime) -> int:
    """Microseconds since the epoch of a timezone-aware datetime."""
    try:
        return (moment - _EPOCH) // _MICROSECOND
    except TypeError:
        raise CorrelationInputError(f"member time {moment.isoformat()} has no timezone") from None


def group_key(fields: Mapping[str, Any], names: tuple[str, ...]) -> tuple[Any, ...]:
    """The comparable values of `names` in `fields` (None when absent), fast for 1-2 names."""
    if len(names) == 1:
        value = fields.get(names[0])
        return (value.casefold() if type(value) is str else comparable(value),)
    if not names:
        return ()
    return tuple([comparable(fields.get(name)) for name in names])


def span_micros(span: timedelta) -> int:
    return span // _MICROSECOND
