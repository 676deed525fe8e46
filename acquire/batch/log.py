"""The batch log: the batch's own hash-chained record (BATCH/batch.sqlite), written as it goes.

Its `events` table has the columns of a disc record's and is chained by the same function
(acquire.record.chain.event_hash over chain.details_json), so `chain.verify_connection` and
docs/check_record.py check it as they check a record. Each disc's verdict event carries the chain
head of that disc's own record: the batch log commits to every record, and a record edited after
the batch no longer matches its head here. A seal event at the end of each batch run commits to
the `meta` table, as a record's seal does to its tables.

The log is also the batch's memory: a restarted batch replays it (`replay`) to learn which discs
are finished, which one each drive was working on, and which piles they went to.
"""
from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..record import chain

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, time_utc TEXT, run_id INTEGER, kind TEXT,
                                   details_json TEXT, prev_hash TEXT, hash TEXT);
"""
MANIFEST_COLUMNS = ("position", "id", "case", "evidence", "verdict", "reason", "pile", "sectors", "unreadable",
                    "md5", "sha1", "sha256", "image", "record", "report")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


class BatchLog:
    """Append-only, hash-chained events in SQLite (synchronous=FULL: an event is on the disk when
    append returns, so a kill -9 loses none that was acted upon). Safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(SCHEMA)
        self.run_id = 1 + self.conn.execute(
            "SELECT COUNT(*) FROM events WHERE kind = 'batch-start'").fetchone()[0]

    def set_meta(self, key: str, value: str) -> None:
        with self._lock:
            self.conn.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def append(self, kind: str, **details: Any) -> str:
        """One chained event, committed; returns its hash."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                return self._append(kind, details)
            finally:
                self.conn.execute("COMMIT")

    def _append(self, kind: str, details: dict[str, Any]) -> str:
        last = self.conn.execute("SELECT id, hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
        id, prev = (last[0] + 1, last[1]) if last else (1, chain.GENESIS)
        time_utc, text = _now(), chain.details_json(details)
        hash_ = chain.event_hash(prev, id, time_utc, self.run_id, kind, text)
        self.conn.execute("INSERT INTO events (id, time_utc, run_id, kind, details_json, prev_hash, hash) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?)", (id, time_utc, self.run_id, kind, text, prev, hash_))
        return hash_

    def seal(self) -> str:
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                return self._append(chain.SEAL, chain.seal_details(self.conn))
            finally:
                self.conn.execute("COMMIT")

    def events(self) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT id, time_utc, run_id, kind, details_json, hash FROM events ORDER BY id")
        return [{"id": r[0], "time_utc": r[1], "run_id": r[2], "kind": r[3], "details": json.loads(r[4]),
                 "hash": r[5]} for r in rows]

    def verify(self) -> list[chain.Finding]:
        return chain.verify_connection(self.conn)

    def head(self) -> str | None:
        row = self.conn.execute("SELECT hash FROM events ORDER BY id DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def close(self) -> None:
        self.conn.close()


@dataclass
class Replay:
    """What the log says happened so far."""

    verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)   # job id -> its verdict event
    on_drive: dict[str, str] = field(default_factory=dict)              # drive -> job id loaded, no verdict yet
    unloaded: set[str] = field(default_factory=set)                     # jobs whose disc left the drive
    claimed: set[str] = field(default_factory=set)                      # jobs a disc was loaded for


def replay(events: list[dict[str, Any]]) -> Replay:
    state = Replay()
    for e in events:
        apply(state, e["kind"], e["details"])
    return state


def apply(state: Replay, kind: str, d: dict[str, Any]) -> None:
    """One event's change to what the batch knows."""
    if kind == "load":
        state.claimed.add(d["job"])
        state.on_drive[d["drive"]] = d["job"]
    elif kind == "verdict":
        state.claimed.add(d["job"])
        state.verdicts[d["job"]] = d
    elif kind == "stack-empty":            # the load found no disc: the job is free again
        state.claimed.discard(d["job"])
        if state.on_drive.get(d["drive"]) == d["job"]:
            del state.on_drive[d["drive"]]
    elif kind == "unload":
        state.unloaded.add(d["job"])
        if state.on_drive.get(d["drive"]) == d["job"]:
            del state.on_drive[d["drive"]]


def manifest_rows(jobs: list, verdicts: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per finished disc, in queue order: what the disc is and what became of it. Only what
    a restarted batch reproduces exactly (no drive, times or chain heads: those are in the log)."""
    rows = []
    for job in jobs:
        v = verdicts.get(job.id)
        if v is None:
            continue
        hashes = v.get("hashes") or {}
        rows.append({"position": job.position, "id": job.id, "case": job.case or "", "evidence": job.evidence or "",
                     "verdict": v["verdict"], "reason": v["reason"], "pile": v["pile"],
                     "sectors": v.get("sectors", ""), "unreadable": v.get("unreadable", ""),
                     "md5": hashes.get("md5", ""), "sha1": hashes.get("sha1", ""),
                     "sha256": hashes.get("sha256", ""), "image": v.get("image", ""),
                     "record": v.get("record", ""), "report": v.get("report", "")})
    return rows


def write_manifest(path: Path, rows: list[dict[str, Any]]) -> None:
    """manifest.csv, replaced whole (write, fsync, rename): a reader never sees half a manifest."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(buffer.getvalue())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
