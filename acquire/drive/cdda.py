"""Raw CD reads with READ CD (BEh): 2352-byte sectors, C2 error pointers and the Q subchannel.

What the drive can give is probed once (CddaReader.probe): READ CD of one sector asking for C2
(byte 9 bits 2-1 = 01b, 294 bytes) and formatted Q (byte 10 = 010b), then raw P-W (001b), each
dropped when the drive refuses it (05/24/00); GET CONFIGURATION feature 001Eh (CD Read) byte 4
bit 1 "C2 Flags" is what the drive claims, the probe what it does. READ CD has no FUA bit: a
cache defeat is a read far away (rescue's job). Sector layout returned per sector, in order:
main channel (2352) | C2 bits (294, MSB first: bit 7 of byte 0 is main byte 0) | subchannel (16 or 96).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import MalformedResponse
from . import mmc
from .sense import Sense, parse_sense

RAW_BYTES = 2352
C2_BYTES = 294
SUB_NONE, SUB_RAW, SUB_Q = 0, 1, 2
_SUB_BYTES = {SUB_NONE: 0, SUB_RAW: 96, SUB_Q: 16}
_ALL_BYTES = 0xF8                 # sync, all headers, user data, EDC/ECC: 2352 of any sector
_C2 = 0x02                        # byte 9 bits 2-1 = 01b: the 294 C2 error bytes
MAX_SECTORS = 26                  # a READ CD of at most this many (with C2 and P-W: ~72 KiB)


@dataclass(frozen=True, slots=True)
class RawRead:
    lba: int
    count: int
    data: bytes                   # count * 2352 when ok
    c2: bytes | None              # count * 294 when asked for and ok
    sub: tuple[bytes, ...]        # per sector: 16 formatted Q bytes or 96 raw P-W bytes; () if none
    sense: Sense | None
    duration_s: float

    @property
    def ok(self) -> bool:
        return self.sense is None and len(self.data) == self.count * RAW_BYTES


@dataclass
class CddaReader:
    """READ CD on one drive, with what the probe found it can give."""

    drive: object                 # acquire.drive.device.Drive (its command())
    c2: bool = False
    subchannel: int = SUB_NONE
    c2_claimed: bool | None = None
    overread_ok: bool = True      # READ CD past the disc's end works (false once it has failed there)

    def probe(self, lba: int, feature_data: bytes | None = None) -> "CddaReader":
        """Find what READ CD gives at `lba` (an audio sector): C2, formatted Q, else raw P-W."""
        if feature_data is not None and len(feature_data) >= 1:
            self.c2_claimed = bool(feature_data[0] & 0x02)
        for c2, sub in ((True, SUB_Q), (True, SUB_RAW), (True, SUB_NONE), (False, SUB_Q), (False, SUB_RAW),
                        (False, SUB_NONE)):
            self.c2, self.subchannel = c2, sub
            if self.read(lba, 1).ok:
                return self
        return self

    @property
    def sector_bytes(self) -> int:
        return RAW_BYTES + (C2_BYTES if self.c2 else 0) + _SUB_BYTES[self.subchannel]

    def read(self, lba: int, count: int, *, sector_type: int = 0) -> RawRead:
        """`count` raw sectors from `lba`, split into main channel, C2 and subchannel."""
        cdb = mmc.read_cd(lba, count, sector_type=sector_type, main_channel=_ALL_BYTES | (_C2 if self.c2 else 0),
                          subchannel=self.subchannel)
        unit = self.sector_bytes
        done = self.drive.command(cdb, count * unit)
        if not done.ok or len(done.data) != count * unit:
            sense = None
            if done.sense:
                try:
                    sense = parse_sense(done.sense)
                except MalformedResponse:
                    sense = None
            return RawRead(lba, count, b"", None, (), sense or Sense(0, 0, 0), done.duration_s)
        main, c2, sub = [], [], []
        for i in range(count):
            sector = done.data[i * unit:(i + 1) * unit]
            main.append(sector[:RAW_BYTES])
            if self.c2:
                c2.append(sector[RAW_BYTES:RAW_BYTES + C2_BYTES])
            if self.subchannel:
                sub.append(sector[unit - _SUB_BYTES[self.subchannel]:])
        return RawRead(lba, count, b"".join(main), b"".join(c2) if self.c2 else None, tuple(sub), None,
                       done.duration_s)


