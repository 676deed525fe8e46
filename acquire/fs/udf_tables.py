"""UDF structures beyond the basic volume (OSTA UDF 2.60, ECMA-167 3rd edition; little-endian):
Type 2 partition maps, sparing tables, the virtual allocation table, the logical volume integrity
descriptor, and a file entry's other dates, flags and extended attributes. Decoding only."""
from __future__ import annotations

import struct
from dataclasses import dataclass

from .udf_descriptors import dstring, regid, tag, timestamp

SPARABLE = b"*UDF Sparable Partition"
VIRTUAL = b"*UDF Virtual Partition"
SPARING_TABLE = b"*UDF Sparing Table"
VAT_150_ID = b"*UDF Virtual Alloc Tbl"
FILE_TYPE_VAT_20, FILE_TYPE_UNSPECIFIED = 248, 0
SPARE_AVAILABLE, SPARE_DEFECTIVE = 0xFFFFFFF0, 0xFFFFFFF1
VAT_UNUSED = 0xFFFFFFFF
MAX_SPARING_ENTRIES = 8192
FILE_TYPES = {4: "directory", 5: "file", 6: "block device", 7: "character device", 9: "fifo", 10: "socket",
              12: "symlink", 13: "stream directory", 248: "vat", 249: "real-time file", 250: "metadata file",
              251: "metadata mirror file", 252: "metadata bitmap file"}
EA_NAMES = {1: "character set", 3: "alternate permissions", 5: "file times", 6: "information times",
            12: "device specification", 2048: "implementation use", 65536: "application use"}


def sparable_map(m: bytes) -> dict:
    """Type 2 sparable partition map (UDF 2.2.9): 36-37 volume sequence, 38-39 partition number,
    40-41 packet length, 42 number of sparing tables, 44-47 size of each table, 48.. their locations."""
    number, packet, count = struct.unpack_from("<HHB", m, 38)
    size, = struct.unpack_from("<I", m, 44)
    count = min(count, 4, max(0, (len(m) - 48) // 4))
    tables = list(struct.unpack_from(f"<{count}I", m, 48)) if count else []
    return {"kind": "sparable", "partition": number, "packet_length": packet, "sparing_tables": tables,
            "sparing_table_bytes": size}


def type2_map(m: bytes) -> dict | None:
    """A Type 2 map other than the metadata partition's (udf_descriptors reads that one)."""
    ident = m[5:28].split(b"\0")[0]
    number = struct.unpack_from("<H", m, 38)[0]
    if ident == SPARABLE:
        return sparable_map(m)
    if ident == VIRTUAL:
        return {"kind": "virtual", "partition": number}
    return None


@dataclass(frozen=True, slots=True)
class SparingTable:
    """UDF 2.2.12: 0-15 tag (identifier 0), 16-47 sparing identifier regid, 48-49 reallocation table
    length, 52-55 sequence number, 56.. entries (original location u32, mapped location u32)."""

    sequence: int
    remap: dict[int, int]          # packet's first partition block -> first physical sector of its spare
    available: int
    defective: int


def sparing_table(d: bytes) -> SparingTable | None:
    if len(d) < 56 or regid(d[16:48]) != SPARING_TABLE.decode():
        return None
    if (sum(d[:4]) + sum(d[5:16])) & 0xFF != d[4]:
        return None
    length, = struct.unpack_from("<H", d, 48)
    sequence, = struct.unpack_from("<I", d, 52)
    remap, available, defective = {}, 0, 0
    for i in range(min(length, MAX_SPARING_ENTRIES, (len(d) - 56) // 8)):
        original, mapped = struct.unpack_from("<II", d, 56 + 8 * i)
        if original == SPARE_DEFECTIVE:
            defective += 1
        elif original >= SPARE_AVAILABLE:         # F0h available; F2h-FFh reserved, free as the kernel reads them
            available += 1
        else:
            remap[original] = mapped
    return SparingTable(sequence, remap, available, defective)


def vat_table(body: bytes, file_type: int) -> tuple[list[int], dict] | None:
    """The VAT file's entries (virtual block -> partition block) and details. UDF 2.00+ (file type 248,
    2.2.11): 0-1 header length, 2-3 implementation use length, 4-131 logical volume identifier,
    132-135 previous VAT ICB, 136-139 files, 140-143 directories, 144-145 minimum read revision,
    146-147 minimum write, 148-149 maximum write, then entries. UDF 1.50 (file type 0, 2.2.10):
    entries, then the regid '*UDF Virtual Alloc Tbl' and the previous VAT ICB (36 bytes)."""
    if file_type == FILE_TYPE_VAT_20 and len(body) >= 152:
        header, = struct.unpack_from("<H", body, 0)
        if header < 152 or header > len(body):
            return None
        files, dirs, min_read, min_write, max_write = struct.unpack_from("<IIHHH", body, 136)
        entries = body[header:]
        details = {"vat_format": "2.00", "logical_volume_id": dstring(body[4:132]), "files": files,
                   "directories": dirs, "min_read_revision": _revision(min_read),
                   "min_write_revision": _revision(min_write), "max_write_revision": _revision(max_write)}
    elif len(body) >= 36 and regid(body[-36:-4]) == VAT_150_ID.decode():
        entries, details = body[:-36], {"vat_format": "1.50"}
    else:
        return None
    return list(struct.unpack_from(f"<{len(entries) // 4}I", entries)), details


def _revision(bcd: int) -> str:
    return f"{bcd >> 8:x}.{bcd & 0xFF:02x}"


def integrity(d: bytes) -> dict | None:
    """A logical volume integrity descriptor (3/10.10, UDF 2.2.6): 16-27 recording time, 28-31
    integrity type (0 open, 1 close), 32-39 next extent, 72-75 partitions N, 76-79 implementation use
    length, 80.. free space table, size table (N each), implementation use (UDF 2.2.6.4: 0-31
    implementation id, 32-35 files, 36-39 directories, 40-41 minimum read revision, 42-43 minimum
    write, 44-45 maximum write)."""
    t = tag(d)
    if t is None or t[0] != 9 or len(d) < 80:
        return None
    kind, = struct.unpack_from("<I", d, 28)
    next_length, next_location = struct.unpack_from("<II", d, 32)
    n, l_iu = struct.unpack_from("<II", d, 72)
    n = min(n, 64)
    out = {"recorded": timestamp(d[16:28]), "state": {0: "open", 1: "closed"}.get(kind, f"type {kind}"),
           "next_extent": [next_location, next_length] if next_length else None}
    iu = 80 + 8 * n
    if len(d) >= iu + 46 and l_iu >= 46:
        files, dirs, min_read, min_write, max_write = struct.unpack_from("<IIHHH", d, iu + 32)
        out.update(implementation_id=regid(d[iu:iu + 32]), files=files, directories=dirs,
                   min_read_revision=_revision(min_read), min_write_revision=_revision(min_write),
                   max_write_revision=_revision(max_write))
    return out


def entry_metadata(d: bytes, extended: bool) -> dict:
    """What a file entry keeps beyond the listing: every date (with its zone as recorded), link
    count, the ICB flags, unique id, and (EFE) the stream directory; the extended attributes by type.
    FE (4/14.9): 48-49 link count, 72 access, 84 modification, 96 attribute time, 160 unique id,
    168 L_EA, 176 EAs. EFE (4/14.17): 80 access, 92 modification, 104 creation,
    116 attribute time, 152 stream directory ICB, 200 unique id, 208 L_EA, 216 EAs. ICB tag flags
    (16+18, 4/14.6.8): 5 archive, 6 setuid, 7 setgid, 8 sticky, 9 contiguous, 10 system, 13 stream."""
    flags, = struct.unpack_from("<H", d, 34)
    links, = struct.unpack_from("<H", d, 48)
    if extended:
        dates = {"accessed": d[80:92], "modified": d[92:104], "created": d[104:116], "attributes_modified": d[116:128]}
        unique, = struct.unpack_from("<Q", d, 200)
        l_ea, base = struct.unpack_from("<I", d, 208)[0], 216
        stream_length, stream_lbn, stream_ref = struct.unpack_from("<IIH", d, 152)
    else:
        dates = {"accessed": d[72:84], "modified": d[84:96], "attributes_modified": d[96:108]}
        unique, = struct.unpack_from("<Q", d, 160)
        l_ea, base = struct.unpack_from("<I", d, 168)[0], 176
        stream_length = 0
    out: dict = {name: zoned_timestamp(raw) for name, raw in dates.items()}
    out = {k: v for k, v in out.items() if v is not None}
    out.update(link_count=links, unique_id=unique, file_type=FILE_TYPES.get(d[27], str(d[27])))
    for bit, name in ((5, "archive"), (6, "setuid"), (7, "setgid"), (8, "sticky"), (10, "system")):
        if flags & (1 << bit):
            out[name] = True
    if extended and stream_length & 0x3FFFFFFF:
        out["stream_directory"] = [stream_ref, stream_lbn]
    eas = extended_attributes(d[base:base + min(l_ea, max(0, len(d) - base))])
    if eas:
        out["extended_attributes"] = eas
        device = next((e for e in eas if e.get("device")), None)
        if device:
            out["device"] = device["device"]
    return out


def zoned_timestamp(raw: bytes) -> str | None:
    """A timestamp (1/7.3) as ISO 8601 in its own recorded zone (offset suffix), or without one when
    the zone is unspecified (-2047) or the type is not local time."""
    if len(raw) < 12:
        return None
    tz_word, year = struct.unpack_from("<Hh", raw, 0)
    if not year and not raw[4]:
        return None
    if not (1 <= raw[4] <= 12 and 1 <= raw[5] <= 31 and raw[6] < 24 and raw[7] < 60 and raw[8] < 61 and year >= 0):
        return None
    tz = tz_word & 0x0FFF
    tz = tz - 0x1000 if tz & 0x800 else tz
    text = f"{year:04d}-{raw[4]:02d}-{raw[5]:02d}T{raw[6]:02d}:{raw[7]:02d}:{raw[8]:02d}.{raw[9]:02d}"
    if (tz_word >> 12) != 1 or tz == -2047 or abs(tz) > 1440:
        return text
    sign = "+" if tz >= 0 else "-"
    return f"{text}{sign}{abs(tz) // 60:02d}:{abs(tz) % 60:02d}"


def extended_attributes(ea: bytes) -> list[dict]:
    """The attributes after an extended attribute header descriptor (4/14.10.1: tag 262, 16-19
    implementation attributes location, 20-23 application attributes location). Each (4/14.10.2):
    0-3 type, 4 subtype, 8-11 length; device specification (4/14.10.7): 12-15 impl use length,
    16-19 major, 20-23 minor; implementation / application use (4/14.10.8-9): 16-47 regid."""
    t = tag(ea)
    if t is None or t[0] != 262:
        return []
    out, pos = [], 24
    while pos + 12 <= len(ea) and len(out) < 64:
        kind, sub = struct.unpack_from("<IB", ea, pos)
        length, = struct.unpack_from("<I", ea, pos + 8)
        if length < 12 or pos + length > len(ea):
            break
        item: dict = {"type": EA_NAMES.get(kind, kind), "subtype": sub}
        if kind == 12 and length >= 24:
            item["device"] = list(struct.unpack_from("<II", ea, pos + 16))
        elif kind in (2048, 65536) and length >= 48:
            item["id"] = regid(ea[pos + 16:pos + 48])
        out.append(item)
        pos += length
    return out
