"""What HFS and HFS+ share: forks laid out in allocation blocks, and B-trees of nodes read through
them (Inside Macintosh: Files 2-64 ff.; Apple TN1150 "B-Trees"), read against the sector map.

    fork = Fork(volume, extents, logical_size)      # extents: (start block, block count), file order
    tree = BTree.open(reader, fork, "catalog")      # the header node; None when unreadable
    for node_no, node in tree.leaves(): ...         # index walk plus leaf chain, bounded

A node sector the map does not mark read is lost, never parsed: `tree.lost` lists the node numbers.
Leaves are found both through the index nodes and along the leaf chain, so one lost index node
(or one lost leaf's link) does not hide the leaves the other path still reaches.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .reader import SECTOR, SectorReader

NODE_LEAF, NODE_INDEX, NODE_HEADER, NODE_MAP = -1, 0, 1, 2
MAX_NODES = 1 << 20                     # a sanity bound on the nodes one tree is walked through
MAX_NODE_SIZE = 32768
MAX_LOST = 4096                         # unreadable nodes noted before the walk gives up on the rest
BIG_KEYS = 0x2                          # kBTBigKeysMask: keyLength is 16-bit (HFS+)
VARIABLE_INDEX_KEYS = 0x4               # kBTVariableIndexKeysMask


@dataclass(frozen=True, slots=True)
class HfsVolume:
    """Where a volume's allocation blocks are: block n starts at `base + n * block_size` bytes."""

    base: int                           # bytes from the image start to allocation block 0
    block_size: int
    total_blocks: int


@dataclass(frozen=True, slots=True)
class Fork:
    """A fork's bytes: allocation-block extents in file order, cut to the logical size."""

    volume: HfsVolume
    extents: tuple[tuple[int, int], ...]        # (start block, block count)
    logical_size: int

    def byte_runs(self) -> list[tuple[int, int]]:
        """(image byte offset, length) of the fork's logical bytes, in file order."""
        out, left = [], self.logical_size
        for start, count in self.extents:
            if left <= 0:
                break
            length = min(count * self.volume.block_size, left)
            out.append((self.volume.base + start * self.volume.block_size, length))
            left -= length
        return out

    def allocated_bytes(self) -> int:
        return sum(count for _, count in self.extents) * self.volume.block_size

    def sectors(self) -> tuple[tuple[int, int], ...]:
        """The image sectors (lba, count) holding the fork's logical bytes, joined where contiguous.
        HFS blocks need not align to 2048-byte sectors: a sector can be shared with the next file."""
        out: list[tuple[int, int]] = []
        for offset, length in self.byte_runs():
            lba, end = offset // SECTOR, (offset + length + SECTOR - 1) // SECTOR
            if out and out[-1][0] <= lba <= out[-1][0] + out[-1][1]:
                first = out[-1][0]
                out[-1] = (first, max(out[-1][0] + out[-1][1], end) - first)
            else:
                out.append((lba, end - lba))
        return tuple(out)


def bytes_readable(reader: SectorReader, offset: int, length: int) -> bool:
    if length <= 0:
        return True
    first = offset // SECTOR
    return reader.readable(first, (offset + length - 1) // SECTOR - first + 1)


def fork_read(reader: SectorReader, fork: Fork, offset: int, length: int) -> bytes | None:
    """`length` bytes at `offset` into the fork, or None when any of them is unread (or outside it)."""
    out = bytearray()
    position = 0
    for run_offset, run_length in fork.byte_runs():
        lo, hi = max(offset, position), min(offset + length, position + run_length)
        if lo < hi:
            image_offset = run_offset + lo - position
            if not bytes_readable(reader, image_offset, hi - lo):
                return None
            out += reader.read_bytes(image_offset, hi - lo)
        position += run_length
        if position >= offset + length:
            break
    return bytes(out) if len(out) == length else None


@dataclass(frozen=True, slots=True)
class NodeDescriptor:
    """The first 14 bytes of every node (TN1150 BTNodeDescriptor; Inside Macintosh NodeDescriptor)."""

    # bytes 0-3 fLink, 4-7 bLink (node numbers, big-endian), byte 8 kind (signed: -1 leaf, 0 index,
    # 1 header, 2 map), byte 9 height, bytes 10-11 numRecords, 12-13 reserved
    f_link: int
    b_link: int
    kind: int
    height: int
    num_records: int


def node_descriptor(node: bytes) -> NodeDescriptor:
    f_link, b_link, kind, height, count = struct.unpack_from(">IIbBH", node, 0)
    return NodeDescriptor(f_link, b_link, kind, height, count)


def node_records(node: bytes) -> list[bytes]:
    """The records of a node: their offsets are u16s at the node's end, record 0's last (TN1150)."""
    desc = node_descriptor(node)
    size = len(node)
    count = min(desc.num_records, (size - 14) // 2)
    offsets = [struct.unpack_from(">H", node, size - 2 * (i + 1))[0] for i in range(count + 1)]
    out = []
    for i in range(count):
        start, end = offsets[i], offsets[i + 1]
        if not 14 <= start <= end <= size - 2 * (count + 1):
            break                                        # offsets out of order: the rest is not trusted
        out.append(node[start:end])
    return out


@dataclass(frozen=True, slots=True)
class HeaderRecord:
    """The header node's first record (TN1150 BTHeaderRec; Inside Macintosh BTHdrRec)."""

    # bytes 0-1 treeDepth, 2-5 rootNode, 6-9 leafRecords, 10-13 firstLeafNode, 14-17 lastLeafNode,
    # 18-19 nodeSize, 20-21 maxKeyLength, 22-25 totalNodes, 26-29 freeNodes (all big-endian);
    # HFS+ only: 32-35 clumpSize, 36 btreeType, 37 keyCompareType, 38-41 attributes
    depth: int
    root: int
    leaf_records: int
    first_leaf: int
    last_leaf: int
    node_size: int
    max_key_length: int
    total_nodes: int
    free_nodes: int
    attributes: int


def header_record(record: bytes) -> HeaderRecord | None:
    if len(record) < 30:
        return None
    depth, root, leaf_records, first, last, node_size, max_key, total, free = struct.unpack_from(">HIIIIHHII", record)
    attributes = struct.unpack_from(">I", record, 38)[0] if len(record) >= 42 else 0
    return HeaderRecord(depth, root, leaf_records, first, last, node_size, max_key, total, free, attributes)


@dataclass
class BTree:
    """One B-tree file (catalog or extents overflow) of a volume."""

    reader: SectorReader
    fork: Fork
    name: str
    header: HeaderRecord
    lost: list[int] = field(default_factory=list)          # node numbers that could not be read
    problems: list[str] = field(default_factory=list)
    scanned: bool = False                                   # header lost: every node is looked at

    @classmethod
    def scan(cls, reader: SectorReader, fork: Fork, name: str, node_sizes: tuple[int, ...]) -> BTree | None:
        """A tree whose header node is lost: leaves are found by looking at every node (the node size
        guessed from the first node that reads as a leaf). Free nodes may hold stale leaves."""
        fork = Fork(fork.volume, fork.extents, min(fork.logical_size, fork.allocated_bytes()))
        for size in node_sizes:
            count = fork.logical_size // size
            for number in range(1, min(count, 64)):
                node = fork_read(reader, fork, number * size, size)
                if node is not None and node_descriptor(node).kind == NODE_LEAF and node_descriptor(node).height == 1 \
                        and node_records(node):
                    header = HeaderRecord(0, 0, 0, 0, 0, size, 0, count, 0, BIG_KEYS if size > 512 else 0)
                    tree = cls(reader, fork, name, header, lost=[0], scanned=True)
                    tree.problems.append(f"{name} B-tree: the header node is unreadable; its leaves were found by "
                                         "looking at every node, free ones included (a stale record may show)")
                    return tree
        return None

    @classmethod
    def open(cls, reader: SectorReader, fork: Fork, name: str, *, node_size: int = 512) -> BTree | None:
        """The tree whose header node starts the fork (HFS nodes are 512 bytes; HFS+ says in its header
        record how big its nodes are, and the header record sits in the first 512 bytes either way)."""
        fork = Fork(fork.volume, fork.extents, min(fork.logical_size, fork.allocated_bytes()))
        head = fork_read(reader, fork, 0, 512)
        if head is None or node_descriptor(head).kind != NODE_HEADER:
            return None
        header = header_record(head[14:])
        if header is None or header.node_size not in (512, 1024, 2048, 4096, 8192, 16384, 32768):
            return None
        return cls(reader, fork, name, header)

    def node(self, number: int) -> bytes | None:
        size = self.header.node_size
        if number >= self.header.total_nodes or (number + 1) * size > self.fork.logical_size:
            if len(self.problems) < 64:
                self.problems.append(f"{self.name} B-tree: node {number} lies outside the tree")
            return None
        if len(self.lost) >= MAX_LOST:
            return None
        data = fork_read(self.reader, self.fork, number * size, size)
        if data is None and number not in self.lost:
            self.lost.append(number)
            if len(self.lost) == MAX_LOST:
                self.problems.append(f"{self.name} B-tree: {MAX_LOST} nodes unreadable; the rest were not tried")
        return data

    def node_sectors(self, number: int) -> list[tuple[int, int]]:
        """The image sectors of one node (for the unreadable-tree rows)."""
        size = self.header.node_size
        sub = Fork(self.fork.volume, self.fork.extents, self.fork.logical_size)
        out = []
        position = 0
        for offset, length in sub.byte_runs():
            lo, hi = max(number * size, position), min((number + 1) * size, position + length)
            if lo < hi:
                first = (offset + lo - position) // SECTOR
                last = (offset + hi - position - 1) // SECTOR
                out.append((first, last - first + 1))
            position += length
        return out

    def leaves(self) -> list[tuple[int, bytes]]:
        """(node number, bytes) of every leaf reachable through the index or along the leaf chain."""
        found: dict[int, bytes] = {}
        if self.scanned:
            for number in range(1, min(self.header.total_nodes, MAX_NODES)):
                if len(self.lost) >= MAX_LOST:
                    break
                node = self.node(number)
                if node is not None and node_descriptor(node).kind == NODE_LEAF:
                    found[number] = node
            return sorted(found.items())
        visited: set[int] = set()
        stack = [self.header.root] if self.header.depth else []
        while stack and len(visited) < MAX_NODES:
            number = stack.pop()
            if number in visited:
                continue
            visited.add(number)
            node = self.node(number)
            if node is None:
                continue
            desc = node_descriptor(node)
            if desc.kind == NODE_LEAF:
                found[number] = node
            elif desc.kind == NODE_INDEX:
                stack.extend(reversed([p for p in (self.index_pointer(r) for r in node_records(node)) if p is not None]))
        number, hops = self.header.first_leaf, 0
        while number and hops < MAX_NODES:
            hops += 1
            node = found.get(number) or (self.node(number) if number not in visited else None)
            visited.add(number)
            if node is None or node_descriptor(node).kind != NODE_LEAF:
                break
            found[number] = node
            number = node_descriptor(node).f_link
        return sorted(found.items())

    def key_length(self, record: bytes) -> int:
        """The bytes the key takes at the start of a record, its length field included, padded to even."""
        if self.header.attributes & BIG_KEYS:
            length = 2 + (struct.unpack_from(">H", record)[0] if len(record) >= 2 else 0)
        else:
            length = 1 + (record[0] if record else 0)
        return length + (length & 1)

    def index_pointer(self, record: bytes) -> int | None:
        offset = self.key_length(record)
        if not (self.header.attributes & (BIG_KEYS | VARIABLE_INDEX_KEYS)) and self.header.max_key_length:
            offset = max(offset, 1 + self.header.max_key_length + ((1 + self.header.max_key_length) & 1))
        if len(record) < offset + 4:
            return None
        return struct.unpack_from(">I", record, offset)[0]

    def leaf_records(self) -> list[tuple[int, bytes, bytes]]:
        """(node number, key bytes, record body) of every leaf record found."""
        out = []
        for number, node in self.leaves():
            for record in node_records(node):
                split = self.key_length(record)
                if split < len(record):
                    out.append((number, record[:split], record[split:]))
        return out
