"""UDF descriptors (ECMA-167 3rd edition, OSTA UDF 1.02-2.60): what their bytes are. The reader that
follows them across partitions and directories, against the map, is fs/udf.py. Numbers are
little-endian (ECMA-167 1/7.1)."""
from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone


# tag identifiers (ECMA-167 3/7.2.1, 4/7.2.1)
PVD, AVDP, VDP, IUVD, PD, LVD, USD, TD, LVID = 1, 2, 3, 4, 5, 6, 7, 8, 9
FSD, FID, AED, IE, TE, FE, EAHD, USE, SBD, PIE, EFE = 256, 257, 258, 259, 260, 261, 262, 263, 264, 265, 266
ANCHOR_LBA = 256
FILE_TYPE_DIRECTORY, FILE_TYPE_SYMLINK, FILE_TYPE_METADATA, FILE_TYPE_METADATA_MIRROR = 4, 12, 250, 251
AD_SHORT, AD_LONG, AD_EXTENDED, AD_EMBEDDED = 0, 1, 2, 3
AD_WIDTH = {AD_SHORT: 8, AD_LONG: 16, AD_EXTENDED: 20}
EXTENT_RECORDED, EXTENT_NOT_RECORDED, EXTENT_NOT_ALLOCATED, EXTENT_NEXT = 0, 1, 2, 3
FID_DIRECTORY, FID_DELETED, FID_PARENT = 0x02, 0x04, 0x08
METADATA_PARTITION = b"*UDF Metadata Partition"
MAX_PARTITION_MAPS = 64
PARTITION_MAPS_OFFSET = 440


def tag(data: bytes, offset: int = 0) -> tuple[int, int] | None:
    """(identifier, location) of a valid descriptor tag (ECMA-167 3/7.2), or None."""
    # bytes 0-1 identifier, 2-3 version, 4 checksum (sum of bytes 0-3 and 5-15), 6-7 serial,
    # 8-9 CRC, 10-11 CRC length, 12-15 tag location
    t = data[offset: offset + 16]
    if len(t) < 16 or (sum(t[:4]) + sum(t[5:16])) & 0xFF != t[4]:
        return None
    ident, version = struct.unpack_from("<HH", t, 0)
    if version not in (2, 3) or not 1 <= ident <= 266:
        return None
    return ident, struct.unpack_from("<I", t, 12)[0]


def dstring(raw: bytes, *, length_byte: bool = True) -> str:
    """OSTA CS0 (UDF 2.1.1): compression id 8 (one byte a character) or 16 (UCS-2 big-endian)."""
    if not raw:
        return ""
    if length_byte:
        raw = raw[: raw[-1]] if raw[-1] else b""
    if not raw:
        return ""
    comp, body = raw[0], raw[1:]
    if comp in (16, 255):
        return body[: len(body) // 2 * 2].decode("utf-16-be", "replace")
    return body.decode("latin-1")


def timestamp(raw: bytes) -> str | None:
    # ECMA-167 1/7.3: 0-1 type (bits 12-15) and time zone (bits 0-11, signed minutes, -2047 unset),
    # 2-3 year, 4 month, 5 day, 6 hour, 7 minute, 8 second, 9 centiseconds, 10-11 sub-second
    tz_word, year = struct.unpack_from("<Hh", raw, 0)
    if not year and not raw[4]:
        return None
    tz = tz_word & 0x0FFF
    tz = tz - 0x1000 if tz & 0x800 else tz
    try:
        local = datetime(year, raw[4], raw[5], raw[6], raw[7], raw[8], tzinfo=timezone.utc)
        if (tz_word >> 12) == 1 and tz != -2047:
            local -= timedelta(minutes=tz)
    except (ValueError, OverflowError):       # no such date, or one a time zone pushes past year 9999
        return None
    return local.strftime("%Y-%m-%dT%H:%M:%SZ")


def regid(raw: bytes) -> str:
    # flags (1), identifier (23), suffix (8)
    return raw[1:24].split(b"\0")[0].decode("latin-1").strip()


def anchor_extents(avdp: bytes) -> list[tuple[int, int]]:
    """(length in bytes, location) of the main and the reserve volume descriptor sequence."""
    # AVDP (3/10.2): 16-23 main VDS extent (length, location), 24-31 reserve VDS extent
    return [struct.unpack_from("<II", avdp, 16), struct.unpack_from("<II", avdp, 24)]


def primary_volume(d: bytes) -> dict:
    """A primary volume descriptor's (3/10.1) identification, as the record's details hold it."""
    # 24 volume identifier dstring[32], 72 volume set identifier dstring[128],
    # 344 application regid, 376 recording time, 388 implementation regid
    return {"volume_id": dstring(d[24:56]), "volume_set_id": dstring(d[72:200]), "application_id": regid(d[344:376]),
            "recording_time": timestamp(d[376:388]), "implementation_id": regid(d[388:420])}


def partition(d: bytes) -> dict:
    """A partition descriptor (3/10.5): number, start, length (blocks), contents, access type."""
    # 22-23 partition number, 24 contents regid (+NSR02/+NSR03), 184 access type,
    # 188 starting location, 192 length
    start, length = struct.unpack_from("<II", d, 188)
    return {"number": struct.unpack_from("<H", d, 22)[0], "start": start, "length": length,
            "contents": regid(d[24:56]), "access_type": struct.unpack_from("<I", d, 184)[0]}


@dataclass(frozen=True, slots=True)
class LogicalVolume:
    """A logical volume descriptor (3/10.6)."""

    # 84 logical volume identifier dstring[128], 212 block size, 216 domain regid (suffix 24-25: UDF
    # revision, BCD), 248 file set descriptor long_ad, 264 map table length, 268 number of maps,
    # 440 partition maps
    logical_volume_id: str
    block_size: int
    domain: str
    udf_revision: str | None
    fsd: tuple[int, int]                  # (partition reference, lbn)
    map_count: int


def logical_volume(d: bytes) -> LogicalVolume:
    domain = d[216:248]
    revision = struct.unpack_from("<H", domain, 24)[0]
    _, lbn, ref = struct.unpack_from("<IIH", d, 248)
    return LogicalVolume(dstring(d[84:212]), struct.unpack_from("<I", d, 212)[0], regid(domain),
                         f"{revision >> 8:x}.{revision & 0xFF:02x}" if revision else None, (ref, lbn),
                         struct.unpack_from("<I", d, 268)[0])


def partition_maps(d: bytes, count: int) -> tuple[list[dict], list[str]]:
    """The partition maps of a logical volume descriptor (3/10.7, UDF 2.2.10), and problems."""
    from .udf_tables import type2_map          # sparable and virtual maps; it decodes with this module's helpers
    maps: list[dict] = []
    problems: list[str] = []
    pos = PARTITION_MAPS_OFFSET
    for _ in range(min(count, MAX_PARTITION_MAPS)):
        # byte 0 type, byte 1 length
        mtype, mlen = (d[pos], d[pos + 1]) if pos + 2 <= len(d) else (None, 0)
        if mtype is None or pos + {1: 6, 2: 48}.get(mtype, 2) > len(d):
            problems.append(f"partition map {len(maps) + 1} runs past its descriptor's end")
            break
        if mtype == 1:
            # type 1: 2-3 volume sequence number, 4-5 partition number
            maps.append({"kind": "physical", "partition": struct.unpack_from("<H", d, pos + 4)[0]})
        elif mtype == 2:
            # type 2: 4 entity identifier (regid; identifier from 5), 36-37 volume sequence, 38-39 partition
            ident = d[pos + 5: pos + 28].split(b"\0")[0]
            number = struct.unpack_from("<H", d, pos + 38)[0]
            if ident == METADATA_PARTITION:
                # 40 metadata file location, 44 mirror file location, 48 bitmap location (LBNs in `number`)
                loc, mirror = struct.unpack_from("<II", d, pos + 40)
                maps.append({"kind": "metadata", "partition": number, "file": loc, "mirror": mirror})
            elif (known := type2_map(d[pos:pos + max(mlen, 48)])) is not None:
                maps.append(known)                  # sparable or virtual (fs/udf_tables.py)
            else:
                kind = ident.decode("latin-1").lstrip("*")
                maps.append({"kind": kind, "partition": number})
                problems.append(f"partition map '{kind}': read as a physical partition")
        else:
            problems.append(f"partition map type {mtype} is unknown")
            maps.append({"kind": f"type {mtype}", "partition": 0})
        pos += max(mlen, 6)
    return maps, problems


def file_set(fsd: bytes) -> tuple[dict, tuple[int, int]]:
    """A file set descriptor's (4/14.1) details and its root directory's ICB (partition ref, lbn)."""
    # 16 recording time, 112 logical volume id, 304 file set id dstring[32], 400 root ICB long_ad
    _, root_lbn, root_ref = struct.unpack_from("<IIH", fsd, 400)
    return {"file_set_id": dstring(fsd[304:336]), "file_set_time": timestamp(fsd[16:28])}, (root_ref, root_lbn)


@dataclass(frozen=True, slots=True)
class FileEntryFields:
    """A file entry (4/14.9) or extended file entry (4/14.17), but its allocation descriptors' meaning."""

    strategy: int
    file_type: int
    ad_type: int                          # AD_SHORT, AD_LONG, AD_EXTENDED, AD_EMBEDDED
    uid: int
    gid: int
    permissions: int
    size: int
    mtime: str | None
    ads: bytes                            # allocation descriptors, or the data when embedded


def file_entry(d: bytes, extended: bool) -> FileEntryFields:
    # ICB tag at 16: 20-21 strategy type, 27 file type, 34-35 flags (bits 0-2: allocation descriptor type);
    # 36 uid, 40 gid, 44 permissions, 56 information length (8 bytes)
    strategy, file_type, flags = struct.unpack_from("<H", d, 20)[0], d[27], struct.unpack_from("<H", d, 34)[0]
    uid, gid, permissions = struct.unpack_from("<III", d, 36)
    size = struct.unpack_from("<Q", d, 56)[0]
    if extended:
        # EFE: 92 modification time, 208 L_EA, 212 L_AD, 216 extended attributes, then ADs
        mtime, l_ea, l_ad, base = timestamp(d[92:104]), *struct.unpack_from("<II", d, 208), 216
    else:
        # FE: 84 modification time, 168 L_EA, 172 L_AD, 176 extended attributes, then ADs
        mtime, l_ea, l_ad, base = timestamp(d[84:96]), *struct.unpack_from("<II", d, 168), 176
    return FileEntryFields(strategy, file_type, flags & 7, uid, gid, permissions, size, mtime,
                           d[base + l_ea: base + l_ea + l_ad])


def allocation_descriptors(ads: bytes, ad_type: int, ref: int) -> Iterator[tuple[int, int, int, int]]:
    """(extent type, length in bytes, lbn, partition ref) of each short, long or extended allocation
    descriptor (4/14.14), up to the first of length 0. A short one is in partition `ref`."""
    width = AD_WIDTH[ad_type]
    for pos in range(0, len(ads) - width + 1, width):
        # bytes 0-3: extent length (bits 0-29) and type (bits 30-31)
        length_word = struct.unpack_from("<I", ads, pos)[0]
        kind, length = length_word >> 30, length_word & 0x3FFFFFFF
        if length == 0:
            return
        if ad_type == AD_SHORT:        # 4 lbn
            lbn, pref = struct.unpack_from("<I", ads, pos + 4)[0], ref
        elif ad_type == AD_LONG:       # 4 lb_addr (lbn, partition ref)
            lbn, pref = struct.unpack_from("<IH", ads, pos + 4)
        else:                          # extended: 4 recorded length, 8 information length, 12 lb_addr
            lbn, pref = struct.unpack_from("<IH", ads, pos + 12)
        yield kind, length, lbn, pref


def allocation_extent(block: bytes) -> bytes | None:
    """The descriptors an allocation extent descriptor (4/14.5) holds, or None when it is not one."""
    t = tag(block)
    if not t or t[0] != AED:
        return None
    # AED: 20-23 L_AD, 24.. descriptors
    l_ad = struct.unpack_from("<I", block, 20)[0]
    return block[24: 24 + l_ad]


def file_identifiers(body: bytes) -> Iterator[tuple[int, int, str, int]]:
    """(partition ref, lbn, name, characteristics) of each file identifier descriptor (4/14.4) of a
    directory, resynchronising after a gap."""
    pos = 0
    while pos + 38 <= len(body):
        t = tag(body, pos)
        if t is None or t[0] != FID:
            pos = (pos // 4 + 1) * 4             # zeros of an unreadable sector: look on for the next tag
            continue
        # 18 characteristics, 19 L_FI, 20 ICB long_ad (length 4, lbn 4, ref 2), 36 L_IU, 38 .. identifier
        characteristics, l_fi = body[pos + 18], body[pos + 19]
        _, lbn, ref = struct.unpack_from("<IIH", body, pos + 20)
        l_iu = struct.unpack_from("<H", body, pos + 36)[0]
        raw = body[pos + 38 + l_iu: pos + 38 + l_iu + l_fi]
        yield ref, lbn, dstring(raw, length_byte=False), characteristics
        pos += (38 + l_iu + l_fi + 3) // 4 * 4


def path_components(body: bytes) -> str:
    """A symbolic link's target from its path components (4/14.16)."""
    # each: component type (1), length L_CI (1), version (2), identifier
    parts, pos = [], 0
    while pos + 4 <= len(body):
        ctype, length = body[pos], body[pos + 1]
        ident = dstring(body[pos + 4: pos + 4 + length], length_byte=False)
        parts.append({1: "", 2: "", 3: "..", 4: "."}.get(ctype, ident))
        pos += 4 + length
    return "/".join(parts) or "/"



def posix_mode(permissions: int, is_dir: bool, is_link: bool) -> str:
    """A file entry's permissions as ls prints them."""
    # 4/14.9.5: bits 0-4 other (x w r chattr delete), 5-9 group, 10-14 owner
    out = "d" if is_dir else "l" if is_link else "-"
    for shift in (10, 5, 0):
        bits = permissions >> shift
        out += ("r" if bits & 4 else "-") + ("w" if bits & 2 else "-") + ("x" if bits & 1 else "-")
    return out

