"""`acquire map`: the record's sector map as a GNU ddrescue mapfile, for ddrescuelog and ddrescueview."""
from __future__ import annotations

import os
from pathlib import Path

from .record import Record
from .rescue.sectormap import SectorMap


def export_ddrescue(record_path: Path, out: Path) -> None:
    record = Record.open_readonly(record_path)
    try:
        medium = record.medium()
        runs = record.load_map()
        case = record.case()
    finally:
        record.close()
    sectors = medium["capacity"] if medium else sum(r[1] for r in runs)
    smap = SectorMap.from_runs(sectors, runs) if runs else SectorMap(sectors)
    text = smap.to_ddrescue(sector_size=medium["sector_size"] if medium else 2048,
                            command_line=f"acquire map {record_path} --export-ddrescue {out}",
                            comment_lines=(f"case {case.get('case_id')}",))
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)
