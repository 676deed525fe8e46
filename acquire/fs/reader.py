"""Sectors of an image as the analysis sees them: bytes, and whether the map says they were read.

An unreadable sector is zero-filled in the image (docs/reference/contracts.md "The image and the record"), and zeros parse as plausible empty
structures: every parser here asks `readable()` first and reports what it could not read, instead
of trusting the bytes.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..drive.mmc import USER_DATA_BYTES
from ..rescue.sectormap import SectorMap, State

SECTOR = USER_DATA_BYTES            # an image sector: the drive's 2048 bytes of user data


class SectorReader:
    """Reads 2048-byte sectors from an image, checking each against the sector map."""

    def __init__(self, image_path: Path, smap: SectorMap | None) -> None:
        self.path = Path(image_path)
        self._fd = os.open(self.path, os.O_RDONLY)
        self.size_bytes = os.fstat(self._fd).st_size
        self.sectors = self.size_bytes // SECTOR
        self.smap = smap

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> SectorReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def unreadable_count(self, lba: int, count: int) -> int:
        """How many of sectors lba .. lba+count-1 hold no data read from the disc (past the image's
        end counts as unreadable: the disc had no such sector, or the image was cut)."""
        if count <= 0:
            return 0
        end = lba + count
        inside_end = min(end, self.sectors)
        missing = end - max(inside_end, lba)
        if self.smap is not None and lba < inside_end:
            map_end = min(inside_end, self.smap.sectors)
            if lba < map_end:
                missing += sum(r.count for r in self.smap.runs(lba, map_end) if r.state != State.FINISHED)
            missing += inside_end - max(map_end, lba)            # beyond the map: never read
        return missing

    def readable(self, lba: int, count: int = 1) -> bool:
        return lba >= 0 and self.unreadable_count(lba, count) == 0

    def bad_runs(self, lba: int, count: int) -> list[tuple[int, int]]:
        """The unreadable stretches (lba, count) inside lba .. lba+count-1."""
        out: list[tuple[int, int]] = []
        for sector in range(lba, lba + count) if count < 4096 else ():
            if not self.readable(sector):
                if out and out[-1][0] + out[-1][1] == sector:
                    out[-1] = (out[-1][0], out[-1][1] + 1)
                else:
                    out.append((sector, 1))
        if count >= 4096 and self.smap is not None:           # long extents: walk the map's runs
            for run in self.smap.runs(lba, min(lba + count, self.smap.sectors)):
                if run.state != State.FINISHED:
                    out.append((run.start, run.count))
        return out

    def read(self, lba: int, count: int = 1) -> bytes:
        """The bytes of sectors lba .. lba+count-1 as the image holds them (zeros past its end)."""
        if lba < 0 or count < 0:
            raise ValueError(f"cannot read {count} sectors at {lba}")
        data = os.pread(self._fd, count * SECTOR, lba * SECTOR)
        return data + bytes(count * SECTOR - len(data))

    def read_bytes(self, offset: int, length: int) -> bytes:
        data = os.pread(self._fd, length, offset)
        return data + bytes(length - len(data))
