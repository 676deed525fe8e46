"""El Torito (the "El Torito" Bootable CD-ROM Format Specification 1.0, 1995): the boot catalog,
each boot image's extent, hash, and extraction."""
from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..record.fs_tables import BootImage, FileEntry, Unreadable
from .reader import SECTOR, SectorReader
from .volume import BootRecord

EL_TORITO_ID = "EL TORITO SPECIFICATION"
PLATFORMS = {0x00: "x86", 0x01: "ppc", 0x02: "mac", 0xEF: "efi"}
EMULATIONS = {0: "none", 1: "1.2m", 2: "1.44m", 3: "2.88m", 4: "hdd"}
FLOPPY_BYTES = {"1.2m": 1_228_800, "1.44m": 1_474_560, "2.88m": 2_949_120}
BOOTABLE, NOT_BOOTABLE = 0x88, 0x00
SECTION_HEADER, FINAL_SECTION_HEADER, EXTENSION = 0x90, 0x91, 0x44
MAX_CATALOG_SECTORS = 8
VIRTUAL_SECTOR = 512
CHUNK_SECTORS = 512                   # 1 MiB read at a time when hashing or copying a boot image


@dataclass(frozen=True, slots=True)
class Catalog:
    lba: int
    validation_platform: str
    id_string: str
    checksum_ok: bool
    entries: tuple[tuple[int, str, dict], ...]        # (entry_no, platform, fields)


def catalog_lba(boot_record: BootRecord) -> int | None:
    """The catalog's LBA from a boot record volume descriptor, or None if it is not El Torito's."""
    # boot system identifier "EL TORITO SPECIFICATION" (padded with zeros); the first 4 bytes of the
    # boot system use (descriptor byte 47h) hold the catalog's LBA, little-endian (El Torito 2.0)
    if not boot_record.boot_system_id.startswith(EL_TORITO_ID):
        return None
    return struct.unpack_from("<I", boot_record.boot_system_use, 0)[0]


def _platform(code: int) -> str:
    return PLATFORMS.get(code, f"{code:02x}")


def _entry(raw: bytes) -> dict:
    # byte 0 boot indicator (88h bootable, 00h not), byte 1 bits 0-3 media type (emulation),
    # bytes 2-3 load segment (LE), byte 4 system type, bytes 6-7 sector count (512-byte virtual
    # sectors, LE), bytes 8-11 load RBA (LE); in a section entry byte 12 is the selection criteria type
    return {
        "bootable": raw[0] == BOOTABLE,
        "emulation": EMULATIONS.get(raw[1] & 0x0F, f"{raw[1] & 0x0F:x}"),
        "load_segment": struct.unpack_from("<H", raw, 2)[0],
        "system_type": raw[4],
        "sector_count": struct.unpack_from("<H", raw, 6)[0],
        "lba": struct.unpack_from("<I", raw, 8)[0],
        "has_extension": bool(raw[1] & 0x20),
    }


def parse_catalog(data: bytes, lba: int) -> Catalog | None:
    """The validation entry, the initial/default entry and every section's entries."""
    # validation entry: byte 0 header id 01h, byte 1 platform, 4-27 id string, 28-29 checksum,
    # 30-31 key 55h AAh; the 16-bit words of the entry sum to 0
    if len(data) < 64 or data[0] != 0x01 or data[30:32] != b"\x55\xaa":
        return None
    checksum_ok = sum(struct.unpack_from("<16H", data, 0)) & 0xFFFF == 0
    platform = _platform(data[1])
    entries = [(1, platform, _entry(data[32:64]))]
    pos = 64
    while pos + 32 <= len(data):
        header = data[pos]
        if header not in (SECTION_HEADER, FINAL_SECTION_HEADER):
            break
        # section header: byte 0 90h (more follow) / 91h (final), 1 platform, 2-3 entry count, 4-31 id
        section_platform = _platform(data[pos + 1])
        count = struct.unpack_from("<H", data, pos + 2)[0]
        pos += 32
        taken = 0
        while taken < count and pos + 32 <= len(data):
            raw = data[pos:pos + 32]
            pos += 32
            if raw[0] == EXTENSION:
                continue
            if raw[0] not in (BOOTABLE, NOT_BOOTABLE):
                break
            entries.append((len(entries) + 1, section_platform, _entry(raw)))
            taken += 1
            while pos + 32 <= len(data) and data[pos] == EXTENSION:   # extension records of that entry
                pos += 32
        if header == FINAL_SECTION_HEADER:
            break
    return Catalog(lba, platform, data[4:28].decode("ascii", "replace").rstrip(" \x00"), checksum_ok,
                   tuple(entries))


def _hdd_size(reader: SectorReader, lba: int) -> int | None:
    """Hard-disk emulation: the image is a disk; its MBR's last partition end gives its size."""
    if not reader.readable(lba):
        return None
    mbr = reader.read(lba)[:512]
    if mbr[510:512] != b"\x55\xaa":
        return None
    end = 0
    for i in range(4):
        # partition entry at 446 + 16 i: bytes 8-11 first LBA, 12-15 sector count (512-byte, LE)
        first, count = struct.unpack_from("<II", mbr, 446 + 16 * i + 8)
        end = max(end, first + count)
    return end * VIRTUAL_SECTOR or None


def boot_images(reader: SectorReader, catalog: Catalog, files: list[FileEntry]) -> list[BootImage]:
    """Each catalog entry as a BootImage: its extent, size (see size_source), sha256 and damage."""
    starts = {f.extents[0][0]: f for f in files if f.extents and not f.is_dir}
    out = []
    for entry_no, platform, e in catalog.entries:
        lba, emulation = e["lba"], e["emulation"]
        file = starts.get(lba)
        if file is not None:
            size, source = file.size, f"file {file.path}"
        elif emulation in FLOPPY_BYTES:
            size, source = FLOPPY_BYTES[emulation], "emulation"
        elif emulation == "hdd" and (hdd := _hdd_size(reader, lba)):
            size, source = hdd, "partition table"
        else:
            size, source = e["sector_count"] * VIRTUAL_SECTOR, "load size"
        sectors = (size + SECTOR - 1) // SECTOR
        bad = reader.unreadable_count(lba, sectors) if size else 0
        digest = None
        if size and bad < sectors:
            digest = _sha256(reader, lba, size)
        out.append(BootImage(entry_no, platform, emulation, e["load_segment"], e["sector_count"], lba, size, digest,
                             e["bootable"], bad, e["system_type"], source, file.path if file else None))
    return out


def _chunks(reader: SectorReader, lba: int, size: int):
    """The image's bytes lba .. lba + size, a bounded piece at a time (a boot image may be a 4 GB file)."""
    done = 0
    while done < size:
        sectors = min(CHUNK_SECTORS, (size - done + SECTOR - 1) // SECTOR)
        piece = reader.read(lba, sectors)[:size - done]
        yield piece
        done += len(piece)
        lba += sectors


def _sha256(reader: SectorReader, lba: int, size: int) -> str:
    digest = hashlib.sha256()
    for piece in _chunks(reader, lba, size):
        digest.update(piece)
    return digest.hexdigest()


def read_catalog(reader: SectorReader, boot_record: BootRecord) -> tuple[Catalog | None, list[Unreadable], list[str]]:
    """The boot catalog a boot record points to, what of it is unreadable, and problems."""
    lba = catalog_lba(boot_record)
    if lba is None:
        return None, [], [f"a boot record that is not El Torito's: {boot_record.boot_system_id.strip()}"]
    if not reader.readable(lba):
        return None, [Unreadable(None, None, lba, 1, "boot catalog")], [f"the El Torito boot catalog at LBA {lba} is unreadable"]
    sectors = 1
    while sectors < MAX_CATALOG_SECTORS and reader.readable(lba + sectors):
        sectors += 1
    catalog = parse_catalog(reader.read(lba, sectors), lba)
    if catalog is None:
        return None, [], [f"the sector at LBA {lba} is not an El Torito boot catalog (no validation entry)"]
    problems = [] if catalog.checksum_ok else ["the validation entry's checksum is wrong"]
    return catalog, [], problems


# the emulation as a file name says it; the platform names are PLATFORMS'
EMULATION_NAMES = {"none": "noemul", "1.2m": "floppy1.2m", "1.44m": "floppy1.44m", "2.88m": "floppy2.88m",
                   "hdd": "hdd"}


def boot_image_name(entry_no: int, platform: str, emulation: str, lba: int) -> str:
    """boot-ENTRY-PLATFORM-EMULATION-lbaLBA.img, e.g. boot-01-x86-noemul-lba1234.img: the catalog entry
    (two digits, so a listing sorts in catalog order), what it boots, how, and where its bytes start."""
    emulation = EMULATION_NAMES.get(emulation, f"emul{emulation}")
    safe = lambda text: re.sub(r"[^A-Za-z0-9.]+", "_", str(text)) or "_"  # noqa: E731 - names come from a record
    return f"boot-{int(entry_no):02d}-{safe(platform)}-{safe(emulation)}-lba{int(lba)}.img"


@dataclass(frozen=True, slots=True)
class ExtractedBootImage:
    entry_no: int
    path: Path
    size_bytes: int
    sha256: str
    matches_record: bool | None      # the copy's SHA-256 against the analysis's; None: none recorded

    def as_dict(self) -> dict:
        return {"entry_no": self.entry_no, "path": str(self.path), "size_bytes": self.size_bytes,
                "sha256": self.sha256, "matches_record": self.matches_record}


def extract_boot_images(image_path: Path, boot_images: Iterable[BootImage], out_dir: Path) -> list[ExtractedBootImage]:
    """Copy each boot image (its lba and size_bytes) out of the image into out_dir, named by
    boot_image_name, zeros where the image holds none; hash each copy against the recorded hash."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with SectorReader(image_path, None) as reader:
        for b in boot_images:
            lba, size = max(0, b.lba or 0), max(0, b.size_bytes or 0)      # a hand-edited record may hold NULLs
            target = out_dir / boot_image_name(b.entry_no or 0, b.platform, b.emulation, lba)
            digest = hashlib.sha256()
            with open(target, "wb") as out:
                for piece in _chunks(reader, lba, size):
                    out.write(piece)
                    digest.update(piece)
            sha = digest.hexdigest()
            written.append(ExtractedBootImage(b.entry_no, target, size, sha, sha == b.sha256 if b.sha256 else None))
    return written
