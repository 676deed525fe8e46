"""The analysis a record holds, made now for a record written before analysis existed or without it."""
from __future__ import annotations

from pathlib import Path

from ..record import Record
from ..record.fs_tables import load_analysis, save_analysis
from ..rescue.sectormap import SectorMap
from .analyze import analyze_image
from .sessions import starts_from_record


def ensure_analysis(record_path: Path, image_path: Path) -> str:
    """'present', 'added' (analysed, stored, sealed) or why not. Only an intact record is added to:
    sealing an edited or unsealed record would bless what it holds. Everything is decided with the
    record open read-only, so a record that gets nothing keeps its bytes exactly."""
    looked = Record.open_readonly(record_path)
    try:
        if load_analysis(looked) is not None:
            return "present"
        if not image_path.exists():
            return f"not analysed: {image_path} is missing"
        if looked.verify():
            return "not analysed: the record does not verify, so nothing is added to it"
        head = looked.head_hash()
        medium = looked.medium()
        runs = looked.load_map()
        starts = starts_from_record(looked.db.conn)
    finally:
        looked.close()
    smap = SectorMap.from_runs(medium["capacity"], runs) if runs else None
    analysis = analyze_image(image_path, smap, session_starts=starts)
    record = Record.open(record_path)
    try:
        if record.head_hash() != head:
            return "not analysed: the record changed while it was being analysed; run analyze again"
        save_analysis(record, analysis)
        record.seal(None)
        return "added"
    finally:
        record.close()
