"""From catalog records to listed files, for HFS and HFS+ alike: whole forks (the catalog's first
extents, then the extents overflow file), paths (parent IDs, with thread records where a folder's
own record was lost), hard links, and each fork against the sector map."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..record.fs_tables import FileEntry, Unreadable
from .hfs_btree import BTree, Fork, HfsVolume
from .reader import SectorReader

MAX_DEPTH = 512                      # parent links followed for one path
MAX_OVERFLOW_RECORDS = 65536         # extent records gathered for one fork
DATA_FORK, RESOURCE_FORK = 0x00, 0xFF
RESOURCE_SUFFIX = "/..namedfork/rsrc"   # how macOS names a resource fork as a path


@dataclass
class Node:
    """One catalog file or folder, file-system neutral."""

    cnid: int
    parent: int
    name: str
    is_dir: bool
    entry_lba: int | None
    mtime_utc: str | None = None
    mode: str | None = None
    uid: int | None = None
    gid: int | None = None
    data: tuple[int, int, tuple[tuple[int, int], ...]] | None = None      # (logical size, total blocks, extents)
    resource: tuple[int, int, tuple[tuple[int, int], ...]] | None = None
    metadata: dict = field(default_factory=dict)
    hard_link_inode: int | None = None


class Overflow:
    """The extents overflow file: (fork type, file id) -> [(first file block, extents)], in order."""

    def __init__(self) -> None:
        self.records: dict[tuple[int, int], list[tuple[int, tuple[tuple[int, int], ...]]]] = {}

    def add(self, fork_type: int, file_id: int, start: int, extents: tuple[tuple[int, int], ...]) -> None:
        bucket = self.records.setdefault((fork_type, file_id), [])
        if len(bucket) < MAX_OVERFLOW_RECORDS:
            bucket.append((start, extents))

    def whole(self, fork_type: int, file_id: int, first: tuple[tuple[int, int], ...],
              total_blocks: int) -> tuple[tuple[tuple[int, int], ...], int]:
        """The fork's extents in file order, and how many of its blocks no extent record describes
        (their overflow record is lost, or was never written)."""
        out = list(first)
        have = sum(n for _, n in out)
        for start, more in sorted(self.records.get((fork_type, file_id), ())):
            if have >= total_blocks:
                break
            if start != have:
                break                                   # a gap: the record for `have` is missing
            out.extend(more)
            have += sum(n for _, n in more)
        return tuple(out), max(0, total_blocks - have)


def read_overflow(tree: BTree | None, decode_key, decode_extents) -> Overflow:
    overflow = Overflow()
    if tree is None:
        return overflow
    for _, key, body in tree.leaf_records():
        parsed = decode_key(key)
        if parsed is not None:
            overflow.add(*parsed, decode_extents(body))
    return overflow


def lost_nodes(tree: BTree, fs_id: int, what: str) -> list[Unreadable]:
    out = []
    for number in sorted(tree.lost):
        out.extend(Unreadable(fs_id, None, lba, count, what) for lba, count in tree.node_sectors(number))
    return out


@dataclass
class Listing:
    """What the catalog walk gives: files, and sentences about what it could not read."""

    files: list[FileEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def list_nodes(reader: SectorReader, fs_id: int, volume: HfsVolume, nodes: dict[int, Node],
               threads: dict[int, tuple[int, str]], overflow: Overflow, root_id: int, *,
               read_via: str | None = None, max_files: int = 2_000_000) -> Listing:
    """The files of a catalog, with paths from the root folder and forks mapped to sectors."""
    listing = Listing()
    inodes = {int(n.name[5:]): n for n in nodes.values() if n.name.startswith("iNode") and n.name[5:].isdigit()}
    for node in sorted(nodes.values(), key=lambda n: n.cnid)[:max_files]:
        path = _path(node.cnid, nodes, threads, root_id)
        if path is None:
            path = f"/?folder-{node.parent}/{node.name}"
            listing.problems.append(f"{path}: the folder (CNID {node.parent}) that holds it is lost from the catalog")
        source = node
        if node.hard_link_inode is not None:
            target = inodes.get(node.hard_link_inode)
            if target is None:
                listing.problems.append(f"{path}: hard link to iNode{node.hard_link_inode}, which the catalog lacks")
            else:
                source = target
        forks = [("", source.data, DATA_FORK)]
        if source.resource and source.resource[0]:
            forks.append((RESOURCE_SUFFIX, source.resource, RESOURCE_FORK))
        for suffix, fork, fork_type in forks:
            size, extents, missing = 0, (), 0
            if fork is not None:
                size, total, first = fork
                extents, missing = overflow.whole(fork_type, source.cnid, first, total)
            whole = Fork(volume, extents, size)
            sectors = whole.sectors()
            if missing:
                listing.problems.append(f"{path}{suffix}: {missing} allocation blocks are in no extent record read")
            bad = sum(reader.unreadable_count(a, n) for a, n in sectors)
            meta = dict(node.metadata)
            if node.hard_link_inode is not None:
                meta["hard_link_to"] = f"iNode{node.hard_link_inode}"
            if missing:
                meta["unmapped_blocks"] = missing
            if (volume.block_size % 2048 or volume.base % 2048) and size:
                # blocks not aligned to sectors: the sectors hold other bytes too; say which are the fork's
                meta["byte_runs"] = [list(run) for run in whole.byte_runs()]
            listing.files.append(FileEntry(
                fs_id, path + suffix, size, node.is_dir, sectors, node.mtime_utc, node.mode,
                bad + missing * volume.block_size // 2048 + (1 if missing and volume.block_size < 2048 else 0),
                node.entry_lba, False, None, node.uid, node.gid, read_via=read_via, metadata=meta))
    return listing


def _path(cnid: int, nodes: dict[int, Node], threads: dict[int, tuple[int, str]], root_id: int) -> str | None:
    if cnid == root_id:
        return "/"
    parts = []
    current = cnid
    for _ in range(MAX_DEPTH):
        if current == root_id:
            return "/" + "/".join(reversed(parts))
        node = nodes.get(current)
        parent, name = (node.parent, node.name) if node is not None else threads.get(current, (None, None))
        if parent is None:
            return None
        parts.append(name)
        current = parent
    return None
