"""An HFS+ volume read against the map (Apple TN1150): the volume header or, when it is unreadable,
its alternate copy 1024 bytes before the volume's end; the extents overflow and catalog B-trees;
every file and folder with its forks, dates, owner and mode, Finder type and creator; hard links
resolved to their iNode file. The bytes: fs/hfsplus_records.py."""
from __future__ import annotations

import struct

from ..record.fs_tables import FileEntry, Filesystem, Unreadable
from . import hfsplus_records as rec
from .hfs_btree import BTree, Fork, HfsVolume, bytes_readable
from .hfs_tree import DATA_FORK, Node, list_nodes, lost_nodes, read_overflow
from .reader import SECTOR, SectorReader

HEADER_OFFSET = 1024
ALTERNATE = "alternate volume header"


def _header_at(reader: SectorReader, offset: int) -> tuple[rec.VolumeHeader | None, bool]:
    """(the header at `offset`, whether its bytes were readable)."""
    if offset < 0 or not bytes_readable(reader, offset, 512):
        return None, False
    return rec.volume_header(reader.read_bytes(offset, 512)), True


def locate(reader: SectorReader, offset: int, length: int | None) -> tuple[rec.VolumeHeader | None, str | None, list[str], list[Unreadable]]:
    """The header to read the volume through ('main', ALTERNATE), and what disagreed or was lost.
    `length`: the volume's bytes when a partition map says so (else the image's rest is tried)."""
    problems: list[str] = []
    lost: list[Unreadable] = []
    main, main_read = _header_at(reader, offset + HEADER_OFFSET)
    if not main_read:
        lost.append(Unreadable(None, None, (offset + HEADER_OFFSET) // SECTOR, 1, "volume header"))
        problems.append(f"the HFS+ volume header at byte {offset + HEADER_OFFSET} is unreadable")
    ends = []
    if main is not None:
        ends.append(offset + main.total_blocks * main.block_size)
    if length:
        ends.append(offset + length)
    ends.append(reader.size_bytes)
    alternate = None
    for end in dict.fromkeys(ends):
        alternate, read = _header_at(reader, end - HEADER_OFFSET)
        if alternate is not None:
            break
        if not read and main is not None and end == ends[0]:
            lost.append(Unreadable(None, None, (end - HEADER_OFFSET) // SECTOR, 1, "alternate volume header"))
            problems.append(f"the alternate volume header at byte {end - HEADER_OFFSET} is unreadable")
    if main is not None:
        if alternate is not None and alternate.structural() != main.structural():
            problems.append("the volume header and its alternate disagree on the volume's layout "
                            "(block size, blocks, or the catalog's or extents file's extents); read through the main one")
        return main, "main", problems, lost
    if alternate is not None:
        return alternate, ALTERNATE, problems, lost
    return None, None, problems, lost


def read_hfsplus(reader: SectorReader, fs_id: int, offset: int, *, length: int | None = None,
                 details: dict | None = None) -> tuple[Filesystem, list[FileEntry], list[Unreadable]] | None:
    """The HFS+ volume starting `offset` bytes into the image, or None when neither header is there."""
    header, via, problems, lost = locate(reader, offset, length)
    if header is None:
        return None
    details = {**(details or {}), "offset_bytes": offset, **header.details(), "read_via": via}
    lost = [Unreadable(fs_id, u.path, u.lba, u.count, u.what) for u in lost]
    volume = HfsVolume(offset, header.block_size, header.total_blocks)
    files: list[FileEntry] = []
    extents_tree = _tree(reader, volume, header.extents_file, "extents overflow", problems)
    overflow = read_overflow(extents_tree, rec.extents_key, lambda body: rec.extents(body, 8) if len(body) >= 64 else ())
    catalog_fork = header.catalog_file
    first, missing = overflow.whole(DATA_FORK, rec.CATALOG_FILE_ID, catalog_fork.extents, catalog_fork.total_blocks)
    catalog = _tree(reader, volume, rec.ForkData(catalog_fork.logical_size, catalog_fork.total_blocks, first),
                    "catalog", problems)
    if missing:
        problems.append(f"the catalog file's last {missing} allocation blocks are in no extent record read")
    label = None
    if catalog is not None:
        details.update(catalog_node_size=catalog.header.node_size, catalog_depth=catalog.header.depth,
                       catalog_sectors=[list(run) for run in catalog.fork.sectors()[:64]])
        nodes, threads = _catalog(catalog, volume)
        root = threads.get(rec.ROOT_FOLDER_ID)
        label = root[1] if root else (nodes[rec.ROOT_FOLDER_ID].name if rec.ROOT_FOLDER_ID in nodes else None)
        listing = list_nodes(reader, fs_id, volume, nodes, threads, overflow, rec.ROOT_FOLDER_ID,
                             read_via=None if via == "main" else via)
        files, problems = listing.files, problems + listing.problems
        lost += lost_nodes(catalog, fs_id, "catalog node")
        problems += [f"catalog B-tree node {n} is unreadable: the records of a leaf there are lost "
                     "(an index node costs nothing while the leaf chain holds)"
                     for n in sorted(catalog.lost)]
        problems += catalog.problems
    if extents_tree is not None:
        lost += lost_nodes(extents_tree, fs_id, "extents node")
        problems += [f"extents overflow node {n} is unreadable" for n in sorted(extents_tree.lost)]
    return Filesystem(fs_id, "hfsplus", label, details, tuple(problems)), files, lost


def _tree(reader: SectorReader, volume: HfsVolume, fork: rec.ForkData, name: str, problems: list[str]) -> BTree | None:
    if not fork.logical_size:
        return None
    whole = Fork(volume, fork.extents, fork.logical_size)
    tree = BTree.open(reader, whole, name) or BTree.scan(reader, whole, name, (4096, 8192, 2048, 1024, 512))
    if tree is None:
        problems.append(f"the {name} file's header node is unreadable or is not a B-tree header")
    return tree


def _catalog(tree: BTree, volume: HfsVolume) -> tuple[dict[int, Node], dict[int, tuple[int, str]]]:
    nodes: dict[int, Node] = {}
    threads: dict[int, tuple[int, str]] = {}
    for number, key, body in tree.leaf_records():
        parsed = rec.catalog_key(key)
        if parsed is None:
            continue
        parent, name = parsed
        if (t := rec.thread(body)) is not None:
            threads[parent] = t                # a thread's key holds the CNID it describes
            continue
        entry = rec.catalog_entry(body)
        if entry is None:
            continue
        sectors = tree.node_sectors(number)
        node = Node(entry.cnid, parent, name, entry.is_dir, sectors[0][0] if sectors else None,
                    entry.modified, entry.mode(), entry.owner if entry.file_mode else None,
                    entry.group if entry.file_mode else None, metadata=entry.metadata())
        if entry.data is not None:
            node.data = (entry.data.logical_size, entry.data.total_blocks, entry.data.extents)
            node.resource = (entry.resource.logical_size, entry.resource.total_blocks, entry.resource.extents)
        if entry.is_hard_link():
            node.hard_link_inode = entry.special
        nodes[entry.cnid] = node
    return nodes, threads


def header_sector_bytes(reader: SectorReader, offset: int) -> bytes:
    """The 512 bytes where a volume header would be (the system-area probe decides the kind)."""
    return reader.read_bytes(offset + HEADER_OFFSET, 512)


def embedded_offset(mdb: bytes, offset: int) -> int | None:
    """An HFS wrapper's embedded HFS+ volume (TN1150 "HFS Wrapper"): MDB bytes 124-125 drEmbedSigWord
    'H+', 126-129 drEmbedExtent (start block u16, count u16), 20-23 drAlBlkSiz, 28-29 drAlBlSt."""
    if len(mdb) < 130 or mdb[124:126] not in rec.HFSPLUS_SIGNATURES:
        return None
    block_size, = struct.unpack_from(">I", mdb, 20)
    first_sector, = struct.unpack_from(">H", mdb, 28)
    start, = struct.unpack_from(">H", mdb, 126)
    return offset + first_sector * 512 + start * block_size
