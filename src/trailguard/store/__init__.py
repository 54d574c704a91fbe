"""The case store: an embedded DuckDB database and a manifest in a case folder."""
