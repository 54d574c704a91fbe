"""Reading DuckDB relations as Arrow across DuckDB 1.x and 2.x (2.0 renamed the methods)."""

from __future__ import annotations

import duckdb
import pyarrow as pa


def arrow_table(relation: duckdb.DuckDBPyRelation) -> pa.Table:
    """A relation (`connection.sql(query)`) as one Arrow table."""
    method = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
    table: pa.Table = method()
    return table


def arrow_reader(relation: duckdb.DuckDBPyRelation, rows_per_batch: int) -> pa.RecordBatchReader:
    """A relation as a stream of record batches."""
    method = getattr(relation, "to_arrow_reader", None) or relation.fetch_record_batch
    reader: pa.RecordBatchReader = method(rows_per_batch)
    return reader
