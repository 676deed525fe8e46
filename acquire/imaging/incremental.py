"""Incremental re-acquisition: a disc acquired before comes back with sessions appended
(`acquire image DEVICE NEW.iso --incremental-from OLD.custody.sqlite`; docs/imaging.md "Incremental").

The new record is linked to the earlier one (its path, chain head and image hashes, in the
'incremental' event). The earlier sessions are not read again: their sectors the earlier run
finished are copied from the earlier image (after its SHA-256 is recomputed and found equal to
the recorded one), and a sample of them is read from the disc and compared byte for byte. Only the
new sessions (and earlier sectors that never read) go to the engine. Refused, with what differs,
when the earlier record has no layout, an earlier session moved, the identifying structures
changed, a sample sector differs, or no session was added.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..drive.device import SECTOR_BYTES, Drive, ReadResult
from ..drive.layout import RecordedLayout
from ..errors import RecordError, UsageError, WrongDisc
from ..record import Record
from ..record.layout_tables import load_layout
from ..rescue.sectormap import SectorMap, State

PHASE = "earlier-acquisition"
SAMPLE_SECTORS = 16                   # earlier sectors read again from the disc and compared
COPY_CHUNK = 256                      # sectors copied from the earlier image at a time


@dataclass
class Earlier:
    record_path: Path
    image_path: Path
    chain_head: str | None
    hashes: dict[str, str]
    sessions: list[dict]              # load_layout()'s sessions
    smap: SectorMap
    identity: dict


def load(record_path: Path) -> Earlier:
    """The earlier acquisition, read-only; its image's SHA-256 recomputed against its record."""
    if not record_path.exists():
        raise UsageError(f"--incremental-from {record_path}: no such record")
    record = Record.open_readonly(record_path)
    try:
        layout = load_layout(record)
        medium = record.medium() or {}
        runs = record.load_map()
        hashes, head = record.image_hashes(), record.head_hash()
    finally:
        record.close()
    if layout is None or not medium or not runs:
        raise RecordError(f"{record_path} holds no recorded layout",
                          hint="an incremental acquisition needs a record made by this version; image the disc anew")
    name = record_path.name
    image = record_path.with_name(name[: -len(".custody.sqlite")]) if name.endswith(".custody.sqlite") else None
    if image is None or not image.exists():
        raise RecordError(f"the image of {record_path} is not beside it", hint="put IMAGE beside IMAGE.custody.sqlite")
    digest = _sha256(image)
    if hashes.get("sha256") != digest:
        raise RecordError(f"{image} does not match its record (sha256 {digest}, recorded {hashes.get('sha256')})",
                          hint="verify the earlier acquisition with `acquire verify` before building on it")
    return Earlier(record_path, image, head, hashes, layout["sessions"], SectorMap.from_runs(medium["capacity"], runs),
                   json.loads(medium.get("identity") or "{}"))


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def check(earlier: Earlier, layout: RecordedLayout, structures: dict[str, str], drive: Drive) -> list[dict]:
    """Refuse (WrongDisc) unless the disc is the earlier one with sessions appended; returns the sample."""
    now = {s.number: (s.start, s.end) for s in layout.sessions}
    for s in earlier.sessions:
        if now.get(s["session"]) != (s["start"], s["end"]):
            got = now.get(s["session"])
            raise WrongDisc(f"session {s['session']} differs from {earlier.record_path}: was LBA {s['start']}-"
                            f"{s['end'] - 1}, now {f'{got[0]}-{got[1] - 1}' if got else 'absent'}",
                            hint="image this disc anew, without --incremental-from")
    if len(now) <= len(earlier.sessions):
        raise UsageError(f"the disc has no session beyond the {len(earlier.sessions)} of {earlier.record_path}",
                         hint="nothing to add: resume that acquisition, or image the disc anew")
    was = earlier.identity.get("structures") or {}
    differs = sorted(n for n, d in was.items() if n in structures and structures[n] != d)
    if differs:
        raise WrongDisc(f"the disc's {', '.join(differs)} differ from {earlier.record_path}",
                        hint="image this disc anew, without --incremental-from")
    return _sample(earlier, drive)


def _sample(earlier: Earlier, drive: Drive) -> list[dict]:
    finished = [(r.start, r.end) for r in earlier.smap.runs_of(State.FINISHED)
                if any(s["start"] <= r.start < s["end"] for s in earlier.sessions)]
    total = sum(b - a for a, b in finished)
    if not total:
        return []
    picks = sorted({(total - 1) * i // max(SAMPLE_SECTORS - 1, 1) for i in range(min(SAMPLE_SECTORS, total))})
    out = []
    with open(earlier.image_path, "rb") as image:
        for pick in picks:
            lba = _nth(finished, pick)
            result = drive.read(lba, 1, fua=True)
            image.seek(lba * SECTOR_BYTES)
            same = result.ok and result.data == image.read(SECTOR_BYTES)
            out.append({"lba": lba, "read": result.ok, "same": same})
            if result.ok and not same:
                raise WrongDisc(f"LBA {lba} on the disc differs from {earlier.image_path}",
                                hint="image this disc anew, without --incremental-from")
    return out


def _nth(ranges: list[tuple[int, int]], n: int) -> int:
    for a, b in ranges:
        if n < b - a:
            return a + n
        n -= b - a
    raise ValueError(n)


def mark_known(earlier: Earlier, smap: SectorMap) -> None:
    """What the earlier run found holds no data inside the earlier sessions (its probed run-out
    blocks) holds none now: not probed again."""
    for s in earlier.sessions:
        for run in list(earlier.smap.runs_of(State.NOT_RECORDED, start=s["start"], end=min(s["end"], smap.sectors))):
            smap.set(run.start, run.count, State.NOT_RECORDED)


def seed(earlier: Earlier, smap: SectorMap, sink) -> int:
    """Copy the earlier image's finished sectors of the earlier sessions into this image, through
    the sink (image bytes, provenance, map), phase 'earlier-acquisition'; returns the sectors copied."""
    copied = 0
    sink.pass_started(PHASE, 1, "forward")
    with open(earlier.image_path, "rb") as image:
        for s in earlier.sessions:
            for run in list(earlier.smap.runs_of(State.FINISHED, start=s["start"], end=s["end"])):
                for lba in range(run.start, run.end, COPY_CHUNK):
                    count = min(COPY_CHUNK, run.end - lba)
                    if all(r.state == State.FINISHED for r in smap.runs(lba, lba + count)):
                        continue
                    image.seek(lba * SECTOR_BYTES)
                    data = image.read(count * SECTOR_BYTES)
                    sink.good(ReadResult(lba, count, data, None, 0.0), PHASE, 1)
                    smap.set(lba, count, State.FINISHED)
                    copied += count
    sink.pass_ended(PHASE, 1)
    return copied


def summary(earlier: Earlier, sample: list[dict], copied: int) -> dict:
    """The 'incremental' event's details: what links the new record to the earlier one."""
    return {"earlier_record": str(earlier.record_path), "earlier_chain_head": earlier.chain_head,
            "earlier_image": str(earlier.image_path), "earlier_hashes": earlier.hashes,
            "earlier_image_sha256_now": earlier.hashes.get("sha256"),
            "sessions_reused": [s["session"] for s in earlier.sessions], "sectors_copied": copied,
            "sample": sample}
