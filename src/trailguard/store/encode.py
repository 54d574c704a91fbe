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
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa

from trailguard.ingest.base import Record, Rejected, int_of
from trailguard.store.schema import (
    INTEGER_COLUMNS,
    MAX_COLUMN_NAME,
    NORMAL_COLUMNS,
    SYSTEM_COLUMNS,
)

#: Names of the system values inside an encoded native batch.
UID, RECORD, TIME, RAW, OVERFLOW = "\x00uid", "\x00record", "\x00time", "\x00raw", "\x00overflow"
SYSTEM_SLOTS = (UID, RECORD, TIME, RAW, OVERFLOW)

QUARANTINE_RAW_LIMIT = 64 * 1024

_ARROW_TYPES = {"VARCHAR": pa.string(), "INTEGER": pa.int32(), "BIGINT": pa.int64(),
                "TIMESTAMP": pa.timestamp("us")}
_OVERFLOW = object()


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
                   first_sequence: int = 0) -> EncodedBatch:
    """Flatten a batch of records into Arrow tables (native fields and normalised view).

    A record without a natural key gets the uid ``<unit prefix><sequence>``: its order among
    the unit's records, so the same file always yields the same uids (positions alone may
    repeat, e.g. several records from one line).

    Flat records (no nested mappings) that share their field names are turned into columns
    together (a transposition done in C); the others are flattened one by one. Rows come
    out grouped that way, each with its own uid, position and raw record.
    """
    uids = [_uid(source_type, record, unit_prefix, first_sequence + index)
            for index, record in enumerate(records)]
    keyed = any(record.key for record in records)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for index, record in enumerate(records):
        groups.setdefault(tuple(record.data), []).append(index)
    parts: list[pa.Table] = []
    order: list[int] = []
    nested: list[int] = []
    for names, members in groups.items():
        table = _flat_group(names, [records[index].data for index in members])
        if table is None:
            nested.extend(members)
        else:
            parts.append(table)
            order.extend(members)
    if nested:
        nested.sort()
        parts.append(_nested_group([records[index] for index in nested]))
        order.extend(nested)
    ordered = [records[index] for index in order]
    if not parts:
        parts.append(pa.table({OVERFLOW: pa.nulls(0, pa.string())}))
    native = stack_tables(parts) if len(parts) != 1 else parts[0]
    positions = pa.array([record.position for record in ordered], pa.int64())
    times = pa.array([record.time for record in ordered], pa.timestamp("us"))
    uid_array = pa.array([uids[index] for index in order], pa.string())
    system = pa.table({
        UID: uid_array,
        RECORD: positions,
        TIME: times,
        RAW: raw_array([record.raw for record in ordered]),
    })
    table = pa.Table.from_arrays([*system.columns, *native.columns],
                                 names=[*system.column_names, *native.column_names])
    normal = _normal_table(source_type, ordered, uid_array, positions, times)
    return EncodedBatch(source_type, table, normal, keyed)


def _uid(source_type: str, record: Record, unit_prefix: str, sequence: int) -> str:
    if record.key:
        return hashlib.blake2b(
            f"{source_type}\x00{record.key}".encode("utf-8", "surrogatepass"),
            digest_size=16).hexdigest()
    return f"{unit_prefix}{sequence:x}"


def _flat_group(names: tuple[Any, ...], datas: list[dict[str, Any]]) -> pa.Table | None:
    """Columns of records that all have exactly these field names, or None when one of them
    holds a nested mapping or a name that cannot be a column (the general path takes them)."""
    if not all(type(name) is str and _column_worthy(name) for name in names):
        return None
    if any(type(value) is dict for value in datas[0].values()):
        return None  # nested (the usual case for cloud audit records): no wasted work
    columns: list[pa.Array] = []
    for values in zip(*[data.values() for data in datas], strict=True):
        try:
            columns.append(pa.array(values, pa.string()))
            continue
        except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
            pass
        texts: list[str | None] = []
        for value in values:
            kind = type(value)
            if kind is str or value is None:
                texts.append(value)
            elif kind is bool:
                texts.append("true" if value else "false")
            elif kind is int or kind is float:
                texts.append(str(value))
            elif isinstance(value, dict):
                return None
            else:
                texts.append(_list_text(value))
        columns.append(text_array(texts))
    # A column that is null in every row is no field at all (as on the general path).
    kept = [(name, column) for name, column in zip(names, columns, strict=True)
            if column.null_count < len(column)]
    return pa.table([*(column for _, column in kept), pa.nulls(len(datas), pa.string())],
                    names=[*(name for name, _ in kept), OVERFLOW])


def _nested_group(records: list[Record]) -> pa.Table:
    """The general path: flatten each record's nested mappings to dotted paths."""
    count = len(records)
    native: dict[str, list[str | None]] = {}
    slots: dict[str, Any] = {}  # field name -> its value list, or _OVERFLOW
    overflow: list[str | None] = [None] * count
    for index, record in enumerate(records):
        extra: dict[str, str] | None = None
        stack: list[tuple[dict[str, Any], str]] = [(record.data, "")]
        while stack:
            data, path = stack.pop()
            for key, value in data.items():
                name = f"{path}{key}"
                kind = type(value)
                if kind is str:
                    text = value
                elif kind is dict:
                    if value:
                        stack.append((value, name + "."))
                    continue
                elif value is None:
                    continue
                elif kind is bool:
                    text = "true" if value else "false"
                elif kind is int or kind is float:
                    text = str(value)
                elif isinstance(value, dict):
                    if value:
                        stack.append((dict(value), name + "."))
                    continue
                else:
                    text = _list_text(value)
                values = slots.get(name)
                if values is None:
                    if _column_worthy(name):
                        values = slots[name] = native[name] = [None] * count
                    else:
                        values = slots[name] = _OVERFLOW
                if values is _OVERFLOW:
                    extra = extra or {}
                    extra[name] = text
                elif values[index] is None:  # type: ignore[index]
                    values[index] = text  # type: ignore[index]
                else:  # the same dotted path twice (a key that itself contains a dot)
                    extra = extra or {}
                    extra[name] = text
        if extra:
            overflow[index] = _json_text(extra)
    columns: dict[str, pa.Array] = {name: text_array(values) for name, values in native.items()}
    columns[OVERFLOW] = pa.array(overflow, pa.string())
    return pa.table(columns)


def stack_tables(parts: list[pa.Table]) -> pa.Table:
    """Tables with different columns one under the other; absent columns are null."""
    names: dict[str, pa.DataType] = {}
    for part in parts:
        for field in part.schema:
            names.setdefault(field.name, field.type)
    columns = []
    for name, kind in names.items():
        chunks: list[pa.Array] = []
        for part in parts:
            index = part.schema.get_field_index(name)
            if index < 0:
                chunks.append(pa.nulls(part.num_rows, kind))
            else:
                chunks.extend(part.column(index).chunks)
        chunks = [chunk.cast(kind) if chunk.type != kind else chunk for chunk in chunks]
        columns.append(pa.concat_arrays(chunks) if chunks else pa.array([], kind))
    return pa.table(columns, names=list(names))


def _normal_table(source_type: str, records: list[Record], uids: pa.Array, positions: pa.Array,
                  times: pa.Array) -> pa.Table:
    count = len(records)
    columns: dict[str, Any] = {
        "uid": uids,
        "source_type": pa.array([source_type] * count, pa.string()),
        "record": positions,
        "time": times,
    }
    values: dict[str, list[Any]] = {}
    for index, record in enumerate(records):
        for name, value in record.normal.items():
            if value is None:
                continue
            target = values.get(name)
            if target is None:
                if name not in NORMAL_COLUMNS:
                    continue
                target = values[name] = [None] * count
            if name in INTEGER_COLUMNS:
                number = int_of(value)
                if number is not None and NORMAL_COLUMNS[name] == "INTEGER" \
                        and not -(2**31) <= number < 2**31:
                    number = None
                target[index] = number
            else:
                target[index] = value if type(value) is str else str(value)
    for name, items in values.items():
        kind = NORMAL_COLUMNS[name]
        columns[name] = text_array(items) if kind == "VARCHAR" \
            else pa.array(items, _ARROW_TYPES[kind])
    return pa.table(columns)


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
    """Raw records as Arrow strings; bytes that are not UTF-8 become ``\\xNN`` escapes."""
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
