"""A classic HFS volume read against the map (Inside Macintosh: Files, 1992, chapter 2 "Data
Organization on Volumes"; all big-endian): the master directory block or, when it is unreadable,
its alternate copy in the volume's next-to-last 512-byte block; the extents overflow and catalog
B-trees (512-byte nodes); files with data and resource forks, Finder type and creator, and the
create / modify / backup dates, which HFS keeps in local time without a zone."""
from __future__ import annotations

import struct
from dataclasses import dataclass

from ..record.fs_tables import FileEntry, Filesystem, Unreadable
from .hfs_btree import BTree, Fork, HfsVolume, bytes_readable
from .hfs_tree import DATA_FORK, Node, list_nodes, lost_nodes, read_overflow
from .hfsplus_records import INVISIBLE, hfs_date
from .reader import SECTOR, SectorReader

MDB_OFFSET = 1024
SIGNATURE = b"BD"
DIRECTORY, FILE, DIRECTORY_THREAD, FILE_THREAD = 1, 2, 3, 4      # cdrDirRec ... cdrFThdRec
ROOT_ID, CATALOG_ID = 2, 4
ALTERNATE = "alternate master directory block"


def _extents(raw: bytes) -> tuple[tuple[int, int], ...]:
    """ExtDataRec: three (xdrStABN u16, xdrNumABlks u16)."""
    raw = raw[:12]
    return tuple((s, n) for s, n in struct.iter_unpack(">HH", raw[:len(raw) // 4 * 4]) if n)


@dataclass(frozen=True, slots=True)
class MasterDirectoryBlock:
    """The MDB, 1024 bytes into the volume (copy: 1024 bytes before the volume's end)."""

    # 0-1 drSigWord 'BD', 2-5 drCrDate, 6-9 drLsMod, 10-11 drAtrb, 12-13 drNmFls, 14-15 drVBMSt,
    # 16-17 drAllocPtr, 18-19 drNmAlBlks, 20-23 drAlBlkSiz, 24-27 drClpSiz, 28-29 drAlBlSt (512-byte
    # sectors to allocation block 0), 30-33 drNxtCNID, 34-35 drFreeBks, 36-63 drVN (Pascal string,
    # 27 max), 64-67 drVolBkUp, 68-69 drVSeqNum, 70-73 drWrCnt, 74-77 drXTClpSiz, 78-81 drCTClpSiz,
    # 82-83 drNmRtDirs, 84-87 drFilCnt, 88-91 drDirCnt, 92-123 drFndrInfo, 124-125 drEmbedSigWord,
    # 126-129 drEmbedExtent, 130-133 drXTFlSize, 134-145 drXTExtRec, 146-149 drCTFlSize, 150-161 drCTExtRec
    name: str
    created: str | None
    modified: str | None
    backed_up: str | None
    attributes: int
    allocation_blocks: int
    block_size: int
    first_block_sector: int
    free_blocks: int
    file_count: int
    folder_count: int
    embedded_signature: bytes
    extents_size: int
    extents_extents: tuple[tuple[int, int], ...]
    catalog_size: int
    catalog_extents: tuple[tuple[int, int], ...]

    def details(self) -> dict:
        return {"created_local": self.created, "modified_local": self.modified, "backed_up_local": self.backed_up,
                "attributes": self.attributes, "allocation_blocks": self.allocation_blocks,
                "allocation_block_size": self.block_size, "first_block_sector": self.first_block_sector,
                "free_blocks": self.free_blocks, "file_count": self.file_count, "folder_count": self.folder_count,
                "dates": "local time; HFS records no time zone"}

    def structural(self) -> tuple:
        return (self.allocation_blocks, self.block_size, self.first_block_sector, self.extents_extents,
                self.catalog_extents)


def master_directory_block(h: bytes) -> MasterDirectoryBlock | None:
    if len(h) < 162 or h[:2] != SIGNATURE:
        return None
    created, modified, attributes = struct.unpack_from(">IIH", h, 2)
    blocks, block_size, _, first, _, free = struct.unpack_from(">HIIHIH", h, 18)
    if not block_size or block_size % 512 or not blocks:
        return None
    backed_up, = struct.unpack_from(">I", h, 64)
    files, folders = struct.unpack_from(">II", h, 84)
    name = h[37:37 + min(h[36], 27)].decode("mac_roman", "replace")
    return MasterDirectoryBlock(name, hfs_date(created, local=True), hfs_date(modified, local=True),
                                hfs_date(backed_up, local=True), attributes, blocks, block_size, first, free,
                                files, folders, bytes(h[124:126]), struct.unpack_from(">I", h, 130)[0],
                                _extents(h[134:146]), struct.unpack_from(">I", h, 146)[0], _extents(h[150:162]))


def _mdb_at(reader: SectorReader, offset: int) -> tuple[MasterDirectoryBlock | None, bool]:
    if offset < 0 or not bytes_readable(reader, offset, 512):
        return None, False
    return master_directory_block(reader.read_bytes(offset, 512)), True


def locate(reader: SectorReader, offset: int, length: int | None) -> tuple[MasterDirectoryBlock | None, str | None, list[str], list[Unreadable]]:
    """The MDB to read the volume through, as hfsplus.locate does for the volume header."""
    problems: list[str] = []
    lost: list[Unreadable] = []
    main, main_read = _mdb_at(reader, offset + MDB_OFFSET)
    if not main_read:
        lost.append(Unreadable(None, None, (offset + MDB_OFFSET) // SECTOR, 1, "master directory block"))
        problems.append(f"the HFS master directory block at byte {offset + MDB_OFFSET} is unreadable")
    ends = []
    if main is not None:   # the volume's 512-byte sectors: up to the last allocation block, plus the copy and one spare
        ends.append(offset + main.first_block_sector * 512 + main.allocation_blocks * main.block_size + 1024)
    if length:
        ends.append(offset + length)
    ends.append(reader.size_bytes)
    alternate = None
    for end in dict.fromkeys(ends):
        alternate, _ = _mdb_at(reader, end - 1024)
        if alternate is not None:
            break
    if main is not None:
        if alternate is not None and alternate.structural() != main.structural():
            problems.append("the master directory block and its alternate disagree on the volume's layout; "
                            "read through the main one")
        return main, "main", problems, lost
    return (alternate, ALTERNATE, problems, lost) if alternate is not None else (None, None, problems, lost)


def _catalog_key(key: bytes) -> tuple[int, str] | None:
    """CatKeyRec: 0 ckrKeyLen, 1 reserved, 2-5 ckrParID, 6 name length, 7.. ckrCName (MacRoman)."""
    if len(key) < 7 or key[0] == 0:
        return None
    name = key[7:7 + min(key[6], 31, max(0, len(key) - 7))]
    return struct.unpack_from(">I", key, 2)[0], name.decode("mac_roman", "replace").replace("/", ":")


def _extents_key(key: bytes) -> tuple[int, int, int] | None:
    """ExtKeyRec: 0 xkrKeyLen (7), 1 xkrFkType (0 data, FFh resource), 2-5 xkrFNum, 6-7 xkrFABN."""
    if len(key) < 8:
        return None
    return key[1], *struct.unpack_from(">IH", key, 2)


def _node(body: bytes, parent: int, name: str, lba: int | None) -> Node | None:
    """A directory record (cdrDirRec, 70 bytes) or file record (cdrFilRec, 102 bytes)."""
    kind = body[0] if body else 0
    if kind == DIRECTORY and len(body) >= 70:
        # 2-3 dirFlags, 4-5 dirVal, 6-9 dirDirID, 10-13 dirCrDat, 14-17 dirMdDat, 18-21 dirBkDat,
        # 22-37 dirUsrInfo (DInfo: 30-31 frFlags), 38-53 dirFndrInfo
        cnid, created, modified, backed_up = struct.unpack_from(">IIII", body, 6)
        flags, = struct.unpack_from(">H", body, 30)
        meta = {"created_local": hfs_date(created, local=True), "modified_local": hfs_date(modified, local=True),
                "backed_up_local": hfs_date(backed_up, local=True), "cnid": cnid, "finder_flags": flags,
                "hidden": bool(flags & INVISIBLE), "valence": struct.unpack_from(">H", body, 4)[0]}
        return Node(cnid, parent, name, True, lba, metadata=_clean(meta))
    if kind == FILE and len(body) >= 102:
        # 2 filFlags, 3 filTyp, 4-19 filUsrWds (FInfo: 4-7 fdType, 8-11 fdCreator, 12-13 fdFlags),
        # 20-23 filFlNum, 24-25 filStBlk, 26-29 filLgLen, 30-33 filPyLen, 34-35 filRStBlk, 36-39 filRLgLen,
        # 40-43 filRPyLen, 44-47 filCrDat, 48-51 filMdDat, 52-55 filBkDat, 56-71 filFndrInfo,
        # 72-73 filClpSize, 74-85 filExtRec, 86-97 filRExtRec
        file_type, creator, flags = struct.unpack_from(">4s4sH", body, 4)
        cnid, = struct.unpack_from(">I", body, 20)
        data_size, data_physical = struct.unpack_from(">II", body, 26)
        rsrc_size, rsrc_physical = struct.unpack_from(">II", body, 36)
        created, modified, backed_up = struct.unpack_from(">III", body, 44)
        meta = {"created_local": hfs_date(created, local=True), "modified_local": hfs_date(modified, local=True),
                "backed_up_local": hfs_date(backed_up, local=True), "cnid": cnid, "finder_flags": flags,
                "hidden": bool(flags & INVISIBLE), "locked": bool(body[2] & 0x01),
                "type": file_type.decode("mac_roman", "replace"), "creator": creator.decode("mac_roman", "replace")}
        if rsrc_size:
            meta["resource_fork_size"] = rsrc_size
        node = Node(cnid, parent, name, False, lba, metadata=_clean(meta))
        node.data = (data_size, data_physical, _extents(body[74:86]))       # physical length in bytes here
        node.resource = (rsrc_size, rsrc_physical, _extents(body[86:98]))
        return node
    return None


def _clean(meta: dict) -> dict:
    return {k: v for k, v in meta.items() if v is not None}


def read_hfs(reader: SectorReader, fs_id: int, offset: int, *, length: int | None = None,
             details: dict | None = None) -> tuple[Filesystem, list[FileEntry], list[Unreadable]] | None:
    """The HFS volume starting `offset` bytes into the image, or None when neither MDB is there."""
    mdb, via, problems, lost = locate(reader, offset, length)
    if mdb is None:
        return None
    details = {**(details or {}), "offset_bytes": offset, **mdb.details(), "read_via": via}
    if mdb.embedded_signature in (b"H+", b"HX"):
        details["embedded_hfsplus"] = True
    lost = [Unreadable(fs_id, u.path, u.lba, u.count, u.what) for u in lost]
    volume = HfsVolume(offset + mdb.first_block_sector * 512, mdb.block_size, mdb.allocation_blocks)
    extents_tree = _tree(reader, volume, mdb.extents_extents, mdb.extents_size, "extents overflow", problems)
    overflow = read_overflow(extents_tree, _extents_key, _extents)
    catalog_blocks = -(-mdb.catalog_size // mdb.block_size)
    first, missing = overflow.whole(DATA_FORK, CATALOG_ID, mdb.catalog_extents, catalog_blocks)
    catalog = _tree(reader, volume, first, mdb.catalog_size, "catalog", problems)
    files: list[FileEntry] = []
    if catalog is not None:
        nodes, threads = {}, {}
        for number, key, body in catalog.leaf_records():
            parsed = _catalog_key(key)
            if parsed is None:
                continue
            if body and body[0] in (DIRECTORY_THREAD, FILE_THREAD) and len(body) >= 15:
                # thread: 2-9 reserved, 10-13 thdParID, 14 name length, 15.. thdCName
                threads[parsed[0]] = (struct.unpack_from(">I", body, 10)[0],
                                      body[15:15 + min(body[14], 31)].decode("mac_roman", "replace"))
                continue
            sectors = catalog.node_sectors(number)
            node = _node(body, *parsed, sectors[0][0] if sectors else None)
            if node is not None:
                node.mtime_utc = None                  # local time, no zone: never presented as UTC
                if node.data is not None:
                    node.data = _in_blocks(node.data, mdb.block_size)
                    node.resource = _in_blocks(node.resource, mdb.block_size)
                nodes[node.cnid] = node
        listing = list_nodes(reader, fs_id, volume, nodes, threads, overflow, ROOT_ID,
                             read_via=None if via == "main" else via)
        files, problems = listing.files, problems + listing.problems
        lost += lost_nodes(catalog, fs_id, "catalog node")
        problems += [f"catalog B-tree node {n} is unreadable: the records of a leaf there are lost "
                     "(an index node costs nothing while the leaf chain holds)"
                     for n in sorted(catalog.lost)] + catalog.problems
    if extents_tree is not None:
        lost += lost_nodes(extents_tree, fs_id, "extents node")
        problems += [f"extents overflow node {n} is unreadable" for n in sorted(extents_tree.lost)]
    label = mdb.name
    return Filesystem(fs_id, "hfs", label, details, tuple(problems)), files, lost


def _in_blocks(fork: tuple[int, int, tuple], block_size: int) -> tuple[int, int, tuple]:
    """(size, physical bytes, extents) -> (size, allocation blocks, extents)."""
    size, physical, extents = fork
    return size, -(-physical // block_size), extents


def _tree(reader: SectorReader, volume: HfsVolume, extents: tuple[tuple[int, int], ...], size: int, name: str,
          problems: list[str]) -> BTree | None:
    if not size:
        return None
    fork = Fork(volume, extents, size)
    tree = BTree.open(reader, fork, name) or BTree.scan(reader, fork, name, (512,))
    if tree is None:
        problems.append(f"the {name} file's header node is unreadable or is not a B-tree header")
    return tree
