"""Everything a report says, collected from the record into one dict (docs/reports.md lists every key).

The JSON report is this dict; HTML, Markdown and DFXML render it. Reports only read the record:
it is opened read-only, so reporting on an archived record (read-only media) works and can never
change it. File-system tables written by the analysis (filesystems, files, boot_images,
unreadable_tree) are read with plain SQL when present.
"""
from __future__ import annotations

import json
import math
import platform
import socket
import sqlite3
from bisect import bisect_right
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import __version__
from ..record import Record
from ..record.connection import user
from ..drive.profiles import medium_family
from ..rescue.geometry import DiscLayout
from ..rescue.sectormap import State
from ..seal.check import latest_seal_event
from ..seal.document import SIGNED
from . import validation
from .audio_section import audio as _audio
from .layout_section import layout as _layout
from .svg import STATE_NAMES

REPORT_FORMAT = 1           # bump when a key changes meaning or goes away (docs/reports.md)
FIRST_DAMAGE_ROWS = 50      # the damage log rows shown in full; the JSON holds every row
FS_TABLES = ("filesystems", "files", "boot_images", "unreadable_tree", "session_changes")
RECORD_SUFFIX = ".custody.sqlite"


def open_record(path: Path) -> Record:
    """The record, read-only: a report never changes the evidence it reports on."""
    return Record.open_readonly(path)


def image_of(record_path: Path) -> Path | None:
    """The image beside a record named IMAGE.custody.sqlite."""
    name = Path(record_path).name
    return Path(record_path).with_name(name[: -len(RECORD_SUFFIX)]) if name.endswith(RECORD_SUFFIX) else None


def build(record_path: Path, *, damage_rows: int = FIRST_DAMAGE_ROWS) -> dict[str, Any]:
    """The report of the record at `record_path`, as one dict with stable keys."""
    record = open_record(record_path)
    try:
        return _build(record, Path(record_path), damage_rows)
    finally:
        record.db.conn.close()


def _build(record: Record, record_path: Path, damage_rows: int) -> dict[str, Any]:
    conn = record.db.conn
    tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    medium = record.medium() or {}
    capacity = medium.get("capacity") or 0
    sector_size = medium.get("sector_size") or 2048
    runs_map = record.load_map()
    damage = _rows(conn, "SELECT * FROM damage ORDER BY id")
    image = image_of(record_path)
    windows = [dict(zip(("idx", "offset", "length", "xxh128", "sha256", "blake3"), w)) for w in record.windows()]
    report: dict[str, Any] = {
        "report": {
            "format": REPORT_FORMAT,
            "generated_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "generator": {"tool": "acquire", "version": __version__, "host": socket.gethostname(),
                          "user": user(), "os": f"{platform.system()} {platform.release()}",
                          "arch": platform.machine()},
        },
        "record": _record_status(record, record_path, tables),
        "case": {k: v for k, v in record.case().items() if k != "id"},
        "runs": record.runs(),
        "drives": _drives(conn),
        "provenance": _provenance(conn),
        "medium": _medium(medium, capacity, sector_size),
        "image": {
            "path": str(image) if image else None,
            "size_bytes": record.image_size(),
            "hashes": record.image_hashes(),
            "window_count": len(windows),
            "window_bytes": windows[0]["length"] if windows else None,
            "windows": windows,
        },
        "map": _map(runs_map, capacity, sector_size),
        "passes": record.passes(),
        "damage": _damage(damage, damage_rows),
        "settings": _rows(conn, "SELECT * FROM settings ORDER BY id"),
        "verifications": [{"time_utc": e["time_utc"], "event_id": e["id"], **e["details"]}
                          for e in record.events("verification")],
        "seal": _seal(record),
        "events": {"count": len(record.events()), "kinds": dict(sorted(Counter(e["kind"] for e in record.events()).items())),
                   "head_hash": record.head_hash()},
        "filesystem": _filesystem(conn, tables, runs_map, sector_size),
        "validation": validation.model_part(record, record_path),
        "layout": _layout(record, runs_map),
        "audio": _audio(record),
    }
    report["damage"]["unstable"] = _unstable(record, runs_map)
    # retry hygiene's steps between the reads (rescue/hygiene.py); a record older than the table has none
    report["damage"]["actions"] = _rows(conn, "SELECT * FROM actions ORDER BY id") if "actions" in tables else []
    return report


# --- parts ----------------------------------------------------------------------------------------

def _seal(record: Record) -> dict:
    """The latest run's seal as the record says it was written (acquire verify checks the file itself)."""
    event = latest_seal_event(record)
    if event is None:
        return {"sealed": False, "signed": False, "summary": "no seal file (no run sealed one)", "event_id": None,
                "file": None, "seal_sha256": None, "seal_code": None, "fingerprint": None}
    signed = event["kind"] == SIGNED
    summary = (f"signed by {event.get('fingerprint')} (SSHSIG, namespace {event.get('namespace')}); "
               f"seal code {event.get('seal_code')}" if signed
               else f"unsigned ({event.get('reason')}); seal code {event.get('seal_code')}")
    return {"sealed": True, "signed": signed, "summary": summary, "event_id": event["id"], "file": event.get("file"),
            "seal_sha256": event.get("seal_sha256"), "seal_code": event.get("seal_code"),
            "fingerprint": event.get("fingerprint") if signed else None}


def _record_status(record: Record, path: Path, tables: set[str]) -> dict:
    findings = record.verify()
    if not findings:
        status, summary = "intact", "record verifies: chain intact, the latest seal matches every table"
    elif any(f.severity == "tampered" for f in findings):
        edited = sorted({f.table for f in findings if f.severity == "tampered"})
        status, summary = "tampered", f"record does NOT verify: edited after sealing: {', '.join(edited)}"
    else:
        status, summary = "interrupted", "record consistent up to its latest seal; unsealed since (interrupted run)"
    meta = record.meta()
    return {
        "path": str(path), "size_bytes": path.stat().st_size,
        "tool_version": meta.get("tool_version"), "schema_version": _int(meta.get("schema_version")),
        "head_hash": record.head_hash(),
        "verify": {"ok": not findings, "status": status, "summary": summary,
                   "findings": [{"severity": f.severity, "table": f.table, "row": f.row, "message": f.message}
                                for f in findings]},
        "tables": sorted(tables),
    }


def _drives(conn: sqlite3.Connection) -> list[dict]:
    drives = _rows(conn, "SELECT * FROM drives ORDER BY id")
    read = dict(conn.execute("SELECT drive_id, sum(count) FROM provenance GROUP BY drive_id").fetchall())
    runs = defaultdict(list)
    for run_id, drive_id in conn.execute("SELECT id, drive_id FROM runs ORDER BY id"):
        runs[drive_id].append(run_id)
    finished = {d["id"]: _merged(conn, "SELECT start, count FROM provenance WHERE drive_id = ?", d["id"])
                for d in drives}
    failed = {d["id"]: _merged(conn, "SELECT lba, count FROM damage WHERE outcome = 'failed' AND drive_id = ?",
                               d["id"]) for d in drives}
    reads = dict(conn.execute("SELECT drive_id, count(*) FROM damage WHERE outcome = 'failed' "
                              "GROUP BY drive_id").fetchall())
    time_s = dict(conn.execute("SELECT r.drive_id, sum(p.drive_time_s) FROM passes p JOIN runs r ON r.id = p.run_id "
                               "GROUP BY r.drive_id").fetchall())
    for d in drives:
        d["features"] = _json(d.pop("features_json", None))
        d["sectors_read"] = read.get(d["id"], 0)
        # finished by this drive, failed in another: what only this drive could read
        others = _merge([r for other, ranges in failed.items() if other != d["id"] for r in ranges])
        d["sectors_only_this_drive"] = _overlap(finished[d["id"]], others)
        d["failed_reads"] = reads.get(d["id"], 0)
        d["failed_sectors"] = _overlap(failed[d["id"]], _unfinished_by(finished[d["id"]], failed[d["id"]]))
        d["drive_time_s"] = round(time_s.get(d["id"]) or 0.0, 3)
        d["runs"] = runs.get(d["id"], [])
    return drives


def _merged(conn: sqlite3.Connection, sql: str, *args) -> list[tuple[int, int]]:
    return _merge([(start, start + count) for start, count in conn.execute(sql, args)])


def _merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Half-open [start, end) ranges, sorted and merged."""
    out: list[list[int]] = []
    for start, end in sorted(ranges):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(a, b) for a, b in out]


def _overlap(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> int:
    """Sectors in both lists of merged ranges."""
    total = i = j = 0
    while i < len(a) and j < len(b):
        total += max(0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def _unfinished_by(finished: list[tuple[int, int]], span: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of `span` this drive did not finish (a sector of a failed read it later read is no failure)."""
    out, k = [], 0
    for start, end in span:
        pos = start
        while k < len(finished) and finished[k][1] <= pos:
            k += 1
        m = k
        while m < len(finished) and finished[m][0] < end:
            if finished[m][0] > pos:
                out.append((pos, finished[m][0]))
            pos = max(pos, finished[m][1])
            m += 1
        if pos < end:
            out.append((pos, end))
    return out


def _provenance(conn: sqlite3.Connection) -> list[dict]:
    """Who read what: one entry per (run, drive, phase, pass), its sectors as merged [first, last] ranges."""
    groups: dict[tuple, list[tuple[int, int]]] = defaultdict(list)
    for start, count, run_id, drive_id, phase, pass_no in conn.execute(
            "SELECT start, count, run_id, drive_id, phase, pass_no FROM provenance ORDER BY run_id, id"):
        groups[(run_id, drive_id, phase, pass_no)].append((start, count))
    out = []
    for (run_id, drive_id, phase, pass_no), pieces in groups.items():
        ranges: list[list[int]] = []
        for start, count in sorted(pieces):
            if ranges and start <= ranges[-1][1] + 1:
                ranges[-1][1] = max(ranges[-1][1], start + count - 1)
            else:
                ranges.append([start, start + count - 1])
        out.append({"run_id": run_id, "drive_id": drive_id, "phase": phase, "pass_no": pass_no,
                    "sectors": sum(c for _, c in pieces), "ranges": ranges})
    return out


def _medium(medium: dict, capacity: int, sector_size: int) -> dict:
    if not medium:
        return {"known": False}
    family, assumed = medium_family(medium.get("profile"), capacity)
    geometry = DiscLayout.for_medium(family, capacity, assumed=assumed) if capacity else None
    return {
        "known": True,
        "profile": medium.get("profile"), "profile_name": medium.get("profile_name"), "family": family.upper(),
        "capacity": capacity, "sector_size": sector_size, "capacity_bytes": capacity * sector_size,
        "toc": medium.get("toc"), "disc_information": medium.get("disc_information"),
        "identity": _json(medium.get("identity")),
        "volume_label": medium.get("volume_label"), "volume": medium.get("volume"),
        "geometry": geometry.as_dict() if geometry else None,
    }


def _map(runs: list[tuple[int, int, int]], capacity: int, sector_size: int) -> dict:
    counts = Counter()
    for _, count, state in runs:
        counts[state] += count
    # not recorded (5) is neither read nor unreadable: nothing is there to read
    unreadable = [[s, s + c - 1] for s, c, st in runs if st not in (State.FINISHED, State.NOT_RECORDED)]
    bad = [[s, s + c - 1] for s, c, st in runs if st == State.BAD]
    return {
        "sectors": capacity,
        "sector_size": sector_size,
        "run_count": len(runs),
        "counts": {STATE_NAMES[s]: counts.get(s, 0) for s in (4, 3, 2, 1, 0, 5)},
        "unreadable_sectors": capacity - counts.get(4, 0) - counts.get(5, 0) if runs else None,
        "unreadable_ranges": unreadable,
        "not_recorded_ranges": [[s, s + c - 1] for s, c, st in runs if st == State.NOT_RECORDED],
        "bad_ranges": bad,
        # untried: a budget stopped the run before them (runs.stop_reason says why), or a run was cut short
        "not_tried_ranges": [[s, s + c - 1] for s, c, st in runs if st == State.UNTRIED],
        "runs": [list(r) for r in runs],
    }


def _damage(rows: list[dict], first_n: int) -> dict:
    by_sense: dict[tuple, Counter] = defaultdict(Counter)
    by_phase: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        by_sense[(r["sense"], r["sense_name"])][r["outcome"]] += 1
        by_sense[(r["sense"], r["sense_name"])]["sectors"] += r["count"] or 0
        by_phase[r["phase"]][r["outcome"]] += 1
        by_phase[r["phase"]]["seconds"] += r["duration_s"] or 0
    return {
        "reads": len(rows),
        "failed": sum(1 for r in rows if r["outcome"] == "failed"),
        "marginal": sum(1 for r in rows if r["outcome"] == "marginal"),
        "drive_time_s": round(sum(r["duration_s"] or 0 for r in rows), 6),
        "by_sense": [{"sense": s, "sense_name": n, "failed": c["failed"], "marginal": c["marginal"],
                      "sectors": c["sectors"]}
                     for (s, n), c in sorted(by_sense.items(), key=lambda kv: (-(kv[1]["failed"] + kv[1]["marginal"]), str(kv[0][0])))],
        "by_phase": [{"phase": p, "failed": c["failed"], "marginal": c["marginal"], "drive_time_s": round(c["seconds"], 6)}
                     for p, c in by_phase.items()],
        "first_rows": rows[:first_n],
        "rows": rows,
    }


def _filesystem(conn: sqlite3.Connection, tables: set[str], runs: list[tuple[int, int, int]], sector_size: int) -> dict:
    present = [t for t in FS_TABLES if t in tables]
    # the tables exist in every record of schema 2 on; an analysis leaves rows or an 'fs-analysis' event
    analysed = any(conn.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone() for t in present) or bool(
        conn.execute("SELECT 1 FROM events WHERE kind = 'fs-analysis' LIMIT 1").fetchone())
    if not analysed:
        return {"analysed": False, "summary": "no file-system analysis in this record (acquire analyze RECORD adds it)", "filesystems": [], "files": [],
                "damaged_files": [], "boot_images": [], "unreadable_tree": []}
    unfinished = [(s, s + c) for s, c, st in runs if st not in (State.FINISHED, State.NOT_RECORDED)]
    filesystems = _rows(conn, "SELECT * FROM filesystems ORDER BY id") if "filesystems" in tables else []
    for fs in filesystems:
        fs["details"] = _json(fs.pop("details_json", None))
        fs["problems"] = _json(fs.pop("problems_json", None)) or []
    files = _rows(conn, "SELECT * FROM files ORDER BY id") if "files" in tables else []
    for f in files:
        f["extents"] = _json(f.pop("extents_json", None)) or []
        f["metadata"] = _json(f.pop("metadata_json", None)) or {}
        f["is_dir"] = bool(f.get("is_dir"))
        size = f.get("size") or 0
        sectors, lost = _lost(f["extents"], size, unfinished, sector_size)
        if f.get("unreadable_sectors") is None:         # not stored: count it from the map
            f["unreadable_sectors"] = sectors
        if not f["extents"]:                            # embedded data: lost with its file entry
            lost = min(size, (f["unreadable_sectors"] or 0) * sector_size)
        f["lost_bytes"] = lost
    damaged = sorted((f for f in files if f["unreadable_sectors"] and not f["is_dir"]),
                     key=lambda f: (-f["lost_bytes"], -f["unreadable_sectors"], f["path"] or ""))
    boot = _rows(conn, "SELECT * FROM boot_images ORDER BY entry_no, id") if "boot_images" in tables else []
    for b in boot:
        b["bootable"] = None if b.get("bootable") is None else bool(b["bootable"])
    tree = _rows(conn, "SELECT * FROM unreadable_tree ORDER BY id") if "unreadable_tree" in tables else []
    from .sessions import sessions_model            # every session's tree (docs/fs.md "Every session")
    sessions, session_changes = sessions_model(conn, tables, filesystems, files)
    summary = (f"{len(filesystems)} file system(s), {sum(1 for f in files if not f['is_dir'])} files, "
               f"{len(damaged)} damaged, {len(boot)} boot image(s), {len(tree)} unreadable part(s) of the tree")
    return {
        "analysed": True, "summary": summary, "filesystems": filesystems, "files": files,
        "damaged_files": [{"path": f["path"], "size": f.get("size"), "unreadable_sectors": f["unreadable_sectors"],
                           "lost_bytes": f["lost_bytes"],
                           "lost_fraction": round(f["lost_bytes"] / f["size"], 6) if f.get("size") else 1.0,
                           "filesystem_id": f.get("filesystem_id"), "verdict": f.get("verdict")} for f in damaged],
        "boot_images": boot, "unreadable_tree": tree, "sessions": sessions, "session_changes": session_changes,
    }


# --- helpers --------------------------------------------------------------------------------------

def _lost(extents: list, size: int, unfinished: list[tuple[int, int]], sector_size: int) -> tuple[int, int]:
    """(sectors, bytes) of a file's data not read: its extents ([lba, count], in file order) cut to
    its size, against the sorted, disjoint unfinished [a, b) ranges of the map."""
    starts = [a for a, _ in unfinished]
    sectors = lost = offset = 0
    for lba, count in extents:
        used = min(count, max(0, math.ceil((size - offset) / sector_size)))
        i = max(bisect_right(starts, lba) - 1, 0)
        while i < len(unfinished) and unfinished[i][0] < lba + used:
            a, b = unfinished[i]
            for sector in range(max(a, lba), min(b, lba + used)):
                sectors += 1
                start = offset + (sector - lba) * sector_size
                lost += min(sector_size, size - start)
            i += 1
        offset += count * sector_size
    return sectors, lost


def _rows(conn: sqlite3.Connection, sql: str) -> list[dict]:
    cur = conn.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row)) for row in cur]


def _json(text: Any) -> Any:
    if text is None or not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def _unstable(record: Record, runs: list[tuple[int, int, int]]) -> dict:
    """The sectors a second read found unstable (`unstable-sectors` events, docs/imaging.md), and
    how many of them a later run has read and confirmed since (finished in the map now)."""
    sectors = [s for e in record.events("unstable-sectors") for s in e["details"].get("sectors", [])]
    lbas = sorted({s["lba"] for s in sectors})
    finished = [lba for lba in lbas if any(start <= lba < start + count and state == 4 for start, count, state in runs)]
    spans: list[list[int]] = []
    for lba in lbas:
        if spans and spans[-1][1] == lba - 1:
            spans[-1][1] = lba
        else:
            spans.append([lba, lba])
    return {"sectors": len(lbas), "ranges": spans, "finished_since": len(finished), "reads": sectors}
