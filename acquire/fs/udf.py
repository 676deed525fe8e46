"""UDF (ECMA-167 3rd edition, OSTA UDF 1.02-2.60) read against the map: anchor, volume descriptor
sequence, partitions (physical, UDF 2.50 metadata), logical volume, file set, file entries and
allocation descriptors; enough to list files and their extents. Pure UDF discs (most BD-ROMs) have
no ISO 9660 side, and pycdlib reads UDF only beside one. The descriptors' bytes: fs/udf_descriptors.py."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..record.fs_tables import FileEntry, Filesystem, Unreadable
from .reader import SECTOR, SectorReader
from .udf_descriptors import (AD_EMBEDDED, AD_WIDTH, ANCHOR_LBA, AVDP, EFE, EXTENT_NEXT, EXTENT_RECORDED, FE,
                              FID_DELETED, FID_PARENT, FILE_TYPE_DIRECTORY, FILE_TYPE_SYMLINK, FSD, LVD, PD, PVD,
                              TD, allocation_descriptors, allocation_extent, anchor_extents, file_entry,
                              file_identifiers, file_set, logical_volume, partition, partition_maps,
                              path_components, posix_mode, primary_volume, tag)

MAX_DIRECTORY_BYTES = 64 << 20
MAX_ENTRIES = 2_000_000
MAX_VDS_SECTORS = 256                 # a volume descriptor sequence is 16 sectors at least; few are longer
MAX_ALLOCATION_HOPS = 1024            # allocation extent descriptors followed for one file


class UdfError(Exception):
    pass


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
        for which, (length, location) in zip(("main", "reserve"), anchor_extents(avdp)):
            if self._read_vds(location, length // SECTOR, which):
                break
        if not self.v.maps or self.v.fsd is None:
            self.problems.append("no usable logical volume descriptor in either volume descriptor sequence")
            return False
        self._load_metadata_partitions()
        return True

    def _read_vds(self, location: int, sectors: int, which: str) -> bool:
        found_lvd = False
        for lba in range(location, location + min(sectors, MAX_VDS_SECTORS)):
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
                fields = primary_volume(d)
                self.v.label = fields["volume_id"]
                self.v.details.update(fields)
            elif t[0] == PD:
                p = partition(d)
                self.v.partitions[p["number"]] = Partition(p["number"], p["start"], p["length"])
                self.v.details.setdefault("partitions", []).append(p)
            elif t[0] == LVD:
                found_lvd = self._lvd(d) or found_lvd
        return found_lvd

    def _lvd(self, d: bytes) -> bool:
        lv = logical_volume(d)
        self.v.block_size = lv.block_size
        self.v.details.update(logical_volume_id=lv.logical_volume_id, logical_block_size=lv.block_size,
                              domain=lv.domain)
        if lv.udf_revision:
            self.v.details["udf_revision"] = lv.udf_revision
        if lv.block_size != SECTOR:
            self.problems.append(f"logical block size {lv.block_size} is not 2048: not supported")
            return False
        self.v.fsd = lv.fsd
        maps, problems = partition_maps(d, lv.map_count)
        self.problems.extend(problems)
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
        fe = file_entry(d, t[0] == EFE)
        if fe.strategy not in (4, 4096):
            self.problems.append(f"file entry at LBA {lba}: ICB strategy {fe.strategy} is not supported")
        out = {"file_type": fe.file_type, "size": fe.size, "mtime": fe.mtime, "uid": fe.uid, "gid": fe.gid,
               "permissions": fe.permissions, "embedded": fe.ad_type == AD_EMBEDDED, "extents": [], "data": None}
        if fe.ad_type == AD_EMBEDDED:
            out["data"] = fe.ads[:fe.size]
            return out
        ref_for_short = physical_ref if physical_ref is not None else ref
        out["extents"] = self._allocation(fe.ads, fe.ad_type, ref_for_short, fe.size, path,
                                          physical=physical_ref is not None)
        return out

    def _allocation(self, ads: bytes, ad_type: int, ref: int, size: int, path: str | None, *,
                    physical: bool) -> list[tuple[int, int]]:
        """The (lba, count) runs holding a file's `size` bytes, following allocation extents."""
        extents: list[tuple[int, int]] = []
        if ad_type not in AD_WIDTH:
            self.problems.append(f"{path}: allocation descriptor type {ad_type} is unknown")
            return extents
        remaining = size
        hops = 0
        while ads and hops < MAX_ALLOCATION_HOPS:
            hops += 1
            next_ads = b""
            for kind, length, lbn, pref in allocation_descriptors(ads, ad_type, ref):
                if kind == EXTENT_NEXT:
                    block = self.block(self._phys(pref, lbn, physical), "allocation extent", path)
                    next_ads = (allocation_extent(block) if block else None) or b""
                    break
                if kind == EXTENT_RECORDED:
                    blocks = (length + SECTOR - 1) // SECTOR
                    used = min(blocks, (remaining + SECTOR - 1) // SECTOR) if remaining > 0 else 0
                    if used:
                        runs = [(self._phys(pref, lbn, True), used)] if physical else self.runs(pref, lbn, used)
                        _merge(extents, runs)
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
        details, (root_ref, root_lbn) = file_set(fsd)
        self.v.details.update(details)
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
            link = path_components(body)
        self.files.append(FileEntry(self.fs_id, path, fe["size"], is_dir, extents, fe["mtime"],
                                    posix_mode(fe["permissions"], is_dir, link is not None), bad, lba, fe["embedded"],
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
        for fid_ref, fid_lbn, name, characteristics in file_identifiers(body):
            if characteristics & (FID_PARENT | FID_DELETED):
                continue
            queue.append((fid_ref, fid_lbn, f"{path.rstrip('/')}/{name}"))



def _merge(extents: list[tuple[int, int]], runs: list[tuple[int, int]]) -> None:
    """Append `runs` to `extents`, joining a run that continues the last extent."""
    for lba, count in runs:
        if extents and extents[-1][0] + extents[-1][1] == lba:
            extents[-1] = (extents[-1][0], extents[-1][1] + count)
        else:
            extents.append((lba, count))


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
