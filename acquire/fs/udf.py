"""UDF (ECMA-167 3rd edition, OSTA UDF 1.02-2.60) read against the map: the volume (fs/udf_volume.py:
every anchor, main and reserve sequences, integrity), partitions of every kind (fs/udf_partitions.py:
physical, sparable, virtual, metadata with its mirror), the file set, file entries, allocation
descriptors, named streams; each file with the copy its structure was read through. Pure UDF discs
(most BD-ROMs) have no ISO 9660 side, and pycdlib reads UDF only beside one. The descriptors' bytes:
fs/udf_descriptors.py and fs/udf_tables.py."""
from __future__ import annotations

from ..record.fs_tables import FileEntry, Filesystem, Unreadable
from . import udf_volume
from .reader import SECTOR, SectorReader
from .udf_descriptors import (AD_EMBEDDED, AD_WIDTH, EFE, EXTENT_NEXT, EXTENT_RECORDED, FE, FID_DELETED, FID_PARENT,
                              FILE_TYPE_DIRECTORY, FILE_TYPE_SYMLINK, FSD, allocation_descriptors, allocation_extent,
                              file_entry, file_identifiers, file_set, logical_volume, partition_maps, path_components,
                              posix_mode, tag)
from .udf_partitions import MIRROR, Addressing, Partition, UdfError, merge_runs
from .udf_tables import FILE_TYPE_UNSPECIFIED, FILE_TYPE_VAT_20, entry_metadata, sparing_table, vat_table

MAX_DIRECTORY_BYTES = 64 << 20
MAX_ENTRIES = 2_000_000
MAX_ALLOCATION_HOPS = 1024            # allocation extent descriptors followed for one file
MAX_VAT_BYTES = 16 << 20
VAT_LOOKBACK = 64                     # sectors before the last recorded one a VAT's entry may sit at
FID_HIDDEN = 0x01
DEVICE_LETTERS = {6: "b", 7: "c", 9: "p", 10: "s"}

__all__ = ["UdfError", "UdfReader", "read_udf"]


class UdfReader:
    def __init__(self, reader: SectorReader, fs_id: int) -> None:
        self.r = reader
        self.fs_id = fs_id
        self.problems: list[str] = []
        self.unreadable: list[Unreadable] = []
        self.files: list[FileEntry] = []
        self.addr = Addressing()
        self.label: str | None = None
        self.details: dict = {}
        self.fsd: tuple[int, int] | None = None
        self.via: list[str] = []              # the alternates the whole volume was read through

    def note(self, lba: int, what: str, path: str | None, count: int = 1) -> None:
        self.unreadable.append(Unreadable(self.fs_id, path, lba, count, what))
        self.problems.append(f"{what} at LBA {lba}" + (f" ({path})" if path else "") + " is unreadable")

    def block(self, lba: int, what: str, path: str | None) -> bytes | None:
        if not self.r.readable(lba):
            self.note(lba, what, path)
            return None
        return self.r.read(lba)

    def read_block(self, ref: int, lbn: int, what: str, path: str | None) -> tuple[bytes | None, str | None]:
        """Block (ref, lbn) from its first readable copy, and which copy (None: the main one). Where
        both copies of a metadata block read, they are compared: a difference is a problem."""
        copies = self.addr.copies(ref, lbn)
        for i, (lba, copy) in enumerate(copies):
            if lba is None:
                continue
            if self.r.readable(lba):
                data = self.r.read(lba)
                if copy is None and len(copies) > 1:
                    self._compare(data, lba, copies[1][0], path)
                return data, copy
            self.note(lba, what if copy is None else f"{what} ({copy})", path)
        return None, None

    def _compare(self, data: bytes, lba: int, mirror: int | None, path: str | None) -> None:
        if mirror is None or not self.r.readable(mirror) or self.r.read(mirror) == data:
            return
        if sum("differs from its mirror" in p for p in self.problems) < 32:
            self.problems.append(f"metadata block at LBA {lba}" + (f" ({path})" if path else "")
                                 + f" differs from its mirror at LBA {mirror}; read through the main one")

    def read_logical(self, parts: list[tuple[int, int, int]], size: int, path: str
                     ) -> tuple[bytes, list[tuple[int, int]], set[str]]:
        """A directory's bytes from its (ref, lbn, blocks) parts, block by block through every copy;
        (bytes, unreadable runs, copies used)."""
        chunks, bad, used = [], [], set()
        for ref, lbn, blocks in parts:
            for i in range(blocks):
                data, copy = self.read_block(ref, lbn + i, "directory", path)
                if data is None:
                    chunks.append(bytes(SECTOR))
                    main = self.addr.copies(ref, lbn + i)[0][0]
                    bad.append((main if main is not None else -1, 1))
                    continue
                if copy:
                    used.add(copy)
                chunks.append(data)
        return b"".join(chunks)[:size], bad, used

    # --- the volume -----------------------------------------------------------------------------
    def mount(self) -> bool:
        found, seen, tail = udf_volume.anchors(self.r)
        self.details["anchors"] = seen
        if tail is not None and tail != self.r.sectors - 1:
            self.details["last_recorded_sector"] = tail
        for lba, state in seen.items():
            if state == "unreadable":
                self.unreadable.append(Unreadable(self.fs_id, None, int(lba), 1, "anchor"))
        if not found:
            return False
        anchor_lba, avdp = found[0]
        self.details["anchor_lba"] = anchor_lba
        if anchor_lba != udf_volume.ANCHOR_LBA:
            self.via.append(f"anchor at {anchor_lba}")
        seq, other, problems = udf_volume.sequences(self.r, avdp)
        self.problems.extend(problems)
        for s in (seq, other):
            for lba in s.unreadable if s else ():
                self.unreadable.append(Unreadable(self.fs_id, None, lba, 1, "descriptor"))
        if seq is None:
            self.problems.append("no usable logical volume descriptor in either volume descriptor sequence")
            return False
        self.details["descriptor_sequence"] = seq.name
        if seq.name == udf_volume.RESERVE:
            self.via.append(udf_volume.RESERVE)
        if seq.pvd:
            self.label = seq.pvd["volume_id"]
            self.details.update(seq.pvd)
        for p in seq.partitions:
            self.addr.partitions[p["number"]] = Partition(p["number"], p["start"], p["length"])
        self.details["partitions"] = seq.partitions
        if not self._lvd(seq.lvd):
            return False
        if (lvid := udf_volume.integrity_sequence(self.r, seq.lvd)) is not None:
            self.details["integrity"] = lvid
        self._load_sparing()
        self._load_vat(tail)
        self._load_metadata()
        return True

    def _lvd(self, d: bytes) -> bool:
        lv = logical_volume(d)
        self.details.update(logical_volume_id=lv.logical_volume_id, logical_block_size=lv.block_size, domain=lv.domain)
        if lv.udf_revision:
            self.details["udf_revision"] = lv.udf_revision
        if lv.block_size != SECTOR:
            self.problems.append(f"logical block size {lv.block_size} is not 2048: not supported")
            return False
        self.fsd = lv.fsd
        maps, problems = partition_maps(d, lv.map_count)
        self.problems.extend(problems)
        self.addr.maps = maps
        self.details["partition_maps"] = maps
        return True

    def _load_sparing(self) -> None:
        for ref, m in enumerate(self.addr.maps):
            if m["kind"] != "sparable":
                continue
            sectors = max(1, -(-m["sparing_table_bytes"] // SECTOR))
            tables, states = [], []
            for copy, lba in enumerate(m["sparing_tables"], 1):
                if not self.r.readable(lba, min(sectors, 64)):
                    self.unreadable.append(Unreadable(self.fs_id, None, lba, min(sectors, 64), "sparing table"))
                    states.append({"lba": lba, "state": "unreadable"})
                    continue
                table = sparing_table(self.r.read(lba, min(sectors, 64)))
                states.append({"lba": lba, "state": "valid" if table else "not a sparing table"})
                if table is not None:
                    tables.append((table.sequence, -copy, copy, table))
            info = {"packet_length": m["packet_length"], "tables": states}
            if not tables:
                self.problems.append("no sparing table could be read: remapped packets are read at their "
                                     "original place, which a defective disc may not hold")
            else:
                _, _, copy, best = max(tables)
                if len({repr(t.remap) for *_, t in tables}) > 1:
                    self.problems.append("the sparing table copies disagree; read through the newest")
                if copy != 1:
                    self.via.append(f"sparing table copy {copy}")
                self.addr.sparing[ref] = (max(1, m["packet_length"]), best.remap)
                info.update(used_copy=copy, remapped_packets=len(best.remap), spare_available=best.available,
                            spare_defective=best.defective)
            m["sparing"] = info

    def _load_vat(self, tail: int | None) -> None:
        for ref, m in enumerate(self.addr.maps):
            if m["kind"] != "virtual":
                continue
            phys_ref = self.addr.physical_ref(m["partition"])
            found = None
            for lba in range(tail if tail is not None else -1, max(-1, (tail or 0) - VAT_LOOKBACK), -1):
                if phys_ref is None or not self.r.readable(lba):
                    continue
                found = self._vat_at(lba, phys_ref)
                if found is not None:
                    break
            if found is None:
                self.problems.append("no virtual allocation table at the last recorded sectors: "
                                     "the virtual partition's files cannot be found")
                continue
            entries, details = found
            self.addr.vat[ref] = entries
            m["vat"] = {**details, "entries": len(entries)}

    def _vat_at(self, lba: int, phys_ref: int) -> tuple[list[int], dict] | None:
        d = self.r.read(lba)
        t = tag(d)
        if t is None or t[0] not in (FE, EFE) or d[27] not in (FILE_TYPE_VAT_20, FILE_TYPE_UNSPECIFIED):
            return None
        fe = self._file_entry(d, lba, None, ref=phys_ref)
        if fe is None or fe["size"] > MAX_VAT_BYTES:
            return None
        body = fe["data"] if fe["embedded"] else self.read_extents(fe["extents"], fe["size"])[0]
        table = vat_table(body, d[27])
        return None if table is None else (table[0], {**table[1], "lba": lba})

    def _load_metadata(self) -> None:
        for ref, m in enumerate(self.addr.maps):
            if m["kind"] != "metadata":
                continue
            part = self.addr.partitions.get(m["partition"])
            if part is None:
                continue
            copies = {}
            for which, name in (("file", "main"), ("mirror", "mirror")):
                lba = part.start + m[which]
                entry = self.block(lba, f"metadata {which}", None)
                fe = self._file_entry(entry, lba, None, physical_partition=m["partition"]) if entry else None
                if fe is None:
                    continue
                blocks, extents = 0, []
                for phys, count in fe["extents"]:
                    extents.append((blocks, phys, count))
                    blocks += count
                copies[name] = extents
            self.addr.metadata[ref] = copies
            if not copies:
                self.problems.append("the metadata partition's file and mirror are both unreadable")
            elif "main" not in copies:
                self.via.append(MIRROR)

    # --- file entries and allocation descriptors ----------------------------------------------
    def _file_entry(self, d: bytes, lba: int, path: str | None, *, ref: int = 0,
                    physical_partition: int | None = None) -> dict | None:
        t = tag(d)
        if t is None or t[0] not in (FE, EFE):
            self.problems.append(f"no file entry at LBA {lba}" + (f" ({path})" if path else ""))
            return None
        fe = file_entry(d, t[0] == EFE)
        if fe.strategy not in (4, 4096):
            self.problems.append(f"file entry at LBA {lba}: ICB strategy {fe.strategy} is not supported")
        out = {"file_type": fe.file_type, "size": fe.size, "mtime": fe.mtime, "uid": fe.uid, "gid": fe.gid,
               "permissions": fe.permissions, "embedded": fe.ad_type == AD_EMBEDDED, "extents": [], "logical": [],
               "data": None, "metadata": entry_metadata(d, t[0] == EFE)}
        if fe.ad_type == AD_EMBEDDED:
            out["data"] = fe.ads[:fe.size]
            return out
        out["extents"], out["logical"] = self._allocation(fe.ads, fe.ad_type, ref, fe.size, path, physical_partition)
        return out

    def _allocation(self, ads: bytes, ad_type: int, ref: int, size: int, path: str | None,
                    physical: int | None) -> tuple[list[tuple[int, int]], list[tuple[int, int, int]]]:
        """The (lba, count) runs holding a file's `size` bytes, following allocation extents, and the
        same as (ref, lbn, blocks) parts. `physical`: a partition number the short ADs are in (the
        metadata file's own entry), not a reference."""
        extents: list[tuple[int, int]] = []
        logical: list[tuple[int, int, int]] = []
        if ad_type not in AD_WIDTH:
            self.problems.append(f"{path}: allocation descriptor type {ad_type} is unknown")
            return extents, logical
        remaining, hops = size, 0
        while ads and hops < MAX_ALLOCATION_HOPS:
            hops += 1
            next_ads = b""
            for kind, length, lbn, pref in allocation_descriptors(ads, ad_type, ref):
                if kind == EXTENT_NEXT:
                    if physical is not None:
                        block = self.block(self.addr.partition(physical).start + lbn, "allocation extent", path)
                    else:
                        block = self.read_block(pref, lbn, "allocation extent", path)[0]
                    next_ads = (allocation_extent(block) if block else None) or b""
                    break
                if kind == EXTENT_RECORDED:
                    blocks = (length + SECTOR - 1) // SECTOR
                    used = min(blocks, (remaining + SECTOR - 1) // SECTOR) if remaining > 0 else 0
                    if used:
                        if physical is not None:
                            runs = [(self.addr.partition(physical).start + lbn, used)]
                        else:
                            runs = self.addr.runs(pref, lbn, used)
                            logical.append((pref, lbn, used))
                        merge_runs(extents, runs)
                remaining -= length
            ads = next_ads
        return extents, logical

    def read_extents(self, extents: list[tuple[int, int]], size: int) -> tuple[bytes, list[tuple[int, int]]]:
        """The bytes of a file (zeros where unreadable) and the unreadable (lba, count) runs."""
        chunks, bad = [], []
        for lba, count in extents:
            chunks.append(self.r.read(lba, count))
            bad.extend(self.r.bad_runs(lba, count))
        return b"".join(chunks)[:size], bad

    # --- the tree ------------------------------------------------------------------------------
    def walk(self) -> None:
        ref, lbn = self.fsd
        try:
            fsd, via = self.read_block(ref, lbn, "file set descriptor", None)
        except UdfError as exc:
            self.problems.append(f"file set descriptor: {exc}")
            return
        if fsd is None:
            return
        t = tag(fsd)
        if t is None or t[0] != FSD:
            self.problems.append(f"no file set descriptor at block {lbn} of partition reference {ref}")
            return
        details, (root_ref, root_lbn) = file_set(fsd)
        self.details.update(details)
        queue = [(root_ref, root_lbn, "/", frozenset([via] if via else []), 0, "entry")]
        seen: set[tuple[int, int]] = set()
        head = 0
        while head < len(queue) and len(self.files) < MAX_ENTRIES:
            item = queue[head]
            head += 1
            try:
                self._entry(*item, queue=queue, seen=seen)
            except UdfError as exc:
                self.problems.append(f"{item[2]}: {exc}")

    def _entry(self, ref: int, lbn: int, path: str, via: frozenset, characteristics: int, kind: str, *,
               queue: list, seen: set) -> None:
        """One ICB: `kind` 'entry' (a file or directory), 'streams' (a file's stream directory: its
        FIDs name the streams, listed as path:name), or 'stream' (one named stream)."""
        if (ref, lbn) in seen:
            return
        seen.add((ref, lbn))
        data, copy = self.read_block(ref, lbn, "file entry", path)
        if data is None:
            return
        via = via | {copy} if copy else via
        lba = self.addr.lba(ref, lbn, "main" if copy is None else "mirror")
        fe = self._file_entry(data, lba, path, ref=ref)
        if fe is None:
            self.unreadable.append(Unreadable(self.fs_id, path, lba, 1, "file entry"))
            return
        is_dir = fe["file_type"] in (FILE_TYPE_DIRECTORY, 13)
        if kind != "streams":
            self._list(path, lba, fe, via, characteristics, kind == "stream")
        if fe["metadata"].get("stream_directory") and kind == "entry":
            s_ref, s_lbn = fe["metadata"]["stream_directory"]
            queue.append((s_ref, s_lbn, path + ":", via, 0, "streams"))
        if not is_dir:
            return
        if fe["embedded"]:
            body, bad_runs = fe["data"], []
        else:
            if fe["size"] > MAX_DIRECTORY_BYTES:
                self.problems.append(f"{path}: directory of {fe['size']} bytes is implausible; not listed")
                return
            body, bad_runs, used = self.read_logical(fe["logical"], fe["size"], path)
            via = via | used
        if bad_runs:
            self.problems.append(f"directory {path}: {len(bad_runs)} blocks are unreadable in every copy; "
                                 "their entries are lost")
        for fid_ref, fid_lbn, name, chars in file_identifiers(body):
            if chars & (FID_PARENT | FID_DELETED):
                continue
            child = f"{path}{name}" if kind == "streams" else f"{path.rstrip('/')}/{name}"
            queue.append((fid_ref, fid_lbn, child, via, chars, "stream" if kind == "streams" else "entry"))

    def _list(self, path: str, lba: int, fe: dict, via: frozenset, characteristics: int, stream: bool) -> None:
        is_dir = fe["file_type"] in (FILE_TYPE_DIRECTORY, 13)
        extents = tuple(fe["extents"])
        bad = sum(self.r.unreadable_count(a, n) for a, n in extents)
        link = None
        if fe["file_type"] == FILE_TYPE_SYMLINK:
            body = fe["data"] if fe["embedded"] else self.read_extents(list(extents), fe["size"])[0]
            link = path_components(body)
        mode = posix_mode(fe["permissions"], is_dir, link is not None)
        if fe["file_type"] in DEVICE_LETTERS:
            mode = DEVICE_LETTERS[fe["file_type"]] + mode[1:]
        meta = dict(fe["metadata"])
        if characteristics & FID_HIDDEN:
            meta["hidden"] = True
        if stream:
            meta["stream_of"] = path.rsplit(":", 1)[0]
        read_via = ", ".join(sorted(set(self.via) | set(via))) or None
        self.files.append(FileEntry(self.fs_id, path, fe["size"], is_dir, extents, fe["mtime"], mode, bad, lba,
                                    fe["embedded"], link, fe["uid"] if fe["uid"] != 0xFFFFFFFF else None,
                                    fe["gid"] if fe["gid"] != 0xFFFFFFFF else None, read_via=read_via, metadata=meta))


def read_udf(reader: SectorReader, fs_id: int, *, alternate_of: int | None = None) -> tuple[Filesystem, list[FileEntry], list[Unreadable]] | None:
    """The UDF volume of an image, or None when it has no anchor volume descriptor pointer."""
    udf = UdfReader(reader, fs_id)
    try:
        if not udf.mount():
            if not udf.problems and not udf.unreadable:
                return None
        else:
            udf.walk()
    except UdfError as exc:
        udf.problems.append(str(exc))
    if udf.via:
        udf.details["read_via"] = ", ".join(udf.via)
    fs = Filesystem(fs_id, "udf", udf.label, udf.details, tuple(udf.problems), alternate_of)
    return fs, udf.files, udf.unreadable
