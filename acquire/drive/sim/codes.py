"""The simulated drive's own spelling of opcodes, sense codes and CD addresses.

Spelled here again on purpose: the simulated drive decodes CDBs without mmc (and builds sense
without sense.py), so that tests through it check mmc instead of mirroring it. Byte layouts and
values from docs/reference/mmc.md; tests/test_simulated.py asserts the opcodes agree with mmc's table.
"""
from __future__ import annotations

import struct

from .. import spelling

# user data bytes of a sector (mode 1, mode 2 form 1, DVD, BD): the simulator's own spelling,
# independent of mmc.USER_DATA_BYTES for the reason above
SECTOR_BYTES = 2048

# operation codes (docs/reference/mmc.md "Commands we send")
TEST_UNIT_READY = 0x00
REQUEST_SENSE = 0x03
INQUIRY = 0x12
START_STOP_UNIT = 0x1B
PREVENT_ALLOW_MEDIUM_REMOVAL = 0x1E
READ_CAPACITY_10 = 0x25
READ_10 = 0x28
READ_SUB_CHANNEL = 0x42
READ_TOC = 0x43
GET_CONFIGURATION = 0x46
GET_EVENT_STATUS_NOTIFICATION = 0x4A
READ_DISC_INFORMATION = 0x51
READ_TRACK_INFORMATION = 0x52
MODE_SELECT_10 = 0x55
MODE_SENSE_10 = 0x5A
READ_12 = 0xA8
GET_PERFORMANCE = 0xAC
READ_DISC_STRUCTURE = 0xAD
SET_STREAMING = 0xB6
SET_CD_SPEED = 0xBB
READ_CD = 0xBE

# command name -> operation code: the names a profile's quirk lists accept
COMMANDS: dict[str, int] = {
    "TEST UNIT READY": TEST_UNIT_READY, "REQUEST SENSE": REQUEST_SENSE, "INQUIRY": INQUIRY,
    "START STOP UNIT": START_STOP_UNIT, "PREVENT ALLOW MEDIUM REMOVAL": PREVENT_ALLOW_MEDIUM_REMOVAL,
    "READ CAPACITY(10)": READ_CAPACITY_10, "READ(10)": READ_10, "READ SUB-CHANNEL": READ_SUB_CHANNEL,
    "READ TOC": READ_TOC,
    "GET CONFIGURATION": GET_CONFIGURATION, "GET EVENT STATUS NOTIFICATION": GET_EVENT_STATUS_NOTIFICATION,
    "READ DISC INFORMATION": READ_DISC_INFORMATION, "READ TRACK INFORMATION": READ_TRACK_INFORMATION,
    "MODE SELECT(10)": MODE_SELECT_10, "MODE SENSE(10)": MODE_SENSE_10, "READ(12)": READ_12,
    "GET PERFORMANCE": GET_PERFORMANCE, "READ DISC STRUCTURE": READ_DISC_STRUCTURE,
    "SET STREAMING": SET_STREAMING, "SET CD SPEED": SET_CD_SPEED, "READ CD": READ_CD,
}
CDB_LENGTH = {0: 6, 1: 10, 2: 10, 5: 12}          # by opcode group (bits 7-5)
READS = frozenset({READ_10, READ_12, READ_CD})

# (SK, ASC, ASCQ)
NOT_READY_BECOMING_READY = (0x02, 0x04, 0x01)
MEDIUM_MAY_HAVE_CHANGED = (0x06, 0x28, 0x00)
INVALID_OPCODE = (0x05, 0x20, 0x00)
LBA_OUT_OF_RANGE = (0x05, 0x21, 0x00)
INVALID_FIELD_IN_CDB = (0x05, 0x24, 0x00)
PARAMETER_LIST_LENGTH_ERROR = (0x05, 0x1A, 0x00)
INVALID_FIELD_IN_PARAMETER_LIST = (0x05, 0x26, 0x00)
SAVING_PARAMETERS_NOT_SUPPORTED = (0x05, 0x39, 0x00)
MEDIUM_REMOVAL_PREVENTED = (0x05, 0x53, 0x02)
ILLEGAL_MODE_FOR_THIS_TRACK = (0x05, 0x64, 0x00)


class Check(Exception):
    """Inside the drive only: the command ends in CHECK CONDITION with this sense."""

    def __init__(self, key_asc_ascq: tuple[int, int, int], information: int | None = None) -> None:
        super().__init__(key_asc_ascq)
        self.sense = key_asc_ascq
        self.information = information


def sense_bytes(key_asc_ascq: tuple[int, int, int], information: int | None = None) -> bytes:
    """18 bytes of fixed-format sense; VALID and INFORMATION set when `information` is given."""
    # fixed format (SPC-4 4.5.3): byte 0 70h current, bit 7 VALID; byte 2 bits 3-0 sense key;
    # bytes 3-6 INFORMATION; byte 7 additional length (10); byte 12 ASC; byte 13 ASCQ
    key, asc, ascq = key_asc_ascq
    valid = information is not None
    return struct.pack(">BBBIBIBBBBH", 0x70 | (0x80 if valid else 0), 0, key,
                       (information or 0) & 0xFFFF_FFFF, 10, 0, asc, ascq, 0, 0, 0)


def sense_text(key_asc_ascq: tuple[int, int, int]) -> str:
    """"03/11/00": the spelling of the trace and of profiles (the tool's one, drive/spelling.py)."""
    return spelling.sense_text(*key_asc_ascq)


def bcd(n: int) -> int:
    return (n // 10) << 4 | n % 10


def msf(lba: int) -> tuple[int, int, int]:
    """Absolute MSF of an LBA (docs/reference/mmc.md: LBA = (M*60 + S)*75 + F - 150)."""
    x = lba + 150
    return x // 4500, x // 75 % 60, x % 75
