"""UDF (ECMA-167 3rd edition, OSTA UDF 1.02-2.60) read against the map: anchor, volume descriptor
sequence, partitions (physical, UDF 2.50 metadata), logical volume, file set, file entries and
allocation descriptors; enough to list files and their extents. Pure UDF discs (most BD-ROMs) have
no ISO 9660 side, and pycdlib reads UDF only beside one."""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ..record.fs_tables import FileEntry, Filesystem, Unreadable
from .reader import SECTOR, SectorReader

# tag identifiers (ECMA-167 3/7.2.1, 4/7.2.1)
PVD, AVDP, VDP, IUVD, PD, LVD, USD, TD, LVID = 1, 2, 3, 4, 5, 6, 7, 8, 9
FSD, FID, AED, IE, TE, FE, EAHD, USE, SBD, PIE, EFE = 256, 257, 258, 259, 260, 261, 262, 263, 264, 265, 266
ANCHOR_LBA = 256
FILE_TYPE_DIRECTORY, FILE_TYPE_SYMLINK, FILE_TYPE_METADATA, FILE_TYPE_METADATA_MIRROR = 4, 12, 250, 251
AD_SHORT, AD_LONG, AD_EXTENDED, AD_EMBEDDED = 0, 1, 2, 3
EXTENT_RECORDED, EXTENT_NOT_RECORDED, EXTENT_NOT_ALLOCATED, EXTENT_NEXT = 0, 1, 2, 3
FID_DIRECTORY, FID_DELETED, FID_PARENT = 0x02, 0x04, 0x08
METADATA_PARTITION = b"*UDF Metadata Partition"
MAX_DIRECTORY_BYTES = 64 << 20
MAX_ENTRIES = 2_000_000


class UdfError(Exception):
    pass


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
    except ValueError:
        return None
    if (tz_word >> 12) == 1 and tz != -2047:
        local -= timedelta(minutes=tz)
    return local.strftime("%Y-%m-%dT%H:%M:%SZ")


def regid(raw: bytes) -> str:
    # flags (1), identifier (23), suffix (8)
    return raw[1:24].split(b"\0")[0].decode("latin-1").strip()


@dataclass
class Partition:
    number: int
    start: int
    length: int


@dataclass
class Volume:
    block_size: int = SECTOR
    label: str | None = None
    details: dict = field(default_factory=dict)
    partitions: dict[int, Partition] = field(default_factory=dict)     # by partition number
    maps: list[dict] = field(default_factory=list)                     # by partition reference
    fsd: tuple[int, int] | None = None                                 # (partition ref, lbn)
    metadata_extents: dict[int, list[tuple[int, int, int]]] = field(default_factory=dict)  # ref -> (file blk, phys lba, blocks)


class UdfReader:
    def __init__(self, reader: SectorReader, fs_id: int) -> None:
        self.r = reader
        self.fs_id = fs_id
        self.problems: list[str] = []
        self.unreadable: list[Unreadable] = []
        self.files: list[FileEntry] = []
        self.v = Volume()

    # --- addressing ---------------------------------------------------------------------------
    def lba(self, ref: int, lbn: int) -> int:
        """The absolute sector of logical block `lbn` of partition reference `ref`."""
        if ref >= len(self.v.maps):
            raise UdfError(f"partition reference {ref} is not in the logical volume's {len(self.v.maps)} maps")
        m = self.v.maps[ref]
        if m["kind"] == "metadata":
            for file_block, phys, blocks in self.v.metadata_extents.get(ref, ()):
                if file_block <= lbn < file_block + blocks:
                    return phys + (lbn - file_block)
            raise UdfError(f"block {lbn} of the metadata partition is not mapped by its metadata file")
        part = self.v.partitions.get(m["partition"])
        if part is None:
            raise UdfError(f"partition {m['partition']} has no partition descriptor")
        return part.start + lbn

    def runs(self, ref: int, lbn: int, blocks: int) -> list[tuple[int, int]]:
        """Absolute (lba, count) runs of `blocks` blocks from (ref, lbn): split where a metadata
        partition's mapping is not contiguous."""
        out: list[tuple[int, int]] = []
        if self.v.maps[ref]["kind"] != "metadata":
            return [(self.lba(ref, lbn), blocks)] if blocks else []
        for i in range(blocks):
            lba = self.lba(ref, lbn + i)
            if out and out[-1][0] + out[-1][1] == lba:
                out[-1] = (out[-1][0], out[-1][1] + 1)
            else:
                out.append((lba, 1))
        return out

    def block(self, lba: int, what: str, path: str | None) -> bytes | None:
        if not self.r.readable(lba):
            self.unreadable.append(Unreadable(self.fs_id, path, lba, 1, what))
            self.problems.append(f"{what} at LBA {lba}" + (f" ({path})" if path else "") + " is unreadable")
            return None
        return self.r.read(lba)

    # --- the volume -----------------------------------------------------------------------------
    def mount(self) -> bool:
        anchors = [ANCHOR_LBA, self.r.sectors - 1, self.r.sectors - 1 - ANCHOR_LBA]
        avdp = None
        for lba in anchors:
            if 0 <= lba < self.r.sectors and self.r.readable(lba):
                data = self.r.read(lba)
                if (t := tag(data)) and t[0] == AVDP:
                    avdp = data
                    self.v.details["anchor_lba"] = lba
                    break
            elif 0 <= lba < self.r.sectors:
                self.unreadable.append(Unreadable(self.fs_id, None, lba, 1, "anchor"))
        if avdp is None:
            return False
        # AVDP: 16-23 main VDS extent (length, location), 24-31 reserve VDS extent
        sequences = [struct.unpack_from("<II", avdp, 16), struct.unpack_from("<II", avdp, 24)]
        for which, (length, location) in zip(("main", "reserve"), sequences):
            if self._read_vds(location, length // SECTOR, which):
                break
        if not self.v.maps or self.v.fsd is None:
            self.problems.append("no usable logical volume descriptor in either volume descriptor sequence")
            return False
        self._load_metadata_partitions()
        return True

    def _read_vds(self, location: int, sectors: int, which: str) -> bool:
        found_lvd = False
        for lba in range(location, location + min(sectors, 256)):
            if not self.r.readable(lba):
                self.unreadable.append(Unreadable(self.fs_id, None, lba, 1, "descriptor"))
                self.problems.append(f"{which} volume descriptor sequence: LBA {lba} is unreadable")
                continue
            d = self.r.read(lba)
            t = tag(d)
            if t is None:
                continue
            if t[0] == TD:
                break
            if t[0] == PVD:
                # 24 volume identifier dstring[32], 72 volume set identifier dstring[128],
                # 344 application regid, 376 recording time, 388 implementation regid
                self.v.label = dstring(d[24:56])
                self.v.details.update(volume_id=self.v.label, volume_set_id=dstring(d[72:200]),
                                      application_id=regid(d[344:376]), recording_time=timestamp(d[376:388]),
                                      implementation_id=regid(d[388:420]))
            elif t[0] == PD:
                # 22-23 partition number, 24 contents regid (+NSR02/+NSR03), 184 access type,
                # 188 starting location, 192 length
                number = struct.unpack_from("<H", d, 22)[0]
                start, length = struct.unpack_from("<II", d, 188)
                self.v.partitions[number] = Partition(number, start, length)
                self.v.details.setdefault("partitions", []).append(
                    {"number": number, "start": start, "length": length, "contents": regid(d[24:56]),
                     "access_type": struct.unpack_from("<I", d, 184)[0]})
            elif t[0] == LVD:
                found_lvd = self._lvd(d) or found_lvd
        return found_lvd

    def _lvd(self, d: bytes) -> bool:
        # 84 logical volume identifier dstring[128], 212 block size, 216 domain regid, 248 file set
        # descriptor long_ad, 264 map table length, 268 number of maps, 440 partition maps
        self.v.block_size = struct.unpack_from("<I", d, 212)[0]
        domain = d[216:248]
        self.v.details.update(logical_volume_id=dstring(d[84:212]), logical_block_size=self.v.block_size,
                              domain=regid(domain))
        revision = struct.unpack_from("<H", domain, 24)[0]    # domain suffix: UDF revision (BCD)
        if revision:
            self.v.details["udf_revision"] = f"{revision >> 8:x}.{revision & 0xFF:02x}"
        if self.v.block_size != SECTOR:
            self.problems.append(f"logical block size {self.v.block_size} is not 2048: not supported")
            return False
        length, lbn, ref = struct.unpack_from("<IIH", d, 248)
        self.v.fsd = (ref, lbn)
        count = struct.unpack_from("<I", d, 268)[0]
        pos = 440
        maps = []
        for _ in range(min(count, 64)):
            mtype, mlen = d[pos], d[pos + 1]
            if mtype == 1:
                # type 1: 2-3 volume sequence number, 4-5 partition number
                maps.append({"kind": "physical", "partition": struct.unpack_from("<H", d, pos + 4)[0]})
            elif mtype == 2:
                ident = d[pos + 5: pos + 28].split(b"\0")[0]
                number = struct.unpack_from("<H", d, pos + 38)[0]
                if ident == METADATA_PARTITION:
                    # 40 metadata file location, 44 mirror file location, 48 bitmap location (LBNs in `number`)
                    loc, mirror = struct.unpack_from("<II", d, pos + 40)
                    maps.append({"kind": "metadata", "partition": number, "file": loc, "mirror": mirror})
                else:
                    kind = ident.decode("latin-1").lstrip("*")
                    maps.append({"kind": kind, "partition": number})
                    self.problems.append(f"partition map '{kind}': read as a physical partition")
            else:
                self.problems.append(f"partition map type {mtype} is unknown")
                maps.append({"kind": f"type {mtype}", "partition": 0})
            pos += max(mlen, 6)
        self.v.maps = maps
        self.v.details["partition_maps"] = maps
        return True

    def _load_metadata_partitions(self) -> None:
        for ref, m in enumerate(self.v.maps):
            if m["kind"] != "metadata":
                continue
            part = self.v.partitions.get(m["partition"])
            if part is None:
                continue
            for which in ("file", "mirror"):
                lba = part.start + m[which]
                entry = self.block(lba, f"metadata {which}", None)
                if entry is None:
                    continue
                fe = self._file_entry(entry, lba, None, physical_ref=m["partition"])
                if fe is None:
                    continue
                blocks, extents = 0, []
                for phys, count in fe["extents"]:
                    extents.append((blocks, phys, count))
                    blocks += count
                self.v.metadata_extents[ref] = extents
                break
            else:
                self.problems.append("the metadata partition's file and mirror are both unreadable")

    # --- file entries and allocation descriptors ----------------------------------------------
    def _file_entry(self, d: bytes, lba: int, path: str | None, *, ref: int = 0,
                    physical_ref: int | None = None) -> dict | None:
        t = tag(d)
        if t is None or t[0] not in (FE, EFE):
            self.problems.append(f"no file entry at LBA {lba}" + (f" ({path})" if path else ""))
            return None
        extended = t[0] == EFE
        # ICB tag at 16: 20-21 strategy type, 27 file type, 34-35 flags (bits 0-2: allocation descriptor type)
        strategy, file_type, flags = struct.unpack_from("<H", d, 20)[0], d[27], struct.unpack_from("<H", d, 34)[0]
        if strategy not in (4, 4096):
            self.problems.append(f"file entry at LBA {lba}: ICB strategy {strategy} is not supported")
        uid, gid, permissions = struct.unpack_from("<III", d, 36)
        size = struct.unpack_from("<Q", d, 56)[0]
        if extended:
            # EFE: 92 modification time, 208 L_EA, 212 L_AD, 216 extended attributes, then ADs
            mtime, l_ea, l_ad, base = timestamp(d[92:104]), *struct.unpack_from("<II", d, 208), 216
        else:
            # FE: 84 modification time, 168 L_EA, 172 L_AD, 176 extended attributes, then ADs
            mtime, l_ea, l_ad, base = timestamp(d[84:96]), *struct.unpack_from("<II", d, 168), 176
        ads = d[base + l_ea: base + l_ea + l_ad]
        ad_type = flags & 7
        out = {"file_type": file_type, "size": size, "mtime": mtime, "uid": uid, "gid": gid,
               "permissions": permissions, "embedded": ad_type == AD_EMBEDDED, "extents": [], "data": None}
        if ad_type == AD_EMBEDDED:
            out["data"] = ads[:size]
            return out
        ref_for_short = physical_ref if physical_ref is not None else ref
        out["extents"] = self._allocation(ads, ad_type, ref_for_short, size, path, physical=physical_ref is not None)
        return out

    def _allocation(self, ads: bytes, ad_type: int, ref: int, size: int, path: str | None, *,
                    physical: bool) -> list[tuple[int, int]]:
        extents: list[tuple[int, int]] = []
        width = {AD_SHORT: 8, AD_LONG: 16, AD_EXTENDED: 20}.get(ad_type)
        if width is None:
            self.problems.append(f"{path}: allocation descriptor type {ad_type} is unknown")
            return extents
        remaining = size
        hops = 0
        while ads and hops < 1024:
            hops += 1
            next_ads = b""
            for pos in range(0, len(ads) - width + 1, width):
                length_word = struct.unpack_from("<I", ads, pos)[0]
                kind, length = length_word >> 30, length_word & 0x3FFFFFFF
                if length == 0:
                    break
                if ad_type == AD_SHORT:
                    lbn, pref = struct.unpack_from("<I", ads, pos + 4)[0], ref
                elif ad_type == AD_LONG:
                    lbn, pref = struct.unpack_from("<IH", ads, pos + 4)
                else:   # extended: 0 length, 4 recorded length, 8 information length, 12 lb_addr
                    lbn, pref = struct.unpack_from("<IH", ads, pos + 12)
                blocks = (length + SECTOR - 1) // SECTOR
                if kind == EXTENT_NEXT:
                    lba = self._phys(pref, lbn, physical)
                    block = self.block(lba, "allocation extent", path)
                    t = tag(block) if block else None
                    if t and t[0] == AED:
                        # AED: 20-23 L_AD, 24.. descriptors
                        l_ad = struct.unpack_from("<I", block, 20)[0]
                        next_ads = block[24: 24 + l_ad]
                    break
                if kind == EXTENT_RECORDED:
                    used = min(blocks, (remaining + SECTOR - 1) // SECTOR) if remaining > 0 else 0
                    if used:
                        if physical:
                            runs = [(self._phys(pref, lbn, True), used)]
                        else:
                            runs = self.runs(pref, lbn, used)
                        for lba, count in runs:
                            if extents and extents[-1][0] + extents[-1][1] == lba:
                                extents[-1] = (extents[-1][0], extents[-1][1] + count)
                            else:
                                extents.append((lba, count))
                remaining -= length
            ads = next_ads
        return extents

    def _phys(self, ref_or_partition: int, lbn: int, physical: bool) -> int:
        if physical:
            part = self.v.partitions.get(ref_or_partition)
            if part is None:
                raise UdfError(f"partition {ref_or_partition} has no partition descriptor")
            return part.start + lbn
        return self.lba(ref_or_partition, lbn)

    def read_extents(self, extents: list[tuple[int, int]], size: int) -> tuple[bytes, list[tuple[int, int]]]:
        """The bytes of a file (zeros where unreadable) and the unreadable (lba, count) runs."""
        chunks, bad = [], []
        for lba, count in extents:
            chunks.append(self.r.read(lba, count))
            bad.extend(self.r.bad_runs(lba, count))
        return b"".join(chunks)[:size], bad

    # --- the tree ------------------------------------------------------------------------------
    def walk(self) -> None:
        ref, lbn = self.v.fsd
        try:
            fsd_lba = self.lba(ref, lbn)
        except UdfError as exc:
            self.problems.append(f"file set descriptor: {exc}")
            return
        fsd = self.block(fsd_lba, "file set descriptor", None)
        if fsd is None:
            return
        t = tag(fsd)
        if t is None or t[0] != FSD:
            self.problems.append(f"no file set descriptor at LBA {fsd_lba}")
            return
        # FSD: 16 recording time, 112 logical volume id, 304 file set id dstring[32], 400 root ICB long_ad
        self.v.details.update(file_set_id=dstring(fsd[304:336]), file_set_time=timestamp(fsd[16:28]))
        _, root_lbn, root_ref = struct.unpack_from("<IIH", fsd, 400)
        queue = [(root_ref, root_lbn, "/")]
        seen: set[int] = set()
        while queue and len(self.files) < MAX_ENTRIES:
            ref, lbn, path = queue.pop(0)
            try:
                self._entry(ref, lbn, path, queue, seen)
            except UdfError as exc:
                self.problems.append(f"{path}: {exc}")

    def _entry(self, ref: int, lbn: int, path: str, queue: list, seen: set[int]) -> None:
        lba = self.lba(ref, lbn)
        if lba in seen:
            return
        seen.add(lba)
        data = self.block(lba, "file entry", path)
        if data is None:
            return
        fe = self._file_entry(data, lba, path, ref=ref)
        if fe is None:
            self.unreadable.append(Unreadable(self.fs_id, path, lba, 1, "file entry"))
            return
        is_dir = fe["file_type"] == FILE_TYPE_DIRECTORY
        extents = tuple(fe["extents"])
        bad = sum(self.r.unreadable_count(a, n) for a, n in extents)
        link = None
        if fe["file_type"] == FILE_TYPE_SYMLINK:
            body = fe["data"] if fe["embedded"] else self.read_extents(list(extents), fe["size"])[0]
            link = _path_components(body)
        self.files.append(FileEntry(self.fs_id, path, fe["size"], is_dir, extents, fe["mtime"],
                                    _mode(fe["permissions"], is_dir, link is not None), bad, lba, fe["embedded"],
                                    link, fe["uid"] if fe["uid"] != 0xFFFFFFFF else None,
                                    fe["gid"] if fe["gid"] != 0xFFFFFFFF else None))
        if not is_dir:
            return
        if fe["embedded"]:
            body, bad_runs = fe["data"], []
        else:
            if fe["size"] > MAX_DIRECTORY_BYTES:
                self.problems.append(f"{path}: directory of {fe['size']} bytes is implausible; not listed")
                return
            body, bad_runs = self.read_extents(list(extents), fe["size"])
        for a, n in bad_runs:
            self.unreadable.append(Unreadable(self.fs_id, path, a, n, "directory"))
            self.problems.append(f"directory {path}: sectors {a}..{a + n - 1} are unreadable; their entries are lost")
        for fid_ref, fid_lbn, name, characteristics in self._fids(body, path):
            if characteristics & (FID_PARENT | FID_DELETED):
                continue
            queue.append((fid_ref, fid_lbn, f"{path.rstrip('/')}/{name}"))

    def _fids(self, body: bytes, path: str):
        """File identifier descriptors (ECMA-167 4/14.4) of a directory, resynchronising after a gap."""
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


def _path_components(body: bytes) -> str:
    # ECMA-167 4/14.16: component type (1), length L_CI (1), version (2), identifier
    parts, pos = [], 0
    while pos + 4 <= len(body):
        ctype, length = body[pos], body[pos + 1]
        ident = dstring(body[pos + 4: pos + 4 + length], length_byte=False)
        parts.append({1: "", 2: "", 3: "..", 4: "."}.get(ctype, ident))
        pos += 4 + length
    return "/".join(parts) or "/"


def _mode(permissions: int, is_dir: bool, is_link: bool) -> str:
    # ECMA-167 4/14.9.5: bits 0-4 other (x w r chattr delete), 5-9 group, 10-14 owner
    out = "d" if is_dir else "l" if is_link else "-"
    for shift in (10, 5, 0):
        bits = permissions >> shift
        out += ("r" if bits & 4 else "-") + ("w" if bits & 2 else "-") + ("x" if bits & 1 else "-")
    return out


def read_udf(reader: SectorReader, fs_id: int, *, alternate_of: int | None = None) -> tuple[Filesystem, list[FileEntry], list[Unreadable]] | None:
    """The UDF volume of an image, or None when it has no anchor volume descriptor pointer."""
    udf = UdfReader(reader, fs_id)
    try:
        if not udf.mount():
            if not udf.unreadable and not udf.problems:
                return None
        else:
            udf.walk()
    except UdfError as exc:
        udf.problems.append(str(exc))
    fs = Filesystem(fs_id, "udf", udf.v.label, udf.v.details, tuple(udf.problems), alternate_of)
    return fs, udf.files, udf.unreadable
