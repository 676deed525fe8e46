"""The disc's recorded layout in the record: tracks, not-recorded extents, every size the drive
gave, the disagreements between them, and the raw answers they came from (docs/record.md "Layout").

Declared in schema.TABLES (a new record has them); a record made before them gains them on the
first save_layout. The seal covers them like every other table (chain.sealed_tables); the raw
answers' SHA-256 is stored beside their hex, so a report can name them without the bytes.
"""
from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from .schema import TABLES

if TYPE_CHECKING:
    from .store import Record

LAYOUT_TABLES = ("layout_tracks", "layout_extents", "layout_figures", "layout_disagreements", "disc_responses")


def ensure_tables(record: "Record") -> None:
    """Create the tables a record lacks, and the columns a table made by an earlier build lacks."""
    for name in LAYOUT_TABLES:
        columns, pk, foreign_keys, not_null = TABLES[name]
        table = record.db[name]
        if not table.exists():
            table.create(columns, pk=pk, foreign_keys=foreign_keys, not_null=not_null)
            continue
        for column, kind in columns.items():
            if column not in table.columns_dict:
                table.add_column(column, kind)


def save_layout(record: "Record", layout: dict[str, Any], raw: dict[str, str], *, run_id: int | None,
                structures: dict[str, tuple[str, str, Any]] | None = None) -> None:
    """Replace the stored layout with `layout` (RecordedLayout.as_dict()) and log a 'layout' event.
    `raw`: command -> answer hex the layout came from; `structures`: name -> (command, answer hex,
    parsed JSON-able value) of the disc structures (acquire.drive.structures)."""
    with record._write() as conn:
        ensure_tables(record)
        for name in LAYOUT_TABLES:
            conn.execute(f"DELETE FROM {name}")
        conn.executemany("INSERT INTO layout_tracks (track, session, start, end, audio, data_mode, source) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [(t["track"], t["session"], t["start"], t["end"], int(t["audio"]), t["data_mode"],
                           t["source"]) for t in layout["tracks"]])
        conn.executemany("INSERT INTO layout_extents (start, count, kind, why) VALUES (?, ?, ?, ?)",
                         [(n["start"], n["count"], n["kind"], n["why"]) for n in layout["not_recorded"]])
        figures = {"sectors": layout["sectors"], "capacity": layout["capacity"], "appendable": layout["appendable"],
                   **layout["figures"]}
        conn.executemany("INSERT INTO layout_figures (name, value) VALUES (?, ?)",
                         [(k, json.dumps(v)) for k, v in sorted(figures.items())])
        conn.executemany("INSERT INTO layout_disagreements (message) VALUES (?)",
                         [(m,) for m in layout["disagreements"]])
        rows = [(c, "layout", h, None) for c, h in sorted(raw.items())]
        rows += [(command, name, h, json.dumps(parsed, sort_keys=True))
                 for name, (command, h, parsed) in sorted((structures or {}).items()) if command not in raw]
        conn.executemany("INSERT INTO disc_responses (command, name, hex, sha256, parsed_json) VALUES (?, ?, ?, ?, ?)",
                         [(c, n, h, hashlib.sha256(bytes.fromhex(h)).hexdigest(), p) for c, n, h, p in rows])
        record._append_event(run_id, "layout", {
            "sectors": layout["sectors"], "capacity": layout["capacity"], "sessions": len(layout["sessions"]),
            "tracks": len(layout["tracks"]), "not_recorded": sum(n["count"] for n in layout["not_recorded"]),
            "disagreements": layout["disagreements"]})


def add_figures(record: "Record", figures: dict[str, Any], disagreements: list[str], *, run_id: int | None) -> None:
    """Figures found after the copy (the file systems' own sizes), and what they disagree with."""
    if not figures and not disagreements:
        return
    with record._write() as conn:
        ensure_tables(record)
        conn.executemany("INSERT OR REPLACE INTO layout_figures (name, value) VALUES (?, ?)",
                         [(k, json.dumps(v)) for k, v in sorted(figures.items())])
        conn.executemany("INSERT INTO layout_disagreements (message) VALUES (?)", [(m,) for m in disagreements])
        record._append_event(run_id, "layout-figures", {"figures": figures, "disagreements": disagreements})


def raw_responses(record: "Record") -> list[tuple[str, str, str, str | None]]:
    """(command, name, answer hex, parsed JSON) of every stored answer: what save_layout takes back
    as `raw` (name "layout") and `structures` when a layout is carried into another record (merge)."""
    return record.db.conn.execute("SELECT command, name, hex, parsed_json FROM disc_responses ORDER BY command").fetchall()


def load_layout(record: "Record") -> dict[str, Any] | None:
    """The stored layout (the shape of RecordedLayout.as_dict(), sessions rebuilt), or None."""
    conn = record.db.conn
    if not conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'layout_tracks'").fetchone():
        return None
    tracks = [dict(zip(("track", "session", "start", "end", "audio", "data_mode", "source"), row))
              for row in conn.execute("SELECT track, session, start, end, audio, data_mode, source FROM layout_tracks "
                                      "ORDER BY start")]
    if not tracks:
        return None
    for t in tracks:
        t["audio"] = bool(t["audio"])
    extents = [dict(zip(("start", "count", "kind", "why"), row))
               for row in conn.execute("SELECT start, count, kind, why FROM layout_extents ORDER BY start")]
    figures = {name: json.loads(value) for name, value in conn.execute("SELECT name, value FROM layout_figures")}
    sessions = []
    for number in sorted({t["session"] for t in tracks}):
        mine = [t for t in tracks if t["session"] == number]
        sessions.append({"session": number, "start": min(t["start"] for t in mine), "end": max(t["end"] for t in mine),
                         "tracks": [t["track"] for t in mine]})
    have = {row[1] for row in conn.execute("PRAGMA table_info(disc_responses)")}
    name, parsed = ("name" if "name" in have else "NULL"), ("parsed_json" if "parsed_json" in have else "NULL")
    responses = [{"command": c, "name": n, "sha256": s, "bytes": len(h) // 2, "parsed": json.loads(p) if p else None}
                 for c, n, s, h, p in conn.execute(f"SELECT command, {name}, sha256, hex, {parsed} FROM disc_responses "
                                                   "ORDER BY command")]
    return {"sectors": figures.pop("sectors", None), "capacity": figures.pop("capacity", None),
            "appendable": figures.pop("appendable", False), "sessions": sessions, "tracks": tracks,
            "not_recorded": extents, "figures": figures,
            "disagreements": [m for (m,) in conn.execute("SELECT message FROM layout_disagreements ORDER BY id")],
            "responses": responses}
