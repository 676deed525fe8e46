"""The report's "Sessions" part: each session's file system, and the files a later session removed
or replaced (acquire.fs.sessions makes them; the record's session_changes table holds them).

    report["filesystem"]["sessions"], report["filesystem"]["session_changes"] = sessions_model(conn, tables, fs)
    section(report)            # (lines, tables) the Files section adds, for HTML and Markdown
    dfxml(root, report, sub)   # an acquire:sessions element for DFXML
"""
from __future__ import annotations

import json
import sqlite3
from typing import Any, Callable

MAX_SHOWN = 200


def sessions_model(conn: sqlite3.Connection, tables: set[str], filesystems: list[dict],
                   files: list[dict]) -> tuple[list[dict], list[dict]]:
    """(sessions, session changes) as the JSON report holds them; empty lists for one session."""
    counts: dict[Any, int] = {}
    for f in files:
        if not f.get("is_dir"):
            counts[f.get("filesystem_id")] = counts.get(f.get("filesystem_id"), 0) + 1
    sessions = sorted(({"session": fs["details"]["session"], "start_lba": fs["details"].get("session_start"),
                        "declared_end": fs["details"].get("declared_end"), "filesystem_id": fs["id"],
                        "label": fs.get("label"), "files": counts.get(fs["id"], 0),
                        "last": fs.get("alternate_of") is None}
                       for fs in filesystems
                       if fs.get("kind") == "iso9660" and isinstance(fs.get("details"), dict)
                       and "session" in fs["details"]), key=lambda s: s["session"])
    changes: list[dict] = []
    if "session_changes" in tables:
        conn.row_factory = sqlite3.Row
        try:
            rows = [dict(r) for r in conn.execute("SELECT * FROM session_changes ORDER BY id")]
        finally:
            conn.row_factory = None
        for r in rows:
            r["extents"] = json.loads(r.pop("extents_json") or "[]")
            r["new_extents"] = json.loads(r.pop("new_extents_json") or "[]")
            r["sectors_read"] = not r.get("unreadable_sectors")
            changes.append(r)
    return sessions, changes


def _extents(extents: list) -> str:
    return ", ".join(f"{lba}+{count}" for lba, count in extents) or "-"


def section(report: dict) -> tuple[list[str], list[tuple[str, list[str], list[list[str]]]]]:
    """(lines, tables) the Files section adds for a multisession disc; nothing for one session."""
    fs = report.get("filesystem") or {}
    sessions, changes = fs.get("sessions") or [], fs.get("session_changes") or []
    if not sessions:
        return [], []
    removed = [c for c in changes if c["change"] == "removed"]
    renamed = [c for c in changes if c["change"] == "renamed"]
    replaced = [c for c in changes if c["change"] == "replaced"]
    lines = [f"{len(sessions)} sessions, each with its own ISO 9660 tree; a drive and a mount show the last. "
             f"{len(removed)} file(s) of an earlier session are removed in a later one, {len(renamed)} renamed "
             f"(same extents, another path) and {len(replaced)} replaced (same path, another extent): their "
             "earlier sectors are still on the disc."]
    tables = [("Each session's file system", ["session", "start LBA", "declared end", "label", "files", "file system"],
               [[str(s["session"]), str(s["start_lba"]), str(s.get("declared_end", "-")), str(s.get("label") or "-"),
                 str(s["files"]), f"{s['filesystem_id']}{' (shown by a mount)' if s['last'] else ''}"] for s in sessions])]
    tables.append((f"Removed in a later session ({len(removed)})",
                   ["path", "size (bytes)", "in session", "gone from session", "extents (LBA+sectors)", "sectors read"],
                   [[c["path"], str(c["size"]), str(c["session"]), str(c["later_session"]), _extents(c["extents"]),
                     "all" if c["sectors_read"] else f"{c['unreadable_sectors']} not read"] for c in removed[:MAX_SHOWN]]
                   or [["none", "-", "-", "-", "-", "-"]]))
    if renamed:
        tables.append((f"Renamed in a later session ({len(renamed)})",
                       ["path", "size (bytes)", "in session", "renamed in session", "new path", "extents (LBA+sectors)"],
                       [[c["path"], str(c["size"]), str(c["session"]), str(c["later_session"]), str(c.get("new_path")),
                         _extents(c["extents"])] for c in renamed[:MAX_SHOWN]]))
    tables.append((f"Replaced in a later session ({len(replaced)})",
                   ["path", "size (bytes)", "in session", "replaced in session", "old extents", "new extents", "sectors read"],
                   [[c["path"], str(c["size"]), str(c["session"]), str(c["later_session"]), _extents(c["extents"]),
                     _extents(c["new_extents"]), "all" if c["sectors_read"] else f"{c['unreadable_sectors']} not read"]
                    for c in replaced[:MAX_SHOWN]] or [["none", "-", "-", "-", "-", "-", "-"]]))
    return lines, tables


def dfxml(root, report: dict, sub: Callable, acquire_name: Callable[[str], str]) -> None:
    """<acquire:sessions> with one <acquire:session> each and one <acquire:session_change> per row."""
    fs = report.get("filesystem") or {}
    sessions, changes = fs.get("sessions") or [], fs.get("session_changes") or []
    if not sessions:
        return
    el = sub(root, acquire_name("sessions"))
    for s in sessions:
        sub(el, acquire_name("session"), None, **{k: ("1" if v is True else "0" if v is False else v)
                                                   for k, v in s.items() if v is not None})
    for c in changes:
        attrs = {k: v for k, v in c.items() if v is not None and k not in ("extents", "new_extents", "sectors_read")}
        attrs["extents"] = _extents(c["extents"])
        if c["new_extents"]:
            attrs["new_extents"] = _extents(c["new_extents"])
        attrs["sectors_read"] = "1" if c["sectors_read"] else "0"
        sub(el, acquire_name("session_change"), None, **attrs)
