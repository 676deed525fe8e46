"""The reads of the audio track being ripped, kept as they come (IMAGE-stem.audio-parts/NN.reads), so
that a run stopped inside a track (kill -9, a power cut, a drive lost, Ctrl-C) resumes inside it.

The rip (audio/rip.py) is a deterministic function of the answers its READ CDs get: which sectors
it reads next, what it accepts, what stays open, its counters and its budget's clock (the sum of
the reads' drive time). So the journal keeps the answers, not the rip's state: a resume runs the
same rip over a JournaledReader that answers each READ from the journal while it holds the next
one, then reads the drive and appends. The rip reaches exactly the state it had at the kill and
goes on; nothing it held is trusted that the journal does not hold whole.

File: a header written durably before the first READ (magic, the key JSON: the track's part key,
acquire/audio/parts.py), then one record per READ CD: length, CRC-32, then the command (LBA, count,
expected sector type), ok, drive time, and per sector its 2352 bytes, 294 C2 bytes (or a flag: all
zero) and subchannel; or a flag: the same bytes as the last read of that LBA (a second pass over a
sound disc costs a few bytes a sector). A record is whole when its CRC holds; the first that is not
(a kill inside a write, a power cut's lost tail) ends the journal and is cut off. Appends are
fdatasync'ed every SYNC_SECTORS sectors or SYNC_WALL_S seconds (the data image's 32 MiB / 2 s
batches, imaging/checkpoint.py): a power cut loses at most that batch, read again on resume. A
kill -9 loses nothing written. The journal is removed once the track's part is kept.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct
import time
import zlib
from pathlib import Path
from typing import Any

from ..drive.cdda import C2_BYTES, RAW_BYTES, CddaReader, RawRead
from ..drive.sense import Sense
from ..durable import sync_path, write_durably

MAGIC = b"acquire audio reads 1\n"
SYNC_SECTORS = 4500               # one minute of audio, ~12 MB with C2 and P-W
SYNC_WALL_S = 2.0
# record: u32 payload length, u32 CRC-32 of the payload, payload (big-endian throughout)
_FRAME = struct.Struct(">II")
# payload: i32 LBA, u16 count, u8 expected sector type, u8 ok, f64 drive time (s); then, ok: per
# sector a flags byte and its bytes; not ok: sense key, ASC, ASCQ
_COMMAND = struct.Struct(">iHBBd")
_SAME, _C2_ZERO = 0x01, 0x02      # flags: bytes as the LBA's last read (nothing follows); C2 all zero


def path(folder: Path, number: int) -> Path:
    return folder / f"{number:02d}.reads"


class Journal:
    """Appends each answer to the journal file; replays, in order, the answers it held when opened
    (read back from the file one record at a time: a resume holds no second copy of the track)."""

    def __init__(self, where: Path, key: dict[str, Any], c2: bool, sub_bytes: int) -> None:
        self.path, self.c2, self.sub_bytes = where, c2, sub_bytes
        self.header = MAGIC + json.dumps(key, sort_keys=True).encode() + b"\n"
        self.records: list[tuple[int, int]] = []  # (payload offset, length) of each whole record kept
        self._seen: dict[int, tuple[int, bool]] = {}   # LBA -> (file offset of its last bytes, C2 stored)
        self._last: dict[int, bytes] = {}         # LBA -> digest of the last bytes journaled there
        self._fd: int | None = None
        self._unsynced_sectors = 0
        self._synced_at = time.monotonic()

    def open(self) -> "Journal":
        """Keep the records of a journal under the same key; else start a new one, durably."""
        if not self._scan():
            if not self.path.parent.is_dir():
                self.path.parent.mkdir()
                sync_path(self.path.parent.parent)    # the folder's own name survives a power cut
            write_durably(self.path, self.header)
            self.records = []
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        return self

    def _scan(self) -> bool:
        """The whole records of the journal at `path` when its key is this one; a torn tail cut off."""
        try:
            f = open(self.path, "rb")
        except OSError:
            return False
        with f:
            if f.read(len(self.header)) != self.header:
                return False
            at = len(self.header)
            while True:
                frame = f.read(_FRAME.size)
                if len(frame) < _FRAME.size:
                    break
                length, crc = _FRAME.unpack(frame)
                payload = f.read(length)
                if len(payload) != length or zlib.crc32(payload) != crc:
                    break
                self.records.append((at + _FRAME.size, length))
                at += _FRAME.size + length
            size = os.fstat(f.fileno()).st_size
        if at < size:                              # a kill inside a write, a power cut's lost tail
            os.truncate(self.path, at)
        return True

    def command(self, index: int) -> tuple[int, int, int]:
        """(LBA, count, expected sector type) of the READ CD of record `index`."""
        return _COMMAND.unpack(os.pread(self._fd, _COMMAND.size, self.records[index][0]))[:3]

    def answer(self, index: int) -> tuple[tuple[int, int, int], RawRead]:
        """The command and answer of record `index`; records are answered in order, from 0."""
        offset, length = self.records[index]
        payload = os.pread(self._fd, length, offset)
        lba, count, sector_type, ok, duration = _COMMAND.unpack_from(payload)
        at = _COMMAND.size
        if not ok:
            key, asc, ascq = payload[at:at + 3]
            return (lba, count, sector_type), RawRead(lba, count, b"", None, (), Sense(key, asc, ascq), duration)
        main, c2, sub = [], [], []
        for i in range(count):
            flags = payload[at]
            at += 1
            if flags & _SAME:
                where, stored = self._seen[lba + i]
                sector = self._sector(os.pread(self._fd, RAW_BYTES + C2_BYTES + self.sub_bytes, where), 0,
                                      stored)[0]
            else:
                stored = self.c2 and not flags & _C2_ZERO
                self._seen[lba + i] = (offset + at, stored)
                sector, at = self._sector(payload, at, stored)
                self._last[lba + i] = hashlib.blake2b(sector, digest_size=16).digest()
            main.append(sector[:RAW_BYTES])
            c2.append(sector[RAW_BYTES:len(sector) - self.sub_bytes])
            if self.sub_bytes:
                sub.append(sector[len(sector) - self.sub_bytes:])
        return (lba, count, sector_type), RawRead(lba, count, b"".join(main), b"".join(c2) if self.c2 else None,
                                                  tuple(sub), None, duration)

    def _sector(self, raw: bytes, at: int, c2_stored: bool) -> tuple[bytes, int]:
        """One sector's main channel, C2 (zero when not stored) and subchannel from `raw` at `at`."""
        data, at = raw[at:at + RAW_BYTES], at + RAW_BYTES
        c2 = b""
        if c2_stored:
            c2, at = raw[at:at + C2_BYTES], at + C2_BYTES
        elif self.c2:
            c2 = bytes(C2_BYTES)
        return data + c2 + raw[at:at + self.sub_bytes], at + self.sub_bytes

    def append(self, command: tuple[int, int, int], got: RawRead) -> None:
        lba, count, sector_type = command
        parts = [_COMMAND.pack(lba, count, sector_type, int(got.ok), got.duration_s)]
        if not got.ok:
            s = got.sense or Sense(0, 0, 0)
            parts.append(bytes((s.key & 0xFF, s.asc & 0xFF, s.ascq & 0xFF)))
        else:
            for i in range(count):
                data = got.data[i * RAW_BYTES:(i + 1) * RAW_BYTES]
                c2 = got.c2[i * C2_BYTES:(i + 1) * C2_BYTES] if got.c2 is not None else b""
                sub = got.sub[i] if got.sub else b""
                digest = hashlib.blake2b(data + c2 + sub, digest_size=16).digest()
                if self._last.get(lba + i) == digest:
                    parts.append(bytes((_SAME,)))
                    continue
                self._last[lba + i] = digest
                zero = self.c2 and not any(c2)
                parts += [bytes((_C2_ZERO if zero else 0,)), data, b"" if zero else c2, sub]
        payload = b"".join(parts)
        os.write(self._fd, _FRAME.pack(len(payload), zlib.crc32(payload)) + payload)
        self._unsynced_sectors += count
        if self._unsynced_sectors >= SYNC_SECTORS or time.monotonic() - self._synced_at >= SYNC_WALL_S:
            self.sync()

    def cut(self, keep: int) -> None:
        """Keep the first `keep` records only (the rip asked for another READ than the next one holds)."""
        end = self.records[keep][0] - _FRAME.size if keep < len(self.records) else None
        del self.records[keep:]
        if end is not None:
            os.ftruncate(self._fd, end)

    def sync(self) -> None:
        if self._fd is not None:
            os.fdatasync(self._fd)
        self._unsynced_sectors, self._synced_at = 0, time.monotonic()

    def close(self) -> None:
        if self._fd is not None:
            self.sync()
            os.close(self._fd)
            self._fd = None

    def remove(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


class JournaledReader:
    """What the rip reads through: the journal's answers first, then the drive's, each journaled.
    `clock()` is the drive time of every answer, replayed or live: the rip's budget clock."""

    def __init__(self, reader: CddaReader, journal: Journal) -> None:
        self.reader, self.journal = reader, journal
        # records and sectors the journal answered; sectors the drive answered
        self.replayed = self.replayed_sectors = self.live_sectors = 0
        self.drive_time_s = 0.0

    @property
    def subchannel(self) -> int:
        return self.reader.subchannel

    @property
    def overread_ok(self) -> bool:
        return self.reader.overread_ok

    @overread_ok.setter
    def overread_ok(self, value: bool) -> None:
        self.reader.overread_ok = value

    def clock(self) -> float:
        return self.drive_time_s

    def read(self, lba: int, count: int, *, sector_type: int = 0) -> RawRead:
        command = (lba, count, sector_type)
        records = self.journal.records
        if self.replayed < len(records):
            if self.journal.command(self.replayed) == command:
                got = self.journal.answer(self.replayed)[1]
                self.replayed += 1
                self.replayed_sectors += count
                self.drive_time_s += got.duration_s
                return got
            self.journal.cut(self.replayed)        # not the READ the journal holds: it ends here
        got = self.reader.read(lba, count, sector_type=sector_type)
        self.journal.append(command, got)
        self.live_sectors += count
        self.drive_time_s += got.duration_s
        return got
