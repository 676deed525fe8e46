"""How many bytes each file system on an image says the image must hold (`acquire verify`'s
completeness line, docs/fs.md "Declared sizes").

An image cut short can carry hashes that match (a record rewritten with it, or hashes taken of the
cut image): only the file systems' own sizes tell that sectors are missing. Each structure below
states an end; the image must reach every one:

| structure | the end it states |
|---|---|
| ISO 9660 (each session) | the session's volume space (sessions.SessionVolume.declared_end) |
| UDF | each partition descriptor's start + length; the main and reserve descriptor sequences the anchor at 256 names |
| HFS | first allocation block (drAlBlSt, 512-byte units) + drNmAlBlks x drAlBlkSiz, from the volume's offset |
| HFS+ | totalBlocks x blockSize from the volume's offset (TN1150: the volume's whole size) |
| APM | each partition's (start block + block count) x the map's block size |
| GPT | the alternate (backup) header's LBA + 1, each partition's last LBA + 1, in the GPT's block size |
| MBR | each partition's first LBA + count, in 512-byte sectors (a protective 0xEE spanning 2^32-1 is skipped) |

The ends come from the image as it is now (its structures sit near its start, so a cut image still
states them), and from the record's analysis, made when the image was whole (verify merges both).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .reader import SECTOR, SectorReader
from .sessions import read_session_volume, session_starts
from .systemarea import system_area
from .udf import UdfReader
from .udf_descriptors import ANCHOR_LBA, AVDP, anchor_extents, tag

MBR_SECTOR = 512
MBR_SPANS_ALL = 0xFFFF_FFFF            # a protective MBR entry's count when the disk is larger (UEFI 5.2.3)


@dataclass(frozen=True, slots=True)
class DeclaredSize:
    structure: str                     # which file system, which part: "ISO 9660 session 2 volume space"
    end_bytes: int                     # the image must hold at least this many bytes
    how: str                           # the figures it comes from

    @property
    def end_sectors(self) -> int:
        return -(-self.end_bytes // SECTOR)


def from_image(image_path: Path, starts: Sequence[int] | None = None) -> list[DeclaredSize]:
    """The ends the image's own structures state (every sector taken as read)."""
    with SectorReader(image_path, None) as reader:
        out = _iso9660(reader, session_starts(reader, starts))
        primary = read_session_volume(reader, 0)
        found, _ = system_area(reader, primary.volume.volume_space_size if primary else None)
        for kind, _label, details in found:
            out += from_details(kind, details)
        out += from_details("udf", _udf_details(reader))
    return out


def from_filesystems(rows: Iterable[tuple[str, dict]]) -> list[DeclaredSize]:
    """The ends the record's analysis holds: (kind, details) of each filesystems row."""
    out: list[DeclaredSize] = []
    for kind, details in rows:
        if kind == "iso9660":
            out += _iso_row(details)
        else:
            out += from_details(kind, details)
    return out


def _iso9660(reader: SectorReader, starts: Sequence[int]) -> list[DeclaredSize]:
    out = []
    for number, start in enumerate(starts, 1):
        sv = read_session_volume(reader, start)
        if sv is None:
            continue
        name = "ISO 9660 volume space" if len(starts) == 1 else f"ISO 9660 session {number} volume space"
        out.append(DeclaredSize(name, sv.declared_end * SECTOR,
                                f"volume space size {sv.volume.volume_space_size} sectors in the descriptor at LBA "
                                f"{sv.descriptor_lba}, session from LBA {start}: ends at sector {sv.declared_end}"))
    return out


def _iso_row(details: dict) -> list[DeclaredSize]:
    if isinstance(details.get("declared_end"), int):
        end, session = details["declared_end"], details.get("session")
        return [DeclaredSize(f"ISO 9660 session {session} volume space", end * SECTOR,
                             f"the record's analysis: session from LBA {details.get('session_start')} ends at sector {end}")]
    if isinstance(details.get("volume_space_size"), int) and "session" not in details:
        size = details["volume_space_size"]
        return [DeclaredSize("ISO 9660 volume space", size * SECTOR,
                             f"the record's analysis: volume space size {size} sectors")]
    return []


def _udf_details(reader: SectorReader) -> dict:
    """The partitions of the UDF volume, and the descriptor sequences its anchor at 256 names."""
    udf = UdfReader(reader, 0)
    try:
        udf.mount()
    except Exception:  # noqa: BLE001 - a cut or odd image: whatever it states is all there is
        pass
    details = dict(udf.details)
    if ANCHOR_LBA < reader.sectors and (t := tag(reader.read(ANCHOR_LBA))) and t[0] == AVDP:
        details["descriptor_sequences"] = [
            {"which": which, "location": location, "length_bytes": length}
            for which, (length, location) in zip(("main", "reserve"), anchor_extents(reader.read(ANCHOR_LBA)))
            if length]
    return details


def from_details(kind: str, d: dict) -> list[DeclaredSize]:
    """The ends a file system's details (as the record's filesystems.details_json holds them) state."""
    make = _MAKERS.get(kind)
    return make(d) if make is not None and isinstance(d, dict) else []


def _udf(d: dict) -> list[DeclaredSize]:
    out = []
    for p in d.get("partitions") or ():
        end = p["start"] + p["length"]
        out.append(DeclaredSize(f"UDF partition {p['number']}", end * SECTOR,
                                f"partition descriptor: start {p['start']} + length {p['length']} blocks = sector {end}"))
    for s in d.get("descriptor_sequences") or ():
        out.append(DeclaredSize(f"UDF {s['which']} volume descriptor sequence", s["location"] * SECTOR + s["length_bytes"],
                                f"anchor at LBA {ANCHOR_LBA}: {s['length_bytes']} bytes from LBA {s['location']}"))
    return out


def _hfs(d: dict) -> list[DeclaredSize]:
    if not {"allocation_blocks", "allocation_block_size"} <= set(d):
        return []
    first = d.get("first_allocation_block_512", 0) * 512
    end = d.get("offset_bytes", 0) + first + d["allocation_blocks"] * d["allocation_block_size"]
    return [DeclaredSize("HFS volume", end, f"master directory block at byte {d.get('offset_bytes', 0) + 1024}: "
                         f"{d['allocation_blocks']} allocation blocks of {d['allocation_block_size']} bytes "
                         f"from byte {first} of the volume")]


def _hfsplus(d: dict) -> list[DeclaredSize]:
    if not {"total_blocks", "block_size"} <= set(d):
        return []
    end = d.get("offset_bytes", 0) + d["total_blocks"] * d["block_size"]
    return [DeclaredSize("HFS+ volume", end, f"volume header at byte {d.get('offset_bytes', 0) + 1024}: "
                         f"{d['total_blocks']} blocks of {d['block_size']} bytes")]


def _apm(d: dict) -> list[DeclaredSize]:
    block = d.get("block_size") or 512
    return [DeclaredSize(f"APM partition {p['number']} ({p.get('type') or '?'})", (p["first_block"] + p["blocks"]) * block,
                         f"Apple partition map entry {p['number']}: start block {p['first_block']} + {p['blocks']} "
                         f"blocks of {block} bytes")
            for p in d.get("partitions") or () if p.get("blocks")]


def _gpt(d: dict) -> list[DeclaredSize]:
    block = d.get("block_size") or 512
    out = []
    if d.get("alternate_lba"):
        out.append(DeclaredSize("GPT backup header", (d["alternate_lba"] + 1) * block,
                                f"the primary header's alternate LBA {d['alternate_lba']} ({block}-byte blocks)"))
    out += [DeclaredSize(f"GPT partition {p['number']} ({p.get('type') or '?'})", (p["last_lba"] + 1) * block,
                         f"partition entry {p['number']}: last LBA {p['last_lba']} ({block}-byte blocks)")
            for p in d.get("partitions") or ()]
    return out


def _mbr(d: dict) -> list[DeclaredSize]:
    return [DeclaredSize(f"MBR partition {p['number']} (type {p['type']})", (p["first_lba_512"] + p["sectors_512"]) * MBR_SECTOR,
                         f"partition entry {p['number']}: first LBA {p['first_lba_512']} + {p['sectors_512']} sectors "
                         "of 512 bytes")
            for p in d.get("partitions") or ()
            if p.get("sectors_512") and not (p.get("type") == "ee" and p["sectors_512"] == MBR_SPANS_ALL)]


_MAKERS = {"udf": _udf, "hfs": _hfs, "hfsplus": _hfsplus, "apm": _apm, "gpt": _gpt, "mbr": _mbr}


def merged(sizes: Iterable[DeclaredSize]) -> list[DeclaredSize]:
    """One entry per structure: the largest end any source states for it, largest first."""
    best: dict[str, DeclaredSize] = {}
    for s in sizes:
        if s.structure not in best or s.end_bytes > best[s.structure].end_bytes:
            best[s.structure] = s
    return sorted(best.values(), key=lambda s: (-s.end_bytes, s.structure))


__all__ = ["DeclaredSize", "from_details", "from_filesystems", "from_image", "merged"]
