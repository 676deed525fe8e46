"""A catalogue entry derived from one record, after the record has checked against its own seal.

Nothing here is typed in by hand: every column comes from the record's sealed tables, and a record
whose chain or seal does not verify is refused (registering an edited record would bless it).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CatalogueError
from ..record import Record
from ..record.fs_tables import load_analysis
from ..rescue.sectormap import State

FINISHED = int(State.FINISHED)
STATE_NAMES = {int(s): s.name.lower().replace("_", "-") for s in State}
SUFFIX = ".custody.sqlite"


@dataclass(frozen=True)
class Entry:
    """One disc: the `discs` row and its child rows (drives, unreadable ranges, files hit)."""

    disc: dict
    drives: list[dict] = field(default_factory=list)
    damage: list[dict] = field(default_factory=list)
    files_hit: list[dict] = field(default_factory=list)


def image_path(record_path: Path) -> Path:
    name = record_path.name
    return record_path.with_name(name[: -len(SUFFIX)]) if name.endswith(SUFFIX) else record_path.with_suffix("")


def derive(record_path: Path) -> Entry:
    """The entry of `record_path`, read-only; CatalogueError if the record is not intact and sealed."""
    record_path = Path(record_path).resolve()
    record = Record.open_readonly(record_path)
    try:
        findings = record.verify()
        if findings:
            raise CatalogueError(f"{record_path} does not check against its seal: {findings[0]}",
                                 hint="run acquire verify on it; only an intact, sealed record is catalogued")
        return _entry(record, record_path)
    finally:
        record.close()


def _entry(record: Record, record_path: Path) -> Entry:
    conn = record.db.conn
    record_id = conn.execute("SELECT hash FROM events WHERE id = 1").fetchone()[0]
    case, medium = record.case(), record.medium() or {}
    runs = record.runs()
    hashes = record.image_hashes()
    seal_time = conn.execute("SELECT time_utc FROM events WHERE kind = 'seal' ORDER BY id DESC LIMIT 1").fetchone()
    smap = record.load_map()
    bad = [(start, count, state) for start, count, state in smap if state != FINISHED]
    analysis = load_analysis(record)
    hit = list({f.path: f for f in reversed(analysis.damaged_files())}.values())[::-1] if analysis else []
    windows = conn.execute("SELECT count(*) FROM windows").fetchone()[0]
    disc = {
        "record_id": record_id, "record_path": str(record_path), "image_path": str(image_path(record_path)),
        "case_id": case.get("case_id"), "evidence_id": case.get("evidence_id"), "examiner": case.get("examiner"),
        "volume_label": medium.get("volume_label"), "profile_name": medium.get("profile_name"),
        "capacity": medium.get("capacity"), "sector_size": medium.get("sector_size"),
        "image_bytes": record.image_size(), "status": runs[-1]["status"] if runs else None, "runs": len(runs),
        "unreadable_sectors": sum(count for _, count, _ in bad), "unreadable_ranges": len(bad),
        "damaged_files": len(hit), **{name: hashes.get(name) for name in ("md5", "sha1", "sha256", "xxh128", "crc32")},
        "window_hash": record.window_hash(), "windows": windows, "chain_head": record.head_hash(),
        "sealed_utc": seal_time[0] if seal_time else None, "created_utc": case.get("created_utc"),
        "tool_version": case.get("tool_version"),
    }
    return Entry(disc, _drives(conn, record_id), [
        {"record_id": record_id, "first_lba": start, "last_lba": start + count - 1, "state": STATE_NAMES[state]}
        for start, count, state in bad], [
        {"record_id": record_id, "path": f.path, "size": f.size, "unreadable_sectors": f.unreadable_sectors}
        for f in hit])


def _drives(conn, record_id: str) -> list[dict]:
    """Every drive of the record with the sectors it read (a disc may have been read in several)."""
    rows = conn.execute(
        "SELECT d.id, d.vendor, d.product, d.revision, d.serial, d.device, "
        "(SELECT coalesce(sum(p.count), 0) FROM provenance p WHERE p.drive_id = d.id) "
        "FROM drives d ORDER BY d.id").fetchall()
    return [{"record_id": record_id, "drive_no": i, "vendor": vendor, "product": product, "revision": revision,
             "serial": serial, "device": device, "sectors": sectors}
            for i, vendor, product, revision, serial, device, sectors in rows]


def as_json(entry: Entry) -> dict:
    return {**entry.disc, "drives": entry.drives, "damage": entry.damage, "files_hit": entry.files_hit}


def dumps(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
