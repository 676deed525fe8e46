"""The ISO 9660 volume space size: the one place its bytes are decoded.

imaging/layout_step.py checks each session's size against the recorded layout after the copy, and
fs/volume.py keeps it among a primary or supplementary descriptor's fields; both read it here, in
the lowest layer that needs it (imports go one way: imaging/record -> fs).
"""
from __future__ import annotations

import struct

VOLUME_SPACE_OFFSET = 80              # ECMA-119 8.4.8 (primary) and 8.5.7 (supplementary)
PRIMARY_HEAD = b"\x01CD001"           # type 1 (primary), standard identifier (8.4.1, 8.4.2)


def volume_space_size(descriptor: bytes) -> int:
    """Sectors the volume says it has, from a primary or supplementary volume descriptor."""
    # bytes 80-83  volume space size, little-endian (7.3.1)
    # bytes 84-87  the same, big-endian (7.3.2); 7.3.3 records both: we read the little-endian half
    return struct.unpack_from("<I", descriptor, VOLUME_SPACE_OFFSET)[0]


def primary_volume_space_size(sector: bytes) -> int | None:
    """The volume space size when `sector` is a primary volume descriptor, else None."""
    if len(sector) < VOLUME_SPACE_OFFSET + 8 or sector[0:6] != PRIMARY_HEAD:
        return None
    return volume_space_size(sector)
