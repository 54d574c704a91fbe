"""A case: a folder holding the embedded DuckDB database and a manifest of the evidence."""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from sqlglot import exp

from trailguard import __version__
from trailguard.errors import CaseError, SourceLocation
from trailguard.store.schema import EVENT_KEY_COLUMNS, NORMAL_COLUMNS

DATABASE = "case.duckdb"

MANIFEST = "manifest.json"

_FILES_DDL = """
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY,
    parent_id INTEGER,          -- the root file of an archive member
    path VARCHAR NOT NULL,      -- absolute path of the file the user named
    member VARCHAR NOT NULL,    -- path inside the archive ('' for the file itself)
    root_sha256 VARCHAR NOT NULL,
    sha256 VARCHAR,             -- of this file or member's own bytes
    size BIGINT,
    source_type VARCHAR,
    -- complete | partial | empty | unrecognised | unreadable | reading | container | duplicate
    status VARCHAR NOT NULL,
    message VARCHAR,
    records BIGINT DEFAULT 0,
    stored BIGINT DEFAULT 0,
    quarantined BIGINT DEFAULT 0,
    duplicates BIGINT DEFAULT 0,
    first_time TIMESTAMP,
    last_time TIMESTAMP,
    ingested_at TIMESTAMP NOT NULL
)
"""

_QUARANTINE_DDL = """
CREATE TABLE IF NOT EXISTS quarantine (
    file_id INTEGER NOT NULL,
    source_type VARCHAR,
    position BIGINT,
    reason VARCHAR NOT NULL,
    raw VARCHAR,                -- first 64 KiB of the record
    raw_length BIGINT
)
"""


def _events_ddl() -> str:
    columns = [
        exp.ColumnDef(this=exp.to_identifier(name, quoted=True), kind=exp.DataType.build(kind))
        for name, kind in {**EVENT_KEY_COLUMNS, **NORMAL_COLUMNS}.items()
    ]
    create = exp.Create(
        this=exp.Schema(this=exp.to_table("events"), expressions=columns),
        kind="TABLE",
        exists=True,
    )
    return create.sql("duckdb")


#: Rows per DuckDB row group in the tables this TrailGuard writes (DuckDB's default is
#: 122,880). A bulk insert writes each full row group to disk, compressed, as soon as it is
#: filled, so most of the work is done while the readers still read; rows short of a full
#: group wait for the commit, which also rewrites the last, partial group. With the default
#: size the 96,180 OTRF LSASS events were all compressed at the final commit (2.2 s of
#: DuckDB CPU, 1.6 s of it at the end); with 65,536 it took 1.3 s, 0.2 s at the end; with
#: 32,768 (and larger commits, see ingest.pipeline) the writer's CPU fell from 2.6 s to 2.0 s.
ROW_GROUP_SIZE = 32_768
_CATALOG = "tg_case"


def _connect_for_writing(database: Path) -> duckdb.DuckDBPyConnection:
    """A connection whose default database is the case file, attached with our row group
    size (a setting of the attachment, not of the file: DuckDB keeps no such default)."""
    # Spill files go beside the database, as they do when DuckDB opens the file itself
    # (an in-memory primary database would spill to ./.tmp).
    connection = duckdb.connect(config={"temp_directory": f"{database}.tmp"})
    try:
        attach = exp.Attach(
            this=exp.alias_(exp.Literal.string(str(database)), _CATALOG),
            expressions=[exp.AttachOption(this=exp.var("ROW_GROUP_SIZE"),
                                          expression=exp.Literal.number(ROW_GROUP_SIZE))])
        connection.execute(attach.sql("duckdb"))
        connection.execute(exp.Use(this=exp.to_identifier(_CATALOG)).sql("duckdb"))
    except BaseException:
        connection.close()
        raise
    return connection


class Case:
    """An open case folder. Use as a context manager; one writer at a time (DuckDB locks)."""

    def __init__(self, folder: Path, connection: duckdb.DuckDBPyConnection, read_only: bool):
        self.folder = folder
        self.connection = connection
        self.read_only = read_only

    @classmethod
    def open(cls, folder: Path, create: bool = False, read_only: bool = False) -> Case:
        folder = folder.resolve()
        database = folder / DATABASE
        if not database.exists():
            if not create:
                raise CaseError("not a TrailGuard case (no case.duckdb); run `trailguard ingest`"
                                " first", SourceLocation(str(folder)))
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise CaseError(f"cannot create the case folder: {error.strerror or error}",
                                SourceLocation(str(folder))) from error
        config: dict[str, Any] = {}
        if read_only:
            # Queries may read the case and nothing else: no files, no extensions, no ATTACH.
            config = {"enable_external_access": False, "autoload_known_extensions": False,
                      "autoinstall_known_extensions": False}
        try:
            connection = (duckdb.connect(str(database), read_only=True, config=config)
                          if read_only else _connect_for_writing(database))
        except duckdb.Error as error:
            raise CaseError(f"cannot open the case database: {error}",
                            SourceLocation(str(database))) from error
        limit = os.environ.get("TRAILGUARD_MEMORY_LIMIT")  # DuckDB's default: 80 % of memory
        if limit:
            try:
                connection.execute("SET memory_limit = ?", [limit]).fetchall()
            except duckdb.Error as error:
                connection.close()
                raise CaseError(f"bad TRAILGUARD_MEMORY_LIMIT {limit!r}: {error}") from error
        case = cls(folder, connection, read_only)
        if not read_only:
            case._create_schema()
        return case

    def __enter__(self) -> Case:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.connection.close()

    def _create_schema(self) -> None:
        con = self.connection
        con.execute(_FILES_DDL)
        con.execute(_QUARANTINE_DDL)
        con.execute(_events_ddl())
        con.execute("CREATE TABLE IF NOT EXISTS case_info (key VARCHAR PRIMARY KEY, value VARCHAR)")
        con.execute(
            "INSERT OR IGNORE INTO case_info VALUES ('created', ?), ('trailguard_version', ?)",
            [datetime.now(UTC).isoformat(timespec="seconds"), __version__],
        )

    def source_tables(self) -> list[str]:
        rows = self.connection.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_name LIKE 'ev\\_%' ESCAPE '\\' ORDER BY 1"
        ).fetchall()
        return [row[0] for row in rows]

    def write_manifest(self) -> Path:
        """Write manifest.json (atomically): case facts and every evidence file with its hash."""
        con = self.connection
        info = dict(con.execute("SELECT key, value FROM case_info").fetchall())
        cursor = con.execute(
            "SELECT id, parent_id, path, member, sha256, size, source_type, status, message, "
            "records, stored, quarantined, duplicates, first_time, last_time, ingested_at "
            "FROM files ORDER BY id"
        )
        names = [column[0] for column in cursor.description]
        files = []
        for row in cursor.fetchall():
            item = dict(zip(names, row, strict=True))
            for key in ("first_time", "last_time", "ingested_at"):
                if item[key] is not None:
                    item[key] = item[key].isoformat() + "Z"
            files.append(item)
        manifest = {
            "trailguard_case": 1,
            "created": info.get("created"),
            "trailguard_version": info.get("trailguard_version"),
            "updated": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": DATABASE,
            "files": files,
        }
        target = self.folder / MANIFEST
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".manifest-", suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(manifest, out, indent=2, ensure_ascii=False)
            out.write("\n")
        os.replace(temporary, target)
        return target
