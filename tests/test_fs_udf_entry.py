"""A UDF extended file entry's other fields, from a byte vector laid out per ECMA-167 4/14.17 (the
EFE), 4/14.10 (extended attributes), 1/7.3 (timestamps): no Debian tool writes device nodes,
time zones other than the writer's, extended attributes or named streams into UDF."""
from __future__ import annotations

import struct

from acquire.fs.udf_tables import entry_metadata, zoned_timestamp


def _tag(buf: bytearray, at: int, ident: int) -> None:
    # tag (3/7.2): 0-1 identifier, 2-3 version 3, 4 checksum of bytes 0-3 and 5-15
    struct.pack_into("<HH", buf, at, ident, 3)
    buf[at + 4] = (sum(buf[at:at + 4]) + sum(buf[at + 5:at + 16])) & 0xFF


def _time(tz_word: int, *fields: int) -> bytes:
    # 1/7.3: 0-1 type (bits 12-15) and zone (bits 0-11, signed minutes), 2-3 year, 4 month, 5 day,
    # 6 hour, 7 minute, 8 second, 9 centiseconds, 10 hundreds of microseconds, 11 microseconds
    return struct.pack("<Hh", tz_word, fields[0]) + bytes(fields[1:]) + bytes(12 - 4 - len(fields[1:]))


def test_an_efe_of_a_character_device_with_zones_eas_and_a_stream_directory():
    efe = bytearray(2048)
    efe[27] = 7                                                   # ICB file type: character device (4/14.6.6)
    struct.pack_into("<H", efe, 34, 0x40 | 3)                     # ICB flags: setuid (bit 6), data embedded
    struct.pack_into("<H", efe, 48, 2)                            # file link count
    efe[80:92] = _time(0x1000 | 60, 2024, 2, 29, 23, 59, 58, 7)   # access: local time, UTC+01:00
    efe[92:104] = _time(0x1000 | 0x801, 1999, 12, 31, 0, 0, 1)   # modification: zone unspecified (-2047)
    efe[104:116] = _time(0x1000 | (-300 & 0xFFF), 2010, 6, 1, 12, 0, 0)   # creation: UTC-05:00
    struct.pack_into("<IIH", efe, 152, 2048, 77, 1)               # stream directory ICB long_ad: lbn 77, ref 1
    struct.pack_into("<Q", efe, 200, 42)                          # unique id
    struct.pack_into("<I", efe, 208, 48)                          # L_EA: header 24 + one attribute 24
    _tag(efe, 216, 262)                                           # extended attribute header descriptor
    struct.pack_into("<IB", efe, 216 + 24, 12, 1)                 # device specification: type 12, subtype 1
    struct.pack_into("<IIII", efe, 216 + 32, 24, 0, 8, 1)         # length 24, impl use 0, major 8, minor 1
    _tag(efe, 0, 266)
    meta = entry_metadata(bytes(efe), True)
    assert meta["accessed"] == "2024-02-29T23:59:58.07+01:00"
    assert meta["modified"] == "1999-12-31T00:00:01.00"           # no zone recorded: none invented
    assert meta["created"] == "2010-06-01T12:00:00.00-05:00"
    assert meta["file_type"] == "character device" and meta["setuid"] and meta["link_count"] == 2
    assert meta["unique_id"] == 42 and meta["stream_directory"] == [1, 77]
    assert meta["device"] == [8, 1]
    assert meta["extended_attributes"] == [{"type": "device specification", "subtype": 1, "device": [8, 1]}]


def test_impossible_timestamps_are_none():
    assert zoned_timestamp(_time(0x1000, 2024, 13, 1, 0, 0, 0)) is None
    assert zoned_timestamp(bytes(12)) is None
