"""The system area (LBA 0-15) and what hybrid discs hide there: an MBR, a GPT, an Apple partition
map, and HFS / HFS+ volumes (classic Mac and hybrid ISO/HFS discs)."""
from __future__ import annotations

import struct
import uuid

from .reader import SECTOR, SectorReader

SYSTEM_AREA_SECTORS = 16
MBR_SIGNATURE = b"\x55\xaa"
GPT_SIGNATURE = b"EFI PART"
APM_DDM, APM_ENTRY = b"ER", b"PM"
HFS_SIGNATURE, HFSPLUS_SIGNATURES = b"BD", (b"H+", b"HX")
HFS_EPOCH_TO_UNIX = 2_082_844_800           # seconds from 1904-01-01 to 1970-01-01
EFI_SYSTEM = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
BASIC_DATA = "ebd0a0a2-b9e5-4433-87c0-68b6b72699c7"
HFSPLUS_GUID = "48465300-0000-11aa-aa11-00306543ecac"
GUID_NAMES = {EFI_SYSTEM: "EFI System", BASIC_DATA: "Basic data", HFSPLUS_GUID: "Apple HFS+"}


def _mbr(area: bytes, volume_sectors: int | None) -> dict | None:
    # bytes 446-509 four 16-byte entries, 510-511 55h AAh. Entry: byte 0 status (80h active),
    # byte 4 type, bytes 8-11 first LBA, 12-15 sector count (512-byte sectors, LE)
    if area[510:512] != MBR_SIGNATURE:
        return None
    partitions = []
    for i in range(4):
        e = area[446 + 16 * i: 462 + 16 * i]
        status, ptype = e[0], e[4]
        first, count = struct.unpack_from("<II", e, 8)
        if ptype == 0 and not count:
            continue
        if status not in (0x00, 0x80):
            return None                          # not a partition table: boot code that ends in 55AA
        p = {"number": i + 1, "type": f"{ptype:02x}", "active": status == 0x80, "first_lba_512": first,
             "sectors_512": count}
        if volume_sectors is not None and (first + count) * 512 > volume_sectors * SECTOR:
            p["beyond_iso_volume"] = True
        partitions.append(p)
    if not partitions:
        return None
    return {"partitions": partitions, "protective": any(p["type"] == "ee" for p in partitions),
            "isohybrid": area[:2] in (b"\x33\xed", b"\xfa\x31", b"\xeb\x63") or area[0x40:0x44] == b"\xfb\xc0\x78\x70"}


def _gpt(reader: SectorReader, area: bytes, volume_sectors: int | None) -> dict | None:
    """A GPT header at 512-byte LBA 1 (isohybrid) or at 2048-byte LBA 1 (UEFI 2.x 5.3.2)."""
    for block in (512, SECTOR):
        h = area[block: block + 92]
        if h[:8] != GPT_SIGNATURE:
            continue
        # bytes 8-11 revision, 12-15 header size, 24-31 my LBA, 32-39 alternate LBA, 40-47 first usable,
        # 48-55 last usable, 56-71 disk GUID, 72-79 entries LBA, 80-83 entry count, 84-87 entry size
        my_lba, alt_lba, first_usable, last_usable = struct.unpack_from("<QQQQ", h, 24)
        entries_lba, count, entry_size = struct.unpack_from("<QII", h, 72)
        details = {
            "block_size": block, "revision": f"{h[10]}.{h[9]}{h[8]}", "my_lba": my_lba, "alternate_lba": alt_lba,
            "first_usable_lba": first_usable, "last_usable_lba": last_usable,
            "disk_guid": str(uuid.UUID(bytes_le=bytes(h[56:72]))), "partitions": [],
        }
        if entry_size < 128 or count > 1024:
            details["problem"] = f"implausible partition entries: {count} of {entry_size} bytes"
            return details
        offset, length = entries_lba * block, count * entry_size
        first_sector, last_sector = offset // SECTOR, (offset + length - 1) // SECTOR
        if not reader.readable(first_sector, last_sector - first_sector + 1):
            details["problem"] = f"the partition entries at LBA {first_sector} are unreadable"
            return details
        table = reader.read_bytes(offset, length)
        for i in range(count):
            # entry: 0-15 type GUID, 16-31 unique GUID, 32-39 first LBA, 40-47 last LBA, 48-55 attributes,
            # 56-127 name (UTF-16LE)
            e = table[i * entry_size: (i + 1) * entry_size]
            if e[:16] == bytes(16):
                continue
            ptype = str(uuid.UUID(bytes_le=bytes(e[:16])))
            first, last, attributes = struct.unpack_from("<QQQ", e, 32)
            p = {"number": i + 1, "type_guid": ptype, "type": GUID_NAMES.get(ptype, ptype),
                 "guid": str(uuid.UUID(bytes_le=bytes(e[16:32]))), "first_lba": first, "last_lba": last,
                 "attributes": attributes, "name": e[56:128].decode("utf-16-le", "replace").rstrip("\x00")}
            if volume_sectors is not None and (last + 1) * block > volume_sectors * SECTOR:
                p["beyond_iso_volume"] = True
            details["partitions"].append(p)
        return details
    return None


def _apm(reader: SectorReader, area: bytes) -> dict | None:
    """Apple partition map: a driver descriptor 'ER' at byte 0, 'PM' entries from block 1."""
    # Driver Descriptor Map: 0-1 'ER', 2-3 block size (BE), 4-7 block count
    if area[:2] != APM_DDM:
        return None
    block = struct.unpack_from(">H", area, 2)[0]
    if block not in (512, 1024, 2048):
        return None
    partitions = []
    # entry: 0-1 'PM', 4-7 map entries, 8-11 first block, 12-15 block count, 16-47 name, 48-79 type
    total = 1
    i = 1
    while i <= total and i < 64:
        e = reader.read_bytes(i * block, 512)
        if e[:2] != APM_ENTRY:
            break
        total, first, count = struct.unpack_from(">III", e, 4)
        partitions.append({
            "number": i, "name": e[16:48].split(b"\0")[0].decode("mac_roman", "replace"),
            "type": e[48:80].split(b"\0")[0].decode("mac_roman", "replace"), "first_block": first,
            "blocks": count, "offset_bytes": first * block,
        })
        i += 1
    return {"block_size": block, "partitions": partitions} if partitions else None


def _hfs_time(seconds: int) -> str | None:
    from datetime import datetime, timezone
    if not seconds:
        return None
    return datetime.fromtimestamp(seconds - HFS_EPOCH_TO_UNIX, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def hfs_volume(reader: SectorReader, offset: int) -> tuple[str, str | None, dict] | None:
    """An HFS master directory block or HFS+ volume header 1024 bytes into a volume at `offset`."""
    sector = (offset + 1024) // SECTOR
    if not reader.readable(sector):
        return None
    h = reader.read_bytes(offset + 1024, 512)
    if h[:2] == HFS_SIGNATURE:
        # MDB (Inside Macintosh: Files 2-60): 2-5 create date, 6-9 modify, 18-19 allocation blocks,
        # 20-23 block size, 28-29 first allocation block (drAlBlSt, 512-byte units), 36 volume name
        # (Pascal string, 27 max), 124-125 embedded signature
        name = h[37:37 + min(h[36], 27)].decode("mac_roman", "replace")
        details = {"offset_bytes": offset, "created": _hfs_time(struct.unpack_from(">I", h, 2)[0]),
                   "modified": _hfs_time(struct.unpack_from(">I", h, 6)[0]),
                   "allocation_blocks": struct.unpack_from(">H", h, 18)[0],
                   "allocation_block_size": struct.unpack_from(">I", h, 20)[0],
                   "first_allocation_block_512": struct.unpack_from(">H", h, 28)[0]}
        if h[124:126] in HFSPLUS_SIGNATURES:
            details["embedded_hfsplus"] = True
        return "hfs", name, details
    if h[:2] in HFSPLUS_SIGNATURES:
        # volume header (TN1150): 0-1 signature, 2-3 version, 16-19 create date, 20-23 modify,
        # 40-43 block size, 44-47 total blocks, 48-51 free blocks
        version, = struct.unpack_from(">H", h, 2)
        created, modified = struct.unpack_from(">II", h, 16)
        block, total, free = struct.unpack_from(">III", h, 40)
        return "hfsplus", None, {"offset_bytes": offset, "signature": h[:2].decode(), "version": version,
                                 "created": _hfs_time(created), "modified": _hfs_time(modified),
                                 "block_size": block, "total_blocks": total, "free_blocks": free}
    return None


def system_area(reader: SectorReader, volume_sectors: int | None) -> tuple[list[tuple[str, str | None, dict]], list[str]]:
    """(kind, label, details) of each structure found in the system area, and problems."""
    found: list[tuple[str, str | None, dict]] = []
    problems: list[str] = []
    if reader.sectors == 0:
        return found, problems
    bad = reader.bad_runs(0, min(SYSTEM_AREA_SECTORS, reader.sectors))
    if bad:
        problems.append("system area sectors " + ", ".join(f"{a}..{a + n - 1}" for a, n in bad) + " are unreadable")
    if not reader.readable(0):
        return found, problems
    area = reader.read(0, 2)
    if (mbr := _mbr(area, volume_sectors)) is not None:
        found.append(("mbr", None, mbr))
    if (gpt := _gpt(reader, area, volume_sectors)) is not None:
        found.append(("gpt", None, gpt))
    if (apm := _apm(reader, area)) is not None:
        found.append(("apm", None, apm))
        for p in apm["partitions"]:
            if "HFS" in p["type"].upper() and (volume := hfs_volume(reader, p["offset_bytes"])):
                volume[2]["apm_partition"] = p["number"]
                found.append(volume)
    elif (volume := hfs_volume(reader, 0)) is not None:         # a bare HFS volume (hformat on a file)
        found.append(volume)
    return found, problems
