"""The disc's recorded layout in a run: marked in the map before the copy, probed, recorded, and
checked afterwards against the file systems' own sizes (docs/imaging.md "Discs as recorded").

Every not-recorded extent of acquire.drive.layout becomes State.NOT_RECORDED before the engine
starts, so no engine reads there (they only read untried and failed sectors). The image keeps
those LBAs, zero-filled, so every sector stays at its place. TAO run-out candidates (the last 2
sectors of each data track on a CD-R/RW) are read alone first: a sector the drive refuses as
illegal here (05/xx) or blank (08/xx) is run-out; one that reads stays for the engine to copy;
a medium error (03/xx) stays untried, and is damage if the engine fails it too.
"""
from __future__ import annotations

from pathlib import Path

from ..drive.device import SECTOR_BYTES, Drive
from ..drive.layout import RUN_OUT, NotRecorded, RecordedLayout
from ..record import Record
from ..record.layout_tables import add_figures, save_layout
from ..rescue.sectormap import SectorMap, State
from ..volume_space import primary_volume_space_size

# sense keys that say "nothing is recorded here" when a run-out candidate is read alone
NOT_RECORDED_KEYS = (0x05, 0x08)       # ILLEGAL REQUEST (05/64/00 illegal mode, 05/21/00), BLANK CHECK
PVD_OFFSET = 16                       # ISO 9660: the primary volume descriptor is the volume's 17th sector


def mark_not_recorded(smap: SectorMap, extents) -> int:
    """Each extent NOT_RECORDED where no earlier run read it; returns the sectors marked."""
    marked = 0
    for n in extents:
        start, end = max(n.start, 0), min(n.end, smap.sectors)
        for run in list(smap.runs(start, end)):
            if run.state not in (State.FINISHED, State.NOT_RECORDED):
                smap.set(run.start, run.count, State.NOT_RECORDED)
                marked += run.count
    return marked


def probe_run_out(drive: Drive, smap: SectorMap, layout: RecordedLayout) -> tuple[list[NotRecorded], list[dict]]:
    """Read each untried run-out candidate sector alone: (the run-out extents found, one note per probe)."""
    found: list[NotRecorded] = []
    notes: list[dict] = []
    for start, count in layout.run_out_candidates:
        for lba in range(start, min(start + count, smap.sectors)):
            if smap.state_at(lba) != State.UNTRIED:
                continue
            result = drive.read(lba, 1)
            sense = result.sense
            if result.ok:
                outcome = "data"
            elif sense is not None and sense.key in NOT_RECORDED_KEYS:
                outcome = RUN_OUT
                found.append(NotRecorded(lba, 1, RUN_OUT, f"the last blocks of a track; the drive answered {sense}"))
            else:
                outcome = "left to the engine"
            notes.append({"lba": lba, "outcome": outcome, "sense": str(sense) if sense else None})
    return _merged(found), notes


def _merged(extents: list[NotRecorded]) -> list[NotRecorded]:
    out: list[NotRecorded] = []
    for n in sorted(extents, key=lambda n: n.start):
        if out and out[-1].end == n.start and out[-1].kind == n.kind:
            out[-1] = NotRecorded(out[-1].start, out[-1].count + n.count, n.kind, out[-1].why)
        else:
            out.append(n)
    return out


def prepare(drive: Drive, record: Record, run_id: int, smap: SectorMap, layout: RecordedLayout,
            raw: dict[str, str], structures: dict | None = None) -> RecordedLayout:
    """Before the copy: mark the layout's gaps, probe the run-out candidates, store the layout."""
    mark_not_recorded(smap, layout.not_recorded)
    run_out, notes = probe_run_out(drive, smap, layout)
    mark_not_recorded(smap, run_out)
    known = {(n.start, n.kind) for n in layout.not_recorded}
    extents = sorted([*layout.not_recorded, *(n for n in run_out if (n.start, n.kind) not in known)],
                     key=lambda n: n.start)
    layout = RecordedLayout(layout.sectors, layout.capacity, layout.tracks, layout.sessions, tuple(extents),
                            layout.run_out_candidates, dict(layout.figures), layout.disagreements, layout.appendable)
    save_layout(record, layout.as_dict(), raw, run_id=run_id,
                structures={n: (s.command, s.raw.hex(), s.parsed) for n, s in (structures or {}).items()})
    if notes:
        record.log_event(run_id, "run-out-probe", probes=notes)
    return layout


def check_volume_sizes(image: Path, smap: SectorMap, layout: RecordedLayout, record: Record, run_id: int) -> None:
    """After the copy: each data session's ISO 9660 volume space size (the PVD 16 sectors into the
    session), against where the session's data ends; every figure and disagreement recorded."""
    figures: dict[str, int] = {}
    disagreements: list[str] = []
    with open(image, "rb") as f:
        for session in layout.sessions:
            first = next((t for t in layout.tracks if t.session == session.number and not t.audio), None)
            if first is None:
                continue
            lba = first.start + PVD_OFFSET
            if lba >= smap.sectors or smap.state_at(lba) != State.FINISHED:
                continue
            f.seek(lba * SECTOR_BYTES)
            size = primary_volume_space_size(f.read(SECTOR_BYTES))
            if size is None:
                continue
            figures[f"iso9660_session_{session.number}_volume_space"] = size
            data_end = max((t.end for t in layout.tracks if t.session == session.number), default=first.start + size)
            run_out = sum(n.count for n in layout.not_recorded if n.kind == RUN_OUT and session.start <= n.start < data_end)
            # a later session's size counts from LBA 0 (growisofs) or from the session's start (xorriso
            # -C, genisoimage -C write the new session's own size): the reading nearer the data's end
            end = min((size, first.start + size), key=lambda e: abs(data_end - run_out - e))
            if end > data_end:
                disagreements.append(f"session {session.number}'s ISO 9660 volume claims {end} sectors; the session's "
                                     f"track ends at {data_end}: the volume is larger than what is recorded")
            elif end < data_end - run_out:
                figures[f"session_{session.number}_past_volume_end"] = data_end - run_out - end
    add_figures(record, figures, disagreements, run_id=run_id)
