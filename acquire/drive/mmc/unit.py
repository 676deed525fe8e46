"""The unit and its tray: TEST UNIT READY, REQUEST SENSE, START STOP UNIT, PREVENT ALLOW MEDIUM
REMOVAL, GET EVENT STATUS NOTIFICATION.

Byte layouts from docs/reference/mmc.md (MMC-6, SPC-4); every multi-byte field is big-endian.
Builders raise ValueError on arguments that do not fit their fields; parsers raise only
MalformedResponse (see mmc/__init__.py).
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from ...errors import MalformedResponse
from ._fields import _check, _need
from .opcodes import GET_EVENT_STATUS_NOTIFICATION, PREVENT_ALLOW_MEDIUM_REMOVAL, REQUEST_SENSE, START_STOP_UNIT, TEST_UNIT_READY


# -- TEST UNIT READY, REQUEST SENSE, START STOP UNIT, PREVENT ALLOW MEDIUM REMOVAL -----------

def test_unit_ready() -> bytes:
    """TEST UNIT READY: GOOD when a medium is present and ready."""
    # bytes 0-5: 00 00 00 00 00 00
    return bytes([TEST_UNIT_READY, 0, 0, 0, 0, 0])


test_unit_ready.__test__ = False    # a CDB builder, not a pytest test, when imported into tests


def request_sense(allocation_length: int = 252) -> bytes:
    """REQUEST SENSE: the sense of the last failure when autosense gave none (252 = SPC maximum)."""
    # byte 0 03h; byte 1 bit 0 DESC (0: fixed format); bytes 2-3 reserved; byte 4 allocation length
    return bytes([REQUEST_SENSE, 0, 0, 0, _check("allocation length", allocation_length, 0, 0xFF), 0])


def start_stop_unit(*, start: bool = True, load_eject: bool = False) -> bytes:
    """START STOP UNIT: spin up (start), spin down, or with load_eject load / eject the tray."""
    # byte 1 bit 0 IMMED (0: return when done); byte 4 bit 1 LoEj, bit 0 Start
    return bytes([START_STOP_UNIT, 0, 0, 0, (0x02 if load_eject else 0) | (0x01 if start else 0), 0])


def prevent_allow_medium_removal(prevent: bool) -> bytes:
    """PREVENT ALLOW MEDIUM REMOVAL: lock (True) or unlock the tray; always unlock at the end."""
    # byte 4 bits 1-0 prevent: 01b prevent, 00b allow (10b/11b are persistent prevent: never sent)
    return bytes([PREVENT_ALLOW_MEDIUM_REMOVAL, 0, 0, 0, 0x01 if prevent else 0x00, 0])


# -- GET EVENT STATUS NOTIFICATION -----------------------------------------------------------

MEDIA_CLASS_REQUEST = 0x10      # class request byte: bit 4 media
MEDIA_CLASS = 4                 # notification class field of the answer


@dataclass(frozen=True, slots=True)
class MediaEvent:
    event: int              # 0 none, 1 eject request, 2 new media, 3 media removal, 4 media changed
    media_present: bool
    tray_open: bool


def get_event_status_notification(allocation_length: int = 8) -> bytes:
    """GET EVENT STATUS NOTIFICATION, polled, media class only."""
    # byte 1 bit 0 Polled; byte 4 notification class request (10h: media); bytes 7-8 allocation length
    return struct.pack(">BBBBB2xHB", GET_EVENT_STATUS_NOTIFICATION, 0x01, 0, 0, MEDIA_CLASS_REQUEST,
                       _check("allocation length", allocation_length, 0, 0xFFFF), 0)


def parse_media_event(data: bytes) -> MediaEvent:
    # header: bytes 0-1 event data length; byte 2 bit 7 NEA, bits 2-0 notification class;
    # byte 3 supported classes. media descriptor: byte 4 bits 3-0 media event code;
    # byte 5 bit 1 media present, bit 0 door or tray open
    _need(data, 4, "event status header")
    length, flags = struct.unpack_from(">HB", data, 0)
    if flags & 0x80:
        raise MalformedResponse("GET EVENT STATUS NOTIFICATION: no event available (NEA) for the media class")
    if flags & 0x07 != MEDIA_CLASS:
        raise MalformedResponse(f"GET EVENT STATUS NOTIFICATION: class {flags & 0x07}, not media ({MEDIA_CLASS})")
    if length < 4:
        raise MalformedResponse(f"GET EVENT STATUS NOTIFICATION: event data length {length}, a media event needs 4")
    _need(data, 8, "media event")
    return MediaEvent(data[4] & 0x0F, bool(data[5] & 0x02), bool(data[5] & 0x01))
