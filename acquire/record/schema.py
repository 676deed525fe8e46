"""The record's tables, declared once (docs/record.md explains every column).

Bump SCHEMA_VERSION on any change a reader would notice, and say in docs/record.md what changed.
"""
from __future__ import annotations

import sqlite_utils

from ..rescue.sectormap import State

SCHEMA_VERSION = 2   # 2: layout, disc structures, actions, budgets, BLAKE3 windows (docs/record.md)
TOOL_NAME = "acquire"

# sector_map.state is rescue.sectormap.State as an integer (0 untried ... 4 finished, as in
# ddrescue's map file; 5 not recorded, which a ddrescue map writes '+'); re-exported here for
# readers of the record
UNTRIED, NON_TRIMMED, NON_SCRAPED, BAD, FINISHED, NOT_RECORDED = (int(s) for s in State)
STATE_CHARS = "".join(s.char for s in State)

RUN_STATUSES = ("running", "complete", "partial", "interrupted", "failed")
DAMAGE_OUTCOMES = ("failed", "marginal")

# name -> (columns in order, pk, foreign keys, not null). Order matters: a table's foreign keys
# name tables created before it.
TABLES: dict[str, tuple[dict[str, type], str | tuple[str, ...], list[tuple[str, str, str]], set[str]]] = {
    "meta": ({"key": str, "value": str}, "key", [], {"value"}),
    "case_info": (
        {
            "id": int, "case_id": str, "evidence_id": str, "examiner": str, "notes": str,
            "created_utc": str, "host": str, "user": str, "tool_version": str,
        },
        "id", [], {"created_utc", "tool_version"},
    ),
    "drives": (
        {
            "id": int, "device": str, "vendor": str, "product": str, "revision": str, "serial": str,
            "inquiry_hex": str, "features_json": str,
        },
        "id", [], set(),
    ),
    "runs": (
        {
            "id": int, "started_utc": str, "ended_utc": str, "status": str, "command": str,
            "device": str, "drive_id": int, "host": str, "user": str, "tool_version": str,
            "budget_json": str, "stop_reason": str,
        },
        "id", [("drive_id", "drives", "id")], {"started_utc", "status"},
    ),
    "medium": (
        {
            "id": int, "profile": int, "profile_name": str, "capacity": int, "sector_size": int,
            "toc_json": str, "disc_information_json": str, "identity": str, "volume_label": str,
            "volume_json": str,
        },
        "id", [], set(),
    ),
    "sector_map": ({"start": int, "count": int, "state": int}, "start", [], {"count", "state"}),
    "provenance": (
        {
            "id": int, "start": int, "count": int, "run_id": int, "drive_id": int, "phase": str,
            "pass_no": int,
        },
        "id", [("run_id", "runs", "id"), ("drive_id", "drives", "id")], {"start", "count", "run_id"},
    ),
    "damage": (
        {
            "id": int, "run_id": int, "drive_id": int, "time_utc": str, "lba": int, "count": int,
            "phase": str, "pass_no": int, "outcome": str, "sense": str, "sense_name": str,
            "duration_s": float, "reason": str, "fua": int,
        },
        "id", [("run_id", "runs", "id"), ("drive_id", "drives", "id")],
        {"run_id", "time_utc", "lba", "count", "outcome"},
    ),
    "passes": (
        {
            "id": int, "run_id": int, "phase": str, "pass_no": int, "direction": str,
            "started_utc": str, "ended_utc": str, "reads": int, "failed_reads": int,
            "sectors_finished": int, "sectors_bad": int, "drive_time_s": float,
        },
        "id", [("run_id", "runs", "id")], {"run_id", "phase", "started_utc"},
    ),
    "hashes": ({"scope": str, "algorithm": str, "hex": str, "size": int}, ("scope", "algorithm"), [], {"hex"}),
    "windows": (
        # the strong digest is sha256 in records written before BLAKE3 windows, blake3 after (one NULL)
        {"idx": int, "offset": int, "length": int, "xxh128": str, "sha256": str, "blake3": str}, "idx", [],
        {"offset", "length"},
    ),
    "settings": (
        {"id": int, "run_id": int, "name": str, "old_value": str, "new_value": str, "time_utc": str},
        "id", [("run_id", "runs", "id")], {"run_id", "name", "time_utc"},
    ),
    # the disc as recorded (acquire.drive.layout; docs/record.md "Layout"): record/layout_tables.py
    # writes them, and creates them in a record made before them
    "layout_tracks": (
        {"track": int, "session": int, "start": int, "end": int, "audio": int, "data_mode": int, "source": str},
        "track", [], {"session", "start", "end"},
    ),
    "layout_extents": ({"start": int, "count": int, "kind": str, "why": str}, "start", [], {"count", "kind"}),
    "layout_figures": ({"name": str, "value": str}, "name", [], set()),
    "layout_disagreements": ({"id": int, "message": str}, "id", [], {"message"}),
    "disc_responses": ({"command": str, "name": str, "hex": str, "sha256": str, "parsed_json": str}, "command", [],
                       {"hex", "sha256"}),
    # the damage log's other half: what retry hygiene did between the reads (rescue/hygiene.py)
    "actions": (
        {
            "id": int, "run_id": int, "drive_id": int, "time_utc": str, "phase": str, "pass_no": int,
            "action": str, "lba": int, "count": int, "fua": int, "duration_s": float, "reason": str,
        },
        "id", [("run_id", "runs", "id"), ("drive_id", "drives", "id")], {"run_id", "time_utc", "action"},
    ),
    # audio and mixed-mode CDs (acquire.audio; docs/record.md "Audio"): record/audio_tables.py
    # writes them, and creates them in a record made before them
    "audio_disc": ({"name": str, "value": str}, "name", [], set()),
    "audio_tracks": (
        {"track": int, "start": int, "end": int, "file": str, "bytes": int, "sha1": str, "crc32": str,
         "accuraterip_v1": str, "accuraterip_v2": str, "reads": int, "rereads": int, "c2_samples": int,
         "q_errors": int, "unresolved_samples": int, "budget_spent": int, "elapsed_s": float},
        "track", [], {"start", "end"},
    ),
    "audio_damage": ({"id": int, "track": int, "first_sample": int, "last_sample": int, "time": str,
                      "reason": str}, "id", [], {"track", "first_sample", "last_sample", "reason"}),
    # the append-only, hash-chained log; the one table a seal does not cover (it lives in it)
    "events": (
        {
            "id": int, "time_utc": str, "run_id": int, "kind": str, "details_json": str,
            "prev_hash": str, "hash": str,
        },
        "id", [], {"time_utc", "kind", "details_json", "prev_hash", "hash"},
    ),
}

INDEXES: list[tuple[str, list[str]]] = [
    ("damage", ["lba"]),
    ("provenance", ["start"]),
    ("events", ["kind"]),
]


def create_tables(db: sqlite_utils.Database) -> None:
    """Create every table and index (inside the caller's transaction: DDL is transactional)."""
    for name, (columns, pk, foreign_keys, not_null) in TABLES.items():
        db[name].create(columns, pk=pk, foreign_keys=foreign_keys, not_null=not_null)
    for table, columns in INDEXES:
        db[table].create_index(columns, index_name=f"idx_{table}_{'_'.join(columns)}")


def upgrade_tables(conn) -> list[str]:
    """Add to an older record the tables and columns this schema has and it lacks; what was added.

    Only a run calls it (inside its first transaction, which seals the change at once); meta
    keeps the schema_version the record was created with (meta is fixed at creation)."""
    added = []
    db = sqlite_utils.Database(conn)
    for name, (columns, pk, foreign_keys, not_null) in TABLES.items():
        if name not in db.table_names():
            db[name].create(columns, pk=pk, foreign_keys=foreign_keys, not_null=not_null)
            added.append(name)
            continue
        have = {c.name for c in db[name].columns}
        for column, kind in columns.items():
            if column not in have:
                conn.execute(f"ALTER TABLE [{name}] ADD COLUMN [{column}] {_SQL_TYPES[kind]}")
                added.append(f"{name}.{column}")
    return added


_SQL_TYPES = {int: "INTEGER", str: "TEXT", float: "FLOAT", bytes: "BLOB"}
