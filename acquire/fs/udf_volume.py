"""Finding a UDF volume on damaged media: every anchor (ECMA-167 3/8.4.2.1: sector 256, N-256 and N;
and, when the image runs on past what was recorded, the last recorded sector and 256 before it),
both volume descriptor sequences (main and reserve, 3/8.4.2), compared, and the logical volume
integrity sequence (3/10.10)."""
from __future__ import annotations

import struct
from dataclasses import dataclass, field

from .reader import SECTOR, SectorReader
from .udf_descriptors import ANCHOR_LBA, AVDP, LVD, PD, PVD, TD, anchor_extents, logical_volume, partition, \
    partition_maps, primary_volume, tag
from .udf_tables import integrity

MAX_VDS_SECTORS = 256
MAX_TAIL_SCAN = 4096          # sectors looked back through for the last recorded one
MAX_INTEGRITY_HOPS = 16
RESERVE = "reserve volume descriptor sequence"


def last_recorded(reader: SectorReader) -> int | None:
    """The last sector that was read and is not all zeros, looking back from the image's end (a disc
    whose capacity says more than was written; a CD-R's run-out blocks that did not read)."""
    zero = bytes(SECTOR)
    for lba in range(reader.sectors - 1, max(-1, reader.sectors - 1 - MAX_TAIL_SCAN), -1):
        if reader.readable(lba) and reader.read(lba) != zero:
            return lba
    return None


def anchors(reader: SectorReader) -> tuple[list[tuple[int, bytes]], dict[str, str], int | None]:
    """The valid anchors (lba, bytes) in the order tried, what each place held, and the last recorded sector."""
    n = reader.sectors - 1
    tail = last_recorded(reader)
    places = [ANCHOR_LBA, n - ANCHOR_LBA, n]
    if tail is not None and tail != n:
        places += [tail, tail - ANCHOR_LBA]
    found, seen = [], {}
    for lba in dict.fromkeys(places):
        if not 0 <= lba < reader.sectors:
            continue
        if not reader.readable(lba):
            seen[str(lba)] = "unreadable"
            continue
        data = reader.read(lba)
        t = tag(data)
        if t and t[0] == AVDP:
            found.append((lba, data))
            seen[str(lba)] = "anchor"
        else:
            seen[str(lba)] = "no anchor"
    return found, seen, tail


@dataclass
class Sequence:
    """What one volume descriptor sequence held."""

    name: str
    pvd: dict | None = None
    partitions: list[dict] = field(default_factory=list)
    lvd: bytes | None = None
    unreadable: list[int] = field(default_factory=list)

    def usable(self) -> bool:
        return self.lvd is not None and bool(self.partitions)

    def layout(self) -> tuple:
        """What both copies must agree on: partitions, maps, the file set's place."""
        if self.lvd is None:
            return (tuple(sorted((p["number"], p["start"], p["length"]) for p in self.partitions)), None)
        lv = logical_volume(self.lvd)
        maps, _ = partition_maps(self.lvd, lv.map_count)
        return (tuple(sorted((p["number"], p["start"], p["length"]) for p in self.partitions)),
                repr(maps), lv.fsd, lv.block_size)


def read_sequence(reader: SectorReader, location: int, length_bytes: int, name: str) -> Sequence:
    seq = Sequence(name)
    for lba in range(location, location + min(length_bytes // SECTOR, MAX_VDS_SECTORS)):
        if not 0 <= lba < reader.sectors or not reader.readable(lba):
            seq.unreadable.append(lba)
            continue
        d = reader.read(lba)
        t = tag(d)
        if t is None:
            continue
        if t[0] == TD:
            break
        if t[0] == PVD and seq.pvd is None:
            seq.pvd = primary_volume(d)
        elif t[0] == PD:
            seq.partitions.append(partition(d))
        elif t[0] == LVD and seq.lvd is None:
            seq.lvd = d
    return seq


def sequences(reader: SectorReader, avdp: bytes) -> tuple[Sequence | None, Sequence | None, list[str]]:
    """(the sequence to read through, the other one, problems): main unless only the reserve is usable."""
    (main_len, main_loc), (res_len, res_loc) = anchor_extents(avdp)
    main = read_sequence(reader, main_loc, main_len, "main volume descriptor sequence")
    reserve = read_sequence(reader, res_loc, res_len, RESERVE)
    problems = [f"{s.name}: sectors {', '.join(map(str, s.unreadable[:16]))} are unreadable"
                for s in (main, reserve) if s.unreadable]
    if main.usable() and reserve.usable() and main.layout() != reserve.layout():
        problems.append("the main and reserve volume descriptor sequences disagree on the partitions, "
                        "maps or file set location; read through the main one")
    if main.usable():
        return main, reserve, problems
    if reserve.usable():
        return reserve, main, problems
    return None, None, problems


def integrity_sequence(reader: SectorReader, lvd: bytes) -> dict | None:
    """The last logical volume integrity descriptor of the sequence the LVD points at (bytes 432-439:
    integrity sequence extent, length then location), following next-extent links, bounded."""
    length, location = struct.unpack_from("<II", lvd, 432)
    last = None
    for _ in range(MAX_INTEGRITY_HOPS):
        if not length:
            break
        step = None
        for lba in range(location, location + min(length // SECTOR, 64)):
            if not 0 <= lba < reader.sectors or not reader.readable(lba):
                break
            found = integrity(reader.read(lba))
            if found is None:
                break
            last, step = {**found, "lba": lba}, found["next_extent"]
        if not step:
            break
        location, length = step
    return last
