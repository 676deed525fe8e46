"""The Record: one SQLite file holding the chain of custody (docs/record.md).

Writes are of two kinds. Custody facts (runs, drives, passes, settings, events) are committed at
once. The sector map, provenance and damage rows are *staged* in memory and written by commit() in
one transaction, which the engine calls only after fdatasync of the image: the map must never say
"finished" before the data is on disk.
"""
from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any, Iterable, Iterator

import sqlite_utils

from ..durable import sync_path
from ..errors import OutOfSpace, RecordError
from . import chain
from .chain import Finding
from . import connection
from .connection import check_ours, connect, connect_readonly, existing, host, set_pragmas, user, utc_now
from .schema import RUN_STATUSES, SCHEMA_VERSION, TABLES, TOOL_NAME, create_tables, upgrade_tables
from .staging import Batch, Staging

SQLITE_FULL = 13                     # sqlite3.h: insertion failed because the database is full

_MEDIUM_COLUMNS = [c for c in TABLES["medium"][0] if c != "id"]
_PASS_FIGURES = ("ended_utc", "reads", "failed_reads", "sectors_finished", "sectors_bad", "drive_time_s")


def _medium_row(fields: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for key, value in fields.items():
        if key in ("toc", "disc_information", "volume"):
            key, value = f"{key}_json", None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))
        if key not in _MEDIUM_COLUMNS:
            raise TypeError(f"set_medium() got an unknown field {key!r}")
        row[key] = value
    return row


class Record:
    """The chain-of-custody record of one image. Create it once; open it for every later run."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = Path(path)
        self.db = sqlite_utils.Database(conn)
        self._staging = Staging()
        self.readonly = False            # open_readonly(): every write raises, the file stays as it was

    # --- lifecycle ----------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        path: Path,
        *,
        case_id: str | None = None,
        evidence_id: str | None = None,
        examiner: str | None = None,
        notes: str | None = None,
        tool_version: str,
        medium: dict[str, Any] | None = None,
    ) -> Record:
        """A new record at `path`: schema, meta, case fields, the medium when given, a
        'record-created' event and a seal.

        Made whole under a temporary name and renamed into place, so that a kill at any instant
        leaves either no record or a complete one: a record without its medium could not be resumed
        (the disc identity is in it), and an empty SQLite file is not an acquire record."""
        path = Path(path)
        if path.exists():
            raise RecordError(f"{path} already exists", hint="open it to resume, or choose another --record path")
        if not path.parent.is_dir():
            raise RecordError(f"cannot create {path}: no directory {path.parent}")
        making = path.with_name(f".{path.name}.creating")
        for leftover in (making, Path(f"{making}-journal")):
            leftover.unlink(missing_ok=True)          # from a creation that was killed: never a record
        case = {
            "id": 1, "case_id": case_id, "evidence_id": evidence_id, "examiner": examiner, "notes": notes,
            "created_utc": utc_now(), "host": host(), "user": user(), "tool_version": tool_version,
        }
        try:
            conn = connect(making)
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            record = cls(making, conn)
            with record._write():  # all or nothing
                create_tables(record.db)
                record.db["meta"].insert_all([
                    {"key": "tool", "value": TOOL_NAME},
                    {"key": "tool_version", "value": tool_version},
                    {"key": "schema_version", "value": str(SCHEMA_VERSION)},
                ])
                record.db["case_info"].insert(case)
                record._append_event(None, "record-created", {k: v for k, v in case.items() if k != "id"})
                if medium is not None:
                    record._put_medium(_medium_row(medium))
                record._append_event(None, chain.SEAL, chain.seal_details(conn))
            conn.close()
            os.replace(making, path)
            sync_path(path.parent)
        except (sqlite3.Error, OSError) as exc:  # never leave a half-written record behind
            with contextlib.suppress(Exception):
                conn.close()
            for leftover in (making, Path(f"{making}-journal")):
                leftover.unlink(missing_ok=True)
            raise RecordError(f"cannot create {path} ({exc})") from exc
        return cls.open(path)

    @classmethod
    def open(cls, path: Path) -> Record:
        """An existing record, to write to; RecordError (one line) if it is not one, or is newer than this tool."""
        path = existing(path)
        try:
            conn = connect(path)
        except sqlite3.Error as exc:
            raise RecordError(f"cannot open {path} ({exc})") from exc
        # look before setting any PRAGMA: a file that is not ours must be left exactly as it was
        check_ours(conn, path)
        try:
            set_pragmas(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise RecordError(f"cannot open {path} for writing ({exc})") from exc
        return cls(path, conn)

    @classmethod
    def open_readonly(cls, path: Path) -> Record:
        """An existing record, to read only: its file's bytes stay exactly as they were (same sha256).

        SQLite's mode=ro never writes the database file; `immutable` also skips the locking files,
        so a record on read-only media opens too. A record with a -wal beside it is being written (or
        was stopped while it was): then it is opened mode=ro alone, so that the log is read as well."""
        path = existing(path)
        conn = connect_readonly(path)
        check_ours(conn, path)
        record = cls(path, conn)
        record.readonly = True
        return record

    def close(self) -> None:
        """Close; leave a single self-contained file (WAL checkpointed, rollback journal mode)."""
        conn = self.db.conn
        if self.readonly:
            conn.close()
            return
        with contextlib.suppress(sqlite3.Error):
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            # so the archived record opens on read-only media without a -wal/-shm beside it;
            # fails harmlessly while another connection still has it open
            conn.execute("PRAGMA journal_mode=DELETE")
        conn.close()

    def __enter__(self) -> Record:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction; a full disk becomes OutOfSpace (resumable), other SQLite errors RecordError."""
        conn = self.db.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorcode", None) == SQLITE_FULL or "disk is full" in str(exc):
                raise OutOfSpace(f"the disk holding {self.path} is full",
                                 hint="free space, then run the same command to resume") from exc
            raise RecordError(f"cannot write to {self.path} ({exc})") from exc

    # --- case, runs, drives, medium -----------------------------------------------------------

    def case(self) -> dict:
        row = self.db.conn.execute("SELECT * FROM case_info WHERE id = 1").fetchone()
        names = [c for c in TABLES["case_info"][0]]
        return dict(zip(names, row)) if row else {}

    def meta(self) -> dict[str, str]:
        return dict(self.db.conn.execute("SELECT key, value FROM meta").fetchall())

    def begin_run(self, *, command: str, device: str, tool_version: str | None = None) -> int:
        """A new run; logs 'run-start', or 'resume' when earlier runs exist."""
        row = {
            "started_utc": utc_now(), "status": "running", "command": command, "device": device,
            "host": host(), "user": user(), "tool_version": tool_version or connection.tool_version(),
        }
        with self._write() as conn:
            upgraded = upgrade_tables(conn)      # a record made by an older acquire
            if upgraded:
                # the upgrade changed the tables' headers: sealed at once (same transaction), so that
                # a kill before this run's end leaves a record consistent up to here, the run
                # interrupted and resumable, never one whose last seal no longer matches the tables
                self._append_event(None, chain.SEAL, chain.seal_details(conn))
            earlier = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
            # a run still 'running' when another begins was killed: it never reached end_run (nor a seal)
            lost = [r for (r,) in conn.execute("SELECT id FROM runs WHERE status = 'running' ORDER BY id")]
            conn.execute("UPDATE runs SET status = 'interrupted' WHERE status = 'running'")
            run_id = self.db["runs"].insert(row).last_pk
            kind = "resume" if earlier else "run-start"
            details = {k: v for k, v in row.items() if k != "status"}
            if lost:
                details["interrupted_runs"] = lost
            if upgraded:
                details["schema_upgraded"] = upgraded
            self._append_event(run_id, kind, details)
        return run_id

    def end_run(self, run_id: int, status: str) -> str:
        """Close a run: status, 'run-end', then seal(). Staged rows not yet committed are dropped
        (their data may not be on disk; a resume reads those sectors again) and counted in the event."""
        if status not in RUN_STATUSES or status == "running":
            raise ValueError(f"run status must be one of {RUN_STATUSES[1:]}, not {status!r}")
        dropped = self.discard_staged()
        ended = utc_now()
        with self._write() as conn:
            if conn.execute("UPDATE runs SET ended_utc = ?, status = ? WHERE id = ?", (ended, status, run_id)).rowcount != 1:
                raise RecordError(f"no run {run_id} in {self.path}")
            details: dict[str, Any] = {"status": status, "ended_utc": ended}
            if any(dropped.values()):
                details["uncommitted_dropped"] = dropped
            self._append_event(run_id, chain.RUN_END, details)
            # same transaction: a kill can never leave a run-end without its seal
            return self._append_event(run_id, chain.SEAL, chain.seal_details(conn))

    def runs(self) -> list[dict]:
        return list(self.db["runs"].rows_where(order_by="id"))

    def add_drive(
        self, *, device: str | None, vendor: str | None, product: str | None, revision: str | None,
        serial: str | None, inquiry_hex: str | None, features: Any = None,
    ) -> int:
        """The id of this drive identity (device, vendor, product, revision, serial); added if new."""
        identity = (device, vendor, product, revision, serial)
        with self._write() as conn:
            found = conn.execute(
                "SELECT id FROM drives WHERE device IS ? AND vendor IS ? AND product IS ? AND revision IS ? "
                "AND serial IS ? ORDER BY id LIMIT 1", identity,
            ).fetchone()
            if found:
                return found[0]
            features_json = None if features is None else json.dumps(features, sort_keys=True, separators=(",", ":"))
            cur = conn.execute(
                "INSERT INTO drives (device, vendor, product, revision, serial, inquiry_hex, features_json) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", (*identity, inquiry_hex, features_json),
            )
            drive_id = cur.lastrowid
            self._append_event(None, "drive", {
                "drive_id": drive_id, "device": device, "vendor": vendor, "product": product,
                "revision": revision, "serial": serial,
            })
        return drive_id

    def set_run_budget(self, run_id: int, budget_json: str | None) -> None:
        """The run's time budget (--max-drive-time, --until) as JSON; NULL for none."""
        with self._write() as conn:
            conn.execute("UPDATE runs SET budget_json = ? WHERE id = ?", (budget_json, run_id))

    def set_run_stop_reason(self, run_id: int, stop_reason: str) -> None:
        """Why the run stopped: 'done', 'max-drive-time: ...', 'until-good: ...', 'interrupted: ...'."""
        with self._write() as conn:
            conn.execute("UPDATE runs SET stop_reason = ? WHERE id = ?", (stop_reason, run_id))

    def set_run_drive(self, run_id: int, drive_id: int) -> None:
        with self._write() as conn:
            conn.execute("UPDATE runs SET drive_id = ? WHERE id = ?", (drive_id, run_id))
            self._append_event(run_id, "run-drive", {"drive_id": drive_id})

    def set_medium(self, **fields: Any) -> None:
        """Set (or update) the medium row. toc / disc_information / volume may be given as Python
        objects (stored as *_json) or as *_json strings."""
        row = _medium_row(fields)
        with self._write():
            self._put_medium(row)

    def _put_medium(self, row: dict[str, Any]) -> None:
        self.db["medium"].upsert({"id": 1, **row}, pk="id")
        # an event, so a change between seals (e.g. right after create) reads as unsealed, not as an edit
        self._append_event(None, "medium", {"fields": sorted(row)})

    update_medium = set_medium

    def medium(self) -> dict | None:
        row = self.db.conn.execute(f"SELECT id, {', '.join(_MEDIUM_COLUMNS)} FROM medium WHERE id = 1").fetchone()
        if row is None:
            return None
        out = dict(zip(["id", *_MEDIUM_COLUMNS], row))
        for key in ("toc", "disc_information", "volume"):
            text = out.get(f"{key}_json")
            out[key] = None if text is None else json.loads(text)
        return out

    # --- the map, provenance and damage: staged, then one transaction -------------------------

    def save_map(self, runs: Iterable[tuple[int, int, int]]) -> None:
        """Stage the whole sector map, (start, count, state) runs; commit() writes it."""
        self._staging.stage_map(runs)

    def load_map(self) -> list[tuple[int, int, int]]:
        """The committed map (what survives a crash), in LBA order."""
        return [tuple(r) for r in self.db.conn.execute("SELECT start, count, state FROM sector_map ORDER BY start")]

    def add_provenance(self, start: int, count: int, *, run_id: int, drive_id: int | None, phase: str, pass_no: int | None) -> None:
        """Stage: this run/drive/pass finished sectors start .. start+count-1."""
        self._staging.provenance.append((start, count, run_id, drive_id, phase, pass_no))

    def add_damage(self, **fields: Any) -> None:
        """Stage one damage row (a failed or marginal read); time_utc is now if absent."""
        fields.setdefault("time_utc", utc_now())
        self._staging.add_damage(fields)

    def discard_staged(self) -> dict[str, Any]:
        """Forget staged rows (their data may not be on disk: a resume reads those sectors again)."""
        return self._staging.take().summary()

    @property
    def staged(self) -> bool:
        return bool(self._staging.batch)

    def commit(self) -> None:
        """Write the staged map, provenance and damage in ONE transaction. Call it only after the
        image data they describe is on disk (fdatasync). On failure nothing is written and the
        staged rows stay staged."""
        if not self.staged:
            return
        self.commit_batch(self._staging.batch)
        self._staging.take()

    def take_staged(self) -> Batch:
        """Hand the staged rows over as a batch (and stage nothing): the caller starts an fdatasync
        covering them and calls commit_batch() when it has finished, while new rows are staged."""
        return self._staging.take()

    def commit_batch(self, batch: Batch) -> None:
        """Write a batch from take_staged() in one transaction: only after its data's fdatasync."""
        with self._write() as conn:
            batch.write(conn)

    # --- passes, settings, hashes -------------------------------------------------------------

    def begin_pass(self, run_id: int, phase: str, pass_no: int, direction: str) -> int:
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO passes (run_id, phase, pass_no, direction, started_utc) VALUES (?, ?, ?, ?, ?)",
                (run_id, phase, pass_no, direction, utc_now()),
            )
        return cur.lastrowid

    def end_pass(self, pass_id: int, **figures: Any) -> None:
        """Close a pass with its figures: reads, failed_reads, sectors_finished, sectors_bad, drive_time_s."""
        unknown = set(figures) - set(_PASS_FIGURES)
        if unknown:
            raise TypeError(f"end_pass() got unknown figures {sorted(unknown)}")
        figures.setdefault("ended_utc", utc_now())
        names = sorted(figures)
        with self._write() as conn:
            conn.execute(
                f"UPDATE passes SET {', '.join(f'{n} = ?' for n in names)} WHERE id = ?",
                (*(figures[n] for n in names), pass_id),
            )

    def passes(self, run_id: int | None = None) -> list[dict]:
        where = None if run_id is None else "run_id = ?"
        return list(self.db["passes"].rows_where(where, [run_id] if run_id is not None else None, order_by="id"))

    def add_action(self, **fields: Any) -> None:
        """One retry-hygiene action (pause, read speed, cache flush, drive check), committed at once."""
        fields.setdefault("time_utc", utc_now())
        with self._write():
            self.db["actions"].insert(fields)

    def record_setting(self, run_id: int, name: str, old_value: Any, new_value: Any) -> None:
        """A drive setting changed (or restored) by this run, e.g. the read speed or an error-recovery page."""
        text = lambda v: None if v is None else v.hex() if isinstance(v, (bytes, bytearray)) else str(v)  # noqa: E731
        with self._write() as conn:
            conn.execute(
                "INSERT INTO settings (run_id, name, old_value, new_value, time_utc) VALUES (?, ?, ?, ?, ?)",
                (run_id, name, text(old_value), text(new_value), utc_now()),
            )

    def set_hashes(self, hashes: dict[str, str], size: int, windows: Iterable[tuple]) -> None:
        """Replace the image hashes and the piecewise windows (idx, offset, length, xxh128, sha256, blake3;
        Window.row()). `windows` is consumed as it is inserted: a 100 GB disc's 95,367 rows never sit in memory."""
        with self._write() as conn:
            conn.execute("DELETE FROM hashes WHERE scope = 'image'")
            conn.executemany(
                "INSERT INTO hashes (scope, algorithm, hex, size) VALUES ('image', ?, ?, ?)",
                [(algorithm, hex_, size) for algorithm, hex_ in sorted(hashes.items())],
            )
            conn.execute("DELETE FROM windows")
            if not self._has_blake3_windows():       # a record from before BLAKE3 windows, hashed anew
                conn.execute("ALTER TABLE windows ADD COLUMN blake3 TEXT")
            # a 5-tuple (idx, offset, length, xxh128, sha256) is a SHA-256 window, as written before BLAKE3
            conn.executemany("INSERT INTO windows (idx, offset, length, xxh128, sha256, blake3) "
                             "VALUES (?, ?, ?, ?, ?, ?)", (w if len(w) == 6 else (*w, None) for w in windows))

    def _has_blake3_windows(self) -> bool:
        return any(row[1] == "blake3" for row in self.db.conn.execute("PRAGMA table_info(windows)"))

    def window_hash(self) -> str:
        """The windows' strong digest, as the record holds it: "blake3", or "sha256" in an older record."""
        if not self._has_blake3_windows():
            return "sha256"
        sha256_rows = self.db.conn.execute("SELECT 1 FROM windows WHERE sha256 IS NOT NULL LIMIT 1").fetchone()
        return "sha256" if sha256_rows else "blake3"

    def image_hashes(self) -> dict[str, str]:
        return dict(self.db.conn.execute("SELECT algorithm, hex FROM hashes WHERE scope = 'image' ORDER BY algorithm"))

    def image_size(self) -> int | None:
        row = self.db.conn.execute("SELECT size FROM hashes WHERE scope = 'image' LIMIT 1").fetchone()
        return row[0] if row else None

    def windows(self) -> list[tuple]:
        """(idx, offset, length, xxh128, sha256, blake3) rows; blake3 is None in a record from before it."""
        blake3 = "blake3" if self._has_blake3_windows() else "NULL"
        return [tuple(r) for r in self.db.conn.execute(
            f"SELECT idx, offset, length, xxh128, sha256, {blake3} FROM windows ORDER BY idx")]

    # --- events, seal, verify -----------------------------------------------------------------

    def log_event(self, run_id: int | None, kind: str, **details: Any) -> str:
        """Append a hash-chained event, committed at once; returns its hash."""
        with self._write():
            return self._append_event(run_id, kind, details)

    def _append_event(self, run_id: int | None, kind: str, details: dict[str, Any]) -> str:
        # inside a write transaction, so the head read here is still the head at insert time
        conn = self.db.conn
        last = conn.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
        id, prev = (last[0] + 1, last[1]) if last else (1, chain.GENESIS)
        time_utc = utc_now()
        text = chain.details_json(details)
        hash_ = chain.event_hash(prev, id, time_utc, run_id, kind, text)
        conn.execute(
            "INSERT INTO events (id, time_utc, run_id, kind, details_json, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (id, time_utc, run_id, kind, text, prev, hash_),
        )
        return hash_

    def seal(self, run_id: int | None) -> str:
        """A 'seal' event committing to every table but events; returns the chain head hash.

        end_run() seals; seal at other times only when no run is going: verify tells a killed run
        from an edit by assuming rows sealed earlier stay as they were (docs/record.md)."""
        with self._write() as conn:
            return self._append_event(run_id, chain.SEAL, chain.seal_details(conn))

    def head_hash(self) -> str | None:
        row = self.db.conn.execute("SELECT hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def events(self, kind: str | None = None) -> list[dict]:
        where = None if kind is None else "kind = ?"
        rows = self.db["events"].rows_where(where, [kind] if kind is not None else None, order_by="id")
        return [{**r, "details": json.loads(r["details_json"])} for r in rows]

    def verify(self, *, expected_head: str | None = None) -> list[Finding]:
        """Check the events chain and the latest seal (chain.verify_connection). Empty = intact.
        `expected_head`: a head hash noted elsewhere (report, case notes): its absence is tampering."""
        return chain.verify_connection(self.db.conn, expected_head=expected_head)
