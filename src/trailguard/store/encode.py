"""Turns parsed records into Arrow batches, without touching the database.

This is the CPU-heavy half of writing (flattening nested fields to dotted paths, building the
normalised columns); it runs in worker processes when an ingest uses several cores. The case
writer then maps the field columns onto the table's columns and inserts the batch.

An encoded native batch holds the system values under names no field can have (``\\x00uid``
…) and one column per field name found in the batch, named exactly as the field. Field names
that can never be a column (unprintable, too long, or a system column's name) go straight to
the per-row overflow JSON.
"""

from __future__ import annotations

import hashlib
import json
import logging
from array import array
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

import orjson
import pyarrow as pa

from trailguard.ingest.base import Record, Rejected, int_of
from trailguard.ingest.columns import BatchFields, Normaliser
from trailguard.store.schema import (
    MAX_COLUMN_NAME,
    NORMAL_COLUMNS,
    SYSTEM_COLUMNS,
)

#: Names of the system values inside an encoded native batch.
UID, RECORD, TIME, RAW, OVERFLOW = "\x00uid", "\x00record", "\x00time", "\x00raw", "\x00overflow"
SYSTEM_SLOTS = (UID, RECORD, TIME, RAW, OVERFLOW)

QUARANTINE_RAW_LIMIT = 64 * 1024
#: Batches of fewer records than this are normalised event by event (see encode_records).
EVENT_NORMALISE_BELOW = 64

log = logging.getLogger(__name__)

_ARROW_TYPES = {"VARCHAR": pa.string(), "INTEGER": pa.int32(), "BIGINT": pa.int64(),
                "TIMESTAMP": pa.timestamp("us")}
_OVERFLOW: Any = object()


@dataclass(slots=True)
class EncodedBatch:
    """One batch of one source type, ready for the case writer."""

    source_type: str
    native: pa.Table
    normal: pa.Table
    keyed: bool


def flatten(data: dict[str, Any], out: dict[str, str], prefix: str = "") -> None:
    """Flatten nested mappings to dotted paths; scalars become text, lists JSON text.

    None and empty mappings produce no field (Sigma's ``null`` then matches a missing field).
    The encoder inlines the same rules for speed; this function documents and tests them.
    """
    for key, value in data.items():
        name = prefix + key if prefix else key
        if isinstance(value, str):
            out[name] = value
        elif isinstance(value, dict):
            if value:
                flatten(value, out, name + ".")
        elif value is None:
            continue
        elif isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, int | float):
            out[name] = str(value)
        else:
            out[name] = _list_text(value)


def _json_text(value: dict[str, str]) -> str:
    """The overflow fields as JSON; text with undecodable bytes is escaped, never lost."""
    try:
        return orjson.dumps(value).decode()
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(value)  # escapes lone surrogates as \\udcXX


def _list_text(value: Any) -> str:
    """A list (or other non-scalar) as JSON text; the raw record keeps what JSON cannot say."""
    try:
        return orjson.dumps(value, default=str).decode()
    except (orjson.JSONEncodeError, RecursionError, TypeError):
        return "[value nested too deeply to store as a field; see _raw]"


def _column_worthy(name: str) -> bool:
    return (0 < len(name) <= MAX_COLUMN_NAME and name.isprintable() and not name.isspace()
            and name not in SYSTEM_COLUMNS)


def encode_records(source_type: str, records: list[Record], unit_prefix: str,
                   first_sequence: int = 0,
                   normaliser: Normaliser | None = None) -> EncodedBatch:
    """Flatten a batch of records into Arrow tables (native fields and normalised view).

    The normalised view comes from each record's ``normal`` or, when the parser computes it
    from the stored field text, from its ``normaliser``: over the batch's columns at once, or
    event by event for a batch of a few events (vector operations cost tens of microseconds
    each whatever the rows: a small file's batch would cost more than its records).

    A record without a natural key gets the uid ``<unit prefix><sequence>``: its order among
    the unit's records, so the same file always yields the same uids (positions alone may
    repeat, e.g. several records from one line).
    """
    keyed = any(record.key for record in records)
    if keyed:
        uids = pa.array([_uid(source_type, record, unit_prefix, first_sequence + index)
                         for index, record in enumerate(records)], pa.string())
    else:  # the usual case: no natural keys, the uid is the sequence number
        uids = pa.array([f"{unit_prefix}{sequence:x}" for sequence in
                         range(first_sequence, first_sequence + len(records))], pa.string())
    positions = pa.array([record.position for record in records], pa.int64())
    times = pa.array([record.time for record in records], pa.timestamp("us"))
    columns = _native_columns(records)
    table = pa.table({
        UID: uids,
        RECORD: positions,
        TIME: times,
        RAW: raw_array([record.raw for record in records]),
        **columns,
    })
    if normaliser is None:
        normals = _normal_columns([record.normal for record in records])
    else:
        normals = _normalised(source_type, normaliser, columns, len(records))
    normal = pa.table({
        "uid": uids,
        "source_type": pa.array([source_type] * len(records), pa.string()),
        "record": positions,
        "time": times,
        **{name: normals[name] for name in NORMAL_COLUMNS if name in normals},
    })
    return EncodedBatch(source_type, table, normal, keyed)


def _uid(source_type: str, record: Record, unit_prefix: str, sequence: int) -> str:
    if record.key:
        return hashlib.blake2b(
            f"{source_type}\x00{record.key}".encode("utf-8", "surrogatepass"),
            digest_size=16).hexdigest()
    return f"{unit_prefix}{sequence:x}"


def _native_columns(records: list[Record]) -> dict[str, pa.Array]:
    """One column per field name (dotted path) of the batch, plus the overflow column.

    Values go straight into per-column lists (top-level fields first, nested mappings after
    them, last one first); each list becomes an Arrow column in one call, and only a column
    holding something other than text is converted value by value (see :func:`flatten`).
    """
    count = len(records)
    slots: dict[str, Any] = {}  # field name -> its value list, or _OVERFLOW
    native: dict[str, list[Any]] = {}
    overflow: list[str | None] = [None] * count
    for index, record in enumerate(records):
        extra: dict[str, str] | None = None
        stack: list[tuple[dict[Any, Any], str]] | None = None
        for key, value in record.data.items():
            values = slots.get(key)
            if type(value) is str and values is not None and values is not _OVERFLOW:
                values[index] = value  # the usual case: text in a known column
                continue
            if value is None:
                continue
            if isinstance(value, dict):
                if value:
                    stack = stack or []
                    stack.append((value, f"{key}."))
                continue
            if values is None:
                values = _slot(f"{key}", slots, native, count)
                if type(key) is not str and values is not _OVERFLOW \
                        and values[index] is not None:  # the key 1 after the key "1"
                    values = _OVERFLOW
            if values is _OVERFLOW:
                extra = extra or {}
                extra[f"{key}"] = _text(value)
            else:
                values[index] = value
        while stack:  # nested fields: a dotted path may repeat one seen before
            data, path = stack.pop()
            for key, value in data.items():
                if value is None:
                    continue
                name = f"{path}{key}"
                if isinstance(value, dict):
                    if value:
                        stack.append((value, name + "."))
                    continue
                values = slots.get(name)
                if values is None:
                    values = _slot(name, slots, native, count)
                if values is not _OVERFLOW and values[index] is None:
                    values[index] = value
                else:
                    extra = extra or {}
                    extra[name] = _text(value)
        if extra:
            overflow[index] = _json_text(extra)
    columns = {name: _text_column(values) for name, values in native.items()}
    columns[OVERFLOW] = pa.array(overflow, pa.string())
    return columns


def _slot(name: str, slots: dict[str, Any], native: dict[str, list[Any]], count: int) -> Any:
    """The value list of a new field name (or _OVERFLOW when it cannot be a column)."""
    values = slots.get(name)
    if values is None:
        if _column_worthy(name):
            values = slots[name] = native[name] = [None] * count
        else:
            values = slots[name] = _OVERFLOW
    return values


def _text(value: Any) -> str:
    """A field value as stored: text as is, booleans as ``true``/``false``, numbers as Python
    writes them, anything else as JSON."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return str(value)
    return _list_text(value)


def _text_column(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
        pass
    # A column of booleans or of integers only: Arrow writes them as Python does. (Asked only
    # of such a column: inferring a type for lists of mappings costs more than their text.)
    kind: type = type(next((value for value in values if value is not None), None))
    if kind is bool or kind is int:
        try:
            typed = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, UnicodeEncodeError):
            typed = None
        if typed is not None and typed.type in (pa.bool_(), pa.int64()):
            return typed.cast(pa.string())
    return text_array([value if value is None or type(value) is str else _text(value)
                       for value in values])


def _normalised(source_type: str, normaliser: Normaliser, columns: dict[str, pa.Array],
                count: int) -> dict[str, pa.Array]:
    """The normalised columns a parser's normaliser gives a batch. A normaliser that fails (a
    bug met by odd input) costs no record: the batch is normalised event by event, and an event
    it still fails on keeps an empty normalised view (logged), its fields stored as always."""
    if count >= EVENT_NORMALISE_BELOW:
        try:
            return normaliser.batch(BatchFields(columns, count))
        except Exception:
            log.exception("normalising a batch of %s failed; normalising it event by event",
                          source_type)
    normals: list[dict[str, Any]] = []
    for text in _texts(columns, count):
        try:
            normals.append(normaliser.event(text))
        except Exception:
            log.exception("normalising a %s event failed; its normalised view stays empty",
                          source_type)
            normals.append({})
    return _normal_columns(normals)


def _texts(columns: dict[str, pa.Array], count: int) -> list[dict[str, str]]:
    """Each record's stored field text (the field columns read back row by row)."""
    texts: list[dict[str, str]] = [{} for _ in range(count)]
    for name, column in columns.items():
        if name in SYSTEM_SLOTS:
            continue
        for text, value in zip(texts, column.to_pylist(), strict=True):
            if value is not None:
                text[name] = value
    return texts


def _normal_columns(normals: list[dict[str, Any]]) -> dict[str, pa.Array]:
    """The normalised columns per-record ``normal`` mappings fill."""
    present = set().union(*normals)  # the columns this batch fills, found at C speed
    columns: dict[str, pa.Array] = {}
    for name, kind in NORMAL_COLUMNS.items():
        if name in present:
            items = [normal.get(name) for normal in normals]
            if any(item is not None for item in items):
                columns[name] = _normal_column(kind, items)
    return columns


def _normal_column(kind: str, items: list[Any]) -> pa.Array:
    """One normalised column in one call; only a column with other values than its type's
    (numbers as text, text as numbers, out-of-range numbers) is converted value by value."""
    arrow_type = _ARROW_TYPES[kind]
    try:
        return pa.array(items, arrow_type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError, OverflowError):
        pass
    if kind == "VARCHAR":
        return text_array([item if item is None or type(item) is str else str(item)
                           for item in items])
    numbers = [None if item is None else int_of(item) for item in items]
    if kind == "INTEGER":
        numbers = [number if number is None or -(2**31) <= number < 2**31 else None
                   for number in numbers]
    return pa.array(numbers, arrow_type)


def encode_rejected(source_type: str | None, rejected: list[Rejected]) -> pa.Table:
    """Quarantine rows (without the file id, which the writer adds)."""
    raws = [item.raw.decode("utf-8", errors="backslashreplace")
            if isinstance(item.raw, bytes) else item.raw for item in rejected]
    return pa.table({
        "source_type": pa.array([source_type] * len(rejected), pa.string()),
        "position": pa.array([item.position for item in rejected], pa.int64()),
        "reason": text_array([item.reason for item in rejected]),
        "raw": text_array([raw[:QUARANTINE_RAW_LIMIT] for raw in raws]),
        "raw_length": pa.array([len(raw) for raw in raws], pa.int64()),
    })


def raw_array(values: list[str | bytes]) -> pa.Array:
    """Raw records as Arrow strings; bytes that are not UTF-8 become ``\\xNN`` escapes.

    Raw lines (bytes, the usual case) are joined into one buffer of the exact size that Arrow
    takes as it is, its offsets summed from their lengths and its UTF-8 checked in one pass:
    building the array value by value grows its buffer by doubling, and the copies and the
    fresh memory each step touches made this the costliest step of encoding a batch (0.2–0.6
    s of 2.4 s for OTRF LSASS; 0.1 s this way)."""
    try:
        data = b"".join(values)  # type: ignore[arg-type]  # TypeError when a value is text
    except TypeError:
        data = None
    if data is not None and len(data) < 2**31:
        offsets = array("i", accumulate(map(len, values), initial=0))
        joined = pa.Array.from_buffers(pa.binary(), len(values),
                                       [None, pa.py_buffer(offsets), pa.py_buffer(data)])
        try:
            return joined.cast(pa.string())
        except pa.ArrowInvalid:  # not UTF-8 somewhere: escaped below
            pass
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
        return text_array([value.decode("utf-8", "backslashreplace")
                           if isinstance(value, bytes) else value for value in values])


def text_array(values: list[str | None]) -> pa.Array:
    """Arrow strings; text that is not valid Unicode (lone surrogates) is escaped, not lost."""
    try:
        return pa.array(values, pa.string())
    except (pa.ArrowInvalid, UnicodeEncodeError):
        return pa.array([None if value is None else _escaped(value) for value in values],
                        pa.string())


def _escaped(text: str) -> str:
    """Text with undecodable bytes (surrogate escapes) as ``\\xNN`` and lone surrogates as
    ``\\uXXXX``, so that it can be stored."""
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode()
