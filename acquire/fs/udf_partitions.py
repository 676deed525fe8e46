"""UDF addressing: from (partition reference, logical block) to an image sector, through every map
kind UDF 2.60 has: physical (Type 1), sparable (remapped packets, UDF 2.2.9), virtual (the VAT,
2.2.11) and metadata (2.2.10; the metadata file, and its mirror as a second copy of each block)."""
from __future__ import annotations

from dataclasses import dataclass, field


class UdfError(Exception):
    pass


@dataclass
class Partition:
    number: int
    start: int
    length: int


MIRROR = "metadata mirror"


@dataclass
class Addressing:
    maps: list[dict] = field(default_factory=list)                     # by partition reference
    partitions: dict[int, Partition] = field(default_factory=dict)     # by partition number
    sparing: dict[int, tuple[int, dict[int, int]]] = field(default_factory=dict)   # ref -> (packet, remap)
    vat: dict[int, list[int]] = field(default_factory=dict)            # ref -> virtual block -> partition block
    metadata: dict[int, dict[str, list[tuple[int, int, int]]]] = field(default_factory=dict)
    # ref -> {'main' | 'mirror': [(file block, physical lba, blocks)]}

    def partition(self, number: int) -> Partition:
        part = self.partitions.get(number)
        if part is None:
            raise UdfError(f"partition {number} has no partition descriptor")
        return part

    def lba(self, ref: int, lbn: int, copy: str = "main") -> int:
        """The absolute sector of block `lbn` of partition reference `ref` (for a metadata partition,
        in its main file or its mirror)."""
        if not 0 <= ref < len(self.maps):
            raise UdfError(f"partition reference {ref} is not in the logical volume's {len(self.maps)} maps")
        m = self.maps[ref]
        kind = m["kind"]
        if kind == "metadata":
            extents = self.metadata.get(ref, {}).get(copy)
            if extents is None:
                raise UdfError(f"the metadata partition's {copy} file could not be read")
            for file_block, phys, blocks in extents:
                if file_block <= lbn < file_block + blocks:
                    return phys + (lbn - file_block)
            raise UdfError(f"block {lbn} of the metadata partition is not mapped by its {copy} file")
        part = self.partition(m["partition"])
        if kind == "virtual":
            table = self.vat.get(ref)
            if table is None:
                raise UdfError("the virtual partition's VAT was not found")
            if lbn >= len(table) or table[lbn] == 0xFFFFFFFF:
                raise UdfError(f"virtual block {lbn} is not in the VAT")
            return part.start + table[lbn]
        if kind == "sparable" and ref in self.sparing:
            packet, remap = self.sparing[ref]
            first = lbn - lbn % packet if packet else lbn
            if first in remap:
                return remap[first] + (lbn - first)
        return part.start + lbn

    def copies(self, ref: int, lbn: int) -> list[tuple[int | None, str | None]]:
        """Where block (ref, lbn) can be read: (lba, copy name; None for the main one). A metadata
        partition's block has two: the metadata file's and the mirror's (None where unmapped)."""
        if 0 <= ref < len(self.maps) and self.maps[ref]["kind"] == "metadata":
            out: list[tuple[int | None, str | None]] = []
            for copy, name in (("main", None), ("mirror", MIRROR)):
                try:
                    out.append((self.lba(ref, lbn, copy), name))
                except UdfError:
                    out.append((None, name))
            return out
        return [(self.lba(ref, lbn), None)]

    def runs(self, ref: int, lbn: int, blocks: int) -> list[tuple[int, int]]:
        """Absolute (lba, count) runs of `blocks` blocks from (ref, lbn), split where the mapping is not
        contiguous (a metadata file in pieces, a remapped packet, a virtual partition)."""
        if blocks <= 0:
            return []
        kind = self.maps[ref]["kind"] if 0 <= ref < len(self.maps) else None
        if kind == "physical" or (kind == "sparable" and not self.sparing.get(ref, (0, {}))[1]) or kind is None:
            return [(self.lba(ref, lbn), blocks)]
        out: list[tuple[int, int]] = []
        for i in range(min(blocks, 1 << 22)):
            lba = self.lba(ref, lbn + i)
            if out and out[-1][0] + out[-1][1] == lba:
                out[-1] = (out[-1][0], out[-1][1] + 1)
            else:
                out.append((lba, 1))
        return out

    def physical_ref(self, number: int) -> int | None:
        """The Type 1 map's reference for partition `number` (what a VAT's own entry is addressed in)."""
        for ref, m in enumerate(self.maps):
            if m["kind"] in ("physical", "sparable") and m["partition"] == number:
                return ref
        return None


def merge_runs(extents: list[tuple[int, int]], runs: list[tuple[int, int]]) -> None:
    """Append `runs` to `extents`, joining a run that continues the last extent."""
    for lba, count in runs:
        if extents and extents[-1][0] + extents[-1][1] == lba:
            extents[-1] = (extents[-1][0], extents[-1][1] + count)
        else:
            extents.append((lba, count))
