"""The catalogue database: a SQLite file (the default), or a PostgreSQL database several workstations share.

One small adapter hides the two drivers' differences (parameter style, errors); everything else is
the same SQL (schema.py). A SQLite catalogue gets a `<name>.metadata.json` beside it, so that
`datasette CATALOGUE.sqlite --metadata CATALOGUE.metadata.json` serves it with its canned queries.
"""
from __future__ import annotations

import json
import socket
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from ..errors import CatalogueError
from .derive import Entry
from .schema import AUDIT_COLUMNS, CHILD_TABLES, DISC_COLUMNS, QUERIES, ddl

FORMAT = "acquire-catalogue/1"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def is_postgres(location: str) -> bool:
    return str(location).startswith(POSTGRES_SCHEMES)


class Catalogue:
    """Open with Catalogue.open(PATH_OR_URL); rows come back as dicts."""

    def __init__(self, location: str, conn, dialect: str) -> None:
        self.location, self.conn, self.dialect = location, conn, dialect

    @classmethod
    def open(cls, location: str | Path, *, create: bool = True) -> Catalogue:
        location = str(location)
        if is_postgres(location):
            catalogue = cls(location, _connect_postgres(location), "postgresql")
        else:
            path = Path(location)
            if not path.exists() and not create:
                raise CatalogueError(f"no catalogue at {path}", hint="register records with acquire catalogue add")
            if path.exists() and not _is_sqlite(path):
                raise CatalogueError(f"{path} is not a SQLite catalogue")
            try:
                conn = sqlite3.connect(path, timeout=30)
            except sqlite3.Error as exc:
                raise CatalogueError(f"cannot open the catalogue {path} ({exc})") from exc
            catalogue = cls(str(path), conn, "sqlite")
        catalogue._create()
        return catalogue

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Catalogue:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the adapter ---------------------------------------------------------------------------------
    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.dialect == "postgresql" else sql

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            yield
            self.conn.commit()
        except Exception as exc:
            self.conn.rollback()
            if isinstance(exc, CatalogueError):
                raise
            if _is_db_error(exc):
                raise CatalogueError(f"cannot write to the catalogue {self.safe_location} ({exc})") from exc
            raise

    def _execute(self, sql: str, params=()):
        cursor = self.conn.cursor()
        cursor.execute(self._sql(sql), tuple(params))
        return cursor

    def query(self, sql: str, params=()) -> list[dict]:
        try:
            cursor = self._execute(sql, params)
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, row)) for row in cursor.fetchall()]
            if self.dialect == "postgresql":
                self.conn.rollback()         # end the read transaction: others' writes become visible
            return rows
        except Exception as exc:
            if _is_db_error(exc):
                self.conn.rollback()
                raise CatalogueError(f"cannot read the catalogue {self.safe_location} ({exc})") from exc
            raise

    @property
    def safe_location(self) -> str:
        """The location without a password, for messages."""
        if not is_postgres(self.location) or "@" not in self.location:
            return self.location
        scheme, rest = self.location.split("://", 1)
        credentials, host = rest.rsplit("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}@{host}"

    def _create(self) -> None:
        with self._transaction():
            for statement in ddl(self.dialect):
                self._execute(statement)
            self._execute("INSERT INTO catalogue_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                          ("format", FORMAT))
        if self.dialect == "sqlite":
            try:
                write_metadata(Path(self.location))
            except OSError:          # a catalogue on read-only media still opens; Datasette needs no write
                pass

    # -- registering -----------------------------------------------------------------------------------
    def add(self, entry: Entry) -> str:
        """Insert or replace one disc and its child rows, in one transaction; returns 'added' or 'updated'."""
        disc = entry.disc
        columns = [*DISC_COLUMNS, "registered_utc", "registered_host"]
        values = [disc[c] for c in DISC_COLUMNS] + [utc_now(), socket.gethostname()]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "record_id")
        with self._transaction():
            known = self._execute("SELECT 1 FROM discs WHERE record_id = ?", (disc["record_id"],)).fetchone()
            self._execute(f"INSERT INTO discs ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
                          f"ON CONFLICT (record_id) DO UPDATE SET {updates}", values)
            for table, table_columns in CHILD_TABLES.items():
                self._execute(f"DELETE FROM {table} WHERE record_id = ?", (disc["record_id"],))
                rows = {"disc_drives": entry.drives, "damage": entry.damage, "files_hit": entry.files_hit}[table]
                for row in rows:
                    self._execute(f"INSERT INTO {table} ({', '.join(table_columns)}) "
                                  f"VALUES ({', '.join('?' * len(table_columns))})", [row[c] for c in table_columns])
        return "updated" if known else "added"

    def add_audit(self, audit_id: str, record_id: str | None, record_path: str, ok: bool, summary: str,
                  changes: list[str], chain_head: str | None) -> None:
        now = utc_now()
        with self._transaction():
            self._execute(f"INSERT INTO audits ({', '.join(AUDIT_COLUMNS)}) VALUES ({', '.join('?' * len(AUDIT_COLUMNS))})",
                          (audit_id, record_id, record_path, now, int(ok), summary, json.dumps(changes), chain_head))
            if record_id is not None:
                self._execute("UPDATE discs SET last_audit_utc = ?, last_audit_ok = ?, chain_head = coalesce(?, chain_head) "
                              "WHERE record_id = ?", (now, int(ok), chain_head, record_id))

    # -- reading ---------------------------------------------------------------------------------------
    def discs(self, *, damaged: bool = False) -> list[dict]:
        where = " WHERE unreadable_sectors > 0" if damaged else ""
        return self.query(f"SELECT * FROM discs{where} ORDER BY case_id, evidence_id, record_path")

    def disc(self, record_id: str) -> dict | None:
        rows = self.query("SELECT * FROM discs WHERE record_id = ?", (record_id,))
        return rows[0] if rows else None

    def children(self, record_id: str) -> dict[str, list[dict]]:
        order = {"disc_drives": "drive_no", "damage": "first_lba", "files_hit": "path"}
        return {table: self.query(f"SELECT {', '.join(columns)} FROM {table} WHERE record_id = ? ORDER BY {order[table]}",
                                  (record_id,)) for table, columns in CHILD_TABLES.items()}

    def search(self, term: str) -> list[dict]:
        """Discs whose case, evidence, examiner, label, path or a hash contains `term` (any case), or that
        hold a damaged file or were read by a drive whose serial or product contains it."""
        like = f"%{term.lower()}%"
        fields = ("case_id", "evidence_id", "examiner", "volume_label", "record_path", "md5", "sha1", "sha256",
                  "xxh128", "crc32")
        own = " OR ".join(f"lower(coalesce({f}, '')) LIKE ?" for f in fields)
        sql = (f"SELECT * FROM discs WHERE {own} "
               "OR record_id IN (SELECT record_id FROM files_hit WHERE lower(path) LIKE ?) "
               "OR record_id IN (SELECT record_id FROM disc_drives WHERE lower(coalesce(serial, '')) LIKE ? "
               "OR lower(coalesce(product, '')) LIKE ?) ORDER BY case_id, evidence_id, record_path")
        return self.query(sql, [like] * (len(fields) + 3))

    def audits(self, record_id: str | None = None) -> list[dict]:
        if record_id is None:
            return self.query("SELECT * FROM audits ORDER BY id")
        return self.query("SELECT * FROM audits WHERE record_id = ? ORDER BY id", (record_id,))


def metadata(database: str) -> dict:
    """Datasette's metadata for a catalogue served under the name `database` (the file's stem)."""
    return {"title": "acquire catalogue", "description": "Discs acquired with acquire: records, damage, audits",
            "databases": {database: {"queries": {name: dict(q) for name, q in QUERIES.items()}}}}


def metadata_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.metadata.json")


def write_metadata(path: Path) -> Path:
    target = metadata_path(path)
    text = json.dumps(metadata(path.stem), indent=2) + "\n"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)
    return target


def _is_sqlite(path: Path) -> bool:
    with open(path, "rb") as file:
        head = file.read(16)
    return head == b"SQLite format 3\x00" or head == b""


def _is_db_error(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        return True
    try:
        import psycopg
    except ImportError:         # pragma: no cover
        return False
    return isinstance(exc, psycopg.Error)


def _connect_postgres(url: str):
    try:
        import psycopg
    except ImportError as exc:      # pragma: no cover - psycopg is a dependency
        raise CatalogueError("a PostgreSQL catalogue needs psycopg", hint="pip install 'psycopg[binary]'") from exc
    try:
        return psycopg.connect(url, connect_timeout=10)
    except psycopg.Error as exc:
        where = url.rsplit("@", 1)[-1]
        raise CatalogueError(f"cannot connect to the catalogue at {where} ({str(exc).strip().splitlines()[0]})",
                             hint="check the URL, the server and the credentials") from exc
