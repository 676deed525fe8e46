"""What the drive can do with this disc: GET CONFIGURATION, its profiles and features.

Byte layouts from docs/reference/mmc.md (MMC-6, SPC-4); every multi-byte field is big-endian.
Builders raise ValueError on arguments that do not fit their fields; parsers raise only
MalformedResponse (see mmc/__init__.py).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from ...errors import MalformedResponse
from ._fields import _check, _need
from .opcodes import GET_CONFIGURATION


# -- GET CONFIGURATION ------------------------------------------------------------------------

RT_ALL = 0          # every feature from starting_feature on
RT_CURRENT = 1      # only current ones
RT_ONE = 2          # the starting feature alone

FEATURE_NAMES: dict[int, str] = {
    0x0000: "Profile List",
    0x0001: "Core",
    0x0002: "Morphing",
    0x0003: "Removable Medium",
    0x001D: "Multi-Read",
    0x001E: "CD Read",
    0x001F: "DVD Read",
    0x0040: "BD Read",
    0x0107: "Real Time Streaming",
    0x0108: "Drive Serial Number",
}


def feature_name(code: int) -> str:
    return FEATURE_NAMES.get(code, f"feature {code:04X}h")


@dataclass(frozen=True, slots=True)
class Feature:
    code: int
    version: int
    persistent: bool
    current: bool
    data: bytes             # the feature-dependent bytes after the 4-byte descriptor header


@dataclass(frozen=True, slots=True)
class ProfileEntry:
    profile: int
    current: bool


@dataclass(frozen=True, slots=True)
class Configuration:
    current_profile: int
    features: tuple[Feature, ...]

    def feature(self, code: int) -> Feature | None:
        return next((f for f in self.features if f.code == code), None)

    @property
    def profiles(self) -> tuple[ProfileEntry, ...]:
        # feature 0000h: 4 bytes a profile: number (2), byte 2 bit 0 CurrentP, byte 3 reserved
        listing = self.feature(0x0000)
        if listing is None:
            return ()
        whole = len(listing.data) // 4 * 4
        return tuple(ProfileEntry(number, bool(flags & 0x01))
                     for number, flags in struct.iter_unpack(">HBx", listing.data[:whole]))


def get_configuration(*, rt: int = RT_ALL, starting_feature: int = 0, allocation_length: int = 0xFFF8) -> bytes:
    """GET CONFIGURATION: the current profile and the features RT selects."""
    # byte 1 bits 1-0 RT; bytes 2-3 starting feature number; bytes 7-8 allocation length
    return struct.pack(">BBH3xHB", GET_CONFIGURATION, _check("RT", rt, 0, 2),
                       _check("starting feature", starting_feature, 0, 0xFFFF),
                       _check("allocation length", allocation_length, 0, 0xFFFF), 0)


def parse_configuration(data: bytes) -> Configuration:
    # header: bytes 0-3 data length (bytes after this field); 4-5 reserved; 6-7 current profile.
    # feature descriptors from byte 8: bytes 0-1 code; byte 2 bits 5-2 version, bit 1 persistent,
    # bit 0 current; byte 3 additional length; then the feature's data
    _need(data, 8, "GET CONFIGURATION data")
    length, current_profile = struct.unpack_from(">I2xH", data, 0)
    if length < 4:
        raise MalformedResponse(f"GET CONFIGURATION data length {length} is shorter than its header")
    truncated = 4 + length > len(data)      # cut by the allocation length: the last one may be partial
    end = min(len(data), 4 + length)
    features, offset = [], 8
    while offset + 4 <= end:
        code, flags, extra = struct.unpack_from(">HBB", data, offset)
        if offset + 4 + extra > end:
            if truncated:
                break
            raise MalformedResponse(f"GET CONFIGURATION: feature {code:04X}h runs past the data length")
        features.append(Feature(code, (flags >> 2) & 0x0F, bool(flags & 0x02), bool(flags & 0x01),
                                bytes(data[offset + 4:offset + 4 + extra])))
        offset += 4 + extra
    return Configuration(current_profile, tuple(features))
