"""How fast: SET CD SPEED, SET STREAMING and its performance descriptor, GET PERFORMANCE.

Byte layouts from docs/reference/mmc.md (MMC-6, SPC-4); every multi-byte field is big-endian.
Builders raise ValueError on arguments that do not fit their fields; parsers raise only
MalformedResponse (see mmc/__init__.py).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from ...errors import MalformedResponse
from ._fields import _check, _need
from .opcodes import GET_PERFORMANCE, MAX_LBA, SET_CD_SPEED, SET_STREAMING


# -- SET CD SPEED, SET STREAMING, GET PERFORMANCE --------------------------------------------

MAX_SPEED_KBPS = 0xFFFF


def set_cd_speed(read_kbps: int = MAX_SPEED_KBPS, write_kbps: int = MAX_SPEED_KBPS) -> bytes:
    """SET CD SPEED in kB/s (FFFFh: the drive's maximum); 1x CD = 176 kB/s."""
    # byte 1 bits 1-0 rotational control (0: CLV); bytes 2-3 read speed; bytes 4-5 write speed
    return struct.pack(">BBHH6x", SET_CD_SPEED, 0, _check("read speed", read_kbps, 0, 0xFFFF),
                       _check("write speed", write_kbps, 0, 0xFFFF))


def set_streaming(parameter_list_length: int = 28) -> bytes:
    """SET STREAMING with a performance descriptor (type 0) as its parameter list."""
    # bytes 1-7 reserved; byte 8 type (0: performance descriptor); bytes 9-10 parameter list length
    return struct.pack(">B7xBHB", SET_STREAMING, 0,
                       _check("parameter list length", parameter_list_length, 0, 0xFFFF), 0)


def performance_descriptor(start_lba: int, end_lba: int, read_kbps: int, *, restore_defaults: bool = False,
                           exact: bool = False) -> bytes:
    """The 28-byte SET STREAMING performance descriptor: read_kbps kB every 1000 ms over the range."""
    # byte 0 bits 4-3 WRC, bit 2 RDD (restore defaults), bit 1 Exact, bit 0 RA; bytes 1-3 reserved;
    # 4-7 start LBA; 8-11 end LBA; 12-15 read size kB; 16-19 read time ms; 20-23 write size kB;
    # 24-27 write time ms. The write pair mirrors the read pair, so no time field is ever zero.
    kb = _check("read speed", read_kbps, 0, 0xFFFF_FFFF)
    flags = (0x04 if restore_defaults else 0) | (0x02 if exact else 0)
    return struct.pack(">B3xIIIIII", flags, _check("start LBA", start_lba, 0, MAX_LBA),
                       _check("end LBA", end_lba, 0, MAX_LBA), kb, 1000, kb, 1000)


@dataclass(frozen=True, slots=True)
class Performance:
    start_lba: int
    start_kbps: int
    end_lba: int
    end_kbps: int


def get_performance(*, performance_type: int = 0, data_type: int = 0x10, start_lba: int = 0,
                    max_descriptors: int = 64) -> bytes:
    """GET PERFORMANCE; type 0 with data type 10h: nominal read performance (10% tolerance)."""
    # byte 1 data type (type 0: bits 4-3 tolerance, 10b = 10%; bit 2 write; bits 1-0 except);
    # bytes 2-5 starting LBA; bytes 8-9 maximum number of descriptors; byte 10 type
    return struct.pack(">BBI2xHBB", GET_PERFORMANCE, _check("data type", data_type, 0, 0x1F),
                       _check("start LBA", start_lba, 0, MAX_LBA),
                       _check("maximum descriptors", max_descriptors, 0, 0xFFFF),
                       _check("type", performance_type, 0, 0xFF), 0)


def parse_performance(data: bytes) -> tuple[Performance, ...]:
    """GET PERFORMANCE type 0 answer: one 16-byte descriptor per zone."""
    # header: bytes 0-3 performance data length (after this field); byte 4 bit 1 write, bit 0
    # except. descriptors: start LBA, start performance kB/s, end LBA, end performance kB/s
    _need(data, 8, "GET PERFORMANCE header")
    length = struct.unpack_from(">I", data, 0)[0]
    if length < 4:
        raise MalformedResponse(f"GET PERFORMANCE data length {length} is shorter than its header")
    end = min(len(data), 4 + length)
    whole = 8 + (end - 8) // 16 * 16
    return tuple(Performance(*fields) for fields in struct.iter_unpack(">IIII", data[8:whole]))
