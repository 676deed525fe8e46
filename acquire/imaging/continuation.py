"""A run that continues an acquisition in another drive: what the earlier drives failed, for the
engine to read first (acquire.rescue.engine.read_other_drive_failures; docs/rescue.md "Another drive").

The record keeps every failed read with the drive that made it (damage.drive_id); a sector counts
as another drive's failure when a failed read of another drive touched it, it is not finished,
and this drive has not failed it yet (so a second run in the same drive does not read it first again).
"""
from __future__ import annotations

from collections import Counter
from itertools import groupby

from ..record import Record
from ..rescue.sectormap import SectorMap, State


def drive_label(row: dict) -> str:
    """`drive 1 (ACQUIRE SIMULATED, serial SIM-A)`: the spelling of a drive in a damage reason."""
    name = " ".join(x for x in (row.get("vendor"), row.get("product")) if x) or row.get("device") or "unknown"
    serial = f", serial {row['serial']}" if row.get("serial") else ""
    return f"drive {row['id']} ({name}{serial})"


def other_drive_failures(record: Record, drive_id: int, smap: SectorMap) -> tuple[tuple[int, int, str], ...]:
    """(start, count, the drives that failed it) for each run of unfinished sectors that other
    drives failed and `drive_id` has not, in LBA order. A sweep over the failed reads' edges: its
    cost follows the damage rows, not the sectors they cover (an edge-rotten BD has millions)."""
    conn = record.db.conn
    labels = {row[0]: drive_label(dict(zip(("id", "device", "vendor", "product", "serial"), row)))
              for row in conn.execute("SELECT id, device, vendor, product, serial FROM drives")}
    edges: list[tuple[int, int, int]] = []          # (LBA, +1 opens / -1 closes, drive)
    for lba, count, by in conn.execute(
            "SELECT lba, count, drive_id FROM damage WHERE outcome = 'failed' AND drive_id IS NOT NULL"):
        for run in smap.runs(lba, lba + count):     # only unfinished sectors
            if run.state not in (State.FINISHED, State.NOT_RECORDED):
                edges += [(run.start, 1, by), (run.end, -1, by)]
    edges.sort()
    covering: Counter[int] = Counter()              # drive -> failed reads covering the sweep's position
    out: list[list] = []
    positions = [(pos, list(group)) for pos, group in groupby(edges, key=lambda e: e[0])]
    for (pos, group), (next_pos, _) in zip(positions, positions[1:]):      # each piece [pos, next_pos)
        for _, delta, by in group:
            covering[by] += delta
        others = sorted(d for d, n in covering.items() if n > 0 and d != drive_id)
        if not others or covering[drive_id] > 0:
            continue
        who = " and ".join(labels.get(d, f"drive {d}") for d in others)
        if out and out[-1][0] + out[-1][1] == pos and out[-1][2] == who:
            out[-1][1] += next_pos - pos
        else:
            out.append([pos, next_pos - pos, who])
    return tuple((s, c, w) for s, c, w in out)

