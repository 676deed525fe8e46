"""Opening a record file: the connection, its PRAGMAs, the check that it is ours, and the facts
every record stamps on what it writes (UTC time, host, user)."""
from __future__ import annotations

import getpass
import os
import socket
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from ..errors import RecordError
from .schema import SCHEMA_VERSION, TOOL_NAME

BUSY_TIMEOUT_S = 30.0


def utc_now() -> str:
    """The one timestamp format of the record: UTC, ISO 8601, microseconds, 'Z'."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def host() -> str:
    return socket.gethostname()


def user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return f"uid {os.getuid()}"


def tool_version() -> str:
    from .. import __version__

    return __version__


def connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions; every write below says where it begins and ends
    conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_S)
    return conn


def set_pragmas(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # a committed batch survives a power cut, not just a crash
    conn.execute("PRAGMA foreign_keys=ON")


def existing(path: Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise RecordError(f"{path} does not exist", hint="give the record written by `acquire image`")
    if not path.is_file():
        raise RecordError(f"{path} is not an acquire record (not a file)")
    return path


def check_ours(conn: sqlite3.Connection, path: Path) -> None:
    """Close `conn` and raise unless it is an acquire record of a schema this tool reads."""
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.Error:
        meta = {}
    problem, hint = None, ""
    if meta.get("tool") != TOOL_NAME:
        problem, hint = f"{path} is not an acquire record", "give the record written by `acquire image`"
    else:
        try:
            version = int(meta.get("schema_version", ""))
        except ValueError:
            problem = f"{path} has an unreadable schema_version {meta.get('schema_version')!r}"
        else:
            if version > SCHEMA_VERSION:
                problem = f"{path} has record schema {version}, newer than this tool's {SCHEMA_VERSION}"
                hint = "use a newer acquire"
    if problem is not None:
        conn.close()
        raise RecordError(problem, hint=hint or "")

def connect_readonly(path: Path) -> sqlite3.Connection:
    """SQLite's mode=ro never writes the database file; `immutable` also skips the locking files,
    so a record on read-only media opens too. A record with a -wal beside it is being written (or
    was stopped while it was): then it is opened mode=ro alone, so that the log is read as well."""
    wal = Path(f"{path}-wal")
    flags = "mode=ro" if wal.exists() and wal.stat().st_size else "mode=ro&immutable=1"
    try:
        return sqlite3.connect(f"{path.absolute().as_uri()}?{flags}", uri=True, isolation_level=None,
                               timeout=BUSY_TIMEOUT_S)
    except sqlite3.Error as exc:
        raise RecordError(f"cannot open {path} read-only ({exc})") from exc
